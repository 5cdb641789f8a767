"""The library's public functions: everything the CLI does, callable from Python.

Each function resolves its endpoints (explicit URI, else the environment, else MLflow's default,
exactly as MLflow would), checks that the servers answer, runs one handler on a bounded worker
pool and returns a :class:`~mlflow_migrate_plugin.report.Report` of what it did.

    >>> from mlflow_migrate_plugin import export_run, import_run
    >>> export_run("4f1c...", "out/run", tracking_uri="http://old:5000")
    >>> import_run("out/run", "my-experiment", tracking_uri="http://new:5000")
"""

from __future__ import annotations

from pathlib import Path

from .endpoint import Endpoint, reserve_http_connections
from .handlers import experiment as experiment_handler
from .handlers import run as run_handler
from .handlers.run_selection import RunSelection
from .report import NO_PROGRESS, Progress, Report
from .transfer.engine import DEFAULT_WORKERS, Engine


def _endpoint(tracking_uri: str | None, registry_uri: str | None = None) -> Endpoint:
    endpoint = Endpoint.resolve(tracking_uri, registry_uri)
    endpoint.check_reachable()
    return endpoint


def _engine(workers: int) -> Engine:
    # Object workers (a run or a version each) and the engine's transfer threads can all be in
    # a request at once; each needs a kept-alive connection of its own.
    reserve_http_connections(2 * workers + 1)
    return Engine(workers)


def export_run(
    run_id: str,
    output_dir: str | Path,
    *,
    tracking_uri: str | None = None,
    notebook_formats: list[str] | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Export a run (any lifecycle state) with its metric history, artifacts and LoggedModels."""
    from .databricks.notebooks import parse_formats

    notebook_formats = parse_formats(notebook_formats)  # a bad format fails before any work
    src = _endpoint(tracking_uri)
    report = Report()
    with _engine(workers) as engine:
        run_handler.export(src, run_id, output_dir, engine, report, progress)
    if notebook_formats:
        _export_notebook(src, run_id, output_dir, notebook_formats, report)
    return report


def import_run(
    input_dir: str | Path,
    experiment_name: str,
    *,
    tracking_uri: str | None = None,
    import_source_tags: bool = False,
    use_src_user_id: bool = False,
    mlmodel_fix: bool = True,
    dst_notebook_dir: str | None = None,
    fresh: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Import a run export into ``experiment_name`` (created if missing).

    Rerunning adds nothing: a run already imported is reported as skipped, unless ``fresh``
    asks for another copy. A failed import removes what it created.
    """
    dst = _endpoint(tracking_uri)
    report = Report()
    options = run_handler.RunImportOptions(
        import_source_tags=import_source_tags, use_src_user_id=use_src_user_id,
        mlmodel_fix=mlmodel_fix, fresh=fresh,
    )
    with _engine(workers) as engine:
        run_handler.import_(dst, input_dir, engine, report, experiment_name=experiment_name,
                            options=options, progress=progress)
    if dst_notebook_dir:
        _import_notebook(dst, input_dir, dst_notebook_dir, report)
    return report


def _export_notebook(src: Endpoint, run_id: str, output_dir, formats, report: Report) -> None:
    """The run's notebook revision into its exported folder (a Databricks source only)."""
    from .databricks import notebooks

    notebooks.export_run_notebook(src, run_id, output_dir, formats, report)


def _import_notebook(dst: Endpoint, input_dir, notebook_dir: str, report: Report) -> None:
    """The imported run's SOURCE notebook into ``<notebook_dir>/<run id>/`` (Databricks only)."""
    from .databricks import notebooks

    for outcome in report.find("run"):
        if outcome.destination_id and outcome.status in ("imported", "skipped"):
            notebooks.import_run_notebook(dst, input_dir, outcome.destination_id, notebook_dir,
                                          report)


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
    tracking_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Export an experiment (name or id) with its runs and its own LoggedModels to a directory.

    ``run_ids`` (a list, or comma separated) exports only those runs, and with
    ``check_nested_runs`` all their descendants too; ``run_start_time`` (UTC date, YYYY-MM-DD)
    keeps runs started on or after that day; ``export_deleted_runs`` includes deleted runs.
    ``workers`` runs are exported at a time, their files and metric histories sharing one pool
    of as many transfers. A run that fails is reported (``report.failed``) and the others are
    exported.
    """
    src = _endpoint(tracking_uri)
    report = Report()
    if isinstance(run_ids, str):
        run_ids = [r.strip() for r in run_ids.split(",") if r.strip()]
    selection = RunSelection(run_ids=run_ids or None, run_start_time=run_start_time or None,
                             export_deleted_runs=export_deleted_runs,
                             check_nested_runs=check_nested_runs)
    with _engine(workers) as engine:
        experiment_handler.export(
            src, experiment, output_dir, engine, report, selection, workers=workers,
            progress=progress, export_permissions=export_permissions,
            notebook_formats=notebook_formats,
        )
    return report


def import_experiment(
    input_dir: str | Path,
    experiment_name: str,
    *,
    import_source_tags: bool = False,
    use_src_user_id: bool = False,
    import_permissions: bool = False,
    dst_notebook_dir: str | None = None,
    tracking_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Import an experiment export (ours or mlflow-export-import's) into ``experiment_name``.

    The experiment is created with its tags and description if it does not exist, else the
    runs are added to it. Parents are imported before their children, which link to them.
    Rerunning adds nothing, and completes an import that was interrupted. A run that fails is
    reported (``report.failed``) and the others are imported.
    """
    dst = _endpoint(tracking_uri)
    report = Report()
    options = run_handler.RunImportOptions(import_source_tags=import_source_tags,
                                           use_src_user_id=use_src_user_id)
    with _engine(workers) as engine:
        experiment_handler.import_(
            dst, input_dir, experiment_name, engine, report, options, workers=workers,
            progress=progress, import_permissions=import_permissions,
            dst_notebook_dir=dst_notebook_dir,
        )
    return report
