"""What can be observed of an object through MLflow's public API, as plain nested values.

Views keep the ids each side has; :mod:`.runs` and :mod:`.models` map the destination's ids back
to the source's before comparing. The test suite builds its round-trip comparisons on the same
views (tests/compare.py), so what the tests prove is what ``verify-*`` checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlflow.exceptions import MlflowException

from ..endpoint import Endpoint
from ..transfer.engine import Engine
from .metric_history import MetricHistories

# Reads an artifact repository into {path: comparable value}.
ArtifactReader = Callable[[Any], dict]


def run_view(
    endpoint: Endpoint,
    run,
    artifacts: ArtifactReader,
    engine: Engine | None = None,
    histories: MetricHistories | None = None,
) -> dict:
    """Everything observable about a run (a Run, or its id): info, params, tags, every metric
    point, datasets, artifacts (as ``artifacts`` reads them) and LoggedModel outputs and inputs
    (by id). ``histories`` may hold the metric points already (read in bulk)."""
    client = endpoint.client
    if isinstance(run, str):
        run = client.get_run(run)
    info = run.info

    def history(key: str):
        points = histories.take(info.run_id, key) if histories else None
        if points is None:
            points = sorted(
                [m.step, m.timestamp, m.value] for m in client.get_metric_history(info.run_id, key)
            )
        return key, [metric_point(*p) for p in points]

    keys = sorted(run.data.metrics)
    if engine is None:
        metrics = dict(history(key) for key in keys)
    else:
        metrics = dict(engine.run((lambda k=key: history(k)) for key in keys))
    inputs, outputs = run.inputs, run.outputs
    return {
        "info": {
            "status": info.status,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "lifecycle_stage": info.lifecycle_stage,
            "run_name": info.run_name,
            "user_id": info.user_id,
        },
        "params": dict(run.data.params),
        "tags": dict(run.data.tags),
        "metrics": metrics,
        "datasets": sorted(
            [
                d.dataset.name,
                d.dataset.digest,
                d.dataset.source_type,
                d.dataset.source,
                d.dataset.schema,
                d.dataset.profile,
                sorted([t.key, t.value] for t in d.tags),
            ]
            for d in (inputs.dataset_inputs if inputs else [])
        ),
        "artifacts": artifacts(endpoint.artifact_repo(info.artifact_uri)),
        "model_outputs": sorted(
            [o.model_id, o.step] for o in (outputs.model_outputs if outputs else [])
        ),
        "model_inputs": sorted(i.model_id for i in (inputs.model_inputs or [] if inputs else [])),
    }


def metric_point(step: int, timestamp: int, value: float) -> list:
    """One point as compared: NaN, which equals nothing, as the string MLflow shows for it."""
    return [step, timestamp, "NaN" if value != value else value]


def logged_model_view(endpoint: Endpoint, model_id: str, artifacts: ArtifactReader) -> dict:
    """A LoggedModel: name, type, status, tags, params, linked metrics, the run that produced
    it and the runs its metrics came from (by id), and its artifacts."""
    model = endpoint.client.get_logged_model(model_id)
    return {
        "name": model.name,
        "model_type": model.model_type,
        "status": str(model.status),
        "status_message": model.status_message,
        "tags": dict(model.tags or {}),
        "params": dict(model.params or {}),
        "metrics": sorted(
            [m.key, m.value, m.timestamp, m.step, m.dataset_name, m.dataset_digest]
            for m in model.metrics or []
        ),
        "source_run_id": model.source_run_id or None,
        "metric_runs": sorted(m.run_id for m in model.metrics or [] if m.run_id),
        "artifacts": own_location(
            artifacts(endpoint.artifact_repo(model.artifact_location)), model
        ),
    }


OWN_LOCATION = "<the model's own artifact location>"


def own_location(files: dict, model) -> dict:
    """MLflow writes a LoggedModel's own artifact location into its MLmodel (``artifact_path``),
    and a moved model names its new one, which no import can keep: both sides show it as
    :data:`OWN_LOCATION`, a location that is not the model's own stays as written."""
    out = {}
    for path, value in files.items():
        if isinstance(value, dict) and "sha256" not in value and "size" not in value:
            where = value.get("artifact_path")
            if isinstance(where, str) and (
                where == model.artifact_location or model.model_id in where.split("/")
            ):
                value = {**value, "artifact_path": OWN_LOCATION}
        out[path] = value
    return out


def experiment_view(experiment) -> dict:
    return {
        "name": experiment.name,
        "lifecycle_stage": experiment.lifecycle_stage,
        "tags": dict(experiment.tags or {}),
    }


def registered_model_view(model) -> dict:
    return {
        "description": model.description or "",
        "tags": dict(model.tags or {}),
        "aliases": dict(model.aliases or {}),
    }


def version_view(endpoint: Endpoint, mv) -> dict:
    """A model version's own fields, with its source split into what it points at: a
    LoggedModel (``models:/m-...``), a path in a run (``runs:/`` or the run's artifact URI),
    or anything else."""
    return {
        "version": mv.version,
        "description": mv.description or "",
        "tags": dict(mv.tags or {}),
        "stage": mv.current_stage,
        "aliases": sorted(mv.aliases or []),
        "status": mv.status,
        "status_message": mv.status_message or None,
        "run_id": mv.run_id or None,
        "model_id": getattr(mv, "model_id", None) or None,
        "source": source_parts(endpoint, mv.source, mv.run_id),
    }


def source_parts(endpoint: Endpoint, source: str, run_id: str | None) -> list:
    """``["logged_model", id]``, ``["runs", run id, path]``, ``["run_artifact", run id, path]``
    or ``["other", source]``."""
    from ..handlers.version_source_uri import logged_model_id

    model_id = logged_model_id(source)
    if model_id:
        return ["logged_model", model_id]
    if source.startswith("runs:/"):
        run_part, _, path = source[len("runs:/") :].partition("/")
        return ["runs", run_part, path]
    run = run_or_none(endpoint.client, run_id)
    root = run.info.artifact_uri.rstrip("/") if run else None
    if root and source.startswith(root + "/"):
        return ["run_artifact", run_id, source[len(root) + 1 :]]
    return ["other", source]


def run_or_none(client, run_id: str | None):
    """The run; None if no id is given or the run does not exist."""
    if not run_id:
        return None
    try:
        return client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        return None
