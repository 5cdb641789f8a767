"""Creates that stay single when the network loses their answer.

MLflow's client retries a POST whose answer did not arrive (a 502 from a proxy, a reset
connection). When the server had committed the first try, the retry makes a second object. So
every run an import creates carries a token of its own create call in its state tag
(:func:`idmap.started`), and a LoggedModel its source id and its new run (or, without a run, a
token of its own in :data:`idmap.ATTEMPT`); right after the call, a search for that identity
finds the copies a retry made, and all but the one the client got back are removed. A create
that failed outright may still have committed: the same search with no copy to keep removes it.
"""

from __future__ import annotations

import logging

from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from .. import idmap
from ..endpoint import Endpoint

_log = logging.getLogger(__name__)


def _runs_of_attempt(client, experiment_id: str, token: str) -> list:
    return client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{idmap.STATE}` = '{idmap.started(token)}'",
        run_view_type=ViewType.ACTIVE_ONLY,
        max_results=100,
    )


def drop_run_copies(
    dst: Endpoint, experiment_id: str, token: str, keep: str | None, report=None
) -> int:
    """Discard the runs created by create call ``token`` other than ``keep`` (None: all of
    them); return how many were discarded."""
    client = dst.client
    dropped = 0
    for run in _runs_of_attempt(client, experiment_id, token):
        if run.info.run_id == keep:
            continue
        _log.info("discarding run %s, a second copy made by a retried create", run.info.run_id)
        _unless_done(client.delete_tag, run.info.run_id, idmap.SOURCE_RUN_ID)
        _unless_done(client.delete_run, run.info.run_id)
        if report is not None:
            report.discarded(run.info.run_id)
        dropped += 1
    return dropped


def drop_logged_model_copies(
    dst: Endpoint, experiment_id: str, identity: str, keep: str | None
) -> int:
    """Delete the LoggedModels matching ``identity`` (a search filter naming one create
    call's models) other than ``keep``."""
    client = dst.client
    dropped = 0
    found = client.search_logged_models([experiment_id], filter_string=identity)
    for model in found:
        if model.model_id == keep:
            continue
        _log.info("deleting LoggedModel %s, a second copy made by a retried create", model.model_id)
        _unless_done(client.delete_logged_model, model.model_id)
        dropped += 1
    return dropped


def discard_interrupted_beside(
    dst: Endpoint, experiment_id: str, complete: dict[str, str], report=None
) -> int:
    """Discard the interrupted imports (``started``, still active) of source runs that also
    have a complete copy in ``complete`` (source id -> destination id): a crash, or a retried
    create before this module existed, left them; a rerun that skips the complete run would
    never see them. One paged search; return how many were discarded."""
    from ..capabilities import LOGGED_MODELS
    from .run_cleanup import discard

    client = dst.client
    dropped = 0
    for run in idmap.interrupted_runs(client, experiment_id):
        source = run.data.tags.get(idmap.SOURCE_RUN_ID)
        if source not in complete or complete[source] == run.info.run_id:
            continue
        models = []
        if dst.supports(LOGGED_MODELS):
            models = list(idmap.model_id_map_of_run(client, run).values())
        discard(dst, run.info.run_id, models, report)
        dropped += 1
    return dropped


def _unless_done(delete, *args) -> None:
    """``delete(*args)``; a delete whose own answer was lost is retried by MLflow's client and
    then finds nothing to delete, which is success."""
    try:
        delete(*args)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
