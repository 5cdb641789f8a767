"""Removing what a failed or interrupted run import created, so that a rerun starts clean.

Kept apart from the run handler because the code that finds interrupted imports
(:mod:`.duplicates`) needs it too, and the run handler imports that code.
"""

from __future__ import annotations

import time

from .. import idmap
from ..endpoint import Endpoint
from ..report import Report
from ..transfer import resilience


def discard(dst: Endpoint, run_id: str, model_ids: list[str], report: Report | None = None) -> None:
    """Remove run ``run_id`` and the LoggedModels ``model_ids`` an import made with it.

    MLflow's API can only soft-delete: the run moves to the deleted state without its source
    marker (so it is never mistaken for an import), and ``mlflow gc`` purges it.
    """
    client = dst.client
    for model_id in model_ids:
        quietly(client.delete_logged_model, model_id)
    quietly(client.delete_tag, run_id, idmap.SOURCE_RUN_ID)
    quietly(client.delete_run, run_id)
    if report is not None:
        report.discarded(run_id)


CLEANUP_TRIES = 3  # an overloaded server refusing a cleanup call gets these tries
CLEANUP_PAUSE = 0.5  # seconds before the second try, doubled before the third


def quietly(fn, *args) -> None:
    """``fn(*args)``, any error ignored: cleanup is best effort, and the error that made it
    necessary is the one the user needs. A call a busy server refused is tried again a few
    times (a discard left half done would leave a copy that looks imported); one that got no
    answer in time is not (a hung server would only delay the exit)."""
    for attempt in range(CLEANUP_TRIES):
        try:
            fn(*args)
            return
        except Exception as exc:
            if not resilience.is_busy_answer(exc) or attempt == CLEANUP_TRIES - 1:
                return
            time.sleep(CLEANUP_PAUSE * 2**attempt)
