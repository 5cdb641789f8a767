"""The library's public functions: everything the CLI does, callable from Python.

Each function resolves its endpoints (explicit URI, else the environment, else MLflow's default,
exactly as MLflow would), checks that the servers answer, runs one handler on a bounded worker
pool and returns a :class:`~mlflow_migrate_plugin.report.Report` of what it did.

    >>> from mlflow_migrate_plugin import export_run, import_run
    >>> export_run("4f1c...", "out/run", tracking_uri="http://old:5000")
    >>> import_run("out/run", "my-experiment", tracking_uri="http://new:5000")
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from .api_setup import SUPPRESS_ENV
from .api_setup import as_list as _as_list
from .api_setup import endpoint as _endpoint
from .api_setup import engine as _engine
from .api_setup import migration as _migration
from .api_setup import source as _source
from .api_setup import tracking_of as _tracking_of
from .api_verify import (
    verify_all,
    verify_experiment,
    verify_model,
    verify_model_version,
    verify_prompt,
    verify_run,
)
from .endpoint import Endpoint
from .handlers import experiment as experiment_handler
from .handlers import model_version as version_handler
from .handlers import registered_model as model_handler
from .handlers import run as run_handler
from .handlers.run_selection import RunSelection
from .report import NO_PROGRESS, Progress, Report
from .transfer.engine import DEFAULT_WORKERS, Engine

# Also importable from here, as they always were.
__all__ = [
    "SUPPRESS_ENV",
    "copy_all",
    "copy_experiment",
    "copy_model",
    "copy_model_version",
    "copy_run",
    "export_all",
    "export_evaluation_dataset",
    "export_experiment",
    "export_logged_model",
    "export_model",
    "export_model_version",
    "export_prompt",
    "export_run",
    "export_trace",
    "export_traces",
    "import_all",
    "import_evaluation_dataset",
    "import_experiment",
    "import_logged_model",
    "import_model",
    "import_model_version",
    "import_prompt",
    "import_run",
    "import_trace",
    "import_traces",
    "verify_all",
    "verify_experiment",
    "verify_model",
    "verify_model_version",
    "verify_prompt",
    "verify_run",
]


def export_run(
    run_id: str,
    output_dir: str | Path,
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    notebook_formats: list[str] | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Export a run (any lifecycle state) with its metric history, artifacts and LoggedModels."""
    from .databricks.notebooks import parse_formats

    notebook_formats = parse_formats(notebook_formats)  # a bad format fails before any work
    src = _source(tracking_uri, registry_uri)
    with _migration(workers, src=src, progress=progress) as ctx:
        run_handler.export_one(ctx, run_id, output_dir, notebook_formats=notebook_formats)
    return ctx.report


