"""Run exports written by mlflow-export-import (tests/fixtures) import with nothing lost.

``anchor-exports/run-child1`` is a real export with a metric history, dataset inputs, a parent run
and a classic model folder; ``anchor-repo-samples`` holds the reference repository's sample run
directories (most without an artifacts folder). After import the destination must show each
run's params, tags, metric points, inputs and artifacts exactly as its run.json says. Fields that
may differ: the run id, the parent link (the parent is not on the destination, so its id moves to
a source tag), the user when the source had none, and the import's marker tags.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
import yaml
from mlflow.utils.mlflow_tags import (
    MLFLOW_LOGGED_MODELS,
    MLFLOW_PARENT_RUN_ID,
    MLFLOW_RUN_NAME,
    MLFLOW_USER,
)

from mlflow_migrate_plugin import api, idmap
from tests.compare import artifact_tree

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLES = FIXTURES / "anchor-repo-samples"
CHILD_RUN = FIXTURES / "anchor-exports" / "run-child1"
# The reference repository's sample run directories (19 of them, in both layouts).
SAMPLE_RUNS = sorted(p.parent for p in SAMPLES.rglob("run.json"))
EXPECTED_SAMPLE_RUNS = 19


def _name(path: Path) -> str:
    return str(path.relative_to(FIXTURES))


def _as_map(items) -> dict[str, str]:
    if isinstance(items, dict):
        return {k: "" if v is None else str(v) for k, v in items.items()}
    return {i["key"]: "" if i["value"] is None else str(i["value"]) for i in items or []}


def _points(metrics) -> list[tuple]:
    return sorted(
        (key, int(p.get("step") or 0), int(p.get("timestamp") or 0), float(p["value"]))
        for key, points in (metrics or {}).items()
        for p in points
    )


def _datasets(inputs) -> list[tuple]:
    if isinstance(inputs, list):  # some reference versions write the dataset inputs alone
        inputs = {"dataset_inputs": inputs}
    return sorted(
        (
            d["dataset"]["name"],
            d["dataset"]["digest"],
            d["dataset"]["source_type"],
            d["dataset"]["source"],
            d["dataset"].get("schema") or "",
            d["dataset"].get("profile") or "",
            tuple(sorted((t["key"], t["value"]) for t in d.get("tags") or [])),
        )
        for d in (inputs or {}).get("dataset_inputs") or []
    )


def _files_on_disk(root: Path) -> dict[str, bytes]:
    if not root.is_dir():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _import(run_dir: Path, dst, experiment_name: str):
    report = api.import_run(
        run_dir, experiment_name, tracking_uri=dst.tracking_uri, use_src_user_id=True
    )
    [outcome] = report.find("run", "imported")
    return report, dst.client.get_run(outcome.destination_id)


def test_reference_fixtures_are_present():
    assert CHILD_RUN.joinpath("run.json").is_file()
    assert len(SAMPLE_RUNS) == EXPECTED_SAMPLE_RUNS


@pytest.mark.parametrize("run_dir", [CHILD_RUN, *SAMPLE_RUNS], ids=_name)
def test_reference_run_imports_as_its_run_json_says(run_dir, dst, unique_name):
    source = json.loads((run_dir / "run.json").read_text())["mlflow"]
    info = source["info"]

    report, run = _import(run_dir, dst, unique_name("ref-"))

    assert (
        run.info.status,
        run.info.start_time,
        run.info.end_time,
        run.info.run_name,
        run.info.lifecycle_stage,
    ) == (
        info["status"],
        info["start_time"],
        info["end_time"],
        info["run_name"],
        info["lifecycle_stage"],
    )
    assert run.data.params == _as_map(source.get("params"))

    expected_tags = _as_map(source.get("tags"))
    source_user = expected_tags.get(MLFLOW_USER) or info.get("user_id")
    expected_tags[MLFLOW_USER] = source_user or getpass.getuser()
    # MLflow holds the name and the mlflow.runName tag as one field; the run name wins.
    stale_name = expected_tags.get(MLFLOW_RUN_NAME) not in (None, info["run_name"])
    expected_tags[MLFLOW_RUN_NAME] = info["run_name"]
    parent = expected_tags.pop(MLFLOW_PARENT_RUN_ID, None)
    if parent:
        expected_tags[idmap.PENDING_PARENT] = parent
    history = expected_tags.get(MLFLOW_LOGGED_MODELS)
    if history:  # it names the run, whose id changed; nothing else in it may change
        old, new = json.dumps(info["run_id"]), json.dumps(run.info.run_id)
        expected_tags[MLFLOW_LOGGED_MODELS] = history.replace(old, new)
    tags = {k: v for k, v in run.data.tags.items() if k not in idmap.MARKER_TAGS}
    assert tags == expected_tags
    assert run.info.user_id == expected_tags[MLFLOW_USER]
    assert any(MLFLOW_RUN_NAME in w for w in report.warnings) == stale_name

    history = sorted(
        (key, m.step, m.timestamp, m.value)
        for key in run.data.metrics
        for m in dst.client.get_metric_history(run.info.run_id, key)
    )
    assert history == _points(source.get("metrics"))
    assert sorted(
        (
            d.dataset.name,
            d.dataset.digest,
            d.dataset.source_type,
            d.dataset.source,
            d.dataset.schema or "",
            d.dataset.profile or "",
            tuple(sorted((t.key, t.value) for t in d.tags)),
        )
        for d in run.inputs.dataset_inputs
    ) == _datasets(source.get("inputs"))

    on_disk = _files_on_disk(run_dir / "artifacts")
    uploaded = artifact_tree(dst.artifact_repo(run.info.artifact_uri))
    assert set(uploaded) == set(on_disk)
    for path, content in on_disk.items():
        if path.endswith("MLmodel") and yaml.safe_load(content).get("run_id") == info["run_id"]:
            expected = yaml.safe_load(content) | {"run_id": run.info.run_id}
            assert yaml.safe_load(uploaded[path]) == expected, path
        else:
            assert uploaded[path] == content, path


def test_reference_child_run_keeps_its_missing_parent_as_a_source_tag(dst, unique_name):
    source = json.loads((CHILD_RUN / "run.json").read_text())["mlflow"]
    parent = source["tags"][MLFLOW_PARENT_RUN_ID]

    report, run = _import(CHILD_RUN, dst, unique_name("ref-"))

    assert MLFLOW_PARENT_RUN_ID not in run.data.tags
    assert run.data.tags[idmap.PENDING_PARENT] == parent
    assert any(parent in w for w in report.warnings)
    model = yaml.safe_load(
        artifact_tree(dst.artifact_repo(run.info.artifact_uri), "classic_model")[
            "classic_model/MLmodel"
        ]
    )
    assert model["run_id"] == run.info.run_id
    assert model["flavors"]["sklearn"]["serialization_format"] == "skops"


def test_reference_run_imported_twice_is_skipped(dst, unique_name):
    name = unique_name("ref-")
    _, first = _import(CHILD_RUN, dst, name)

    again = api.import_run(CHILD_RUN, name, tracking_uri=dst.tracking_uri, use_src_user_id=True)

    [skipped] = again.find("run", "skipped")
    assert skipped.destination_id == first.info.run_id
