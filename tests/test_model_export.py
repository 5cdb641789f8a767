"""export-model's selection options, deleted and vanished runs, and --export-version-model."""

from __future__ import annotations

import os
import subprocess

import pytest

from mlflow_migrate_plugin import api
from mlflow_migrate_plugin.errors import ExportDirError, NotFoundError, UsageError
from mlflow_migrate_plugin.exportdir.model_dir import ModelDir
from tests import model_builders
from tests.compare import artifact_tree
from tests.model_compare import identities, model_view
from tests.servers import mlflow_executable


@pytest.fixture(scope="module")
def built(src_server, tmp_path_factory):
    from mlflow_migrate_plugin.endpoint import Endpoint

    src = Endpoint(src_server.url, src_server.url)
    tag = tmp_path_factory.mktemp("model-export").name
    return src, model_builders.registered_model(src, f"export.model-{tag}", f"exp-{tag}")


def _exported_versions(path) -> list[str]:
    return [e.version for e in ModelDir(path).versions]


def test_export_model_stages_selects_the_versions_in_those_stages(built, tmp_path):
    src, model = built

    api.export_model(
        model.name, tmp_path, stages="production,Staging", tracking_uri=src.tracking_uri
    )

    assert _exported_versions(tmp_path) == ["1", "3"]
    run_a, run_b, child = model.run_ids
    assert {e.run_path.name for e in ModelDir(tmp_path).versions} == {run_a, run_b}
    assert not (tmp_path / child).exists()


def test_export_model_versions_selects_those_numbers(built, tmp_path):
    src, model = built

    api.export_model(model.name, tmp_path, versions=["4", "5"], tracking_uri=src.tracking_uri)

    assert _exported_versions(tmp_path) == ["4", "5"]


def test_export_model_refuses_stages_with_versions(built, tmp_path):
    src, model = built

    with pytest.raises(UsageError, match="mutually exclusive"):
        api.export_model(
            model.name,
            tmp_path / "out",
            stages=["Production"],
            versions=["1"],
            tracking_uri=src.tracking_uri,
        )

    assert not (tmp_path / "out").exists()


def test_export_model_refuses_an_unknown_stage_and_a_missing_version(built, tmp_path):
    src, model = built

    with pytest.raises(UsageError, match="Prod"):
        api.export_model(model.name, tmp_path, stages=["Prod"], tracking_uri=src.tracking_uri)
    with pytest.raises(NotFoundError, match="no version 2"):
        api.export_model(model.name, tmp_path, versions=["2"], tracking_uri=src.tracking_uri)


def test_export_latest_versions_exports_the_latest_version_of_each_stage(
    built, unique_name, tmp_path
):
    src, model = built
    client, run_a = src.client, model.run_ids[0]
    name = unique_name("latest-")
    client.create_registered_model(name)
    for _ in range(3):
        client.create_model_version(name, f"runs:/{run_a}/classic_model", run_a)
    model_builders.transition(client, name, "1", "Production")

    api.export_model(
        name, tmp_path / "all", export_latest_versions=True, tracking_uri=src.tracking_uri
    )
    api.export_model(
        name,
        tmp_path / "none",
        export_latest_versions=True,
        stages=["None"],
        tracking_uri=src.tracking_uri,
    )

    assert _exported_versions(tmp_path / "all") == ["1", "3"]
    assert _exported_versions(tmp_path / "none") == ["3"]


@pytest.fixture
def deleted_run_model(built, unique_name):
    """Version 1 from an active run, version 2 from a run deleted after it was registered."""
    src, model = built
    client, run_a = src.client, model.run_ids[0]
    deleted = model_builders.small_run(src, model.experiment_id, "deleted-run", logged_model=False)
    name = unique_name("deleted-runs-")
    client.create_registered_model(name)
    client.create_model_version(name, f"runs:/{run_a}/classic_model", run_a)
    client.create_model_version(name, f"runs:/{deleted.run_id}/classic_model", deleted.run_id)
    client.delete_run(deleted.run_id)
    return src, name, run_a, deleted.run_id


