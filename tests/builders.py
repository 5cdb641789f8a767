"""Build source objects on a real server with MlflowClient alone (no fluent API, no global URI).

``make_run`` builds a run with everything MLflow lets one set: start/end time, status, user,
name, params, tags, a metric history with steps and timestamps, dataset inputs, artifacts in
nested folders, an MLflow-2-style model folder and an MLflow 3 LoggedModel with MLmodel, params,
tags and linked metrics.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mlflow.entities import (
    Dataset,
    DatasetInput,
    InputTag,
    LoggedModelOutput,
    Metric,
    Param,
    RunTag,
)

from mlflow_migrate_plugin.endpoint import Endpoint

MLMODEL_TEMPLATE = """artifact_path: {artifact_path}
flavors:
  python_function:
    env:
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    python_version: 3.11.7
mlflow_version: 3.17.2
model_id: {model_id}
model_uuid: 0123456789abcdef0123456789abcdef
run_id: {run_id}
utc_time_created: '2026-01-01 00:00:00.000000'
"""


@dataclass
class BuiltRun:
    run_id: str
    experiment_id: str
    model_ids: list[str] = field(default_factory=list)


def experiment(endpoint: Endpoint, name: str, tags: dict | None = None) -> str:
    existing = endpoint.client.get_experiment_by_name(name)
    if existing:
        return existing.experiment_id
    return endpoint.client.create_experiment(name, tags=tags)


def make_run(
    endpoint: Endpoint,
    experiment_id: str,
    *,
    name: str = "rich-run",
    user: str = "alice@example.com",
    start_time: int = 1_705_312_860_000,
    end_time: int | None = 1_705_312_920_000,
    status: str = "FINISHED",
    parent_run_id: str | None = None,
    metric_keys: int = 3,
    steps: int = 5,
    logged_model: bool = True,
    classic_model: bool = True,
    deleted: bool = False,
    extra_tags: dict | None = None,
) -> BuiltRun:
    client = endpoint.client
    tags = {
        "mlflow.user": user,
        "team": "ml-platform",
        "unicode_value": "значение ✓",
        "mlflow.source.name": "train.py",
        "mlflow.source.type": "LOCAL",
    }
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id
    tags.update(extra_tags or {})
    run = client.create_run(experiment_id, start_time=start_time, tags=tags, run_name=name)
    run_id = run.info.run_id
    built = BuiltRun(run_id, experiment_id)
    client.log_batch(
        run_id,
        params=[Param("alpha", "0.1"), Param("layers", "[64, 32]"), Param("long", "p" * 5000)],
        tags=[RunTag("note", "n" * 7000)],
    )
    points = [
        Metric(f"metric_{k}", 1.0 / (s + 1) + k, start_time + 1000 * s + k, s)
        for k in range(metric_keys)
        for s in range(steps)
    ]
    if points:
        client.log_batch(run_id, metrics=points)
    client.log_inputs(
        run_id,
        [
            DatasetInput(
                Dataset(
                    "train-data",
                    "a1b2c3d4",
                    "s3",
                    '{"uri": "s3://bucket/train.parquet"}',
                    '{"mlflow_colspec": [{"type": "double", "name": "x"}]}',
                    '{"num_rows": 10}',
                ),
                [InputTag("mlflow.data.context", "training")],
            )
        ],
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "report.txt").write_text("fold report ✓\n")
        (root / "plots" / "deep").mkdir(parents=True)
        (root / "plots" / "curve.bin").write_bytes(bytes(range(256)) * 40)
        (root / "plots" / "deep" / "empty.txt").write_bytes(b"")
        if classic_model:
            model_dir = root / "classic_model"
            model_dir.mkdir()
            (model_dir / "MLmodel").write_text(
                MLMODEL_TEMPLATE.format(
                    artifact_path="classic_model", model_id="null", run_id=run_id
                )
            )
            (model_dir / "model.pkl").write_bytes(b"\x80\x04pickled-model")
        client.log_artifacts(run_id, str(root))
    if logged_model:
        model = client.create_logged_model(
            experiment_id,
            name="my-model",
            source_run_id=run_id,
            tags={"stage": "candidate"},
            params={"n_estimators": "10"},
            model_type="classifier",
        )
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "MLmodel").write_text(
                MLMODEL_TEMPLATE.format(
                    artifact_path="model", model_id=model.model_id, run_id=run_id
                )
            )
            (Path(tmp) / "model.pkl").write_bytes(b"\x80\x04logged-model")
            endpoint.artifact_repo(model.artifact_location).log_artifacts(tmp)
        client.log_batch(
            run_id, metrics=[model_metric("accuracy", 0.93, start_time + 50_000, 3, model.model_id)]
        )
        client.finalize_logged_model(model.model_id, "READY")
        client.log_outputs(run_id, [LoggedModelOutput(model.model_id, 3)])
        built.model_ids.append(model.model_id)
    if status != "RUNNING":
        client.set_terminated(run_id, status, end_time=end_time)
    if deleted:
        client.delete_run(run_id)
    return built


def model_metric(key: str, value: float, timestamp: int, step: int, model_id: str) -> Metric:
    """A metric point logged against LoggedModel ``model_id``, on the builders' dataset."""
    return Metric(
        key,
        value,
        timestamp,
        step,
        model_id=model_id,
        dataset_name="train-data",
        dataset_digest="a1b2c3d4",
    )


def parent_and_child(
    endpoint: Endpoint, experiment_id: str, **child_options
) -> tuple[BuiltRun, BuiltRun]:
    """A run named "parent" and its child named "child" (with ``child_options``), no models."""
    light = {"logged_model": False, "classic_model": False}
    parent = make_run(endpoint, experiment_id, name="parent", **light)
    child = make_run(
        endpoint, experiment_id, name="child", parent_run_id=parent.run_id, **light, **child_options
    )
    return parent, child
