"""Fixtures for the Databricks tests: two workspace stand-ins and the ways to reach them.

``workspace_a`` and ``workspace_b`` are :mod:`tests.databricks_server` stand-ins in front of the
session's two real MLflow servers. A test reaches them either through the environment
(``DATABRICKS_HOST`` / ``DATABRICKS_TOKEN``, URI ``databricks``) or through a ~/.databrickscfg
with one profile per workspace in a temporary HOME (URIs ``databricks://PROFILE``). No real
Databricks configuration of the machine is ever read. tests/conftest.py registers the fixtures
once for the whole session; test modules import only the constants and helpers.
"""

from __future__ import annotations

import os
import uuid

import pytest

from mlflow_migrate_plugin.endpoint import Endpoint
from tests.databricks_server import FakeWorkspace, start_workspace

# The token's user on both stand-ins, and people only one workspace knows.
TOKEN_USER = "migrator@example.com"
HOME_FOLDER = f"/Users/{TOKEN_USER}"


@pytest.fixture(scope="session")
def workspace_a(src_server):
    fake = start_workspace(src_server.url, user=TOKEN_USER)
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def workspace_b(dst_server):
    fake = start_workspace(dst_server.url, user=TOKEN_USER)
    yield fake
    fake.stop()


@pytest.fixture
def clean_databricks_env(monkeypatch, tmp_path):
    """No DATABRICKS_* variables and an empty HOME; MLflow's client cache starts empty."""
    from mlflow.utils.rest_utils import get_workspace_client

    for name in list(os.environ):
        if name.startswith("DATABRICKS_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    get_workspace_client.cache_clear()
    yield home
    get_workspace_client.cache_clear()


@pytest.fixture
def databricks_env(clean_databricks_env, monkeypatch):
    """``use(fake)`` points DATABRICKS_HOST / DATABRICKS_TOKEN at ``fake``; returns the
    ``databricks`` Endpoint (workspace registry)."""

    def use(fake: FakeWorkspace) -> Endpoint:
        monkeypatch.setenv("DATABRICKS_HOST", fake.url)
        monkeypatch.setenv("DATABRICKS_TOKEN", fake.token)
        return Endpoint("databricks", "databricks")

    return use


@pytest.fixture
def databricks_profiles(clean_databricks_env):
    """``write(**fakes)`` writes ~/.databrickscfg with a profile per fake (unique names, since
    MLflow caches clients by profile name); returns {key: profile name}."""

    def write(**fakes: FakeWorkspace) -> dict[str, str]:
        names = {key: f"{key}-{uuid.uuid4().hex[:8]}" for key in fakes}
        lines = []
        for key, fake in fakes.items():
            lines += [f"[{names[key]}]", f"host = {fake.url}", f"token = {fake.token}", ""]
        (clean_databricks_env / ".databrickscfg").write_text("\n".join(lines))
        return names

    return write


def grant(endpoint: Endpoint, path: str, entries: list[dict]) -> None:
    """Set the access control list of the workspace object at ``path`` (a Permissions API
    path) to ``entries``, as an administrator would."""
    endpoint.workspace.api_client.do("PATCH", path, body={"access_control_list": entries})


def notebook_run(
    endpoint: Endpoint,
    fake: FakeWorkspace,
    experiment_name: str,
    *,
    revision: str | None,
    extra_tags: dict | None = None,
):
    """A run logged from a workspace notebook with two revisions; ``revision`` is the tag the
    run carries (None: a notebook in a Git folder, which has no revision)."""
    from tests import builders

    notebook = f"{HOME_FOLDER}/notebooks/{uuid.uuid4().hex[:8]}/Train"
    fake.state.add_notebook(
        notebook,
        "PYTHON",
        [
            (1_700_000_000_000, "# Databricks notebook source\nprint('revision one')\n"),
            (
                1_700_000_900_000,
                "# Databricks notebook source\nprint('revision two')\n"
                "# COMMAND ----------\nx = 2\n",
            ),
        ],
    )
    tags = {
        "mlflow.databricks.notebookPath": notebook,
        "mlflow.source.type": "NOTEBOOK",
        **(extra_tags or {}),
    }
    if revision is not None:
        tags["mlflow.databricks.notebookRevisionID"] = revision
    experiment_id = builders.experiment(endpoint, experiment_name)
    built = builders.make_run(endpoint, experiment_id, extra_tags=tags, logged_model=False)
    return built, notebook