def test_version_whose_run_is_deleted_is_skipped_without_export_deleted_runs(
    deleted_run_model, tmp_path
):
    src, name, run_a, deleted = deleted_run_model

    report = api.export_model(name, tmp_path, tracking_uri=src.tracking_uri)

    exported = ModelDir(tmp_path)
    assert _exported_versions(tmp_path) == ["1"]
    assert [(s["version"], s["run_id"]) for s in exported.skipped] == [("2", deleted)]
    assert [o.source_id for o in report.find("model_version", "skipped")] == [f"{name}/2"]
    assert not (tmp_path / deleted).exists()


def test_export_deleted_runs_exports_the_version_and_its_deleted_run(
    deleted_run_model, dst, unique_name, tmp_path
):
    src, name, run_a, deleted = deleted_run_model

    api.export_model(name, tmp_path, export_deleted_runs=True, tracking_uri=src.tracking_uri)
    dst_name = unique_name("imported-")
    api.import_model(tmp_path, unique_name("exp-"), model=dst_name, tracking_uri=dst.tracking_uri)

    assert _exported_versions(tmp_path) == ["1", "2"]
    assert identities(dst, dst_name) == {"1": (run_a, None), "2": (deleted, None)}
    dst_run = dst.client.get_model_version(dst_name, "2").run_id
    assert dst.client.get_run(dst_run).info.lifecycle_stage == "deleted"


def test_export_version_model_writes_each_versions_own_model_files(built, tmp_path):
    src, model = built

    api.export_model(model.name, tmp_path, export_version_model=True, tracking_uri=src.tracking_uri)

    for entry in ModelDir(tmp_path).versions:
        uri = src.client.get_model_version_download_uri(model.name, entry.version)
        expected = artifact_tree(src.artifact_repo(uri))
        written = {
            f.path: (entry.version_model_root / f.path).read_bytes()
            for f in entry.version_model_files
        }
        assert written == expected and expected


def _purge_run(server, run_id: str) -> None:
    """Delete a run for good, as `mlflow gc` does on a real server's store."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url}
    subprocess.run(
        [
            mlflow_executable(),
            "gc",
            "--backend-store-uri",
            f"sqlite:///{server.root / 'mlflow.db'}",
            "--run-ids",
            run_id,
        ],
        check=True,
        capture_output=True,
        env=env,
        timeout=120,
    )


@pytest.fixture
def vanished_run_model(built, src_server, unique_name):
    """A LoggedModel version whose run no longer exists at all (purged), nor its LoggedModel
    (deleted); its files are still where the version's download URI points."""
    src, model = built
    run = model_builders.small_run(src, model.experiment_id, "purged", classic_model=False)
    name = unique_name("vanished-")
    src.client.create_registered_model(name, description="its run is gone")
    src.client.create_model_version(
        name,
        f"models:/{run.model_ids[0]}",
        run.run_id,
        model_id=run.model_ids[0],
        tags={"kept": "yes"},
    )
    src.client.delete_run(run.run_id)
    _purge_run(src_server, run.run_id)
    src.client.delete_logged_model(run.model_ids[0])
    return src, name, run


@pytest.mark.slow
def test_version_whose_run_is_gone_imports_from_its_own_model_files(
    vanished_run_model, dst, unique_name, tmp_path
):
    src, name, run = vanished_run_model

    report = api.export_model(
        name, tmp_path, export_version_model=True, tracking_uri=src.tracking_uri
    )
    dst_name = unique_name("imported-")
    api.import_model(tmp_path, unique_name("exp-"), model=dst_name, tracking_uri=dst.tracking_uri)

    assert any("no longer exists" in w for w in report.warnings)
    src_view, dst_view = model_view(src, name), model_view(dst, dst_name)
    assert dst_view["versions"]["1"]["files"] == src_view["versions"]["1"]["files"]
    assert dst_view["versions"]["1"]["source"][0] == "logged_model"
    for view in (src_view, dst_view):
        view["versions"]["1"].pop("source")
    assert dst_view == src_view


