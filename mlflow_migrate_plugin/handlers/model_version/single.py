"""export-model-version and import-model-version: one version with its run.

The export also records the registered model and the run's experiment (description and tags), so
that the import can create them; their metadata is applied only when the import creates them and
--import-metadata asks for it. Stages and aliases are set with --import-stages-and-aliases. Like
import-model, the import keeps the version's number where the destination model allows it, adds
nothing on a rerun, and removes what it created if it fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlflow.exceptions import MlflowException

from ...context import Migration
from ...endpoint import Endpoint, redact
from ...errors import ExportDirError, MigrateError, NotFoundError
from ...exportdir.experiment_dir import experiment_record
from ...exportdir.layout import system_part
from ...exportdir.model_dir import VersionDir, VersionDirWriter
from ...report import EXPORTED, IMPORTED, SKIPPED, Report
from ...transfer import resilience
from .. import registered_model_lookup as registered_model
from .. import requirements
from .. import run as run_handler
from ..experiment_lookup import ensure as ensure_experiment
from ..results import Exported, Imported
from . import runs, sources
from .writer import VersionOptions, VersionWriter, get, record


@dataclass
class VersionImportOptions:
    """How import-model-version treats the export (the CLI options of the same names)."""

    create_model: bool = False
    import_source_tags: bool = False
    import_stages_and_aliases: bool = False
    import_metadata: bool = False
    import_permissions: bool = False
    skip_unsupported: bool = False
    await_creation_for: int | None = None  # seconds to await READY (None: MLflow's default)


def export(
    ctx: Migration,
    name: str,
    version: str,
    output_dir: str | Path,
    *,
    export_version_model: bool = False,
    export_permissions: bool = False,
    notebook_formats: list[str] | None = None,
) -> Exported:
    """Write version ``version`` of model ``name``, its run (deleted or not: it was asked for),
    the model and the run's experiment; then on Databricks the model's permissions and the
    run's notebook."""
    src, engine, report, progress = ctx.src, ctx.engine, ctx.report, ctx.progress
    client = src.client
    mv = get(src, name, version)
    model = registered_model.record(client.get_registered_model(name))
    aliases = [a for a, v in model["aliases"].items() if str(v) == str(mv.version)]
    rec = record(mv, aliases)
    writer = VersionDirWriter(output_dir)
    entry = {"run_dir": None, "run_missing": None, "version_model": None}
    experiment = None
    exported_run = None
    progress.note(
        f"Version {mv.version} of '{name}' (stage {mv.current_stage}): run {mv.run_id or '-'}"
    )
    if not mv.run_id:
        entry["run_missing"] = "the version names no run"
    else:
        try:
            run = client.get_run(mv.run_id)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            entry["run_missing"] = f"run {mv.run_id} no longer exists on the source"
        else:
            run_handler.export(src, mv.run_id, writer.run_dir, engine, report)
            experiment = experiment_record(client.get_experiment(run.info.experiment_id))
            entry["run_dir"] = writer.run_dir.name
            exported_run = mv.run_id
    models = sources.export_standalone_models(
        src, [(rec, exported_run is not None)], writer.logged_model_root, engine, report
    )
    if entry["run_missing"] and rec.get("model_id") not in models:
        report.warn(f"version {mv.version} of '{name}': {entry['run_missing']}")
    if export_version_model:
        entry["version_model"] = (
            sources.download_version_model(
                src, name, mv.version, writer.version_model_root(), engine
            )
            or None
        )
    writer.finish(
        system_part("export-model-version", redact(src.tracking_uri)),
        model,
        rec,
        experiment,
        entry,
        models,
    )
    report.add("model_version", f"{name}/{mv.version}", EXPORTED, str(output_dir))
    if export_permissions or notebook_formats:
        from ...databricks import extras

        if export_permissions:
            extras.export_model_permissions(src, name, output_dir, report)
        run_dirs = {exported_run: writer.run_dir} if exported_run else {}
        extras.export_run_notebooks(src, run_dirs, notebook_formats, report)
    return Exported("model_version", f"{name}/{mv.version}", Path(output_dir))


