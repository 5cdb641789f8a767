"""mlflow-export-import's directories with MLflow 3 LoggedModels import with nothing lost.

The three ``anchor-exports`` fixtures (tests/fixtures/README.md) hold the run ``trainer`` with its
LoggedModel ``tree``, the experiment ``fx-exp`` with ``trainer``, its nested run ``tuner`` and
``tuner``'s model ``tree5``, and the registered model ``fx-model`` whose versions 1 and 2 point at
``models:/<tree>`` and ``models:/<tree5>``. Each import is checked against the fixture's JSON
and files: fields allowed to differ are the ids (followed everywhere: run outputs, model
metrics, MLmodel, version sources), the import's marker tags, and ``mlflow.modelVersions``, which
the destination's registry maintains itself.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from mlflow.utils.mlflow_tags import MLFLOW_MODEL_VERSIONS, MLFLOW_PARENT_RUN_ID

from mlflow_migrate_plugin import api, idmap
from mlflow_migrate_plugin.cli import migrate
from tests.compare import artifact_tree
from tests.conftest import FIXTURES

ANCHOR = FIXTURES / "anchor-exports"
RUN_DIR = ANCHOR / "run-with-logged-model"
EXPERIMENT_DIR = ANCHOR / "experiment-with-logged-models"
MODEL_DIR = ANCHOR / "model-with-logged-model-versions"
TRAINER, TUNER = "4fb4b31182d44154b468a0e187b8f883", "9b85c39bc0bf4afdbce623fe7c0b01c2"
TREE, TREE5 = "m-36881c4c20b541ec834ce07e580e8e43", "m-b9e71e7356ee48829feb8930141d098e"


def _mlflow_part(path: Path) -> dict:
    return json.loads(path.read_text())["mlflow"]


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _imported(report, kind: str) -> dict[str, str]:
    return {o.source_id: o.destination_id for o in report.find(kind, "imported")}


def _check_model(dst, new_id: str, folder: Path, run_ids: dict[str, str]) -> None:
    """The destination LoggedModel shows what ``folder`` (logged_model.json, artifacts/) holds."""
    source = _mlflow_part(folder / "logged_model.json")
    model = dst.client.get_logged_model(new_id)
    assert (model.name, model.params, model.status) == (
        source["name"],
        source["params"],
        source["status"],
    )
    assert model.source_run_id == run_ids[source["source_run_id"]]
    kept = {k: v for k, v in model.tags.items() if k != MLFLOW_MODEL_VERSIONS}
    assert kept == {
        **{k: v for k, v in source["tags"].items() if k != MLFLOW_MODEL_VERSIONS},
        idmap.SOURCE_MODEL_ID: source["model_id"],
    }
    assert sorted(
        (m.key, m.value, m.step, m.timestamp, m.run_id) for m in model.metrics or []
    ) == sorted(
        (m["key"], m["value"], m["step"], m["timestamp"], run_ids[m["run_id"]])
        for m in source["metrics"]
    )
    on_disk = _files(folder / "artifacts")
    uploaded = artifact_tree(dst.artifact_repo(model.artifact_location))
    assert set(uploaded) == set(on_disk)
    for path, content in on_disk.items():
        if path != "MLmodel":
            assert uploaded[path] == content, path
    # As MLflow writes a LoggedModel's MLmodel: its id twice, its run, its own location.
    expected = yaml.safe_load(on_disk["MLmodel"]) | {
        "model_id": new_id,
        "model_uuid": new_id,
        "run_id": run_ids[source["source_run_id"]],
        "artifact_path": model.artifact_location,
    }
    assert yaml.safe_load(uploaded["MLmodel"]) == expected


def _check_run(dst, new_id: str, run_json: Path, run_ids: dict, model_ids: dict) -> None:
    source = _mlflow_part(run_json)
    run = dst.client.get_run(new_id)
    assert (run.info.run_name, run.info.status, run.info.start_time, run.info.end_time) == (
        source["info"]["run_name"],
        source["info"]["status"],
        source["info"]["start_time"],
        source["info"]["end_time"],
    )
    assert run.data.params == source["params"]
    expected_tags = dict(source["tags"])
    if MLFLOW_PARENT_RUN_ID in expected_tags:
        expected_tags[MLFLOW_PARENT_RUN_ID] = run_ids[expected_tags[MLFLOW_PARENT_RUN_ID]]
    assert {k: v for k, v in run.data.tags.items() if k not in idmap.MARKER_TAGS} == expected_tags
    history = sorted(
        (key, m.step, m.timestamp, m.value)
        for key in run.data.metrics
        for m in dst.client.get_metric_history(new_id, key)
    )
    assert history == sorted(
        (key, p["step"], p["timestamp"], p["value"])
        for key, points in source["metrics"].items()
        for p in points
    )
    assert [(o.model_id, o.step) for o in run.outputs.model_outputs] == [
        (model_ids[o["model_id"]], o["step"]) for o in source["outputs"]["model_outputs"]
    ]
    on_disk = _files(run_json.parent / "artifacts")
    assert artifact_tree(dst.artifact_repo(run.info.artifact_uri)) == on_disk


def _models_in(dst, experiment_name: str) -> list:
    exp = dst.client.get_experiment_by_name(experiment_name)
    return dst.client.search_logged_models([exp.experiment_id])


def test_import_run_brings_the_reference_runs_logged_model(dst, unique_name):
    name = unique_name("ref-lm-")

    report = api.import_run(RUN_DIR, name, tracking_uri=dst.tracking_uri, use_src_user_id=True)

    assert (report.failed, report.warnings) == (False, [])
    run_ids, model_ids = _imported(report, "run"), _imported(report, "logged_model")
    assert (set(run_ids), set(model_ids)) == ({TRAINER}, {TREE})
    _check_run(dst, run_ids[TRAINER], RUN_DIR / "run.json", run_ids, model_ids)
    _check_model(dst, model_ids[TREE], RUN_DIR / TREE, run_ids)

    again = api.import_run(RUN_DIR, name, tracking_uri=dst.tracking_uri, use_src_user_id=True)

    assert [o.destination_id for o in again.find("run", "skipped")] == [run_ids[TRAINER]]
    assert [m.model_id for m in _models_in(dst, name)] == [model_ids[TREE]]


def _old_layout(tmp_path: Path) -> Path:
    """The same export in the reference tool's older layout: runs in ``<dir>/<run_id>/``."""
    copy = tmp_path / "experiment"
    shutil.copytree(EXPERIMENT_DIR, copy)
    for run in (copy / "runs").iterdir():
        run.rename(copy / run.name)
    (copy / "runs").rmdir()
    return copy


