"""A file store (``file://.../mlruns``, allowed with ``MLFLOW_ALLOW_FILE_STORE``) as the source.

Its registry numbers versions as ints where the other stores give strings, and it keeps metric
values and points that MLflow's SQL store cannot: ``inf``, ``-inf``, ``-0.0`` and exact duplicate
points. export-model / import-model into a sqlite store must keep the model, its versions and
their runs, and name every point the destination stores changed or keeps once.
"""

from __future__ import annotations

import math
import sys
import tempfile
import warnings
from pathlib import Path

import yaml
from mlflow.entities import Metric

from mlflow_migrate_plugin import api
from mlflow_migrate_plugin.endpoint import Endpoint
from tests.compare import artifact_tree

MLMODEL = "artifact_path: model\nflavors: {{}}\nmodel_uuid: {uuid}\nrun_id: {run_id}\n"
T0 = 1_705_312_860_000
ODD_POINTS = [  # (key, value, timestamp, step)
    ("loss", 0.5, T0, 0),
    ("loss", math.inf, T0 + 1, 1),
    ("loss", -math.inf, T0 + 2, 2),
    ("loss", -0.0, T0 + 3, 3),
    ("loss", math.nan, T0 + 4, 4),
    ("acc", 0.75, T0 + 5, 7),
    ("acc", 0.75, T0 + 5, 7),  # logged twice, exactly the same
]


def _file_store(tmp_path: Path, monkeypatch) -> Endpoint:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    return Endpoint(uri, uri)


def _source_model(src: Endpoint, name: str) -> list[str]:
    """Two runs, each with an MLmodel folder, registered as versions 1 (Staging) and 2 (alias
    ``champion``); the first run has the odd points. Returns the run ids."""
    client = src.client
    experiment_id = client.create_experiment("fs-source")
    run_ids = []
    for i in range(2):
        run = client.create_run(experiment_id, start_time=T0, run_name=f"run-{i}")
        run_id = run.info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(*p) for p in ODD_POINTS] if i == 0 else [Metric("loss", 0.1, T0, 0)],
        )
        client.log_param(run_id, "depth", str(i + 3))
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "model").mkdir()
            (Path(tmp) / "model" / "MLmodel").write_text(
                MLMODEL.format(uuid="0123456789abcdef0123456789abcdef", run_id=run_id)
            )
            client.log_artifacts(run_id, tmp)
        client.set_terminated(run_id, "FINISHED", end_time=T0 + 60_000)
        run_ids.append(run_id)
    client.create_registered_model(name, tags={"domain": "fs"}, description="from a file store")
    for i, run_id in enumerate(run_ids):
        mv = client.create_model_version(
            name, f"runs:/{run_id}/model", run_id, description=f"version {i + 1}"
        )
        assert mv.version == i + 1  # the file store's int, which the export must handle
    with warnings.catch_warnings():  # stages are deprecated, and still what sources have
        warnings.simplefilter("ignore", FutureWarning)
        client.transition_model_version_stage(name, "1", "Staging")
    client.set_registered_model_alias(name, "champion", "2")
    return run_ids


def test_file_store_model_round_trips_into_sqlite_with_changed_points_named(
    tmp_path, monkeypatch, sqlite_endpoint
):
    src = _file_store(tmp_path, monkeypatch)
    dst = sqlite_endpoint("dst")
    run_ids = _source_model(src, "fs-model")

    api.export_model("fs-model", tmp_path / "export", tracking_uri=src.tracking_uri)
    report = api.import_model(
        tmp_path / "export",
        "fs-imported",
        tracking_uri=dst.tracking_uri,
        registry_uri=dst.registry_uri,
    )

    assert not report.failed
    new_runs = {o.source_id: o.destination_id for o in report.find("run", "imported")}
    assert set(new_runs) == set(run_ids)
    model = dst.client.get_registered_model("fs-model")
    aliases = {alias: str(version) for alias, version in model.aliases.items()}
    assert (model.description, model.tags, aliases) == (
        "from a file store",
        {"domain": "fs"},
        {"champion": "2"},
    )
    for number, run_id in enumerate(run_ids, 1):
        mv = dst.client.get_model_version("fs-model", str(number))
        assert (mv.run_id, mv.source, mv.description, mv.current_stage) == (
            new_runs[run_id],
            f"runs:/{new_runs[run_id]}/model",
            f"version {number}",
            "Staging" if number == 1 else "None",
        )
        run = dst.client.get_run(new_runs[run_id])
        assert run.data.params == {"depth": str(number + 2)}
        files = artifact_tree(dst.artifact_repo(run.info.artifact_uri))
        assert yaml.safe_load(files["model/MLmodel"])["run_id"] == new_runs[run_id]

    # What the SQL store holds: inf as the largest doubles, -0.0 as 0.0, NaN as NaN, the
    # duplicate once; each change named in a warning with its key, step and value.
    first = new_runs[run_ids[0]]
    loss = [(m.step, m.value) for m in dst.client.get_metric_history(first, "loss")]
    assert sorted(loss, key=lambda p: p[0])[:4] == [
        (0, 0.5),
        (1, sys.float_info.max),
        (2, -sys.float_info.max),
        (3, 0.0),
    ]
    assert math.isnan(sorted(loss)[4][1])
    assert [(m.step, m.value) for m in dst.client.get_metric_history(first, "acc")] == [(7, 0.75)]
    [changed] = [w for w in report.warnings if "'loss'" in w]
    assert "3 value(s)" in changed and run_ids[0] in changed
    for step, value in ((1, "inf"), (2, "-inf"), (3, "-0.0")):
        assert f"step {step}: {value} stored as" in changed
    [duplicate] = [w for w in report.warnings if "'acc'" in w]
    assert "1 point(s)" in duplicate and f"step 7, timestamp {T0 + 5}, value 0.75" in duplicate
    assert not [w for w in report.warnings if run_ids[1] in w]

    again = api.import_model(
        tmp_path / "export",
        "fs-imported",
        tracking_uri=dst.tracking_uri,
        registry_uri=dst.registry_uri,
    )

    assert [o for o in again.outcomes if o.status == "imported"] == []
    assert len(dst.client.search_model_versions("name = 'fs-model'")) == 2
