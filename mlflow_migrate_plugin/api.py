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
from .handlers import run as run_handler
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
    report.warn("--notebook-formats: notebook export needs a Databricks source; nothing exported")


def _import_notebook(dst: Endpoint, input_dir, notebook_dir: str, report: Report) -> None:
    report.warn("--dst-notebook-dir: notebook import needs a Databricks destination; skipped")