@pytest.mark.parametrize("layout", ["runs", "flat"])
def test_import_experiment_brings_the_reference_logged_models(dst, unique_name, tmp_path, layout):
    directory = EXPERIMENT_DIR if layout == "runs" else _old_layout(tmp_path)
    runs_root = directory / "runs" if layout == "runs" else directory
    name = unique_name("ref-lm-")

    report = api.import_experiment(
        directory, name, tracking_uri=dst.tracking_uri, use_src_user_id=True
    )

    assert (report.failed, report.warnings) == (False, [])
    run_ids, model_ids = _imported(report, "run"), _imported(report, "logged_model")
    assert (set(run_ids), set(model_ids)) == ({TRAINER, TUNER}, {TREE, TREE5})
    assert dst.client.get_experiment_by_name(name).tags["owner"] == "data-team"
    for run_id in (TRAINER, TUNER):
        _check_run(dst, run_ids[run_id], runs_root / run_id / "run.json", run_ids, model_ids)
    for model_id in (TREE, TREE5):
        _check_model(dst, model_ids[model_id], directory / "logged_models" / model_id, run_ids)

    again = api.import_experiment(
        directory, name, tracking_uri=dst.tracking_uri, use_src_user_id=True
    )

    assert (again.find("run", "imported"), again.find("logged_model", "imported")) == ([], [])
    assert len(again.find("run", "skipped")) == 2
    assert sorted(m.model_id for m in _models_in(dst, name)) == sorted(model_ids.values())


