"""The public functions that move whole servers: export-all, import-all and copy-all."""

from __future__ import annotations

from pathlib import Path

from .api_setup import as_list as _as_list
from .api_setup import copy_sides as _copy_sides
from .api_setup import endpoint as _endpoint
from .api_setup import engine as _engine
from .api_setup import live as _live
from .api_setup import migration as _migration
from .api_setup import source as _source
from .handlers import registered_model as model_handler
from .handlers import run as run_handler
from .handlers.run_selection import RunSelection
from .report import NO_PROGRESS, Progress, Report
from .transfer.engine import DEFAULT_WORKERS


def export_all(
    output_dir: str | Path,
    *,
    experiments: list[str] | str | None = None,
    models: list[str] | str | None = None,
    include_experiments: bool = True,
    include_models: bool = True,
    export_all_runs: bool = False,
    stages: list[str] | str | None = None,
    export_latest_versions: bool = False,
    export_version_model: bool = False,
    run_start_time: str | None = None,
    runs_until: str | None = None,
    export_deleted_runs: bool = False,
    export_permissions: bool = False,
    notebook_formats: list[str] | None = None,
    shard: str | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
    script: str = "export-all",
) -> Report:
    """Export every active experiment (runs, LoggedModels) and every registered model (its
    versions and their runs) under ``output_dir``, ``manifest.json`` last.

    ``experiments`` (names or ids) and ``models`` (names or shell patterns) narrow the choice;
    ``include_experiments``/``include_models`` turn a kind off (export-models,
    export-experiments); ``export_all_runs`` adds the experiments of the models' runs.
    ``shard`` ("K/N") exports only part K of N, split by a stable hash (see docs/bulk.md).
    One object failing does not stop the others: see ``report.failed``. An export interrupted
    and run again into the same directory keeps the objects it had finished.
    """
    from .databricks.notebooks import parse_formats
    from .handlers import bulk

    parsed = bulk.Shard.parse(shard)
    options = bulk.BulkExportOptions(
        experiments=None if experiments in (None, "all") else _as_list(experiments),
        models=None if models in (None, "all") else _as_list(models),
        include_experiments=include_experiments,
        include_models=include_models,
        export_all_runs=export_all_runs,
        runs=RunSelection(
            run_start_time=run_start_time or None,
            runs_until=runs_until or None,
            export_deleted_runs=export_deleted_runs,
        ),
        versions=model_handler.ModelSelection(
            stages=_as_list(stages),
            export_latest_versions=export_latest_versions,
            export_deleted_runs=export_deleted_runs,
            export_version_model=export_version_model,
        ),
        export_permissions=export_permissions,
        notebook_formats=parse_formats(notebook_formats),
    )
    src = _source(tracking_uri, registry_uri)
    with _migration(workers, src=src, progress=progress) as ctx:
        bulk.export(
            src,
            output_dir,
            ctx.engine,
            ctx.report,
            options,
            parsed,
            script=script,
            workers=workers,
            progress=progress,
        )
    return ctx.report


def import_all(
    input_dir: str | Path,
    *,
    include_experiments: bool = True,
    include_models: bool = True,
    delete_model: bool = False,
    import_permissions: bool = False,
    experiment_rename_file: str | Path | None = None,
    model_rename_file: str | Path | None = None,
    import_source_tags: bool = False,
    use_src_user_id: bool = False,
    skip_unsupported: bool = False,
    shard: str | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Import a bulk export (ours, or mlflow-export-import's): experiments under their names,
    then models, each version linked to the run its experiment's import made.

    Rename files hold ``old,new`` lines. Every object ends imported, skipped (already there)
    or failed with its reason, one failure stopping nothing else; rerunning adds only what is
    missing. ``shard`` ("K/N") imports only part K of N. ``skip_unsupported`` imports what a
    destination can hold when it lacks a feature an object uses (else that object fails).
    """
    from .exportdir.bulk_dir import read_rename_file
    from .handlers import bulk

    parsed = bulk.Shard.parse(shard)
    options = bulk.BulkImportOptions(
        include_experiments=include_experiments,
        include_models=include_models,
        experiment_renames=read_rename_file(experiment_rename_file),
        model_renames=read_rename_file(model_rename_file),
        delete_model=delete_model,
        import_permissions=import_permissions,
        runs=run_handler.RunImportOptions(
            import_source_tags=import_source_tags,
            use_src_user_id=use_src_user_id,
            skip_unsupported=skip_unsupported,
        ),
    )
    dst = _endpoint(tracking_uri, registry_uri)
    with _migration(workers, dst=dst, progress=progress) as ctx:
        bulk.import_(
            dst,
            input_dir,
            ctx.engine,
            ctx.report,
            options,
            parsed,
            workers=workers,
            progress=progress,
        )
    return ctx.report


def copy_all(
    *,
    src_mlflow_uri: str | None = None,
    dst_mlflow_uri: str | None = None,
    src_registry_uri: str | None = None,
    dst_registry_uri: str | None = None,
    experiments: list[str] | str | None = None,
    models: list[str] | str | None = None,
    run_start_time: str | None = None,
    export_deleted_runs: bool = False,
    stages: list[str] | str | None = None,
    export_latest_versions: bool = False,
    use_src_user_id: bool = False,
    skip_unsupported: bool = False,
    shard: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Copy every prompt, every active experiment (its runs, LoggedModels, traces and
    evaluation datasets, under its name) and every registered model (its versions with their
    runs) from one server to another, streaming; prompts are left out when ``experiments``
    names a few, as export_all leaves them out.

    ``experiments`` (names or ids) and ``models`` (names or shell patterns) narrow the choice
    as in export_all, and ``shard`` ("K/N") copies part K of N. Every object ends imported,
    skipped or failed with its reason, one failure stopping nothing else; rerunning adds only
    what is missing.
    """
    from .handlers import bulk_copy
    from .handlers.bulk_selection import Shard

    parsed = Shard.parse(shard)
    options = bulk_copy.BulkCopyOptions(
        experiments=None if experiments in (None, "all") else _as_list(experiments),
        models=None if models in (None, "all") else _as_list(models),
        runs=RunSelection(
            run_start_time=run_start_time or None, export_deleted_runs=export_deleted_runs
        ),
        versions=model_handler.ModelSelection(
            stages=_as_list(stages),
            export_latest_versions=export_latest_versions,
            export_deleted_runs=export_deleted_runs,
        ),
        run_options=run_handler.RunImportOptions(
            use_src_user_id=use_src_user_id, skip_unsupported=skip_unsupported
        ),
        other_kinds=experiments in (None, "all"),  # as export_all: all or a chosen few
    )
    src, dst = _copy_sides(src_mlflow_uri, dst_mlflow_uri, src_registry_uri, dst_registry_uri)
    report = Report()
    with (
        _engine(workers, report, readers=workers) as engine,
        _live(src, engine, "copy-all") as live,
    ):
        bulk_copy.copy(
            live, dst, engine, report, options, parsed, workers=workers, progress=progress
        )
    return report
