"""The runs of model versions: exported beside the versions, imported before them.

The runs move through the run handler (:mod:`..run`), one run per object worker, with all their
files and metric batches on the one shared :class:`~...transfer.engine.Engine`; parents before
children, so a nested run links to its imported parent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from ... import idmap
from ...capabilities import LOGGED_MODELS
from ...endpoint import Endpoint
from ...exportdir.run_dir import RunDir
from ...report import FAILED, IMPORTED, NO_PROGRESS, Progress, Report, failure_reason
from ...transfer.engine import Engine
from ...transfer.object_pool import run_parents_first
from .. import logged_model, run_reuse
from .. import run as run_handler
from ..run_cleanup import discard, quietly
from ..run_reuse import UNCHANGED
from .writer import VersionWriter

# Export ---------------------------------------------------------------------------------------


def export_runs(
    src: Endpoint,
    run_dirs: dict[str, Path],
    engine: Engine,
    report: Report,
    workers: int,
    progress: Progress = NO_PROGRESS,
    reusable: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Export each run to its folder; return the runs that failed, with the reason.

    ``reusable`` holds runs as the source has them now: one whose folder holds an export of it
    as it still is stays as it is (:mod:`..run_reuse`)."""
    failed: dict[str, str] = {}
    lock = threading.Lock()
    phase = progress.phase("version runs exported", len(run_dirs), "runs")

    def export_one(run_id: str) -> None:
        try:
            run = (reusable or {}).get(run_id)
            if run is not None and run_reuse.reusable(run, run_dirs[run_id]):
                report.add("run", run_id, UNCHANGED, str(run_dirs[run_id]), "unchanged")
            else:
                run_handler.export(src, run_id, run_dirs[run_id], engine, report)
        except Exception as exc:
            report.add("run", run_id, FAILED, None, failure_reason(exc))
            with lock:
                failed[run_id] = failure_reason(exc)
        finally:
            phase.advance()

    try:
        run_parents_first(run_dirs, lambda _: None, export_one, workers)
    finally:
        phase.close()
    return failed


# Import: runs ---------------------------------------------------------------------------------


@dataclass
class ImportedRun:
    """A version's run on the destination: its id, artifact root, and its LoggedModels' ids."""

    run_id: str
    artifact_uri: str
    model_ids: dict[str, str] = field(default_factory=dict)
    # True when this import created it (and so removes it if the import fails).
    created: bool = False


def verify_runs(
    paths: dict[str, Path], engine: Engine, models: dict[str, list] | None = None
) -> dict[str, RunDir]:
    """Open and check every run export before anything is created. ``models`` holds each run's
    LoggedModel folders that the export keeps outside the run's folder."""
    models = models or {}
    return {
        run_id: run_handler.read_and_verify(path, engine, models.get(run_id))
        for run_id, path in paths.items()
    }


def import_runs(
    dst: Endpoint,
    run_dirs: dict[str, RunDir],
    experiment_id: str,
    engine: Engine,
    report: Report,
    options: run_handler.RunImportOptions,
    workers: int,
    imported: dict[str, ImportedRun],
    progress: Progress = NO_PROGRESS,
    *,
    on_imported: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Import the runs, parents first, filling ``imported`` (source run id -> destination) and
    calling ``on_imported(source run id)`` as each one is done.

    The first failure stops the import and propagates once the runs in flight finish (a failed
    run removes itself); ``imported`` then holds the others, for :func:`discard_runs`. Setting
    ``stop`` starts no more runs.
    """
    lock = threading.Lock()
    client = dst.client
    phase = progress.phase("version runs imported", len(run_dirs), "runs")

    def import_one(src_id: str) -> None:
        try:
            result = run_handler.import_(
                dst,
                run_dirs[src_id].path,
                engine,
                report,
                experiment_id=experiment_id,
                options=options,
                run_dir=run_dirs[src_id],
            )
            created = result.status == IMPORTED
            entry = ImportedRun(result.destination_id, "", dict(result.related), created)
            with lock:
                imported[src_id] = entry
            run = client.get_run(result.destination_id)
            entry.artifact_uri = run.info.artifact_uri
            if not created and dst.supports(LOGGED_MODELS):
                entry.model_ids = idmap.model_id_map_of_run(client, run)
            if on_imported is not None:
                on_imported(src_id)
        finally:
            phase.advance()

    def parent_of(src_id: str) -> str | None:
        return run_dirs[src_id].record["tags"].get(MLFLOW_PARENT_RUN_ID)

    try:
        run_parents_first(run_dirs, parent_of, import_one, workers, stop)
    finally:
        phase.close()


def discard_runs(dst: Endpoint, imported: dict[str, ImportedRun]) -> None:
    """Remove the runs (and their LoggedModels) that this import created."""
    for run in imported.values():
        if run.created:
            discard(dst, run.run_id, list(run.model_ids.values()))


def undo(
    dst: Endpoint,
    name: str,
    writer: VersionWriter | None,
    created_model: bool,
    made_models: list[str],
    imported: dict,
) -> None:
    """Remove what a failed import made, so that nothing half imported is left behind."""
    try:
        if created_model:
            dst.client.delete_registered_model(name)
        elif writer is not None:
            writer.discard_created()
    except Exception:  # best effort; the original error is what the user needs
        pass
    for model_id in made_models:
        quietly(logged_model.discard, dst, model_id)
    discard_runs(dst, imported)