def _predictions(model_uri_or_path: str, example: dict):
    frame = pd.DataFrame(example["data"], columns=example["columns"])
    return list(mlflow.pyfunc.load_model(model_uri_or_path).predict(frame))


def _import_reference_model(dst, experiment: str, model: str):
    return api.import_model(
        MODEL_DIR,
        experiment,
        model=model,
        tracking_uri=dst.tracking_uri,
        registry_uri=dst.registry_uri,
    )


def test_import_model_brings_the_reference_logged_model_versions(dst, unique_name, monkeypatch):
    experiment, model = unique_name("ref-lm-"), unique_name("fx-model-")
    source = _mlflow_part(MODEL_DIR / "model.json")["registered_model"]

    report = _import_reference_model(dst, experiment, model)

    assert (report.failed, report.warnings) == (False, [])
    run_ids, model_ids = _imported(report, "run"), _imported(report, "logged_model")
    assert (set(run_ids), set(model_ids)) == ({TRAINER, TUNER}, {TREE, TREE5})
    for run_id in (TRAINER, TUNER):
        _check_run(dst, run_ids[run_id], MODEL_DIR / run_id / "run.json", run_ids, model_ids)
    for model_id in (TREE, TREE5):
        _check_model(dst, model_ids[model_id], MODEL_DIR / model_id, run_ids)
    registered = dst.client.get_registered_model(model)
    assert (registered.description, registered.tags, registered.aliases) == (
        source["description"],
        {t["key"]: t["value"] for t in source["tags"]},
        {a["alias"]: a["version"] for a in source["aliases"]},
    )
    for version in source["versions"]:
        mv = dst.client.get_model_version(model, version["version"])
        old_model = version["source"].removeprefix("models:/")
        assert (mv.source, mv.run_id, mv.current_stage, mv.description) == (
            f"models:/{model_ids[old_model]}",
            run_ids[version["run_id"]],
            version["current_stage"],
            version["description"],
        )

    # The versions load and predict as the exported model files do.
    example = json.loads((MODEL_DIR / TREE / "artifacts" / "input_example.json").read_text())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", dst.tracking_uri)
    for version in source["versions"]:
        old_model = version["source"].removeprefix("models:/")
        expected = _predictions(str(MODEL_DIR / old_model / "artifacts"), example)
        assert _predictions(f"models:/{model}/{version['version']}", example) == expected

    again = _import_reference_model(dst, experiment, model)

    assert [o for o in again.outcomes if o.status == "imported"] == []
    assert len(dst.client.search_model_versions(f"name = '{model}'")) == 2
    assert len(_models_in(dst, experiment)) == 2


def test_import_model_fails_a_logged_model_folder_that_nothing_takes(dst, unique_name, tmp_path):
    directory = tmp_path / "model"
    shutil.copytree(MODEL_DIR, directory)
    stray_id = "m-00000000000000000000000000000000"
    stray = directory / stray_id
    shutil.copytree(directory / TREE5, stray)
    doc = json.loads((stray / "logged_model.json").read_text())
    doc["mlflow"].update(model_id=stray_id, source_run_id="0" * 32)
    (stray / "logged_model.json").write_text(json.dumps(doc))

    report = api.import_model(
        directory,
        unique_name("ref-lm-"),
        model=unique_name("fx-model-"),
        tracking_uri=dst.tracking_uri,
        registry_uri=dst.registry_uri,
    )

    [failed] = report.find("logged_model", "failed")
    assert failed.source_id == stray_id
    assert any(stray_id in w for w in report.warnings)
    assert len(report.find("model_version", "imported")) == 2


