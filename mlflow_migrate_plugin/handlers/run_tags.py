"""The tags an imported run is created with: its source identity, user, parent, name, and with
--import-source-tags what MLflow will not let us set (ids, times, provenance)."""

from __future__ import annotations

from typing import Any, Protocol

from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME, MLFLOW_USER

from .. import idmap
from ..databricks import tags as databricks_tags
from ..endpoint import Endpoint, redact
from ..exportdir.layout import current_user
from ..report import Report


class Described(Protocol):
    """What the tags need of a run source (an export or a live server, see run_source)."""

    source_run_id: str
    system: Any


SOURCE_INFO_PREFIX = idmap.PREFIX + "source.run."
SOURCE_EXPORT_PREFIX = idmap.PREFIX + "source.export."
SOURCE_USER = idmap.PREFIX + "source.user_id"
INFO_FIELDS = (
    "run_id",
    "experiment_id",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "lifecycle_stage",
    "artifact_uri",
    "run_name",
)


def destination_tags(
    dst: Endpoint,
    rec: dict,
    source: Described,
    experiment_id: str,
    report: Report,
    *,
    use_src_user_id: bool,
    import_source_tags: bool,
    known_runs: dict[str, str] | None = None,
):
    """Tags to create the run with (identity, user, parent), and the rest for log_batch.

    ``known_runs`` (source -> destination run id) answers the parent lookup without a search.
    """
    src_id = source.source_run_id
    info = rec["info"]
    tags = dict(rec["tags"])
    for marker in idmap.MARKER_TAGS | {idmap.PENDING_PARENT}:
        tags.pop(marker, None)
    first = {idmap.SOURCE_RUN_ID: src_id, idmap.STATE: idmap.STATE_STARTED}

    source_user = tags.get(MLFLOW_USER) or info.get("user_id")
    if use_src_user_id and source_user:
        first[MLFLOW_USER] = source_user
    else:
        first[MLFLOW_USER] = current_user()
        if source_user and source_user != first[MLFLOW_USER]:
            tags[SOURCE_USER] = source_user
    tags.pop(MLFLOW_USER, None)

    parent = tags.pop(MLFLOW_PARENT_RUN_ID, None)
    if parent:
        found = (known_runs or {}).get(parent)
        if found is None:
            run = idmap.find_complete_run(dst.client, experiment_id, parent)
            found = run.info.run_id if run is not None else None
        if found is not None:
            first[MLFLOW_PARENT_RUN_ID] = found
        else:
            first[idmap.PENDING_PARENT] = parent
            report.warn(
                f"run {src_id}: parent run {parent} is not on the destination yet; its id is "
                f"kept in tag '{idmap.PENDING_PARENT}' and the link is made when it is imported"
            )
    run_name = info.get("run_name")
    if run_name:
        # MLflow keeps the run name and this tag as one field (the tag, logged after create,
        # would rename the run): the name the source showed wins.
        other = tags.get(MLFLOW_RUN_NAME)
        if other not in (None, run_name):
            report.warn(
                f"run {src_id}: tag '{MLFLOW_RUN_NAME}' ({other!r}) differs from the run "
                f"name {run_name!r}; the run name is kept"
            )
        tags[MLFLOW_RUN_NAME] = run_name

    if import_source_tags:
        for field in INFO_FIELDS:
            if info.get(field) is not None:
                tags[SOURCE_INFO_PREFIX + field] = str(info[field])
        system = source.system
        for field in ("mlflow_version", "mlflow_tracking_uri", "export_time"):
            if system.get(field) is not None:
                tags[SOURCE_EXPORT_PREFIX + field] = redact(str(system[field]))
    if dst.is_databricks:  # the token decides the user; some mlflow.* tags are refused
        first, tags = databricks_tags.for_databricks_run(
            first, tags, source_user, SOURCE_USER, use_src_user_id, report
        )
    return first, tags
