"""Destination counterparts of source objects, found through the source identity the import
recorded on them (never by name alone), and destination ids mapped back to source ids.

A source object with no counterpart is missing; with more than one, the extra ones are
duplicates (``import-run --fresh`` makes them on purpose, an interrupted import by accident).
"""

from __future__ import annotations

import threading

from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException
from mlflow.store.tracking import SEARCH_MAX_RESULTS_DEFAULT

from .. import idmap


def runs_by_source(runs: list) -> dict[str, list]:
    """Destination runs that carry a source run id, by that id; in each list the complete,
    active one first."""
    found: dict[str, list] = {}
    for run in runs:
        source = run.data.tags.get(idmap.SOURCE_RUN_ID)
        if source:
            found.setdefault(source, []).append(run)
    for group in found.values():
        group.sort(key=_run_preference)
    return found


def counterparts_of_run(client, experiment_id: str, source_run_id: str) -> list:
    """The destination runs of the experiment (any lifecycle) imported from ``source_run_id``."""
    return runs_by_source(idmap.find_runs(client, experiment_id, source_run_id)).get(
        source_run_id, []
    )


def _run_preference(run) -> tuple:
    complete = run.data.tags.get(idmap.STATE) == idmap.STATE_COMPLETE
    return (not complete, run.info.lifecycle_stage != "active", run.info.start_time or 0)


def all_runs(client, experiment_id: str, view_type: int = ViewType.ALL) -> list:
    """Every run of the experiment (all pages)."""
    runs, token = [], None
    while True:
        page = client.search_runs(
            [experiment_id],
            run_view_type=view_type,
            max_results=SEARCH_MAX_RESULTS_DEFAULT,
            page_token=token,
        )
        runs += list(page)
        token = page.token
        if not token:
            return runs


def logged_models(client, experiment_id: str, source_run_id: str | None = None) -> list:
    """LoggedModels of the experiment (all pages), of one run if ``source_run_id`` is given."""
    filter_string = f"source_run_id = '{source_run_id}'" if source_run_id else None
    models, token = [], None
    while True:
        page = client.search_logged_models(
            [experiment_id], filter_string=filter_string, page_token=token
        )
        models += list(page)
        token = page.token
        if not token:
            return models


def models_by_source(models: list) -> dict[str, list]:
    """Destination LoggedModels by the source model id they carry."""
    found: dict[str, list] = {}
    for model in models:
        source = (model.tags or {}).get(idmap.SOURCE_MODEL_ID)
        if source:
            found.setdefault(source, []).append(model)
    return found


def versions_by_source(versions: list, source_model: str) -> dict[str, list]:
    """Destination versions by the source version number they were imported from (the
    import's ``mlflow_migrate.source.model_version`` tag, for versions of ``source_model``)."""
    prefix = idmap.model_version_key(source_model, "")
    found: dict[str, list] = {}
    for mv in versions:
        key = (mv.tags or {}).get(idmap.SOURCE_MODEL_VERSION, "")
        if key.startswith(prefix):
            found.setdefault(key[len(prefix) :], []).append(mv)
    return found


class SourceIds:
    """Maps destination run and LoggedModel ids to the source ids recorded on them.

    Ids the destination does not know, or objects without a source tag, map to themselves, so a
    destination that still names a source id (``--mlmodel-fix False``) compares equal.
    """

    def __init__(self, dst_client):
        self.client = dst_client
        self._runs: dict[str, str] = {}
        self._models: dict[str, str] = {}
        self._lock = threading.Lock()

    def know_run(self, dst_id: str, source_id: str) -> None:
        with self._lock:
            self._runs[dst_id] = source_id

    def know_model(self, dst_id: str, source_id: str) -> None:
        with self._lock:
            self._models[dst_id] = source_id

    def run(self, dst_id):
        if not isinstance(dst_id, str) or not dst_id:
            return dst_id
        with self._lock:
            if dst_id in self._runs:
                return self._runs[dst_id]
        source = self._lookup(lambda: self.client.get_run(dst_id).data.tags, idmap.SOURCE_RUN_ID)
        self.know_run(dst_id, source or dst_id)
        return source or dst_id

    def model(self, dst_id):
        if not isinstance(dst_id, str) or not dst_id:
            return dst_id
        with self._lock:
            if dst_id in self._models:
                return self._models[dst_id]
        source = self._lookup(
            lambda: self.client.get_logged_model(dst_id).tags, idmap.SOURCE_MODEL_ID
        )
        self.know_model(dst_id, source or dst_id)
        return source or dst_id

    @staticmethod
    def _lookup(get_tags, tag: str) -> str | None:
        try:
            return (get_tags() or {}).get(tag)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise
