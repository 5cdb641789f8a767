"""Shared fixtures: two real ``mlflow server`` processes for the session, and sqlite stores.

Each test makes its own experiment names (``unique_name``), so tests share the servers safely.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import uuid
from pathlib import Path

import pytest

from mlflow_migrate_plugin.endpoint import Endpoint
from tests.servers import start_server

# Fixtures of their own modules, registered here once: a session fixture imported into test
# modules would be a separate fixture in each, set up once per module.
pytest_plugins = ("tests.databricks_fixtures", "tests.model_fixtures")

# The library must never depend on MLflow's process-wide URI: make any such use fail loudly.
os.environ["MLFLOW_TRACKING_URI"] = "unconfigured-by-tests://use-explicit-uris"
os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"


@pytest.fixture(scope="session")
def src_server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("src-server"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dst_server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("dst-server"))
    yield server
    server.stop()


@pytest.fixture
def src(src_server) -> Endpoint:
    return Endpoint(src_server.url, src_server.url)


@pytest.fixture
def dst(dst_server) -> Endpoint:
    return Endpoint(dst_server.url, dst_server.url)


@pytest.fixture
def sqlite_endpoint(tmp_path, monkeypatch):
    """A factory of plain ``sqlite:///`` stores (no server); artifacts go under tmp_path."""
    monkeypatch.chdir(tmp_path)
    counter = itertools.count()

    def make(name: str | None = None) -> Endpoint:
        db = tmp_path / f"{name or 'store'}-{next(counter)}.db"
        uri = f"sqlite:///{db}"
        return Endpoint(uri, uri)

    return make


# Directories written by mlflow-export-import, vendored into the repository (see its README).
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def reference_fixtures() -> Path:
    """The reference tool's real export directories (read-only)."""
    if not FIXTURES.is_dir():
        raise RuntimeError(f"reference fixtures not found at {FIXTURES}")
    return FIXTURES


_names = itertools.count()


@pytest.fixture
def scratch(tmp_path, monkeypatch) -> Path:
    """An empty folder that Python's tempfile uses for this test, so that what a command leaves
    behind in temporary files is seen."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def unique_name(request):
    """A factory of experiment/model names unique to this test."""
    base = request.node.name.replace("[", "-").replace("]", "")[:60]

    def make(prefix: str = "") -> str:
        return f"{prefix}{base}-{next(_names)}-{uuid.uuid4().hex[:6]}"

    return make


@pytest.fixture(scope="session")
def old_server_of(tmp_path_factory):
    """``old_server_of(release)``: an ``mlflow server`` of an older MLflow release, started
    (and its venv built, tests/old_servers.py) the first time a test asks for it."""
    from tests import old_servers

    started = {}

    def get(release: str):
        if release not in started:
            root = tmp_path_factory.mktemp(f"mlflow-{release}-server")
            started[release] = old_servers.start(release, root)
        return started[release]

    yield get
    for server in started.values():
        server.stop()
