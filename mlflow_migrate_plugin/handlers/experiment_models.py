"""An experiment's own MLflow 3 LoggedModels: those no exported run produced.

A run's models travel with the run (:mod:`.run`). The others (created with no source run, for
example registered from outside a training run) are exported with the experiment and recreated
before its runs, so that runs which used them as inputs link to the new ids. Metrics that runs
logged against such a model are linked again once those runs are on the destination.

While a model is being imported it carries ``mlflow_migrate.import_state = started``; a model
found with that tag was interrupted and is replaced, one without it is complete and skipped.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable

from mlflow.entities import LifecycleStage, Metric

from .. import idmap
from ..capabilities import LOGGED_MODELS
from ..endpoint import Endpoint
from ..exportdir.experiment_dir import ExperimentDir, ExperimentDirWriter
from ..report import EXPORTED, FAILED, IMPORTED, SKIPPED, Report, failure_reason
from ..transfer import artifacts
from ..transfer.artifacts import Rewriter
from ..transfer.engine import Engine, Task
from ..transfer.mlmodel import MLmodelRewriter
from ..transfer.spool import Spool
from . import logged_model, requirements


def unproduced(client, experiment_id: str, exported_runs: list) -> list:
    """LoggedModels of the experiment with no source run and not an output of an exported run."""
    outputs = {
        o.model_id
        for run in exported_runs
        for o in (run.outputs.model_outputs if run.outputs else [])
    }
    models, token = [], None
    while True:
        page = client.search_logged_models([experiment_id], page_token=token)
        models += [m for m in page if not m.source_run_id and m.model_id not in outputs]
        token = page.token
        if not token:
            return models


def export_all(
    src: Endpoint,
    experiment_id: str,
    exported_runs: list,
    writer: ExperimentDirWriter,
    engine: Engine,
    report: Report,
):
    """Write the experiment's own models; return them and their artifact manifests.

    A model that fails is reported, its folder removed, and left out of the export.
    """
    exported, manifests = [], {}
    if not src.supports(LOGGED_MODELS):  # MLflow 2.x: there are none to export
        return exported, manifests
    for model in unproduced(src.client, experiment_id, exported_runs):
        root = writer.logged_model_root(model.model_id)
        try:
            engine.run(logged_model.export_tasks(src, model, root, engine, manifests))
        except Exception as exc:
            manifests.pop(model.model_id, None)
            shutil.rmtree(root.parent, ignore_errors=True)
            report.add("logged_model", model.model_id, FAILED, None, failure_reason(exc))
            continue
        exported.append(model)
        report.add("logged_model", model.model_id, EXPORTED, str(writer.path), "experiment-level")
    return exported, manifests


def import_all(
    dst: Endpoint, exp_dir: ExperimentDir, experiment_id: str, engine: Engine, report: Report
) -> dict[str, str]:
    """Recreate the experiment's own models; return source id -> destination id.

    A model that fails is reported and left out; the others, and the runs, still import.
    """
    created: dict[str, str] = {}
    lacks = requirements.experiment_model_lacks(dst, exp_dir.logged_models)
    if lacks:  # refused before the import began, unless told to import the rest
        requirements.warn_dropped(dst, lacks, report)
        return created
    for rec in exp_dir.logged_models:
        source_id = rec["model_id"]
        root = exp_dir.logged_model_root(source_id)
        files = exp_dir.logged_model_files(source_id)

        def upload(repo, rewrite, root=root, files=files):
            return artifacts.upload(repo, root, files, rewrite)

        try:
            engine.run(artifacts.verify_tasks(root, files))
            created[source_id] = _import_one(dst, rec, experiment_id, engine, report, upload)
        except Exception as exc:
            report.add("logged_model", source_id, FAILED, None, failure_reason(exc))
    return created


def copy_all(
    src: Endpoint,
    dst: Endpoint,
    models: list,
    experiment_id: str,
    engine: Engine,
    spool: Spool,
    report: Report,
) -> dict[str, str]:
    """Copy the experiment's own ``models`` (MLflow LoggedModels of the source, see
    :func:`unproduced`) straight from ``src``; return source id -> destination id. A model
    that fails is reported and left out, as on import."""
    created: dict[str, str] = {}
    records = [logged_model.record(m) for m in models]
    lacks = requirements.experiment_model_lacks(dst, records)
    if lacks:
        requirements.warn_dropped(dst, lacks, report)
        return created
    for model, rec in zip(models, records, strict=True):
        try:
            repo = src.artifact_repo(model.artifact_location)
            files = artifacts.list_tree(repo, engine)

            def copy(dst_repo, rewrite, repo=repo, files=files):
                return artifacts.copy(repo, dst_repo, files, spool, rewrite)

            created[model.model_id] = _import_one(dst, rec, experiment_id, engine, report, copy)
        except Exception as exc:
            report.add("logged_model", model.model_id, FAILED, None, failure_reason(exc))
    return created


def _import_one(
    dst: Endpoint,
    rec: dict,
    experiment_id: str,
    engine: Engine,
    report: Report,
    transfer: Callable[[object, Rewriter], Iterable[Task]],
) -> str:
    """Create one model from its record, its artifacts put in place by ``transfer(repo,
    rewrite)`` tasks; a model imported before is skipped, one left half made replaced."""
    client = dst.client
    source_id = rec["model_id"]
    found = idmap.find_logged_models(client, experiment_id, source_id)
    for model in found:
        if (model.tags or {}).get(idmap.STATE) != idmap.STATE_STARTED:
            report.add("logged_model", source_id, SKIPPED, model.model_id, "already imported")
            return model.model_id
    for stale in found:  # an interrupted import left it half made
        logged_model.discard(dst, stale.model_id)
    marked = {**rec, "tags": {**(rec.get("tags") or {}), idmap.STATE: idmap.STATE_STARTED}}
    model = logged_model.create(dst, marked, experiment_id, None)
    try:
        rewrite = MLmodelRewriter({}, {source_id: model.model_id}).into(
            rec.get("artifact_location"), model.artifact_location
        )
        engine.run(transfer(dst.artifact_repo(model.artifact_location), rewrite))
        logged_model.finalize(dst, rec, model.model_id)
        client.delete_logged_model_tag(model.model_id, idmap.STATE)
    except BaseException:
        try:
            logged_model.discard(dst, model.model_id)
        except Exception:  # best effort: the rerun replaces a model still marked started
            pass
        raise
    report.add("logged_model", source_id, IMPORTED, model.model_id)
    return model.model_id


def relink_metrics(
    dst: Endpoint,
    models: list[dict],
    model_ids: dict[str, str],
    run_ids: dict[str, str],
    report: Report,
) -> None:
    """Link the metrics of the experiment's own ``models`` (their records) to the imported
    runs that logged them (idempotent)."""
    client = dst.client
    for rec in models:
        new_id = model_ids.get(rec["model_id"])
        wanted = [m for m in rec.get("metrics") or [] if m.get("run_id")]
        if not new_id or not wanted:
            continue
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
