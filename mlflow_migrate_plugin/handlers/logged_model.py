"""MLflow 3 LoggedModels: exported with the run that produced them, recreated under new ids.

A LoggedModel cannot keep its ``m-...`` id; every reference follows the new id: the run's model
outputs and inputs, metrics linked to the model, MLmodel files, and model version sources.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlflow.entities import LoggedModelStatus
from mlflow.utils.mlflow_tags import MLFLOW_MODEL_VERSIONS

from .. import idmap
from ..capabilities import LOGGED_MODELS
from ..endpoint import Endpoint
from ..transfer import artifacts
from ..transfer.engine import Task


def record(model) -> dict[str, Any]:
    """The export record of a LoggedModel, from its public properties."""
    status = model.status
    return {
        "model_id": model.model_id,
        "name": model.name,
        "experiment_id": model.experiment_id,
        "source_run_id": model.source_run_id,
        "model_type": model.model_type,
        "status": getattr(status, "name", None) or str(status),
        "status_message": model.status_message,
        "tags": dict(model.tags or {}),
        "params": dict(model.params or {}),
        "metrics": [
            {
                "key": m.key,
                "value": m.value,
                "timestamp": m.timestamp,
                "step": m.step,
                "run_id": m.run_id,
                "dataset_name": m.dataset_name,
                "dataset_digest": m.dataset_digest,
            }
            for m in (model.metrics or [])
        ],
        "artifact_location": model.artifact_location,
        "creation_timestamp": model.creation_timestamp,
        "last_updated_timestamp": model.last_updated_timestamp,
    }


def models_of_run(src: Endpoint, run) -> list:
    """The LoggedModels a run produced: its model outputs, and models naming it as source
    (none on a server without LoggedModels, MLflow 2.x)."""
    if not src.supports(LOGGED_MODELS):
        return []
    client = src.client
    ids = [o.model_id for o in (run.outputs.model_outputs if run.outputs else [])]
    found = {
        m.model_id: m
        for m in client.search_logged_models(
            [run.info.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'"
        )
    }
    for model_id in ids:
        if model_id not in found:
            found[model_id] = client.get_logged_model(model_id)
    return list(found.values())


def export_tasks(src: Endpoint, model, root: Path, engine, manifests: dict) -> list[Task]:
    """Download tasks for one model's artifacts; fills ``manifests[model_id]`` when run."""
    repo = src.artifact_repo(model.artifact_location)
    files = artifacts.list_tree(repo, engine)
    entries: list = []
    manifests[model.model_id] = entries

    def recorded(task):
        def run():
            entry = task()
            entries.append(entry)
            return entry

        return run

    return [recorded(t) for t in artifacts.download(repo, files, root, engine)]


def create(dst: Endpoint, rec: dict[str, Any], experiment_id: str, run_id: str | None):
    """Create the model (PENDING) with name, type, params and tags plus its source identity."""
    tags = dict(rec.get("tags") or {})
    # The registry maintains this list of the versions registered from the model; the source's
    # list names versions that exist only there, and the destination's grows as they are made.
    tags.pop(MLFLOW_MODEL_VERSIONS, None)
    tags[idmap.SOURCE_MODEL_ID] = rec["model_id"]
    return dst.client.create_logged_model(
        experiment_id,
        name=rec.get("name"),
        source_run_id=run_id,
        tags=tags,
        params=rec.get("params") or None,
        model_type=rec.get("model_type"),
    )


def finalize(dst: Endpoint, rec: dict[str, Any], model_id: str) -> None:
    status = (rec.get("status") or "READY").upper()
    if status in ("READY", "FAILED"):
        dst.client.finalize_logged_model(model_id, LoggedModelStatus(status))


def discard(dst: Endpoint, model_id: str) -> None:
    dst.client.delete_logged_model(model_id)