def import_run(
    input_dir: str | Path,
    experiment_name: str,
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    import_source_tags: bool = False,
    use_src_user_id: bool = False,
    mlmodel_fix: bool = True,
    dst_notebook_dir: str | None = None,
    fresh: bool = False,
    skip_unsupported: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Import a run export into ``experiment_name`` (created if missing).

    Rerunning adds nothing: a run already imported is reported as skipped, unless ``fresh``
    asks for another copy. A failed import removes what it created. A destination without a
    feature the run uses (LoggedModels on MLflow 2.x) is refused before anything is created
    (:class:`~.errors.UnsupportedError`), unless ``skip_unsupported`` imports the rest.
    """
    options = run_handler.RunImportOptions(
        import_source_tags=import_source_tags,
        use_src_user_id=use_src_user_id,
        mlmodel_fix=mlmodel_fix,
        fresh=fresh,
        skip_unsupported=skip_unsupported,
        notebook_dir=dst_notebook_dir,
    )
    dst = _endpoint(tracking_uri, registry_uri)
    with _migration(workers, dst=dst, progress=progress, options={"run": options}) as ctx:
        run_handler.import_one(ctx, input_dir, experiment_name)
    return ctx.report


def export_experiment(
    experiment: str,
    output_dir: str | Path,
    *,
    run_ids: list[str] | str | None = None,
    run_start_time: str | None = None,
    export_deleted_runs: bool = False,
    check_nested_runs: bool = False,
    export_permissions: bool = False,
    notebook_formats: list[str] | None = None,
    include_traces: bool = True,
    trace_start_time: str | None = None,
    traces_until: str | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Export an experiment (name or id) with its runs, its own LoggedModels and its traces
    (``include_traces``, in the window ``trace_start_time`` to ``traces_until``) to a directory.

    ``run_ids`` (a list, or comma separated) exports only those runs, and with
    ``check_nested_runs`` all their descendants too; ``run_start_time`` (UTC date, YYYY-MM-DD)
    keeps runs started on or after that day; ``export_deleted_runs`` includes deleted runs.
    ``workers`` runs are exported at a time, their files and metric histories sharing one pool
    of as many transfers. A run that fails is reported (``report.failed``) and the others are
    exported.
    """
    src = _source(tracking_uri, registry_uri)
    selection = RunSelection(
        run_ids=_as_list(run_ids) or None,
        run_start_time=run_start_time or None,
        export_deleted_runs=export_deleted_runs,
        check_nested_runs=check_nested_runs,
    )
    options = _trace_options(include_traces, trace_start_time, traces_until)
    with _migration(workers, src=src, progress=progress, options=options) as ctx:
        experiment_handler.export(
            ctx,
            experiment,
            output_dir,
            selection,
            export_permissions=export_permissions,
            notebook_formats=notebook_formats,
        )
    return ctx.report


def import_experiment(
    input_dir: str | Path,
    experiment_name: str,
    *,
    import_source_tags: bool = False,
    use_src_user_id: bool = False,
    import_permissions: bool = False,
    dst_notebook_dir: str | None = None,
    tracking_uri: str | None = None,
    skip_unsupported: bool = False,
    registry_uri: str | None = None,
    include_traces: bool = True,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
    wait: bool = False,
) -> Report:
    """Import an experiment export (ours or mlflow-export-import's) into ``experiment_name``,
    with its traces unless ``include_traces`` is False.

    The experiment is created with its tags and description if it does not exist, else the
    runs are added to it. Parents are imported before their children, which link to them.
    Rerunning adds nothing, and completes an import that was interrupted. A run that fails is
    reported (``report.failed``) and the others are imported. While another import of the same
    experiment is in progress this one raises :class:`~.handlers.lease.LeaseHeldError`, or with
    ``wait`` waits for it to end.
    """
    dst = _endpoint(tracking_uri, registry_uri)
    options = run_handler.RunImportOptions(
        import_source_tags=import_source_tags,
        use_src_user_id=use_src_user_id,
        skip_unsupported=skip_unsupported,
    )
    kinds = {"run": options, **_trace_options(include_traces)}
    with _migration(workers, dst=dst, progress=progress, options=kinds) as ctx:
        experiment_handler.import_(
            ctx,
            input_dir,
            experiment_name,
            import_permissions=import_permissions,
            dst_notebook_dir=dst_notebook_dir,
            wait=wait,
        )
    return ctx.report


def export_model(
    model: str,
    output_dir: str | Path,
    *,
    stages: list[str] | str | None = None,
    versions: list[str] | str | None = None,
    export_latest_versions: bool = False,
    export_version_model: bool = False,
    export_deleted_runs: bool = False,
    export_permissions: bool = False,
    notebook_formats: list[str] | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Export registered model ``model`` with its versions and each version's run.

    All versions by default; ``stages`` (Production, Staging, Archived, None) or ``versions``
    (numbers; not both: :class:`~.errors.UsageError`) select some, ``export_latest_versions``
    the latest of each stage. A version whose run is deleted is exported only with
    ``export_deleted_runs``. ``export_version_model`` also writes each version's own model
    files, from which a version whose run is gone can still be imported. ``workers`` runs are
    exported at a time, sharing one pool of as many transfers.
    """
    from .databricks.notebooks import parse_formats

    notebook_formats = parse_formats(notebook_formats)  # a bad format fails before any work
    selection = model_handler.ModelSelection(
        stages=_as_list(stages),
        versions=_as_list(versions),
        export_latest_versions=export_latest_versions,
        export_deleted_runs=export_deleted_runs,
        export_version_model=export_version_model,
    )
    src = _source(tracking_uri, registry_uri)
    with _migration(workers, src=src, progress=progress) as ctx:
        model_handler.export(
            ctx,
            model,
            output_dir,
            selection,
            export_permissions=export_permissions,
            notebook_formats=notebook_formats,
        )
    return ctx.report


def import_model(
    input_dir: str | Path,
    experiment_name: str,
    *,
    model: str | None = None,
    delete_model: bool = False,
    import_source_tags: bool = False,
    await_creation_for: int | None = None,
    import_permissions: bool = False,
    wait: bool = False,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    skip_unsupported: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Import an export-model directory as registered model ``model`` (default: its name in
    the export), the versions' runs going to ``experiment_name``.

    Versions keep their numbers, gaps included, with stage, aliases, tags, description, and a
    source that follows the imported run or LoggedModel. ``delete_model`` deletes the
    destination model and its versions first; ``await_creation_for`` is how many seconds to
    wait for each version to be READY. Rerunning adds nothing; a failed import removes what it
    created. Another import of the same model in progress is refused, or waited for with
    ``wait``. :meth:`Progress.note` tells what is imported, version by version.
    """
    dst = _endpoint(tracking_uri, registry_uri)
    options = model_handler.ModelImportOptions(
        delete_model=delete_model,
        import_source_tags=import_source_tags,
        await_creation_for=await_creation_for,
        run_options=run_handler.RunImportOptions(
            import_source_tags=import_source_tags, skip_unsupported=skip_unsupported
        ),
        wait=wait,
    )
    with _migration(
        workers, dst=dst, progress=progress, options={"registered_model": options}
    ) as ctx:
        model_handler.import_(
            ctx, input_dir, experiment_name, model, import_permissions=import_permissions
        )
    return ctx.report


def export_model_version(
    model: str,
    version: str | int,
    output_dir: str | Path,
    *,
    export_version_model: bool = False,
    export_permissions: bool = False,
    notebook_formats: list[str] | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Export one version of registered model ``model`` with its run (deleted or not), the
    registered model's and the run's experiment's metadata, and with ``export_version_model``
    the version's own model files."""
    from .databricks.notebooks import parse_formats

    notebook_formats = parse_formats(notebook_formats)  # a bad format fails before any work
    src = _source(tracking_uri, registry_uri)
    with _migration(workers, src=src, progress=progress) as ctx:
        version_handler.export(
            ctx,
            model,
            str(version),
            output_dir,
            export_version_model=export_version_model,
            export_permissions=export_permissions,
            notebook_formats=notebook_formats,
        )
    return ctx.report


def import_model_version(
    input_dir: str | Path,
    experiment_name: str,
    *,
    model: str | None = None,
    create_model: bool = False,
    import_source_tags: bool = False,
    import_stages_and_aliases: bool = False,
    import_metadata: bool = False,
    import_permissions: bool = False,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    skip_unsupported: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Import an export-model-version directory as a version of ``model`` (default: its name
    in the export), its run going to ``experiment_name``.

    ``create_model`` creates the registered model if missing; ``import_metadata`` gives a model
    and an experiment the import creates their exported description and tags;
    ``import_stages_and_aliases`` sets the version's stage and aliases. The version keeps its
    number where the destination model allows it. Rerunning adds nothing; a failed import
    removes what it created.
    """
    dst = _endpoint(tracking_uri, registry_uri)
    options = version_handler.VersionImportOptions(
        create_model=create_model,
        import_source_tags=import_source_tags,
        import_stages_and_aliases=import_stages_and_aliases,
        import_metadata=import_metadata,
        import_permissions=import_permissions,
        skip_unsupported=skip_unsupported,
    )
    with _migration(workers, dst=dst, progress=progress, options={"model_version": options}) as ctx:
        version_handler.import_(ctx, input_dir, experiment_name, model)
    return ctx.report


def copy_run(
    run_id: str,
    experiment_name: str,
    *,
    src_mlflow_uri: str | None = None,
    dst_mlflow_uri: str | None = None,
    import_source_tags: bool = False,
    use_src_user_id: bool = False,
    mlmodel_fix: bool = True,
    keep_export_dir: str | Path | None = None,
    skip_unsupported: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Copy a run to ``experiment_name`` on the same or another server, in one call.

    The run streams from source to destination: the run import of import_run, reading the run
    from the source server instead of an export (metric pages logged as they are read, each
    artifact file on disk only between its download and its upload). ``keep_export_dir``
    exports into that directory and imports from it instead, leaving the export there.
    Credentials for two different servers go in each URI (``http://user:password@host``).
    """
    src = _source(src_mlflow_uri)
    dst = _endpoint(dst_mlflow_uri)
    options = run_handler.RunImportOptions(
        import_source_tags=import_source_tags,
        use_src_user_id=use_src_user_id,
        mlmodel_fix=mlmodel_fix,
        skip_unsupported=skip_unsupported,
    )
    kinds = {"run": options}
    with (
        _migration(
            workers, src=src, dst=dst, progress=progress, options=kinds, readers=workers
        ) as ctx,
        _live(src, ctx.engine) as source,
    ):
        if keep_export_dir is not None:
            run_handler.export_one(ctx, run_id, keep_export_dir)
        run_handler.import_one(
            ctx,
            keep_export_dir if keep_export_dir is not None else source.run(run_id),
            experiment_name,
        )
    return ctx.report


def copy_experiment(
    experiment: str,
    experiment_name: str,
    *,
    src_mlflow_uri: str | None = None,
    dst_mlflow_uri: str | None = None,
    run_ids: list[str] | str | None = None,
    run_start_time: str | None = None,
    export_deleted_runs: bool = False,
    check_nested_runs: bool = False,
    import_source_tags: bool = False,
    use_src_user_id: bool = False,
    include_traces: bool = True,
    trace_start_time: str | None = None,
    traces_until: str | None = None,
    wait: bool = False,
    skip_unsupported: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Copy source ``experiment`` (name or id) with its runs, its own LoggedModels, its traces
    and its evaluation datasets into ``experiment_name`` (created with the source's tags and
    description if missing).

    Runs are chosen as export_experiment chooses them (``run_ids``, ``check_nested_runs``,
    ``run_start_time``, ``export_deleted_runs``) and imported as import_experiment imports
    them, parents first, each streaming from source to destination with nothing exported in
    between; traces as export_experiment takes them (``include_traces``, ``trace_start_time``,
    ``traces_until``). Rerunning adds nothing; a run that fails is reported
    (``report.failed``) and removes what it created, and the others are copied. Another import
    or copy into the same experiment in progress is refused, or waited for with ``wait``.
    """
    from .handlers import experiment_copy

    src = _source(src_mlflow_uri)
    dst = _endpoint(dst_mlflow_uri)
    report = Report()
    selection = RunSelection(
        run_ids=_as_list(run_ids) or None,
        run_start_time=run_start_time or None,
        export_deleted_runs=export_deleted_runs,
        check_nested_runs=check_nested_runs,
    )
    options = run_handler.RunImportOptions(
        import_source_tags=import_source_tags,
        use_src_user_id=use_src_user_id,
        skip_unsupported=skip_unsupported,
    )
    with (
        _engine(workers, readers=workers) as engine,
        _live(src, engine, "copy-experiment") as source,
    ):
        experiment_copy.copy(
            source,
            dst,
            experiment,
            experiment_name,
            engine,
            report,
            selection,
            options,
            workers=workers,
            progress=progress,
            kind_options=_trace_options(include_traces, trace_start_time, traces_until),
            wait=wait,
        )
    return report


@contextmanager
def _live(src: Endpoint, engine: Engine, script: str = "copy-run"):
    """``src`` as the live source of a copy, its files passing through a spool of one slot
    per transfer worker, removed when the copy ends."""
    from .handlers.run_source import LiveSource
    from .transfer.spool import Spool

    with Spool(engine.workers) as spool:
        yield LiveSource(src, engine, spool, script)


def copy_model_version(
    src_model: str,
    src_version: str | int,
    dst_model: str,
    *,
    dst_experiment_name: str | None = None,
    src_registry_uri: str | None = None,
    dst_registry_uri: str | None = None,
    src_mlflow_uri: str | None = None,
    dst_mlflow_uri: str | None = None,
    copy_permissions: bool = False,
    copy_stages_and_aliases: bool = False,
    copy_lineage_tags: bool = False,
    keep_export_dir: str | Path | None = None,
    skip_unsupported: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Copy version ``src_version`` of ``src_model`` to a new version of ``dst_model``
    (created if missing).

    With ``dst_experiment_name`` the copy is deep: the version's run and LoggedModel are copied
    into that experiment and the new version points at the copies. Without it the copy is
    shallow: the new version points at the source version's run, which needs both sides on one
    tracking server (else :class:`~.errors.UsageError` before anything is created).
    ``copy_lineage_tags`` records the source model, version, run id, URIs (without credentials)
    and user as ``mlflow_migrate.lineage.*`` tags. A tracking URI left out is derived from the
    registry URI (``databricks-uc`` -> ``databricks``).
    """
    from .transfer.staging import export_space

    src = _source(src_mlflow_uri or _tracking_of(src_registry_uri), src_registry_uri)
    dst = _endpoint(dst_mlflow_uri or _tracking_of(dst_registry_uri), dst_registry_uri)
    report = Report()
    with _engine(workers, readers=workers) as engine, _live(src, engine) as live:
        version_handler.copy(
            src,
            dst,
            src_model,
            str(src_version),
            dst_model,
            lambda: export_space(keep_export_dir),
            engine,
            report,
            live=live if keep_export_dir is None else None,
            experiment_name=dst_experiment_name,
            copy_stages_and_aliases=copy_stages_and_aliases,
            copy_lineage_tags=copy_lineage_tags,
            copy_permissions=copy_permissions,
            skip_unsupported=skip_unsupported,
            progress=progress,
        )
    return report


# Whole servers --------------------------------------------------------------------------------


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


def _trace_options(include: bool, start_time=None, until=None) -> dict:
    from .handlers.traces import KIND, TraceOptions

    return {KIND: TraceOptions(include=include, start_time=start_time, until=until)}


def _trace_context(engine, report, progress, *, src=None, dst=None, options=None):
    from .context import Migration
    from .handlers.traces import KIND

    return Migration(engine, report, src=src, dst=dst, progress=progress, options={KIND: options})


def export_trace(
    trace_id: str,
    output_dir: str | Path,
    *,
    tracking_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
) -> Report:
    """Export one MLflow 3 trace (spans, assessments, links) to ``output_dir``/<trace_id>.json."""
    from .handlers import traces

    src, report = _source(tracking_uri), Report()
    with _engine(workers) as engine:
        traces.export_trace(
            _trace_context(engine, report, NO_PROGRESS, src=src), trace_id, output_dir
        )
    return report


def import_trace(
    input_file: str | Path,
    experiment_name: str,
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
) -> Report:
    """Import one exported trace file into ``experiment_name`` (created if needed); rerun safe."""
    from .handlers import trace_commands

    dst, report = _endpoint(tracking_uri, registry_uri), Report()
    with _engine(workers) as engine:
        ctx = _trace_context(engine, report, NO_PROGRESS, dst=dst)
        trace_commands.import_trace_file(ctx, Path(input_file), experiment_name)
    return report


def export_traces(
    experiment: str,
    output_dir: str | Path,
    *,
    trace_start_time: str | None = None,
    traces_until: str | None = None,
    tracking_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Export the traces of ``experiment`` (name or id), one file each, to ``output_dir``;
    ``trace_start_time`` / ``traces_until`` (UTC dates) keep a window of request times."""
    from .handlers import trace_commands, traces

    src, report = _source(tracking_uri), Report()
    options = traces.TraceOptions(start_time=trace_start_time, until=traces_until)
    with _engine(workers) as engine:
        ctx = _trace_context(engine, report, progress, src=src, options=options)
        trace_commands.export_experiment_traces(ctx, experiment, Path(output_dir))
    return report


def import_traces(
    input_dir: str | Path,
    experiment_name: str,
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Import exported traces (export-traces' directory, or an experiment export's traces)
    into ``experiment_name``; every file is checked before anything is created; rerun safe."""
    from .handlers import trace_commands

    dst, report = _endpoint(tracking_uri, registry_uri), Report()
    with _engine(workers) as engine:
        ctx = _trace_context(engine, report, progress, dst=dst)
        trace_commands.import_experiment_traces(ctx, Path(input_dir), experiment_name)
    return report


# Prompts --------------------------------------------------------------------------------------


def export_prompt(
    prompt_name: str,
    output_dir: str | Path,
    *,
    prompt_version: list[str] | str | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Export a prompt with every version (or the numbers in ``prompt_version``, a list or
    comma separated) to ``output_dir/prompt.json``: templates, commit messages, tags, model
    configs, response formats and aliases."""
    from .handlers import prompts

    src = _source(tracking_uri, registry_uri)
    report = Report()
    with _engine(workers) as engine:
        prompts.export(src, prompt_name, output_dir, report, _as_list(prompt_version), engine)
    return report


def import_prompt(
    input_dir: str | Path,
    *,
    prompt_name: str | None = None,
    delete_prompt: bool = False,
    import_source_tags: bool = False,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Import a prompt export (ours, or mlflow-export-import's) as ``prompt_name`` (default:
    its exported name), keeping version numbers. ``delete_prompt`` first deletes a prompt of
    that name; ``import_source_tags`` records the source's creation times and users as tags.
    A rerun adds nothing; a failed import leaves nothing behind."""
    from .handlers import prompts

    dst = _endpoint(tracking_uri, registry_uri)
    report = Report()
    with _engine(workers):
        prompts.import_(
            dst,
            input_dir,
            report,
            prompt_name,
            delete_prompt=delete_prompt,
            import_source_tags=import_source_tags,
            progress=progress,
        )
    return report


# Evaluation datasets --------------------------------------------------------------------------


def export_evaluation_dataset(
    output_dir: str | Path,
    *,
    dataset_name: str | None = None,
    dataset_id: str | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Export an evaluation dataset (by id, or by a name only one dataset has) with every
    record to ``output_dir``: dataset.json and records.jsonl."""
    from .handlers import evaluation_datasets

    src = _source(tracking_uri, registry_uri)
    report = Report()
    with _engine(workers):
        evaluation_datasets.export(
            src, output_dir, report, dataset_id=dataset_id, dataset_name=dataset_name
        )
    return report


def import_evaluation_dataset(
    input_dir: str | Path,
    *,
    evaluation_dataset_name: str | None = None,
    delete_evaluation_dataset: bool = False,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Import an evaluation dataset export (ours, or mlflow-export-import's) as
    ``evaluation_dataset_name`` (default: its exported name), linked to the destination
    experiments that have its source experiments' names. A rerun adds no record;
    ``delete_evaluation_dataset`` first deletes the datasets of that name."""
    from .handlers import evaluation_datasets

    dst = _endpoint(tracking_uri, registry_uri)
    report = Report()
    with _engine(workers):
        evaluation_datasets.import_(
            dst,
            input_dir,
            report,
            evaluation_dataset_name,
            delete=delete_evaluation_dataset,
            progress=progress,
        )
    return report


def copy_model(
    model: str,
    experiment_name: str,
    *,
    dst_model: str | None = None,
    src_registry_uri: str | None = None,
    dst_registry_uri: str | None = None,
    src_mlflow_uri: str | None = None,
    dst_mlflow_uri: str | None = None,
    stages: list[str] | str | None = None,
    versions: list[str] | str | None = None,
    export_latest_versions: bool = False,
    export_deleted_runs: bool = False,
    delete_model: bool = False,
    import_source_tags: bool = False,
    await_creation_for: int | None = None,
    wait: bool = False,
    skip_unsupported: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Copy registered model ``model`` (description, tags, versions with their stages,
    aliases and runs) to ``dst_model`` (default: the same name), the runs into
    ``experiment_name``.

    Versions are chosen as export_model chooses them (``stages`` or ``versions``,
    ``export_latest_versions``, ``export_deleted_runs``) and keep their numbers; each is
    streamed with its run where it can be (see copy_model_version). ``delete_model``,
    ``import_source_tags``, ``await_creation_for`` and ``wait`` are import_model's. Rerunning
    adds nothing.
    """
    from .handlers import model_copy
    from .transfer.staging import export_space

    selection = model_handler.ModelSelection(
        stages=_as_list(stages),
        versions=_as_list(versions),
        export_latest_versions=export_latest_versions,
        export_deleted_runs=export_deleted_runs,
    )
    src = _source(src_mlflow_uri or _tracking_of(src_registry_uri), src_registry_uri)
    dst = _endpoint(dst_mlflow_uri or _tracking_of(dst_registry_uri), dst_registry_uri)
    report = Report()
    with _engine(workers, readers=workers) as engine, _live(src, engine, "copy-model") as live:
        model_copy.copy(
            live,
            dst,
            model,
            experiment_name,
            export_space,
            engine,
            report,
            selection,
            dst_model=dst_model,
            delete_model=delete_model,
            import_source_tags=import_source_tags,
            await_creation_for=await_creation_for,
            wait=wait,
            skip_unsupported=skip_unsupported,
            progress=progress,
        )
    return report


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
    src = _source(src_mlflow_uri or _tracking_of(src_registry_uri), src_registry_uri)
    dst = _endpoint(dst_mlflow_uri or _tracking_of(dst_registry_uri), dst_registry_uri)
    report = Report()
    with _engine(workers, readers=workers) as engine, _live(src, engine, "copy-all") as live:
        bulk_copy.copy(
            live, dst, engine, report, options, parsed, workers=workers, progress=progress
        )
    return report


def export_logged_model(
    model_id: str,
    output_dir: str | Path,
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Export an MLflow 3 LoggedModel (name, type, params, tags, status, metrics, files) to
    ``output_dir``: logged_model.json and artifacts/."""
    from .handlers import logged_model

    src = _source(tracking_uri, registry_uri)
    report = Report()
    with _engine(workers) as engine:
        logged_model.export_one(src, model_id, output_dir, engine, report)
    return report


def import_logged_model(
    input_dir: str | Path,
    experiment_name: str,
    *,
    mlmodel_fix: bool = True,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Import a LoggedModel export (ours, or mlflow-export-import's) into ``experiment_name``
    (created if missing), linked to its run if that was imported there before. ``mlmodel_fix``
    rewrites the ids in its MLmodel files. A rerun adds nothing."""
    from .handlers import logged_model

    dst = _endpoint(tracking_uri, registry_uri)
    report = Report()
    with _engine(workers) as engine:
        logged_model.import_dir(dst, input_dir, experiment_name, engine, report, mlmodel_fix)
    return report
