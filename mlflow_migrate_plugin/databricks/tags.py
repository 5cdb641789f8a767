"""The ``mlflow.*`` tags a Databricks workspace refuses on import, and the run's user there.

Databricks sets these itself and rejects a client that sends them (the list is the one
mlflow-export-import arrived at against real workspaces). An import into Databricks drops them
and says so once per command; their values stay in the export directory. The run's user comes
from the access token: there is no API to set it, so ``--use-src-user-id`` cannot be honoured.
"""

from __future__ import annotations

from mlflow.utils.mlflow_tags import (
    MLFLOW_EXPERIMENT_SOURCE_ID,
    MLFLOW_EXPERIMENT_SOURCE_TYPE,
    MLFLOW_LOGGED_MODELS,
    MLFLOW_USER,
)

from ..report import Report

# MLflow defines no constant for the root run tag Databricks adds to nested runs.
MLFLOW_ROOT_RUN_ID = "mlflow.rootRunId"

REJECTED_RUN_TAGS = frozenset({MLFLOW_USER, MLFLOW_LOGGED_MODELS, MLFLOW_ROOT_RUN_ID})
REJECTED_EXPERIMENT_TAGS = frozenset({MLFLOW_EXPERIMENT_SOURCE_TYPE, MLFLOW_EXPERIMENT_SOURCE_ID})

USER_FROM_TOKEN = (
    "--use-src-user-id is ignored: Databricks takes a run's user from the access token and "
    "has no API to set it; the source user is kept in tag '{tag}'"
)


def warn_once(report: Report, message: str) -> None:
    """Warn unless the same message was already given (an experiment imports many runs)."""
    if message not in report.warnings:
        report.warn(message)


def drop_rejected(
    tags: dict[str, str], rejected: frozenset[str], what: str, report: Report
) -> dict[str, str]:
    """``tags`` without the keys Databricks refuses; the dropped keys are noted in ``report``."""
    dropped = sorted(k for k in tags if k in rejected)
    if dropped:
        warn_once(
            report,
            f"{what} tags not imported because Databricks refuses them: "
            f"{', '.join(dropped)} (their values stay in the export directory)",
        )
    return {k: v for k, v in tags.items() if k not in rejected}


def for_databricks_run(
    create_tags: dict[str, str],
    later_tags: dict[str, str],
    source_user: str | None,
    source_user_tag: str,
    use_src_user_id: bool,
    report: Report,
) -> tuple[dict[str, str], dict[str, str]]:
    """Adapt an imported run's tags to a Databricks destination.

    ``create_tags`` go with create_run, ``later_tags`` with log_batch. The user tag is removed
    (the token decides the user) and the source user is kept under ``source_user_tag``.
    """
    if use_src_user_id:
        warn_once(report, USER_FROM_TOKEN.format(tag=source_user_tag))
    later = dict(later_tags)
    if source_user:
        later[source_user_tag] = source_user
    create = {k: v for k, v in create_tags.items() if k != MLFLOW_USER}
    later.pop(MLFLOW_USER, None)
    return create, drop_rejected(later, REJECTED_RUN_TAGS, "run", report)
