"""Source identities stored on the destination, so that imports can be rerun without duplicates.

Every object an import creates carries the id it had on the source in a tag. An import first looks
for that tag (MLflow's client retries POSTs, so a create that seemed to fail may have happened);
the completion tag tells a finished import from one that was interrupted.
"""

from __future__ import annotations

import re
import uuid

from mlflow.entities import ViewType

PREFIX = "mlflow_migrate."
SOURCE_RUN_ID = PREFIX + "source.run_id"
SOURCE_MODEL_ID = PREFIX + "source.model_id"
# Set when a child's parent is not on the destination yet; the parent's import links it later.
PENDING_PARENT = PREFIX + "source.parent_run_id"
# A model version's source identity: "<source model name>/<version>".
SOURCE_MODEL_VERSION = PREFIX + "source.model_version"
# A trace's source id; also set when the id is kept, so that one search finds every import.
SOURCE_TRACE_ID = PREFIX + "source.trace_id"
# A prompt version's source identity: "<source prompt name>/<version>".
SOURCE_PROMPT_VERSION = PREFIX + "source.prompt_version"
# An evaluation dataset's id on the source.
SOURCE_DATASET_ID = PREFIX + "source.dataset_id"
STATE = PREFIX + "import_state"
STATE_STARTED = "started"
STATE_COMPLETE = "complete"
# A token of the create call that made the object, where no other tag tells it from a copy a
# retried create made (handlers/duplicates.py); a run carries its token in its state instead,
# "started:<token>", which its completion overwrites.
ATTEMPT = PREFIX + "attempt"
# On a run that import-run --fresh made as a second copy on purpose, which no rerun repairs.
FRESH_COPY = PREFIX + "fresh_copy"
# On a destination experiment or registered model while an import works on it
# (handlers/lease.py): "<holder>:<expiry epoch>".
LEASE = PREFIX + "lease"

MARKER_TAGS = frozenset({SOURCE_RUN_ID, SOURCE_MODEL_ID, STATE, ATTEMPT, LEASE, FRESH_COPY})


def new_attempt() -> str:
    """A fresh token for one create call."""
    return uuid.uuid4().hex


def started(token: str) -> str:
    """The :data:`STATE` of a run made by create call ``token``, until its import completes."""
    return f"{STATE_STARTED}:{token}"


_QUOTES_AND_BACKSLASH = re.compile(r"['\"\\]")


def equals(field: str, value: str) -> str:
    """A clause for MLflow's search filters (runs, model versions, LoggedModels) that matches
    ``field`` equal to ``value``, or a superset: callers keep only the exact matches.

    MLflow takes the text between the quotes as it stands and undoes no escape (``'it\\'s'``
    searches for ``it\\'s``), and its LoggedModel search strips every quote from either end of
    a value, so a value with a quote in it has no literal. A value holding a quote or a
    backslash is searched with ``LIKE`` instead, each of those characters matching any one.
    """
    if not _QUOTES_AND_BACKSLASH.search(value):
        return f"{field} = '{value}'"
    return f"{field} LIKE '{_QUOTES_AND_BACKSLASH.sub('_', value)}'"


def find_runs(client, experiment_id: str, source_run_id: str) -> list:
    """Runs in the experiment (any lifecycle) imported from ``source_run_id``."""
    return client.search_runs(
        [experiment_id],
        filter_string=equals(f"tags.`{SOURCE_RUN_ID}`", source_run_id),
        run_view_type=ViewType.ALL,
        max_results=100,
    )


def find_complete_run(client, experiment_id: str, source_run_id: str):
    for run in find_runs(client, experiment_id, source_run_id):
        if run.data.tags.get(STATE) == STATE_COMPLETE:
            return run
    return None


def complete_runs(client, experiment_id: str, finished_only: bool = False) -> dict[str, str]:
    """Source run id -> destination run id of every finished import in the experiment.

    One paged search, so that a rerun over thousands of runs does not look each one up.
    ``finished_only`` leaves out runs still RUNNING: an import stopped between its completion
    mark and the run's status, which the run's own import finishes.
    """
    found: dict[str, str] = {}
    for run in all_complete(client, experiment_id):
        if finished_only and run.info.status == "RUNNING":
            continue
        source = run.data.tags.get(SOURCE_RUN_ID)
        if source:
            found.setdefault(source, run.info.run_id)
    return found


def all_complete(client, experiment_id: str):
    """Every run of the experiment (any lifecycle) whose import completed, with its tags."""
    return _all_runs(client, experiment_id, equals(f"tags.`{STATE}`", STATE_COMPLETE))


def interrupted_runs(client, experiment_id: str):
    """The active runs of the experiment whose import started and did not complete."""
    active = f"tags.`{STATE}` LIKE '{STATE_STARTED}%'"
    return [
        r for r in _all_runs(client, experiment_id, active) if r.info.lifecycle_stage == "active"
    ]


def awaited_parents(client, experiment_id: str) -> set[str]:
    """Source ids of the parents that runs already in the experiment wait for (one search)."""
    return {
        run.data.tags[PENDING_PARENT]
        for run in _all_runs(client, experiment_id, f"tags.`{PENDING_PARENT}` LIKE '%'")
        if run.data.tags.get(PENDING_PARENT)
    }


def _all_runs(client, experiment_id: str, filter_string: str):
    from mlflow.store.tracking import SEARCH_MAX_RESULTS_DEFAULT

    token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string=filter_string,
            run_view_type=ViewType.ALL,
            max_results=SEARCH_MAX_RESULTS_DEFAULT,
            page_token=token,
        )
        yield from page
        token = page.token
        if not token:
            return


def find_children_waiting(client, experiment_id: str, source_parent_id: str) -> list:
    return client.search_runs(
        [experiment_id],
        filter_string=equals(f"tags.`{PENDING_PARENT}`", source_parent_id),
        run_view_type=ViewType.ALL,
        max_results=10000,
    )


def find_logged_models(client, experiment_id: str, source_model_id: str) -> list:
    return list(
        client.search_logged_models(
            [experiment_id],
            filter_string=equals(f"tags.`{SOURCE_MODEL_ID}`", source_model_id),
        )
    )


def model_version_key(source_model: str, version: str) -> str:
    """The value of :data:`SOURCE_MODEL_VERSION` for version ``version`` of ``source_model``."""
    return f"{source_model}/{version}"


def model_id_map_of_run(client, run) -> dict[str, str]:
    """Source LoggedModel id -> destination id, for the models an imported run produced."""
    mapping: dict[str, str] = {}
    found = client.search_logged_models(
        [run.info.experiment_id], filter_string=equals("source_run_id", run.info.run_id)
    )
    for model in found:
        source = (model.tags or {}).get(SOURCE_MODEL_ID)
        if source:
            mapping[source] = model.model_id
    return mapping
