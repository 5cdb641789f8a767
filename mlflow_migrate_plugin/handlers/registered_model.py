"""Registered models: export one with its versions and their runs; import it with nothing lost.

Export writes ``model.json`` and each selected version's run beside it (:mod:`.model_version.runs`).
Import checks the whole export first, imports the runs (and their LoggedModels), creates the
model if it is missing, then the versions in number order, gaps included (:mod:`.model_version`).
A rerun adds nothing. If the import fails, what it created is removed: the versions, the model if
it made it, and the runs it imported; a model it did not create keeps its metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlflow.exceptions import MlflowException

from .. import idmap
from ..context import Migration
from ..endpoint import Endpoint, redact
from ..errors import ExportDirError, MigrateError, NotFoundError
from ..exportdir.layout import system_part
from ..exportdir.model_dir import ModelDir, ModelDirWriter, VersionEntry
from ..report import EXPORTED, IMPORTED, SKIPPED, Progress, Report
from ..transfer import resilience
from ..transfer.engine import Engine
from ..transfer.object_pool import InBackground
from . import lease, model_checks, model_version, requirements
from . import run as run_handler
from .experiment_lookup import ensure as ensure_experiment
from .model_selection import ModelSelection, select
from .model_version import runs as version_runs
from .model_version import sources as version_sources
from .model_version.writer import VersionOptions, VersionWriter
from .registered_model_lookup import SOURCE_MODEL_PREFIX, ensure, get, record  # noqa: F401
from .results import Exported, Imported


def delete(dst: Endpoint, name: str, report: Report) -> None:
    """Delete model ``name`` and its versions, if it exists."""
    if get(dst, name) is None:
        return
    for version in model_version.all_versions(dst.client, name):
        dst.client.delete_model_version(name, version.version)
    dst.client.delete_registered_model(name)
    report.add("registered_model", name, "deleted", name, "--delete-model")


# Export ---------------------------------------------------------------------------------------


def _runs_of(client, run_ids: set[str], engine: Engine) -> dict[str, object]:
    """Each run as the source has it now, or None when it no longer exists (looked up
    concurrently)."""

    def get_run(run_id: str):
        try:
            return run_id, client.get_run(run_id)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            return run_id, None

    return dict(engine.run(lambda r=r: get_run(r) for r in sorted(run_ids)))


def export(
    ctx: Migration,
    name: str,
    output_dir: str | Path,
    selection: ModelSelection | None = None,
    *,
    export_permissions: bool = False,
    notebook_formats: list[str] | None = None,
    reuse: bool = False,
) -> Exported:
    """Write model ``name`` of ``ctx.src`` and its selected versions with their runs
    (``ctx.workers`` at a time); then on Databricks the model's permissions and the runs'
    notebooks.

    With ``reuse``, a version's run whose folder holds an export of it as it still is on the
    source is kept as it is (:mod:`.run_reuse`)."""
    src, engine, report, progress = ctx.src, ctx.engine, ctx.report, ctx.progress
    selection = selection or ModelSelection()
    client = src.client
    model = get(src, name)
    if model is None:
        raise NotFoundError(f"registered model '{name}' not found on {src.display}")
    rec = record(model)
    chosen = select(client, name, selection)
    progress.note(f"Model '{name}': {len(chosen)} versions to export")
    current = _runs_of(client, {v.run_id for v in chosen if v.run_id}, engine)
    states = {
        run_id: run.info.lifecycle_stage if run is not None else "gone"
        for run_id, run in current.items()
    }
    writer = ModelDirWriter(output_dir)
    versions, entries, skipped, run_dirs = [], {}, [], {}
    for mv in chosen:
        key = idmap.model_version_key(name, mv.version)
        state = states.get(mv.run_id) if mv.run_id else None
        if state == "deleted" and not selection.export_deleted_runs:
            why = f"its run {mv.run_id} is deleted (use --export-deleted-runs)"
            skipped.append({"version": str(mv.version), "run_id": mv.run_id, "reason": why})
            report.add("model_version", key, SKIPPED, None, why)
            progress.note(f"  version {mv.version}: skipped, {why}")
            continue
        aliases = [a for a, v in rec["aliases"].items() if str(v) == str(mv.version)]
        versions.append(model_version.record(mv, aliases))
        entry = {"run_dir": None, "run_missing": None, "version_model": None}
        if not mv.run_id:
            entry["run_missing"] = "the version names no run"
        elif state == "gone":
            entry["run_missing"] = f"run {mv.run_id} no longer exists on the source"
        else:
            run_dirs[mv.run_id] = writer.run_dir(mv.run_id)
            entry["run_dir"] = mv.run_id
        entries[str(mv.version)] = entry  # a file store numbers versions as ints
        missing = f" ({entry['run_missing']})" if entry["run_missing"] else ""
        progress.note(
            f"  version {mv.version} (stage {mv.current_stage}): run {mv.run_id or '-'}{missing}"
        )
    failed = version_runs.export_runs(
        src, run_dirs, engine, report, ctx.workers, progress, current if reuse else None
    )
    for entry in entries.values():
        if entry["run_dir"] in failed:
            entry["run_missing"] = f"run export failed: {failed[entry['run_dir']]}"
            entry["run_dir"] = None
    models = version_sources.export_standalone_models(
        src,
        [(v, entries[v["version"]]["run_dir"] is not None) for v in versions],
        writer.logged_model_root,
        engine,
        report,
    )
    for version_rec in versions:
        version, entry = version_rec["version"], entries[version_rec["version"]]
        if entry["run_missing"] and version_rec.get("model_id") not in models:
            report.warn(f"version {version} of '{name}': {entry['run_missing']}")
        if selection.export_version_model:
            entry["version_model"] = _version_model(src, name, version, writer, engine, report)
        report.add(
            "model_version", idmap.model_version_key(name, version), EXPORTED, str(output_dir)
        )
    writer.finish(
        system_part("export-model", redact(src.tracking_uri)),
        rec,
        versions,
        entries,
        skipped,
        models,
        {
            "selection": {
                "stages": selection.stages,
                "versions": selection.versions,
                "export_latest_versions": selection.export_latest_versions,
                "export_deleted_runs": selection.export_deleted_runs,
                "export_version_model": selection.export_version_model,
            }
        },
    )
    report.add(
        "registered_model",
        name,
        EXPORTED,
        str(output_dir),
        f"{len(versions)} versions, {len(skipped)} skipped",
    )
    exported_runs = {run_id: path for run_id, path in run_dirs.items() if run_id not in failed}
    _export_databricks_objects(
        ctx, name, output_dir, exported_runs, export_permissions, notebook_formats
    )
    return Exported("registered_model", name, Path(output_dir))


def _export_databricks_objects(
    ctx: Migration,
    name: str,
    output_dir: str | Path,
    run_dirs: dict[str, Path],
    export_permissions: bool,
    notebook_formats: list[str] | None,
) -> None:
    """The model's ACL or grants into ``model.json``, the runs' notebooks into their folders."""
    if not (export_permissions or notebook_formats):
        return
    from ..databricks import extras

    if export_permissions:
        extras.export_model_permissions(ctx.src, name, output_dir, ctx.report)
    extras.export_run_notebooks(ctx.src, run_dirs, notebook_formats, ctx.report)


def _version_model(
    src: Endpoint, name: str, version: str, writer: ModelDirWriter, engine: Engine, report: Report
):
    try:
        files = version_sources.download_version_model(
            src, name, version, writer.version_model_root(version), engine
        )
    except Exception as exc:
        report.warn(f"version {version} of '{name}': its model files could not be exported ({exc})")
        return None
    if not files:
        report.warn(f"version {version} of '{name}': its download location holds no files")
    return files or None


# Import ---------------------------------------------------------------------------------------


@dataclass
class ModelImportOptions:
    """How import-model treats the export (the CLI options of the same names)."""

    delete_model: bool = False
    import_source_tags: bool = False
    await_creation_for: int | None = None
    run_options: run_handler.RunImportOptions = field(default_factory=run_handler.RunImportOptions)
    wait: bool = False  # for another import of the same model to end, instead of refusing


def import_(
    ctx: Migration,
    input_dir: str | Path,
    experiment_name: str,
    model_name: str | None = None,
    *,
    import_permissions: bool = False,
) -> Imported:
    """Import an export-model directory into ``model_name`` (default: the exported name) on
    ``ctx.dst``, with the :class:`ModelImportOptions` of ``ctx``; the versions' runs go to
    ``experiment_name``, ``ctx.workers`` at a time. Then on Databricks the model's permissions.
    """
    dst, engine, report, progress = ctx.dst, ctx.engine, ctx.report, ctx.progress
    workers = ctx.workers
    options = ctx.options_of("registered_model") or ModelImportOptions()
    model_dir = ModelDir(input_dir)
    source_name = model_dir.model["name"]
    name = model_name or source_name
    if not name:
        raise ExportDirError(f"{model_dir.path}: the export names no model; give --model")
    entries = model_checks.importable_versions(model_dir, report)
    writer = (
        None if options.delete_model else _writer(dst, name, source_name, report, options, progress)
    )
    done = {e.version: writer.done(e.record) for e in entries} if writer is not None else {}
    todo = [e for e in entries if done.get(e.version) is None]
    run_paths = {e.record["run_id"]: e.run_path for e in todo if e.run_path}
    run_dirs = version_runs.verify_runs(run_paths, engine, model_dir.run_models)
    for entry in todo:
        version_sources.verify_version_files(entry, engine)
    # Before anything is created: refuse what the destination cannot take, or leave it out.
    requirements.check_model(dst, source_name, todo, run_dirs, options.run_options.skip_unsupported)
    todo = requirements.drop_versions(dst, source_name, todo, report)
    progress.note(
        f"Model '{source_name}' -> '{name}': {len(model_dir.versions)} versions in "
        f"the export, {len(todo)} to import; runs into experiment '{experiment_name}'"
    )
    for entry in entries:
        if done.get(entry.version) is not None:
            _report_done(writer, entry, done[entry.version], progress)
    if options.delete_model:
        delete(dst, name, report)
        writer = _writer(dst, name, source_name, report, options, progress)
    # The model and its lease come before the runs: a second import of it in progress must be
    # refused before this one touches any run.
    created_model, held = False, None
    try:
        created_model = ensure(
            dst, name, model_dir.model, report, source_tags=options.import_source_tags
        )
        held = lease.take(
            lease.on_registered_model(dst, name), report, wait=options.wait, note=progress.note
        )
        experiment_id = ensure_experiment(dst, experiment_name, report)
    except BaseException:
        if held is not None:
            held.release()
        version_runs.undo(dst, name, None, created_model, [], {})
        raise
    imported: dict[str, version_runs.ImportedRun] = {}
    made_models: list[str] = []
    # The runs are imported by the pool in the background while the versions are created here,
    # one after the other (so that they keep their numbers), each as soon as its run is in.
    runs = InBackground(
        lambda done, stop: version_runs.import_runs(
            dst,
            run_dirs,
            experiment_id,
            engine,
            report,
            options.run_options,
            workers,
            imported,
            progress,
            on_imported=done,
            stop=stop,
        )
    )
    try:
        made = []
        for entry in todo:
            run_id = entry.record["run_id"]
            if run_id in run_dirs:
                runs.wait_for(run_id)
            made.append(
                version_sources.create_version(
                    dst,
                    writer,
                    entry,
                    run_dirs.get(run_id),
                    imported.get(run_id),
                    experiment_id,
                    engine,
                    made_models,
                    progress,
                )
            )
        runs.finish()
        if todo and all(number is None for number in made):
            raise MigrateError(
                f"{model_dir.path}: none of the {len(todo)} versions to import "
                "could be made; see the warnings"
            )
    except BaseException as exc:
        gone = resilience.gone_error(dst, exc)  # then the cleanup tries once each
        runs.abandon()
        held.release()
        version_runs.undo(dst, name, writer, created_model, made_models, imported)
        if gone is not None:
            raise gone from exc
        raise
    held.release()
    model_checks.warn_unset_aliases(model_dir, report)
    if import_permissions:
        from ..databricks import extras

        extras.import_model_permissions(dst, name, input_dir, report)
    return Imported("registered_model", source_name, name, IMPORTED)


def _writer(dst, name, source_name, report, options: ModelImportOptions, progress):
    return VersionWriter(
        dst,
        name,
        source_name,
        report,
        VersionOptions(
            import_source_tags=options.import_source_tags,
            await_creation_for=options.await_creation_for,
        ),
        progress,
    )


def _report_done(writer: VersionWriter, entry: VersionEntry, found, progress: Progress) -> None:
    writer.report.add(
        "model_version", writer.key(entry.record), SKIPPED, found.version, "already imported"
    )
    progress.note(f"  version {entry.version}: already imported (version {found.version})")
