"""Experiments: export an experiment with its runs, and import one.

Runs move through the run handler (:mod:`.run`), one run per object worker, all their files and
metric batches through the one shared :class:`~..transfer.engine.Engine`. A run that fails is
reported with its reason and the others go on. On import, parents go before their children so
that every ``mlflow.parentRunId`` points at the imported parent; runs imported before are
skipped, and a run an interrupted import left half made is replaced, so reruns never duplicate.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from mlflow.entities import LifecycleStage
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from mlflow.utils.validation import MAX_EXPERIMENT_TAG_KEY_LENGTH, MAX_EXPERIMENT_TAG_VAL_LENGTH

from .. import idmap
from ..context import Migration
from ..endpoint import Endpoint, redact
from ..errors import ValueTooLongError
from ..exportdir.experiment_dir import (
    ExperimentDir,
    ExperimentDirWriter,
    experiment_record,
)
from ..exportdir.layout import system_part
from ..exportdir.run_dir import recorded_fingerprint
from ..report import EXPORTED, FAILED, IMPORTED, SKIPPED, Report, failure_reason
from ..transfer import resilience
from ..transfer.object_pool import run_parents_first
from . import (
    experiment_models,
    experiment_runs,
    kinds,
    lease,
    logged_model,
    requirements,
    run_checks,
    run_reuse,
)
from . import run as run_handler
from .experiment_lookup import ensure, get
from .results import Exported, Imported
from .run_reuse import UNCHANGED
from .run_selection import RunSelection, select

SOURCE_EXPERIMENT_PREFIX = idmap.PREFIX + "source.experiment."


# Export ---------------------------------------------------------------------------------------


def export(
    ctx: Migration,
    experiment: str,
    output_dir: str | Path,
    selection: RunSelection | None = None,
    *,
    export_permissions: bool = False,
    notebook_formats: list[str] | None = None,
    reuse: bool = False,
) -> Exported:
    """Write ``experiment`` (name or id) of ``ctx.src``, its selected runs (``ctx.workers`` at a
    time), its own LoggedModels and the parts of the kinds registered in :mod:`.kinds`.

    Each run goes to ``<output_dir>/runs/<run_id>/`` exactly as export-run writes it; a run that
    fails is listed in ``experiment.json`` with its reason, and the others are exported. With
    ``reuse``, a run whose folder holds an export of it as it still is on the source is kept
    as it is (:mod:`.run_reuse`), and folders of runs no longer selected are removed.
    """
    src, engine, report, progress = ctx.src, ctx.engine, ctx.report, ctx.progress
    selection = selection or RunSelection()
    exp = get(src, experiment)
    if exp.lifecycle_stage == LifecycleStage.DELETED and not selection.export_deleted_runs:
        # MLflow deletes an experiment's runs with it.
        report.warn(
            f"experiment '{exp.name}' is deleted, and so are its runs; add "
            "--export-deleted-runs to export them"
        )
    chosen = select(src.client, exp, selection, engine, report)
    writer = ExperimentDirWriter(output_dir)
    failed = list(chosen.failed)
    for item in failed:
        report.add("run", item["run_id"], FAILED, None, item["reason"])

    runs = {run.info.run_id: run for run in chosen.runs}
    exported: dict[str, dict] = {}
    unchanged: set[str] = set()
    phase = progress.phase(f"exporting runs of '{exp.name}'", len(runs), "runs")
    lock = threading.Lock()

    def export_one(run_id: str) -> None:
        run = runs[run_id]
        path = writer.run_dir(run_id)
        try:
            if resilience.gone(src):  # the rest would each wait for their own timeouts
                raise resilience.ServerGoneError(f"not attempted: {src.display} stopped answering")
            kept = reuse and run_reuse.reusable(run, path)
            if kept:
                report.add("run", run_id, UNCHANGED, str(path), "unchanged since the last export")
            else:
                run_handler.export(src, run_id, path, engine, report)
            with lock:
                if kept:
                    unchanged.add(run_id)
                exported[run_id] = {
                    "run_id": run_id,
                    "parent_run_id": run.data.tags.get(MLFLOW_PARENT_RUN_ID),
                    "lifecycle_stage": run.info.lifecycle_stage,
                    "status": run.info.status,
                    "start_time": run.info.start_time,
                    "source_fingerprint": recorded_fingerprint(path),
                }
        except Exception as exc:
            resilience.trip_if_gone(src, exc)
            shutil.rmtree(path, ignore_errors=True)  # no half-written run in the export
            report.add("run", run_id, FAILED, None, failure_reason(exc))
            with lock:
                failed.append({"run_id": run_id, "reason": failure_reason(exc)})
        finally:
            phase.advance()

    try:
        run_parents_first(runs, lambda _: None, export_one, ctx.workers)
    finally:
        phase.close()

    models, manifests = experiment_models.export_all(
        src, exp.experiment_id, chosen.runs, writer, engine, report
    )
    for part in kinds.experiment_parts():
        if part.wanted(ctx) and part.supported(ctx):
            part.export_part(ctx, exp, writer.path / part.folder)
    extra = export_databricks_objects(
        src,
        exp,
        writer.path,
        sorted(exported),
        report,
        export_permissions=export_permissions,
        notebook_formats=notebook_formats or [],
    )
    listed = [exported[run_id] for run_id in runs if run_id in exported]
    if reuse:  # folders of runs gone from the source or the selection since the last export
        writer.remove_runs_except(set(exported))
    writer.finish(
        system_part("export-experiment", redact(src.tracking_uri)),
        experiment_record(exp),
        listed,
        failed,
        [logged_model.record(m) for m in models],
        manifests,
        extra_mlflow=extra,
        extra_info={
            "selection": {
                "run_ids": selection.run_ids,
                "run_start_time": selection.run_start_time,
                "export_deleted_runs": selection.export_deleted_runs,
                "check_nested_runs": selection.check_nested_runs,
            }
        },
    )
    report.add(
        "experiment",
        exp.experiment_id,
        EXPORTED,
        str(output_dir),
        f"{len(listed) - len(unchanged)} runs exported, {len(unchanged)} unchanged, "
        f"{len(failed)} failed",
    )
    return Exported("experiment", exp.experiment_id, Path(output_dir))


def export_databricks_objects(
    src: Endpoint,
    experiment,
    output_dir: Path,
    run_ids: list[str],
    report: Report,
    *,
    export_permissions: bool,
    notebook_formats: list[str],
) -> dict:
    """Hook for Databricks: the experiment's permissions and its runs' notebooks.

    Returns entries for the ``mlflow`` part of ``experiment.json`` (mlflow-export-import keeps
    permissions under ``mlflow.permissions``); notebooks go into each run's folder.
    """
    from ..databricks import extras
    from ..exportdir.layout import RUNS_DIR

    run_dirs = {run_id: Path(output_dir) / RUNS_DIR / run_id for run_id in run_ids}
    return extras.export_experiment_extras(
        src,
        experiment.experiment_id,
        run_dirs,
        report,
        export_permissions=export_permissions,
        notebook_formats=notebook_formats,
    )


# Import ---------------------------------------------------------------------------------------


def import_(
    ctx: Migration,
    input_dir: str | Path,
    experiment_name: str,
    *,
    import_permissions: bool = False,
    dst_notebook_dir: str | None = None,
    wait: bool = False,
) -> Imported:
    """Import an experiment export into ``experiment_name`` on ``ctx.dst``, its runs with the
    :class:`~.run.RunImportOptions` of ``ctx``, ``ctx.workers`` at a time.

    The experiment is created with its tags and description if it does not exist; otherwise
    the runs are added to it and its own metadata stays as it is. Every run's records and metric
    history are checked first: a run that fails its checks is reported and not imported, and
    when the export holds runs but none passes (and no LoggedModels of its own) no experiment
    is made (the result's ``destination_id`` is then None if none existed).

    Another import of the same experiment in progress makes this one refuse, or with ``wait``
    wait for it to end (:mod:`.lease`).
    """
    dst, engine, report, progress = ctx.dst, ctx.engine, ctx.report, ctx.progress
    options = ctx.options_of("run") or run_handler.RunImportOptions()
    exp_dir = ExperimentDir(input_dir)
    source_id = str(exp_dir.experiment.get("experiment_id") or exp_dir.path.name)
    for item in exp_dir.failed_at_export:
        why = f" ({item['reason']})" if item.get("reason") else ""
        report.warn(f"run {item['run_id']} failed at export{why}; it is not in {exp_dir.path}")
    requirements.check_experiment(dst, exp_dir, options.skip_unsupported)
    for model_id, why in exp_dir.missing_models:
        report.add("logged_model", model_id, FAILED, None, why)
    for trace_id in exp_dir.traces:
        report.add("trace", trace_id, FAILED, None, "traces are not imported (not supported)")
    existing = dst.client.get_experiment_by_name(experiment_name)
    # Runs imported before: skipped without reading and hashing their files again.
    done_before = (
        {}
        if options.fresh or existing is None
        else idmap.complete_runs(dst.client, existing.experiment_id, finished_only=True)
    )
    entries = run_checks.checked_runs(exp_dir.runs, report, frozenset(done_before))
    refused = [e for e in exp_dir.runs if e.path is not None and e not in entries]
    if refused and not entries and not exp_dir.logged_models:
        # Every run the export holds failed its checks: an experiment made now would stay empty.
        if existing is None:
            return Imported("experiment", source_id, None, FAILED)
        return Imported("experiment", source_id, existing.experiment_id, SKIPPED)
    experiment_id, delete_after = destination(
        dst, exp_dir.experiment, exp_dir.path, experiment_name, options, report
    )
    held = take_lease(dst, experiment_id, experiment_name, delete_after, report, wait, progress)
    try:
        model_ids = experiment_models.import_all(dst, exp_dir, experiment_id, engine, report)
        by_id = {entry.run_id: entry for entry in entries}
        run_ids = experiment_runs.import_runs(
            dst,
            {run_id: entry.parent_run_id for run_id, entry in by_id.items()},
            lambda run_id: run_handler.read_and_verify(
                by_id[run_id].path, engine, by_id[run_id].logged_models
            ),
            experiment_id,
            engine,
            report,
            options,
            ctx.workers,
            progress,
            done_before,
        )
        experiment_models.relink_metrics(dst, exp_dir.logged_models, model_ids, run_ids, report)
        ctx.ids.update("run", run_ids)
        ctx.ids.update("logged_model", model_ids)
        for part in kinds.experiment_parts():
            folder = exp_dir.path / part.folder
            if folder.is_dir() and part.wanted(ctx):
                part.import_part(ctx, folder, experiment_id)
        import_databricks_objects(
            dst,
            exp_dir,
            experiment_id,
            run_ids,
            report,
            import_permissions=import_permissions,
            dst_notebook_dir=dst_notebook_dir,
        )
    finally:
        held.release()
        if delete_after:  # also when interrupted: a rerun restores it for its own time
            delete_as_source(dst, experiment_id, experiment_name, report)
    return Imported("experiment", source_id, experiment_id, IMPORTED)


def take_lease(dst, experiment_id: str, name: str, delete_after: bool, report, wait, progress):
    """This import's lease on the destination experiment (:mod:`.lease`); an experiment made
    only to be deleted again (as the source is) goes if the lease is refused."""
    try:
        return lease.take(
            lease.on_experiment(dst, experiment_id, name), report, wait=wait, note=progress.note
        )
    except BaseException:
        if delete_after:
            dst.client.delete_experiment(experiment_id)
        raise


def delete_as_source(dst: Endpoint, experiment_id: str, name: str, report: Report) -> None:
    """Delete the destination experiment, because the source one is deleted."""
    dst.client.delete_experiment(experiment_id)
    report.warn(
        f"experiment '{name}' is deleted on the source, so it is deleted on the destination "
        "too ('mlflow experiments restore' brings it back)"
    )


def destination(
    dst: Endpoint,
    source: dict,
    where,
    name: str,
    options: run_handler.RunImportOptions,
    report: Report,
) -> tuple[str, bool]:
    """The destination experiment's id, and whether to delete it at the end (as the source is).

    ``source`` is the source experiment's record, read from ``where`` (named in errors). A
    deleted source experiment is created, filled, then deleted; a rerun finds it deleted and
    restores it for the time of the import.
    """
    source_deleted = source.get("lifecycle_stage") == LifecycleStage.DELETED
    existing = dst.client.get_experiment_by_name(name)
    if existing is not None:
        if source_deleted and existing.lifecycle_stage == LifecycleStage.DELETED:
            dst.client.restore_experiment(existing.experiment_id)
            return existing.experiment_id, True
        return ensure(dst, name, report), False
    tags = dict(source["tags"])
    for marker in idmap.MARKER_TAGS:
        tags.pop(marker, None)
    if options.import_source_tags:
        for field, value in source.items():
            if field != "tags" and value is not None:
                tags[SOURCE_EXPERIMENT_PREFIX + field] = redact(str(value))
    for key, value in tags.items():
        if len(key) > MAX_EXPERIMENT_TAG_KEY_LENGTH or len(value) > MAX_EXPERIMENT_TAG_VAL_LENGTH:
            raise ValueTooLongError(
                f"{where}: experiment tag {key[:40]!r} is longer than MLflow keeps "
                f"({MAX_EXPERIMENT_TAG_KEY_LENGTH} for a key, {MAX_EXPERIMENT_TAG_VAL_LENGTH} "
                "for a value)"
            )
    return ensure(dst, name, report, tags), source_deleted


def import_databricks_objects(
    dst: Endpoint,
    exp_dir: ExperimentDir,
    experiment_id: str,
    run_ids: dict[str, str],
    report: Report,
    *,
    import_permissions: bool,
    dst_notebook_dir: str | None,
) -> None:
    """Hook for Databricks: the experiment's permissions and its runs' notebooks.

    ``run_ids`` maps each source run id to the destination run, to find the notebook each run
    folder holds and where to put it under ``dst_notebook_dir``.
    """
    from ..databricks import extras

    run_dirs = {entry.run_id: entry.path for entry in exp_dir.runs if entry.path is not None}
    extras.import_experiment_extras(
        dst,
        exp_dir.path,
        experiment_id,
        run_dirs,
        run_ids,
        report,
        import_permissions=import_permissions,
        dst_notebook_dir=dst_notebook_dir,
    )
