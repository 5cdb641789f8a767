"""Whole servers: every experiment and registered model, through the single-object handlers.

Bulk adds no second implementation: each experiment goes through :mod:`.experiment` and each
model through :mod:`.registered_model`, one object after the other, each moving its runs on the
bounded object pool and its files on the one shared engine, so memory stays flat however many
objects there are. Every object ends as exported/imported, skipped or failed with its reason; a
failure never stops its siblings. Imports are idempotent object by object, so a rerun (after a
Ctrl-C, a server restart, or a change at the source) adds only what is missing.

On import, experiments go first and a model's versions' runs go into the destination experiment
of the source experiment they came from: the run import there finds the run the experiment
import made (by its source-id marker tag) and links the version to it instead of copying it
again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..context import Migration
from ..endpoint import Endpoint, redact
from ..exportdir.bulk_dir import BulkDir, BulkDirWriter, BulkEntry
from ..exportdir.layout import system_part
from ..report import (
    EXPORTED,
    FAILED,
    IMPORTED,
    NO_PROGRESS,
    SKIPPED,
    Progress,
    Report,
    failure_reason,
)
from ..transfer import resilience
from ..transfer.engine import Engine
from . import bulk_kinds, bulk_selection, model_sync, run_sync
from . import experiment as experiment_handler
from . import registered_model as model_handler
from . import run as run_handler
from .bulk_selection import Shard
from .registered_model import ModelSelection
from .run_selection import RunSelection

EXPERIMENT = "experiment"
WHOLE = Shard()
MODEL = "registered_model"
UPDATED = run_sync.UPDATED


@dataclass
class BulkExportOptions:
    """What export-all, export-experiments and export-models take."""

    experiments: list[str] | None = None  # names or ids; None: every active experiment
    models: list[str] | None = None  # names or shell patterns; None: every model
    include_experiments: bool = True
    include_models: bool = True
    # export-models: also the whole experiments its versions' runs live in.
    export_all_runs: bool = False
    runs: RunSelection = field(default_factory=RunSelection)
    versions: ModelSelection = field(default_factory=ModelSelection)
    export_permissions: bool = False
    notebook_formats: list[str] = field(default_factory=list)


@dataclass
class BulkImportOptions:
    """What import-all, import-experiments and import-models take."""

    include_experiments: bool = True
    include_models: bool = True
    experiment_renames: dict[str, str] = field(default_factory=dict)
    model_renames: dict[str, str] = field(default_factory=dict)
    delete_model: bool = False
    import_permissions: bool = False
    runs: run_handler.RunImportOptions = field(default_factory=run_handler.RunImportOptions)


# Export ---------------------------------------------------------------------------------------


def export(
    src: Endpoint,
    output_dir: str | Path,
    engine: Engine,
    report: Report,
    options: BulkExportOptions,
    shard: Shard = WHOLE,
    *,
    script: str = "export-all",
    workers: int = 1,
    progress: Progress = NO_PROGRESS,
) -> Path:
    """Export the chosen experiments and models of ``shard`` under ``output_dir``; write
    ``manifest.json`` last, listing every object with what became of it."""
    writer = BulkDirWriter(output_dir)
    exps = (
        bulk_selection.experiments(src, options.experiments) if options.include_experiments else []
    )
    models = []
    if options.include_models:
        names = bulk_selection.model_names(src, options.models)
        models = bulk_selection.with_home_experiments(src, names, engine)
    if options.export_all_runs:
        have = {e.experiment_id for e in exps}
        for exp_id in sorted({m.experiment_id for m in models if m.experiment_id} - have):
            exps.append(experiment_handler.get(src, exp_id))
    exps = [e for e in exps if shard.owns(e.experiment_id)]
    models = [m for m in models if shard.owns(m.shard_key)]
    progress.note(
        f"Exporting {len(exps)} experiments and {len(models)} registered models"
        + (f" (shard {shard})" if shard.count > 1 else "")
    )
    entries = []
    phase = progress.phase("objects exported", len(exps) + len(models), "objects")
    work = [(EXPERIMENT, e.experiment_id, _export_experiment, e) for e in exps]
    work += [(MODEL, m.name, _export_model, m) for m in models]
    try:
        for at, (_, _, export_one, item) in enumerate(work):
            entries.append(export_one(src, item, writer, engine, report, options, workers))
            phase.advance()
            if entries[-1]["status"] == FAILED and (resilience.gone(src) or not src.answers()):
                why = f"not attempted: {src.display} stopped answering"
                for kind, key, _, _ in work[at + 1 :]:
                    report.add(kind, key, FAILED, None, why)
                # No manifest: the directory reads as interrupted, and a rerun resumes it.
                return Path(output_dir)
    finally:
        phase.close()
    if options.include_experiments and options.include_models and not options.experiments:
        bulk_kinds.export_server_kinds(src, writer.path, engine, report, shard, progress)
    writer.finish(
        system_part(script, redact(src.tracking_uri)),
        {
            "shard": str(shard),
            "num_experiments": len(exps),
            "num_registered_models": len(models),
            "num_failed": sum(e["status"] == FAILED for e in entries),
            "selection": {
                "run_start_time": options.runs.run_start_time,
                "runs_until": options.runs.runs_until,
                "export_deleted_runs": options.runs.export_deleted_runs,
                "stages": options.versions.stages,
                "export_latest_versions": options.versions.export_latest_versions,
                "export_version_model": options.versions.export_version_model,
            },
        },
        entries,
    )
    return Path(output_dir)


def _export_experiment(src, exp, writer, engine, report, options, workers) -> dict:
    path = writer.experiment_dir(exp.experiment_id)
    entry = _entry(EXPERIMENT, exp.experiment_id, exp.name, path, writer, exp.experiment_id)
    return _export_object(
        experiment_handler, options.runs, entry, path, src, writer, engine, report, options
    )


def _export_model(src, model, writer, engine, report, options, workers) -> dict:
    path = writer.model_dir(model.name)
    entry = _entry(
        MODEL,
        model.name,
        model.name,
        path,
        writer,
        model.shard_key,
        experiment_id=model.experiment_id,
        experiment_name=model.experiment_name,
    )
    return _export_object(
        model_handler, options.versions, entry, path, src, writer, engine, report, options
    )


def _entry(kind: str, source_id: str, name: str, path, writer, shard_key, **extra) -> dict:
    """The manifest entry of one exported object, before its status."""
    dir_ = path.relative_to(writer.path).as_posix()
    return {
        "kind": kind,
        "source_id": source_id,
        "name": name,
        "dir": dir_,
        **extra,
        "shard_key": shard_key,
    }


def _export_object(
    handler, selection, entry: dict, path, src, writer, engine, report, options
) -> dict:
    """Export the experiment or model of manifest ``entry`` into ``path`` with ``handler`` and
    its ``selection`` (runs or versions), unless a finished export is there already. A failure
    is recorded in the report and in the entry and stops nothing else; the directory is marked
    complete only once everything is written."""
    kind, source_id = entry["kind"], entry["source_id"]
    if writer.is_complete(path, kind):
        report.add(kind, source_id, SKIPPED, str(path), "already exported")
        return {**entry, "status": SKIPPED}
    try:
        handler.export(
            Migration(engine, report, src=src),
            source_id,
            path,
            selection,
            export_permissions=options.export_permissions,
            notebook_formats=options.notebook_formats,
            reuse=True,
        )
    except Exception as exc:
        report.add(kind, source_id, FAILED, None, failure_reason(exc))
        return {**entry, "status": FAILED, "reason": failure_reason(exc)}
    writer.mark_complete(path)
    return {**entry, "status": EXPORTED}


# Import ---------------------------------------------------------------------------------------


def import_(
    dst: Endpoint,
    input_dir: str | Path,
    engine: Engine,
    report: Report,
    options: BulkImportOptions,
    shard: Shard = WHOLE,
    *,
    workers: int = 1,
    progress: Progress = NO_PROGRESS,
) -> None:
    """Import every object of a bulk export that ``shard`` owns: experiments, then models."""
    bulk = BulkDir(input_dir)
    exps = [e for e in bulk.experiments if options.include_experiments and shard.owns(e.shard_key)]
    models = [m for m in bulk.models if options.include_models and shard.owns(m.shard_key)]
    progress.note(
        f"Importing {len(exps)} experiments and {len(models)} registered models"
        + (f" (shard {shard})" if shard.count > 1 else "")
    )

    # Closures over the shared arguments, so that each object's call reads as what it does.
    def _experiment(dst, entry: BulkEntry, own: Report) -> str:
        name = options.experiment_renames.get(entry.name, entry.name)
        experiment_id = experiment_handler.import_(
            Migration(engine, own, dst=dst, options={"run": options.runs}),
            entry.path,
            name,
            import_permissions=options.import_permissions,
        ).destination_id
        run_sync.sync_experiment(dst, entry.path, experiment_id, engine, own, workers)
        changed = _sync_experiment_tags(dst, entry.path, experiment_id)
        if changed:
            own.add(EXPERIMENT, entry.source_id, UPDATED, name, ", ".join(changed))
        return name

    def _model(dst, entry: BulkEntry, own: Report) -> str:
        name = options.model_renames.get(entry.name, entry.name)
        home = entry.experiment_name or entry.name
        experiment_name = options.experiment_renames.get(home, home)
        model_options = model_handler.ModelImportOptions(
            delete_model=options.delete_model,
            import_source_tags=options.runs.import_source_tags,
            run_options=options.runs,
        )
        model_handler.import_(
            Migration(engine, own, dst=dst, options={"registered_model": model_options}),
            entry.path,
            experiment_name,
            name,
        )
        changed = model_sync.sync_model(dst, entry.path, name, own)
        if changed:
            own.add(MODEL, entry.source_id, UPDATED, name, ", ".join(changed))
        if options.import_permissions:
            from ..databricks import extras

            extras.import_model_permissions(dst, name, entry.path, own)
        return name

    if options.include_experiments and options.include_models:  # before the traces using them
        bulk_kinds.import_server_kinds(dst, bulk.path, engine, report, shard, progress)
    phase = progress.phase("objects imported", len(exps) + len(models), "objects")
    work = [(e, _experiment) for e in exps] + [(m, _model) for m in models]
    try:
        for at, (entry, import_one) in enumerate(work):
            _import_one(entry, report, lambda own, e=entry, f=import_one: f(dst, e, own))
            phase.advance()
            if report.outcomes[-1].status == FAILED and (resilience.gone(dst) or not dst.answers()):
                for rest, _ in work[at + 1 :]:  # not minutes of retries per object
                    why = f"not attempted: {dst.display} stopped answering"
                    report.add(rest.kind, rest.source_id, FAILED, None, why)
                break
    finally:
        phase.close()
    if options.include_experiments and options.include_models:  # the prompts were imported
        renamed = {
            e.source_id: options.experiment_renames.get(e.name, e.name) for e in bulk.experiments
        }
        bulk_kinds.link_server_kinds(
            Migration(engine, report, dst=dst, progress=progress), renamed.get
        )


def _sync_experiment_tags(dst: Endpoint, path: Path, experiment_id: str) -> list[str]:
    """Tags (the description among them) new or changed at the source since the experiment was
    imported; tags removed there stay (the destination may hold its own)."""
    from mlflow.utils.mlflow_tags import MLFLOW_RUN_NOTE  # the description, runs or not

    from ..exportdir.experiment_dir import ExperimentDir

    source = ExperimentDir(path).experiment.get("tags") or {}
    current = dst.client.get_experiment(experiment_id).tags or {}
    changed = []
    for key, value in source.items():
        settable = not key.startswith("mlflow.") or key == MLFLOW_RUN_NOTE
        if settable and current.get(key) != value:
            dst.client.set_experiment_tag(experiment_id, key, value)
            changed.append(f"tag {key}")
    return changed


def _import_one(entry: BulkEntry, report: Report, work) -> None:
    """Import one object into a report of its own; record one outcome for the object itself:
    imported (something new), skipped (all there already) or failed (with the reason)."""
    own = Report()
    try:
        destination = work(own)
    except Exception as exc:
        report.merge(own)
        report.add(entry.kind, entry.source_id, FAILED, None, failure_reason(exc))
        return
    # The handlers' own notes on the object itself ("created") give way to this one outcome.
    statuses = {o.status for o in own.outcomes}
    changes = [o.detail for o in own.outcomes if o.kind == entry.kind and o.status == UPDATED]
    own.outcomes = [o for o in own.outcomes if o.kind != entry.kind]
    report.merge(own)
    failed = [o for o in own.outcomes if o.status == FAILED]
    if failed:
        status, detail = FAILED, f"{len(failed)} of its objects failed"
    elif statuses & {IMPORTED, "created"}:
        status, detail = IMPORTED, _counts(own)
    elif UPDATED in statuses:
        status, detail = UPDATED, _counts(own)
    else:
        status, detail = SKIPPED, "already there, nothing new"
    if changes:  # what changed on the object itself
        detail += f"; changed: {'; '.join(changes)}"
    report.add(entry.kind, entry.source_id, status, destination, detail)


def _counts(report: Report) -> str:
    counts = Counter((o.kind, o.status) for o in report.outcomes).items()
    return ", ".join(f"{n} {kind.replace('_', ' ')}s {status}" for (kind, status), n in counts)
