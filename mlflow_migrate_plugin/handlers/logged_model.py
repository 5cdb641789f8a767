"""MLflow 3 LoggedModels: exported with the run that produced them, recreated under new ids.

A LoggedModel cannot keep its ``m-...`` id; every reference follows the new id: the run's model
outputs and inputs, metrics linked to the model, MLmodel files, and model version sources.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mlflow.entities import LifecycleStage, LoggedModelStatus, Metric
from mlflow.utils.mlflow_tags import MLFLOW_MODEL_VERSIONS

from .. import idmap
from ..capabilities import LOGGED_MODELS
from ..endpoint import Endpoint
from ..report import IMPORTED, SKIPPED, Report
from ..transfer import artifacts
from ..transfer.engine import Engine, Task
from ..transfer.mlmodel import MLmodelRewriter
from . import duplicates


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
    # What tells this create's model from a copy a retried create made (handlers/duplicates.py)
    if run_id is not None:
        identity = (
            f"source_run_id = '{run_id}' and tags.`{idmap.SOURCE_MODEL_ID}` = '{rec['model_id']}'"
        )
    else:
        tags[idmap.ATTEMPT] = token = idmap.new_attempt()
        identity = f"tags.`{idmap.ATTEMPT}` = '{token}'"
    try:
        model = dst.client.create_logged_model(
            experiment_id,
            name=rec.get("name"),
            source_run_id=run_id,
            tags=tags,
            params=rec.get("params") or None,
            model_type=rec.get("model_type"),
        )
    except BaseException:  # the create may have committed before its answer was lost
        _quietly(duplicates.drop_logged_model_copies, dst, experiment_id, identity, None)
        raise
    duplicates.drop_logged_model_copies(dst, experiment_id, identity, keep=model.model_id)
    if run_id is None:  # the token has done its work; the model shows only what it had
        dst.client.delete_logged_model_tag(model.model_id, idmap.ATTEMPT)
    return model


def _quietly(fn, *args) -> None:
    try:
        fn(*args)
    except Exception:  # cleanup is best effort; the original error is what the user needs
        pass


def finalize(dst: Endpoint, rec: dict[str, Any], model_id: str) -> None:
    status = (rec.get("status") or "READY").upper()
    if status in ("READY", "FAILED"):
        dst.client.finalize_logged_model(model_id, LoggedModelStatus(status))


def discard(dst: Endpoint, model_id: str) -> None:
    dst.client.delete_logged_model(model_id)


def import_standalone(
    dst: Endpoint,
    rec: dict[str, Any],
    root: Path | None,
    files: list | None,
    experiment_id: str,
    engine: Engine,
    report: Report,
    run_ids: dict[str, str] | None = None,
    mlmodel_fix: bool = True,
    transfer: Callable[[Any, Any], Iterable[Task]] | None = None,
) -> str:
    """Create a model that no imported run brings (with its files); return its new id.

    The files come from ``root`` (an export, checked first), or, given ``transfer``, from the
    tasks ``transfer(destination repository, rewrite)`` returns (a copy from a live source).

    ``run_ids`` maps source run ids to destination runs: the model's source run, when there,
    becomes the new model's. While it is imported the model carries
    ``mlflow_migrate.import_state = started``; a model found with that tag was interrupted and
    is replaced, one without it is complete and skipped.
    """
    client = dst.client
    source_id = rec["model_id"]
    found = idmap.find_logged_models(client, experiment_id, source_id)
    for model in found:
        if (model.tags or {}).get(idmap.STATE) != idmap.STATE_STARTED:
            report.add("logged_model", source_id, SKIPPED, model.model_id, "already imported")
            return model.model_id
    for stale in found:  # an interrupted import left it half made
        discard(dst, stale.model_id)
    if transfer is None:
        engine.run(artifacts.verify_tasks(root, files))

        def transfer(repo, rewrite):
            return artifacts.upload(repo, root, files, rewrite)

    run_ids = run_ids or {}
    run_id = run_ids.get(rec.get("source_run_id") or "")
    marked = {**rec, "tags": {**(rec.get("tags") or {}), idmap.STATE: idmap.STATE_STARTED}}
    model = create(dst, marked, experiment_id, run_id)
    try:
        rewrite = None
        if mlmodel_fix:
            rewrite = MLmodelRewriter(run_ids, {source_id: model.model_id}).into(
                rec.get("artifact_location"), model.artifact_location
            )
        engine.run(transfer(dst.artifact_repo(model.artifact_location), rewrite))
        finalize(dst, rec, model.model_id)
        client.delete_logged_model_tag(model.model_id, idmap.STATE)
    except BaseException:
        _quietly(discard, dst, model.model_id)  # else the rerun replaces it: still started
        raise
    report.add("logged_model", source_id, IMPORTED, model.model_id)
    return model.model_id


def link_metrics(
    dst: Endpoint, rec: dict[str, Any], new_id: str, run_ids: dict[str, str], report: Report
) -> None:
    """Link the model's metrics to the imported runs that logged them (idempotent)."""
    client = dst.client
    wanted = [m for m in rec.get("metrics") or [] if m.get("run_id")]
    if not wanted:
        return
    have = {
        (m.key, m.timestamp, m.step, m.value, m.run_id)
        for m in client.get_logged_model(new_id).metrics or []
    }
    by_run: dict[str, list[Metric]] = {}
    for m in wanted:
        run_id = run_ids.get(m["run_id"])
        if run_id is None:
            report.warn(
                f"logged model {rec['model_id']}: metric {m['key']!r} was logged by "
                f"run {m['run_id']}, which this import does not hold; not linked"
            )
            continue
        key = (m["key"], int(m["timestamp"]), int(m["step"]), float(m["value"]), run_id)
        if key in have:
            continue
        by_run.setdefault(run_id, []).append(
            Metric(
                m["key"],
                float(m["value"]),
                int(m["timestamp"]),
                int(m["step"]),
                model_id=new_id,
                dataset_name=m.get("dataset_name"),
                dataset_digest=m.get("dataset_digest"),
            )
        )
    for run_id, metrics in by_run.items():
        _log_to_run(client, run_id, metrics)


def _log_to_run(client, run_id: str, metrics: list[Metric]) -> None:
    """log_batch, briefly restoring a deleted run (a deleted run refuses writes)."""
    deleted = client.get_run(run_id).info.lifecycle_stage == LifecycleStage.DELETED
    if deleted:
        client.restore_run(run_id)
    try:
        client.log_batch(run_id, metrics=metrics, synchronous=True)
    finally:
        if deleted:
            client.delete_run(run_id)
