"""What the user is told when the input is wrong: one line that says what is wrong and where.

A path that does not exist is said not to exist; a mistyped sqlite source is refused before
MLflow creates it empty; an install without the full mlflow package is told what to install;
the usage line names the command the user typed; and every option a command offers is used.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from mlflow.tracking.registry import UnsupportedModelRegistryStoreURIException

from mlflow_migrate_plugin import api
from mlflow_migrate_plugin.cli import migrate
from mlflow_migrate_plugin.cli.group import _describe
from mlflow_migrate_plugin.errors import ExportDirError, NotFoundError, missing_store_hint
from mlflow_migrate_plugin.report import failure_reason
from tests import builders
from tests.servers import free_port


def _invoke(*args):
    return CliRunner().invoke(migrate, [str(a) for a in args])


def _one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1, result.stderr
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


# Input directories -------------------------------------------------------------------------

IMPORTS = {
    "run": lambda path: api.import_run(path, "e", tracking_uri="sqlite:///never.db"),
    "experiment": lambda path: api.import_experiment(path, "e", tracking_uri="sqlite:///n.db"),
    "model": lambda path: api.import_model(path, "e", tracking_uri="sqlite:///never.db"),
}


@pytest.mark.parametrize("kind", IMPORTS)
def test_an_input_dir_that_does_not_exist_is_said_not_to_exist(kind, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ExportDirError, match=r"typo: does not exist$"):
        IMPORTS[kind](tmp_path / "typo")


@pytest.mark.parametrize("kind", IMPORTS)
def test_an_input_dir_that_is_a_file_is_said_not_to_be_a_directory(kind, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.json").write_text("{}")
    with pytest.raises(ExportDirError, match=r"run.json: not a directory$"):
        IMPORTS[kind](tmp_path / "run.json")


# A sqlite source must exist ------------------------------------------------------------------

EXPORTS = {
    "export-run": ["export-run", "--run-id", "0" * 32, "--output-dir", "out", "--tracking-uri"],
    "export-experiment": ["export-experiment", "--experiment", "e", "--output-dir", "out"]
    + ["--tracking-uri"],
    "export-model": ["export-model", "--model", "m", "--output-dir", "out", "--tracking-uri"],
    "export-model-version": ["export-model-version", "--model", "m", "--version", "1"]
    + ["--output-dir", "out", "--tracking-uri"],
    "copy-run": ["copy-run", "--run-id", "0" * 32, "--experiment-name", "e"]
    + ["--dst-mlflow-uri", "sqlite:///dst.db", "--src-mlflow-uri"],
}


@pytest.mark.parametrize("command", EXPORTS)
def test_a_mistyped_sqlite_source_is_refused_and_not_created(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    result = _invoke(*EXPORTS[command], "sqlite:///typo.db")

    line = _one_error_line(result)
    assert f"the source database {tmp_path / 'typo.db'} does not exist" in line
    assert not (tmp_path / "typo.db").exists()


def test_a_destination_sqlite_store_is_created(sqlite_endpoint, tmp_path, monkeypatch):
    src = sqlite_endpoint("source")
    run = builders.make_run(src, builders.experiment(src, "e"), metric_keys=1, steps=2)
    api.export_run(run.run_id, tmp_path / "out", tracking_uri=src.tracking_uri)
    monkeypatch.chdir(tmp_path)

    report = api.import_run(tmp_path / "out", "e", tracking_uri="sqlite:///new.db")

    assert report.find("run", "imported") and (tmp_path / "new.db").is_file()


def test_a_missing_source_registry_store_is_refused_too(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tracking.db").touch()

    with pytest.raises(NotFoundError, match="registry.db does not exist"):
        api.export_run(
            "0" * 32,
            "out",
            tracking_uri="sqlite:///tracking.db",
            registry_uri="sqlite:///registry.db",
        )


# mlflow-skinny and a database store ----------------------------------------------------------


def test_a_database_uri_without_the_full_mlflow_says_what_to_install():
    """MLflow's own refusal when SQLAlchemy is missing (mlflow-skinny), as it raises it."""
    refusal = UnsupportedModelRegistryStoreURIException(
        "sqlite:////data/mlflow.db", ["", "file", "databricks", "http", "https"]
    )

    for line in (_describe(refusal), failure_reason(refusal)):
        assert line.startswith("this installation cannot open 'sqlite:////data/mlflow.db'")
        assert "pip install 'mlflow-migrate[local]'" in line


def test_other_unsupported_uris_keep_mlflows_message():
    refusal = UnsupportedModelRegistryStoreURIException("foo://bar", ["http", "https"])

    assert missing_store_hint(refusal) is None
    assert _describe(refusal).startswith("MLflow: Model registry functionality is unavailable")


# The command line ----------------------------------------------------------------------------


def test_python_m_names_itself_in_the_usage_line():
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    result = subprocess.run(
        [sys.executable, "-m", "mlflow_migrate_plugin", "import-run"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )

    assert result.returncode == 2
    assert result.stderr.startswith("Usage: python -m mlflow_migrate_plugin import-run")
    assert "__main__" not in result.stderr


def test_a_bad_boolean_lists_the_values_to_use():
    result = _invoke(
        "import-run", "--input-dir", "x", "--experiment-name", "e", "--use-src-user-id", "maybe"
    )

    assert result.exit_code == 2
    assert "'maybe' is not a valid boolean; use true or false" in result.stderr
    assert "values: ," not in result.stderr


ONE_SIDE = {
    "export-run": ["export-run", "--run-id", "0" * 32, "--output-dir", "out"],
    "import-run": ["import-run", "--input-dir", "in", "--experiment-name", "e"],
    "export-experiment": ["export-experiment", "--experiment", "e", "--output-dir", "out"],
    "import-experiment": ["import-experiment", "--input-dir", "in", "--experiment-name", "e"],
}


@pytest.mark.parametrize("command", ONE_SIDE)
def test_registry_uri_is_the_registry_the_command_uses(command, tmp_path, monkeypatch):
    """A registry that is down is named: the command works with the registry it was given."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_MIGRATE_CONNECT_TIMEOUT", "2")
    registry = f"http://127.0.0.1:{free_port()}"

    result = _invoke(
        *ONE_SIDE[command], "--tracking-uri", "sqlite:///store.db", "--registry-uri", registry
    )

    assert f"cannot reach {registry}" in _one_error_line(result)
