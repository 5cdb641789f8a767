"""Experiment directories written by mlflow-export-import import field by field.

Both of its layouts (``<dir>/<run_id>/run.json`` and ``<dir>/runs/<run_id>/run.json``), its run
lists (``mlflow.runs``) and experiment tags as a mapping. Fields allowed to differ from the
run.json: the run id, the import's marker tags; the destination user is the source user
(``use_src_user_id``), which run.json holds as a tag or as ``info.user_id``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow.utils.mlflow_tags import MLFLOW_LOGGED_MODELS, MLFLOW_RUN_NAME, MLFLOW_USER

from mlflow_migrate_plugin import api
from mlflow_migrate_plugin.errors import ExportDirError
from mlflow_migrate_plugin.exportdir.run_dir import RunDir
from tests import experiment_builders as eb
from tests.compare import IMPORT_TAGS
from tests.conftest import FIXTURES

SAMPLES = FIXTURES / "anchor-repo-samples"
COMPLETE = [
    "oss_mlflow/single/experiments/basic",
    "oss_mlflow/single/experiments/src_tags",
    "oss_mlflow/bulk/experiments/1",
    "databricks/single/experiments/notebook_experiments/repo_notebook",
    "databricks/single/experiments/notebook_experiments/workspace_notebook",
    "databricks/single/experiments/workspace_experiments/repo_notebook",
    "databricks/single/experiments/workspace_experiments/workspace_notebook",
    "databricks/bulk/experiments/9195e233f19e49379b16c5f2d2b0c05f",
]
# Samples trimmed for the repository: experiment.json lists runs whose folders were left out.
TRIMMED = [
    "databricks/single/experiments/workspace_experiments/workspace_notebook_src_tags",
    "databricks/bulk/experiments/1280664374380606",
    "databricks/single/experiments/workspace_experiments/job_repo_notebook",
]


def _listed_runs(directory: Path) -> tuple[dict[str, Path], set[str]]:
    """Run folders by the id their run.json holds, and listed ids that have no folder."""
    doc = json.loads((directory / "experiment.json").read_text())
    found, missing = {}, set()
    for run_id in doc["mlflow"]["runs"]:
        for path in (directory / run_id, directory / "runs" / run_id):
            if (path / "run.json").exists():
                found[RunDir(path).source_run_id] = path
                break
        else:
            missing.add(run_id)
    return found, missing


def _source_tags(directory: Path) -> dict[str, str]:
    tags = json.loads((directory / "experiment.json").read_text())["mlflow"]["experiment"]["tags"]
    if isinstance(tags, list):
        return {t["key"]: t["value"] for t in tags}
    return tags


def _expected_run(run_dir: RunDir, new_run_id: str) -> dict:
    rec = run_dir.record
    info = rec["info"]
    tags = dict(rec["tags"])
    if MLFLOW_LOGGED_MODELS in tags:  # it names the run, whose id changed
        old, new = json.dumps(info["run_id"]), json.dumps(new_run_id)
        tags[MLFLOW_LOGGED_MODELS] = tags[MLFLOW_LOGGED_MODELS].replace(old, new)
    tags[MLFLOW_USER] = tags.get(MLFLOW_USER) or info["user_id"]
    if info.get("run_name"):  # where the two disagree, the run name wins
        tags[MLFLOW_RUN_NAME] = info["run_name"]
    history: dict[str, list] = {}
    for batch in run_dir.iter_metric_batches(1000):
        for p in batch:
            history.setdefault(p["key"], []).append((p["step"], p["timestamp"], p["value"]))
    return {
        "info": {
            "status": info["status"],
            "start_time": info["start_time"],
            "end_time": info["end_time"],
            "lifecycle_stage": info["lifecycle_stage"],
            "run_name": info.get("run_name"),
        },
        "params": rec["params"],
        "tags": tags,
        "metrics": {k: sorted(v) for k, v in history.items()},
        "artifacts": sorted(f.path for f in run_dir.artifact_files()),
    }


def _actual_run(dst, run_id: str) -> dict:
    run = dst.client.get_run(run_id)
    info = run.info
    return {
        "info": {
            "status": info.status,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "lifecycle_stage": info.lifecycle_stage,
            "run_name": info.run_name,
        },
        "params": dict(run.data.params),
        "tags": {k: v for k, v in run.data.tags.items() if k not in IMPORT_TAGS},
        "metrics": {
            k: sorted(
                (m.step, m.timestamp, m.value) for m in dst.client.get_metric_history(run_id, k)
            )
            for k in run.data.metrics
        },
        "artifacts": sorted(eb_artifacts(dst, info.artifact_uri)),
    }


def eb_artifacts(dst, artifact_uri: str) -> list[str]:
    from tests.compare import artifact_tree

    return list(artifact_tree(dst.artifact_repo(artifact_uri)))


def _check_imported(dst, directory: Path, name: str, report) -> None:
    exp = dst.client.get_experiment_by_name(name)
    assert exp.tags == {**exp.tags, **_source_tags(directory)}
    run_ids = eb.run_id_map(dst, exp.experiment_id)
    listed, missing = _listed_runs(directory)
    assert set(run_ids) == set(listed)
    assert {o.source_id for o in report.find("run", "failed")} == missing
    for source_id, path in listed.items():
        new_id = run_ids[source_id]
        assert _actual_run(dst, new_id) == _expected_run(RunDir(path), new_id), source_id


def _import_sample(dst, unique_name, sample: str):
    """(the sample's directory, the new experiment's name, the import's report)."""
    directory = SAMPLES / sample
    name = unique_name("ref-")
    report = api.import_experiment(
        directory, name, tracking_uri=dst.tracking_uri, use_src_user_id=True
    )
    return directory, name, report


@pytest.mark.parametrize("sample", COMPLETE)
def test_reference_experiment_directory_imports_field_by_field(dst, unique_name, sample):
    directory, name, report = _import_sample(dst, unique_name, sample)

    assert not report.failed, [o for o in report.outcomes if o.status == "failed"]
    _check_imported(dst, directory, name, report)


@pytest.mark.parametrize("sample", TRIMMED)
def test_reference_directory_with_missing_runs_imports_the_rest(dst, unique_name, sample):
    directory, name, report = _import_sample(dst, unique_name, sample)

    failed = report.find("run", "failed")
    assert failed and all("folder is missing" in o.detail for o in failed)
    _check_imported(dst, directory, name, report)


def test_reference_layouts_are_both_read(tmp_path):
    flat = SAMPLES / "databricks/single/experiments/workspace_experiments/workspace_notebook"
    nested = SAMPLES / "oss_mlflow/single/experiments/basic"

    assert (flat / "253000ee70914831850defc593ba4740" / "run.json").is_file()
    assert (nested / "runs" / "eb66c160957d4a28b11d3f1b968df9cd" / "run.json").is_file()
    from mlflow_migrate_plugin.exportdir.experiment_dir import ExperimentDir

    assert [e.path for e in ExperimentDir(flat).runs] == [flat / "253000ee70914831850defc593ba4740"]
    assert [e.path for e in ExperimentDir(nested).runs] == [
        nested / "runs" / "eb66c160957d4a28b11d3f1b968df9cd"
    ]


def test_corrupt_reference_experiment_json_is_refused_before_anything_is_made(dst, unique_name):
    name = unique_name("ref-")

    with pytest.raises(ExportDirError, match="experiment.json: not valid JSON"):
        api.import_experiment(
            SAMPLES / "oss_mlflow/bulk/experiments/2", name, tracking_uri=dst.tracking_uri
        )

    assert dst.client.get_experiment_by_name(name) is None


def test_run_directory_without_experiment_json_is_refused(dst, unique_name):
    directory = SAMPLES / (
        "databricks/single/experiments/workspace_experiments/automl_workspace_notebook"
    )

    with pytest.raises(ExportDirError, match="experiment.json: not found"):
        api.import_experiment(directory, unique_name("ref-"), tracking_uri=dst.tracking_uri)