@pytest.mark.parametrize("damage", ["folder missing", "logged_model.json corrupt"])
def test_import_experiment_fails_a_listed_logged_model_it_cannot_read(
    dst, unique_name, tmp_path, damage
):
    directory = tmp_path / "experiment"
    shutil.copytree(EXPERIMENT_DIR, directory)
    if damage == "folder missing":
        shutil.rmtree(directory / "logged_models" / TREE5)
    else:
        (directory / "logged_models" / TREE5 / "logged_model.json").write_text('{"mlflow": ')

    report = api.import_experiment(directory, unique_name("ref-lm-"), tracking_uri=dst.tracking_uri)

    # The model is named as failed (once for the folder, once as tuner's output); the rest moves.
    assert {o.source_id for o in report.find("logged_model", "failed")} == {TREE5}
    assert {o.source_id for o in report.find("logged_model", "imported")} == {TREE}
    assert len(report.find("run", "imported")) == 2


def _version_dir(tmp_path: Path) -> Path:
    """export-model-version's layout for version 1, from the fixture's files: ``version.json``,
    ``model.json``, the run in ``run/`` and the run's LoggedModel in ``run/<model_id>/``."""
    directory = tmp_path / "version"
    shutil.copytree(MODEL_DIR / TRAINER, directory / "run")
    shutil.copytree(MODEL_DIR / TREE, directory / "run" / TREE)
    document = json.loads((MODEL_DIR / "model.json").read_text())
    registered = document["mlflow"]["registered_model"]
    version = registered["versions"][0]
    (directory / "version.json").write_text(
        json.dumps({"system": document["system"], "mlflow": {"model_version": version}})
    )
    model = {k: v for k, v in registered.items() if k != "versions"}
    (directory / "model.json").write_text(
        json.dumps({"system": document["system"], "mlflow": {"registered_model": model}})
    )
    return directory


def test_import_model_version_brings_the_logged_model_inside_its_run(dst, unique_name, tmp_path):
    directory = _version_dir(tmp_path)
    model = unique_name("fx-model-")

    report = api.import_model_version(
        directory,
        unique_name("ref-lm-"),
        model=model,
        create_model=True,
        import_stages_and_aliases=True,
        tracking_uri=dst.tracking_uri,
        registry_uri=dst.registry_uri,
    )

    assert (report.failed, report.warnings) == (False, [])
    run_ids, model_ids = _imported(report, "run"), _imported(report, "logged_model")
    assert (set(run_ids), set(model_ids)) == ({TRAINER}, {TREE})
    _check_model(dst, model_ids[TREE], directory / "run" / TREE, run_ids)
    mv = dst.client.get_model_version(model, "1")
    assert (mv.source, mv.run_id, mv.current_stage) == (
        f"models:/{model_ids[TREE]}",
        run_ids[TRAINER],
        "Archived",
    )


def test_import_experiment_fails_what_its_json_lists_but_it_does_not_bring(
    sqlite_endpoint, tmp_path
):
    directory = tmp_path / "experiment"
    shutil.copytree(EXPERIMENT_DIR, directory)
    document = json.loads((directory / "experiment.json").read_text())
    document["mlflow"]["traces"] = ["tr-0123456789abcdef"]
    document["info"]["failed_logged_models"] = ["m-ffffffffffffffffffffffffffffffff"]
    (directory / "experiment.json").write_text(json.dumps(document))
    dst = sqlite_endpoint("dst")

    report = api.import_experiment(directory, "with-traces", tracking_uri=dst.tracking_uri)

    assert [o.source_id for o in report.find("trace", "failed")] == ["tr-0123456789abcdef"]
    assert [o.source_id for o in report.find("logged_model", "failed")] == [
        "m-ffffffffffffffffffffffffffffffff"
    ]
    assert len(report.find("run", "imported")) == 2
    assert len(report.find("logged_model", "imported")) == 2

    # On the command line, what was not imported is named and the exit code says so.
    result = CliRunner().invoke(
        migrate,
        ["import-experiment", "--input-dir", str(directory), "--experiment-name", "with-traces"]
        + ["--tracking-uri", dst.tracking_uri],
    )

    assert result.exit_code == 1
    assert "FAILED trace tr-0123456789abcdef" in result.stderr
