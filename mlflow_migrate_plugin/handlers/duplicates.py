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
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

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


def repair_complete_copies(dst: Endpoint, experiment_id: str, report) -> dict[str, str]:
    """Keep one complete copy of each source run and discard the others; return source id ->
    the copy kept, for every source run with a complete copy (one paged search).

    Two imports of the same runs at once (before leases, or one that lost its lease) each
    complete a copy. The copy kept is the one most children link to (then a finished one, then
    the lowest id: MLflow keeps no creation time of a run); the children of the others are
    linked to it. Copies that ``import-run --fresh`` made on purpose are left alone.
    """
    from . import run_links

    copies: dict[str, list] = {}
    children: dict[str, list] = {}
    waiting: set[str] = set()
    for run in idmap.all_complete(dst.client, experiment_id):
        tags = run.data.tags
        if tags.get(idmap.PENDING_PARENT):
            waiting.add(tags[idmap.PENDING_PARENT])
        parent = tags.get(MLFLOW_PARENT_RUN_ID)
        if parent:
            children.setdefault(parent, []).append(run)
        source = tags.get(idmap.SOURCE_RUN_ID)
        if source and idmap.FRESH_COPY not in tags:
            copies.setdefault(source, []).append(run)
    kept: dict[str, str] = {}
    for source, runs in copies.items():
        runs.sort(
            key=lambda r: (
                -len(children.get(r.info.run_id, [])),
                r.info.status == "RUNNING",
                r.info.run_id,
            )
        )
        keep = runs[0].info.run_id
        kept[source] = keep
        if len(runs) > 1:
            _merge_into(dst, keep, runs[1:], children, report)
            report.warn(
                f"run {source}: {len(runs)} complete copies on the destination (two imports "
                f"at once?); repaired: kept {keep}, discarded "
                + ", ".join(r.info.run_id for r in runs[1:])
            )
    # A child completed while its parent's copy was being replaced by the other import waits
    # for a parent that is complete now; a rerun skips both, so it is linked here.
    for source in waiting & kept.keys():
        run_links.adopt_waiting_children(dst, experiment_id, source, kept[source])
    return kept


def _merge_into(dst: Endpoint, keep: str, extra: list, children: dict, report) -> None:
    """Link the children of each run in ``extra`` to ``keep``, then discard the run."""
    from ..capabilities import LOGGED_MODELS
    from .run_cleanup import discard

    client = dst.client
    for run in extra:
        for child in _children_of(client, run.info.experiment_id, run.info.run_id, children):
            deleted = child.info.lifecycle_stage == "deleted"
            if deleted:  # a deleted run refuses writes
                client.restore_run(child.info.run_id)
            client.set_tag(child.info.run_id, MLFLOW_PARENT_RUN_ID, keep)
            if deleted:
                client.delete_run(child.info.run_id)
        models = []
        if dst.supports(LOGGED_MODELS):
            models = list(idmap.model_id_map_of_run(client, run).values())
        discard(dst, run.info.run_id, models, report)


def _children_of(client, experiment_id: str, run_id: str, known: dict) -> list:
    """The runs whose parent is ``run_id``: the complete ones already read, and any other."""
    found = {r.info.run_id: r for r in known.get(run_id, [])}
    for run in client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{run_id}'",
        run_view_type=ViewType.ALL,
        max_results=1000,
    ):
        found.setdefault(run.info.run_id, run)
    return list(found.values())
