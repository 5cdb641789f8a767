"""The public functions that move runs and experiments: export and import."""

from __future__ import annotations

from pathlib import Path

from .api_setup import as_list as _as_list
from .api_setup import endpoint as _endpoint
from .api_setup import migration as _migration
from .api_setup import part_options as _part_options
from .api_setup import source as _source
from .handlers import experiment as experiment_handler
from .handlers import run as run_handler
from .handlers.run_selection import RunSelection
from .report import NO_PROGRESS, Progress, Report
from .transfer.engine import DEFAULT_WORKERS


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
    include_evaluation_datasets: bool = True,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Export an experiment (name or id) with its runs, its own LoggedModels, its traces
    (``include_traces``, in the window ``trace_start_time`` to ``traces_until``) and its
    evaluation datasets (``include_evaluation_datasets``) to a directory.

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
    options = _part_options(
        include_traces, trace_start_time, traces_until, include_evaluation_datasets
    )
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
    include_evaluation_datasets: bool = True,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
    wait: bool = False,
) -> Report:
    """Import an experiment export (ours or mlflow-export-import's) into ``experiment_name``,
    with its traces unless ``include_traces`` is False and its evaluation datasets unless
    ``include_evaluation_datasets`` is False.

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
    kinds = {
        "run": options,
        **_part_options(include_traces, include_datasets=include_evaluation_datasets),
    }
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
