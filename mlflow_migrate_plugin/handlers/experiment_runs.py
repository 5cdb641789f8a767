"""The run pool of an experiment import and copy: every run of the experiment, parents before
their children, ``workers`` at a time, each read from an export or live from the source.

Before it starts, two complete copies of a run (left by two imports at once, before leases) become
one, and runs an interrupted import left half made beside a complete one are discarded; so reruns
never duplicate. The pool admits fewer runs at a time while the destination is overloaded, and
once the destination (or the source of a copy) stops answering, the runs not yet started fail at
once instead of each waiting for its own timeouts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .. import idmap
from ..endpoint import Endpoint
from ..exportdir.run_dir import RunDir
from ..report import FAILED, SKIPPED, Progress, Report, failure_reason
from ..transfer import resilience
from ..transfer.engine import Engine
from ..transfer.object_pool import run_parents_first
from . import duplicates
from . import run as run_handler
from .run_source import RunSource


def import_runs(
    dst: Endpoint,
    parents: dict[str, str | None],
    source_of: Callable[[str], RunSource | RunDir],
    experiment_id: str,
    engine: Engine,
    report: Report,
    options: run_handler.RunImportOptions,
    workers: int,
    progress: Progress,
    done_before: dict[str, str] | None = None,
    *,
    live_src: Endpoint | None = None,
) -> dict[str, str]:
    """Import every run of ``parents`` (source run id -> source parent id), parents first,
    each read from ``source_of(run id)``: an export read and checked, or a live source. Return
    source run id -> destination run id. ``done_before`` maps the runs imported before to
    their destination runs (read again here unless ``options.fresh``). Once the destination,
    or ``live_src`` (the server a copy reads from), stops answering, the runs not yet started
    fail at once instead of each waiting for its own timeouts."""
    by_id = parents
    done_before = done_before or {}
    imported: dict[str, str] = {}
    lock = threading.Lock()
    unreachable = threading.Event()
    lost: list[Endpoint] = []  # the server that stopped answering
    servers = [dst] + ([live_src] if live_src is not None else [])
    phase = progress.phase("importing runs", len(by_id), "runs")
    if not options.fresh:
        # Two complete copies of a run (two imports at once) become one first; then the runs
        # imported before are read again, as the repair may have changed which copy stays.
        duplicates.repair_complete_copies(dst, experiment_id, report)
        done_before = idmap.complete_runs(dst.client, experiment_id, finished_only=True)
    duplicates.discard_interrupted_beside(dst, experiment_id, done_before, report)
    # Parents finish before their children start, so `imported` answers every parent lookup.
    context = run_handler.ImportContext(
        imported,
        idmap.awaited_parents(dst.client, experiment_id),
        # Safe to read once: the lease keeps other imports out of the experiment meanwhile.
        idmap.imports_by_source(dst.client, experiment_id),
    )
    limits = resilience.limiter(dst, workers)  # fewer runs at a time while the server is busy
    cuts_before = limits.cuts

    def import_one(run_id: str) -> None:
        try:
            if unreachable.is_set():
                why = f"not attempted: {lost[0].display} stopped answering"
                report.add("run", run_id, FAILED, None, why)
                return
            new_id = done_before.get(run_id)
            if new_id is not None:
                report.add("run", run_id, SKIPPED, new_id, "already imported")
            else:
                with limits.admit():
                    result = resilience.with_overload_retries(  # a busy server: later, not failed
                        lambda: run_handler.import_(
                            dst,
                            source_of(run_id),
                            engine,
                            report,
                            experiment_id=experiment_id,
                            options=options,
                            context=context,
                        )
                    )
                    new_id = result.destination_id
            with lock:
                imported[run_id] = new_id
        except Exception as exc:
            report.add("run", run_id, FAILED, None, failure_reason(exc))
            if not unreachable.is_set():
                down = next(
                    (e for e in servers if resilience.gone(e) or resilience.check_gone(e)), None
                )
                with lock:
                    if down is not None and not unreachable.is_set():
                        lost.append(down)
                        unreachable.set()
        finally:
            phase.advance()

    discarded_before = len(report.discarded_runs)
    try:
        run_parents_first(by_id, lambda run_id: by_id[run_id], import_one, workers)
    finally:
        phase.close()
    if len(report.discarded_runs) > discarded_before and not unreachable.is_set():
        # A discard the server refused under load leaves a started copy beside the complete
        # one the retry made: removed now, not at the next run of the command.
        complete = {**done_before, **imported}
        duplicates.discard_interrupted_beside(dst, experiment_id, complete, report)
    if limits.cuts > cuts_before:
        report.warn(limits.summary())
    if unreachable.is_set():
        report.warn(
            f"{lost[0].display} stopped answering; {len(by_id) - len(imported)} runs not "
            "imported. Run the same command again once it answers: it completes the import."
        )
    return imported