def import_(
    ctx: Migration, input_dir: str | Path, experiment_name: str, model_name: str | None = None
) -> Imported:
    """Import an export-model-version directory into ``model_name`` (default: the exported
    name) on ``ctx.dst``, with the :class:`VersionImportOptions` of ``ctx``; then on Databricks
    the model's permissions."""
    dst, engine, report, progress = ctx.dst, ctx.engine, ctx.report, ctx.progress
    options = ctx.options_of("model_version") or VersionImportOptions()
    create_model = options.create_model
    import_source_tags = options.import_source_tags
    import_stages_and_aliases = options.import_stages_and_aliases
    import_metadata = options.import_metadata
    skip_unsupported = options.skip_unsupported
    version_dir = VersionDir(input_dir)
    entry = version_dir.entry
    rec = entry.record
    source_name = rec.get("name") or version_dir.model.get("name")
    name = model_name or source_name
    if not name:
        raise ExportDirError(f"{version_dir.path}: the export names no model; give --model")
    if not entry.importable:
        why = entry.run_missing or "its run is not in the export"
        raise ExportDirError(
            f"{version_dir.path}: version {rec['version']} cannot be imported: "
            f"{why}, and the export holds no model files for it "
            "(export with --export-version-model)"
        )
    if registered_model.get(dst, name) is None and not create_model:
        raise NotFoundError(
            f"registered model '{name}' does not exist on {dst.display}; "
            "give --create-model to create it"
        )
    writer = VersionWriter(
        dst,
        name,
        source_name,
        report,
        VersionOptions(
            import_source_tags=import_source_tags,
            stages_and_aliases=import_stages_and_aliases,
            await_creation_for=options.await_creation_for,
        ),
        progress,
    )
    found = writer.done(rec)
    if found is not None:
        report.add("model_version", writer.key(rec), SKIPPED, found.version, "already imported")
        progress.note(
            f"Version {rec['version']}: already imported as version {found.version} of '{name}'"
        )
        return _finish(ctx, input_dir, name, writer.key(rec), found.version, SKIPPED)
    run_dirs = runs.verify_runs({"run": entry.run_path} if entry.run_path else {}, engine)
    sources.verify_version_files(entry, engine)
    run_dirs = {d.source_run_id: d for d in run_dirs.values()}
    requirements.check_version(
        dst,
        source_name,
        entry,
        run_dirs,
        report,
        skip_unsupported=skip_unsupported,
        aliases=import_stages_and_aliases,
    )
    experiment_id = _experiment(dst, experiment_name, version_dir, import_metadata, report)
    imported: dict[str, runs.ImportedRun] = {}
    made_models: list[str] = []
    created_model = False
    try:
        runs.import_runs(
            dst,
            run_dirs,
            experiment_id,
            engine,
            report,
            run_handler.RunImportOptions(
                import_source_tags=import_source_tags, skip_unsupported=skip_unsupported
            ),
            1,
            imported,
            progress,
        )
        created_model = registered_model.ensure(
            dst,
            name,
            version_dir.model,
            report,
            metadata=import_metadata,
            source_tags=import_source_tags,
        )
        run_dir = next(iter(run_dirs.values()), None)
        run = imported.get(run_dir.source_run_id) if run_dir else None
        number = sources.create_version(
            dst, writer, entry, run_dir, run, experiment_id, engine, made_models, progress
        )
        if number is None:
            raise MigrateError(
                f"{version_dir.path}: version {rec['version']} cannot be "
                f"imported: {report.warnings[-1]}"
            )
    except BaseException as exc:
        gone = resilience.gone_error(dst, exc)  # then the cleanup tries once each
        runs.undo(dst, name, writer, created_model, made_models, imported)
        if gone is not None:
            raise gone from exc
        raise
    return _finish(ctx, input_dir, name, writer.key(rec), number, IMPORTED)


def _finish(
    ctx: Migration, input_dir: str | Path, name: str, key: str, number: str, status: str
) -> Imported:
    """The exported permissions onto the model, if asked (Databricks); the import's result."""
    options = ctx.options_of("model_version") or VersionImportOptions()
    if options.import_permissions:
        from ...databricks import extras

        extras.import_model_permissions(ctx.dst, name, input_dir, ctx.report)
    return Imported("model_version", key, str(number), status)


def _experiment(
    dst: Endpoint, name: str, version_dir: VersionDir, import_metadata: bool, report: Report
) -> str:
    """The destination experiment; created with the exported tags only with --import-metadata."""
    exported = version_dir.experiment
    if import_metadata and exported and dst.client.get_experiment_by_name(name) is None:
        return ensure_experiment(dst, name, report, tags=exported["tags"] or None)
    return ensure_experiment(dst, name, report)
