"""--notebook-formats and --dst-notebook-dir against a workspace stand-in, with the real SDK.

The stand-in keeps each notebook's revisions and answers /api/2.0/workspace/export (with the
``revision_timestamp`` the tool sends), /import, /mkdirs and /get-status as a workspace does.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from click.testing import CliRunner

from mlflow_migrate_plugin import api
from mlflow_migrate_plugin.cli import migrate
from mlflow_migrate_plugin.databricks.notebooks import IMPORTED_NOTEBOOK_TAG
from mlflow_migrate_plugin.errors import IntegrityError, UsageError
from mlflow_migrate_plugin.exportdir import notebook_dir
from tests.databricks_fixtures import HOME_FOLDER, notebook_run

REVISION_ONE = "1700000000000"


def test_export_run_saves_the_runs_notebook_revision_in_every_format(
    databricks_env, workspace_a, unique_name, tmp_path
):
    """Stands in for exporting a run logged from a workspace notebook: the revision named by
    the run's tag, not the notebook's latest state, in each format the workspace exports."""
    src = databricks_env(workspace_a)
    built, notebook = notebook_run(
        src, workspace_a, f"{HOME_FOLDER}/{unique_name()}", revision=REVISION_ONE
    )

    report = api.export_run(
        built.run_id,
        tmp_path / "run",
        tracking_uri="databricks",
        notebook_formats=["source", "HTML", "JUPYTER", "DBC"],
    )

    assert report.warnings == []
    folder = tmp_path / "run" / "artifacts" / "notebooks"
    source = (folder / "Train.source").read_text()
    assert source == "# Databricks notebook source\nprint('revision one')\n"
    assert "print(&#x27;revision one&#x27;)" in (folder / "Train.html").read_text()
    cells = json.loads((folder / "Train.jupyter").read_text())["cells"]
    assert [c["source"] for c in cells] == ["# Databricks notebook source\nprint('revision one')"]
    assert zipfile.ZipFile(io.BytesIO((folder / "Train.dbc").read_bytes())).namelist()
    manifest = notebook_dir.read_manifest(tmp_path / "run")
    assert (manifest.notebook_path, manifest.revision_id, manifest.language) == (
        notebook,
        REVISION_ONE,
        "PYTHON",
    )
    assert sorted(manifest.files) == ["DBC", "HTML", "JUPYTER", "SOURCE"]
    listed = notebook_dir.run_artifact_paths(tmp_path / "run")
    assert {"notebooks/Train.source", "notebooks/manifest.json"} <= listed


def test_import_run_puts_the_source_notebook_in_a_folder_it_creates(
    databricks_env, workspace_a, workspace_b, unique_name, tmp_path
):
    """Stands in for importing into a workspace where --dst-notebook-dir does not exist yet:
    the folder (and a folder per run) is created with mkdirs, and the SOURCE notebook lands
    there; the run keeps the notebook files as artifacts."""
    src = databricks_env(workspace_a)
    built, _ = notebook_run(
        src, workspace_a, f"{HOME_FOLDER}/{unique_name()}", revision=REVISION_ONE
    )
    api.export_run(
        built.run_id, tmp_path / "run", tracking_uri="databricks", notebook_formats=["SOURCE"]
    )
    dst = databricks_env(workspace_b)
    folder = f"{HOME_FOLDER}/{unique_name('imported-notebooks-')}/deeper"

    report = api.import_run(
        tmp_path / "run",
        f"{HOME_FOLDER}/{unique_name()}",
        tracking_uri="databricks",
        dst_notebook_dir=folder,
    )

    [outcome] = report.find("run", "imported")
    target = f"{folder}/{outcome.destination_id}/Train"
    assert workspace_b.state.get_status(target)["language"] == "PYTHON"
    assert (
        workspace_b.state.notebook_source(target)
        == (tmp_path / "run" / "artifacts" / "notebooks" / "Train.source").read_text()
    )
    run = dst.client.get_run(outcome.destination_id)
    assert run.data.tags[IMPORTED_NOTEBOOK_TAG] == target
    names = {f.path for f in dst.artifact_repo(run.info.artifact_uri).list_artifacts("notebooks")}
    assert names == {"notebooks/Train.source", "notebooks/manifest.json"}


def test_importing_the_same_run_again_overwrites_its_notebook(
    databricks_env, workspace_a, workspace_b, unique_name, tmp_path
):
    """Stands in for a rerun against a workspace that already holds the notebook: the import
    overwrites it (workspace/import with overwrite) instead of failing or duplicating."""
    src = databricks_env(workspace_a)
    built, _ = notebook_run(
        src, workspace_a, f"{HOME_FOLDER}/{unique_name()}", revision=REVISION_ONE
    )
    api.export_run(
        built.run_id, tmp_path / "run", tracking_uri="databricks", notebook_formats=["SOURCE"]
    )
    databricks_env(workspace_b)
    experiment, folder = f"{HOME_FOLDER}/{unique_name()}", f"{HOME_FOLDER}/{unique_name()}"
    first = api.import_run(
        tmp_path / "run", experiment, tracking_uri="databricks", dst_notebook_dir=folder
    )

    second = api.import_run(
        tmp_path / "run", experiment, tracking_uri="databricks", dst_notebook_dir=folder
    )

    [skipped] = second.find("run", "skipped")
    assert skipped.destination_id == first.find("run", "imported")[0].destination_id
    assert [p for p in workspace_b.state.objects if p.startswith(folder + "/")] == [
        f"{folder}/{skipped.destination_id}",
        f"{folder}/{skipped.destination_id}/Train",
    ]


def test_run_from_a_git_folder_notebook_warns_and_still_exports(
    databricks_env, workspace_a, unique_name, tmp_path
):
    """Stands in for a run logged from a notebook in a Git folder, which carries a notebook
    path but no revision id: a warning, not a failure."""
    src = databricks_env(workspace_a)
    built, notebook = notebook_run(
        src, workspace_a, f"{HOME_FOLDER}/{unique_name()}", revision=None
    )

    report = api.export_run(
        built.run_id, tmp_path / "run", tracking_uri="databricks", notebook_formats=["SOURCE"]
    )

    assert [o.status for o in report.find("run")] == ["exported"]
    [warning] = report.warnings
    assert notebook in warning and "no revision" in warning
    assert not (tmp_path / "run" / "artifacts" / "notebooks").exists()


def test_a_tampered_notebook_is_refused_before_anything_is_imported(
    databricks_env, workspace_a, workspace_b, unique_name, tmp_path
):
    """Stands in for an export directory damaged in transit: the notebook is checked against
    the size and sha256 recorded at export, like every artifact."""
    src = databricks_env(workspace_a)
    built, _ = notebook_run(
        src, workspace_a, f"{HOME_FOLDER}/{unique_name()}", revision=REVISION_ONE
    )
    api.export_run(
        built.run_id, tmp_path / "run", tracking_uri="databricks", notebook_formats=["SOURCE"]
    )
    (tmp_path / "run" / "artifacts" / "notebooks" / "Train.source").write_text("print('evil')\n")
    dst = databricks_env(workspace_b)
    experiment = f"{HOME_FOLDER}/{unique_name()}"

    with pytest.raises(IntegrityError, match="Train.source"):
        api.import_run(
            tmp_path / "run",
            experiment,
            tracking_uri="databricks",
            dst_notebook_dir=f"{HOME_FOLDER}/{unique_name()}",
        )

    assert dst.client.get_experiment_by_name(experiment) is None


def test_an_unknown_notebook_format_is_a_usage_error(clean_databricks_env, tmp_path):
    """No workspace needed: the formats are checked before any work."""
    with pytest.raises(UsageError, match="PDF"):
        api.export_run(
            "0" * 32,
            tmp_path / "run",
            tracking_uri="databricks",
            notebook_formats=["SOURCE", "PDF"],
        )

    result = CliRunner().invoke(
        migrate,
        [
            "export-run",
            "--run-id",
            "0" * 32,
            "--output-dir",
            str(tmp_path / "run"),
            "--notebook-formats",
            "PDF",
            "--tracking-uri",
            "databricks",
        ],
    )
    assert result.exit_code == 2
    assert "PDF" in result.output


def test_notebook_formats_with_an_open_source_server_warn(src, unique_name, tmp_path):
    """An open-source server has no workspace: the option is reported as having no effect."""
    from tests import builders

    built = builders.make_run(src, builders.experiment(src, unique_name()), logged_model=False)

    report = api.export_run(
        built.run_id, tmp_path / "run", tracking_uri=src.tracking_uri, notebook_formats=["SOURCE"]
    )

    assert any("Databricks source only" in w for w in report.warnings)
    assert not (tmp_path / "run" / "artifacts" / "notebooks").exists()