@pytest.mark.slow
def test_version_whose_run_is_gone_and_no_model_files_is_reported_not_imported(
    vanished_run_model, dst, unique_name, tmp_path
):
    src, name, run = vanished_run_model
    api.export_model(name, tmp_path, tracking_uri=src.tracking_uri)
    dst_name = unique_name("imported-")

    with pytest.raises(ExportDirError, match="none of the 1 versions can be imported"):
        api.import_model(
            tmp_path, unique_name("exp-"), model=dst_name, tracking_uri=dst.tracking_uri
        )

    assert dst.client.search_registered_models(f"name = '{dst_name}'") == []


@pytest.fixture
def runless_model(built, unique_name, tmp_path):
    """A version of a LoggedModel logged without any run (MLflow 3 allows both)."""
    src, model = built
    client = src.client
    logged = client.create_logged_model(
        model.experiment_id,
        name="runless",
        params={"k": "v"},
        tags={"kind": "no run"},
        model_type="agent",
    )
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "MLmodel").write_text(
        model_builders.builders.MLMODEL_TEMPLATE.format(
            artifact_path="model", model_id=logged.model_id, run_id="null"
        )
    )
    (tmp_path / "files" / "weights.bin").write_bytes(b"\x00\x01" * 100)
    src.artifact_repo(logged.artifact_location).log_artifacts(str(tmp_path / "files"))
    client.finalize_logged_model(logged.model_id, "READY")
    name = unique_name("runless-")
    client.create_registered_model(name)
    client.create_model_version(
        name, f"models:/{logged.model_id}", model_id=logged.model_id, description="no run"
    )
    return src, name, logged.model_id


def test_version_of_a_logged_model_without_a_run_round_trips(
    runless_model, dst, unique_name, tmp_path
):
    src, name, model_id = runless_model
    dst_name, experiment = unique_name("imported-"), unique_name("exp-")

    report = api.export_model(name, tmp_path / "model", tracking_uri=src.tracking_uri)
    api.import_model(tmp_path / "model", experiment, model=dst_name, tracking_uri=dst.tracking_uri)
    again = api.import_model(
        tmp_path / "model", experiment, model=dst_name, tracking_uri=dst.tracking_uri
    )

    assert report.warnings == []
    assert model_view(dst, dst_name) == model_view(src, name)
    assert identities(dst, dst_name) == {"1": (None, model_id)}
    experiment_id = dst.client.get_experiment_by_name(experiment).experiment_id
    assert len(dst.client.search_logged_models([experiment_id])) == 1
    assert again.find("logged_model") == [] and again.find("model_version", "imported") == []


def test_model_version_of_a_logged_model_without_a_run_imports(
    runless_model, dst, unique_name, tmp_path
):
    src, name, model_id = runless_model
    dst_name = unique_name("imported-")

    api.export_model_version(name, "1", tmp_path, tracking_uri=src.tracking_uri)
    api.import_model_version(
        tmp_path,
        unique_name("exp-"),
        model=dst_name,
        create_model=True,
        tracking_uri=dst.tracking_uri,
    )

    assert model_view(dst, dst_name) == model_view(src, name)
    assert identities(dst, dst_name) == {"1": (None, model_id)}


def test_a_version_whose_run_failed_to_export_makes_export_and_import_exit_1(built, dst, tmp_path):
    from click.testing import CliRunner

    from mlflow_migrate_plugin.cli import migrate

    src, model = built
    run_a = model.run_ids[0]
    (tmp_path / run_a).write_text("in the way")  # where run_a's folder must go

    exported = CliRunner().invoke(
        migrate,
        ["export-model", "--model", model.name, "--output-dir", str(tmp_path), "--versions",
         "1,4", "--tracking-uri", src.tracking_uri],
    )  # fmt: skip
    (tmp_path / run_a).unlink()
    imported = CliRunner().invoke(
        migrate,
        ["import-model", "--input-dir", str(tmp_path), "--model", f"{model.name}-copy",
         "--experiment-name", f"{model.name}-exp", "--tracking-uri", dst.tracking_uri],
    )  # fmt: skip

    assert exported.exit_code == 1, exported.output
    assert "runs: 1 exported, 1 failed" in exported.output
    assert f"FAILED run {run_a}: " in exported.stderr
    assert imported.exit_code == 1, imported.output
    assert "model versions: 1 failed, 1 imported" in imported.output
    assert f"FAILED model_version {model.name}/1: " in imported.stderr
