"""Importing into a Databricks workspace: what it refuses, what it decides, what must exist.

The stand-in behaves as a workspace does in these respects: a run's user is the token's user
whatever the client sends; ``mlflow.log-model.history`` and ``mlflow.rootRunId`` (runs) and
``mlflow.experiment.sourceType`` / ``sourceId`` (experiments) are refused; an experiment name
is a workspace path whose folder must already exist.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mlflow_migrate_plugin import api
from mlflow_migrate_plugin.cli import migrate
from mlflow_migrate_plugin.errors import UsageError
from mlflow_migrate_plugin.handlers import experiment as experiment_handler
from mlflow_migrate_plugin.handlers.run import SOURCE_USER
from mlflow_migrate_plugin.report import Report
from tests import builders
from tests.compare import run_view
from tests.databricks_fixtures import HOME_FOLDER, TOKEN_USER

REFUSED = {
    "mlflow.log-model.history": '[{"artifact_path": "classic_model"}]',
    "mlflow.rootRunId": "0123456789abcdef0123456789abcdef",
}


def test_import_into_databricks_drops_refused_tags_and_keeps_everything_else(
    src, databricks_env, workspace_b, unique_name, tmp_path
):
    """Stands in for importing a run from an open-source server into a workspace: the tags the
    workspace refuses are dropped with one note, the user is the token's user (so
    --use-src-user-id warns) and the source user is kept in a tag; every other field arrives."""
    built = builders.make_run(src, builders.experiment(src, unique_name()), extra_tags=REFUSED)
    api.export_run(built.run_id, tmp_path / "run", tracking_uri=src.tracking_uri)
    dst = databricks_env(workspace_b)

    report = api.import_run(
        tmp_path / "run",
        f"{HOME_FOLDER}/{unique_name()}",
        tracking_uri="databricks",
        use_src_user_id=True,
    )

    [outcome] = report.find("run", "imported")
    expected = run_view(src, built.run_id)
    actual = run_view(dst, outcome.destination_id)
    assert actual["info"].pop("user_id") == TOKEN_USER
    assert actual["tags"].pop("mlflow.user") == TOKEN_USER
    assert actual["tags"].pop(SOURCE_USER) == expected["info"].pop("user_id")
    expected["tags"].pop("mlflow.user")
    for key in REFUSED:
        expected["tags"].pop(key)
    for path, content in expected["artifacts"].items():  # MLmodel files name the new run
        expected["artifacts"][path] = content.replace(
            built.run_id.encode(), outcome.destination_id.encode()
        )
    assert actual == expected
    assert any(
        "mlflow.log-model.history, mlflow.rootRunId" in w and "refuses" in w
        for w in report.warnings
    )
    assert any("--use-src-user-id is ignored" in w for w in report.warnings)


def test_import_creates_the_experiments_workspace_folder(
    src, databricks_env, workspace_b, unique_name, tmp_path
):
    """Stands in for a workspace, where an experiment lives at a path whose folder must exist
    before create_experiment: the import creates it (mkdirs)."""
    built = builders.make_run(src, builders.experiment(src, unique_name()), logged_model=False)
    api.export_run(built.run_id, tmp_path / "run", tracking_uri=src.tracking_uri)
    dst = databricks_env(workspace_b)
    folder = f"{HOME_FOLDER}/{unique_name('team-')}/projects"

    api.import_run(tmp_path / "run", f"{folder}/churn", tracking_uri="databricks")

    assert workspace_b.state.get_status(folder)["object_type"] == "DIRECTORY"
    assert dst.client.get_experiment_by_name(f"{folder}/churn") is not None


def test_refused_experiment_tags_are_dropped_with_a_note(databricks_env, workspace_b, unique_name):
    """Stands in for a workspace refusing the experiment source tags it sets itself."""
    dst = databricks_env(workspace_b)
    name = f"{HOME_FOLDER}/{unique_name()}"
    report = Report()

    experiment_id = experiment_handler.ensure(
        dst,
        name,
        report,
        tags={
            "mlflow.experiment.sourceType": "NOTEBOOK",
            "mlflow.experiment.sourceId": "42",
            "mlflow.note.content": "kept",
        },
    )

    assert dst.client.get_experiment(experiment_id).tags["mlflow.note.content"] == "kept"
    [warning] = report.warnings
    assert "mlflow.experiment.sourceId, mlflow.experiment.sourceType" in warning


def test_a_relative_experiment_name_is_refused_on_databricks(
    src, databricks_env, workspace_b, unique_name, tmp_path
):
    """Stands in for a workspace refusing an experiment name that is not an absolute path:
    one readable line, exit code 2, nothing created."""
    built = builders.make_run(src, builders.experiment(src, unique_name()), logged_model=False)
    api.export_run(built.run_id, tmp_path / "run", tracking_uri=src.tracking_uri)
    databricks_env(workspace_b)

    with pytest.raises(UsageError, match="absolute workspace path"):
        api.import_run(tmp_path / "run", "not-a-path", tracking_uri="databricks")

    result = CliRunner().invoke(
        migrate,
        [
            "import-run",
            "--input-dir",
            str(tmp_path / "run"),
            "--experiment-name",
            "not-a-path",
            "--tracking-uri",
            "databricks",
        ],
    )
    assert result.exit_code == 2
    assert "absolute workspace path" in result.output
