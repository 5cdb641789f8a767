"""Finding an experiment on a server, and making it when an import needs it.

Every handler that puts runs into an experiment (a run, an experiment, a model's versions) asks
here, so the experiment handler and the run handler need not import each other.
"""

from __future__ import annotations

from mlflow.exceptions import MlflowException

from ..endpoint import Endpoint
from ..errors import MigrateError, NotFoundError
from ..report import Report


def ensure(dst: Endpoint, name: str, report: Report, tags: dict[str, str] | None = None) -> str:
    """The id of experiment ``name`` on ``dst``, created (with ``tags``) if it does not exist."""
    client = dst.client
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            raise MigrateError(
                f"experiment '{name}' is deleted on {dst.display}; restore it "
                "('mlflow experiments restore') or import under another name"
            )
        return experiment.experiment_id
    if dst.is_databricks:  # a workspace path, whose folder must exist; some tags are refused
        from ..databricks import tags as databricks_tags
        from ..databricks.workspace import ensure_experiment_parent

        ensure_experiment_parent(dst, name)
        tags = databricks_tags.drop_rejected(
            tags or {}, databricks_tags.REJECTED_EXPERIMENT_TAGS, "experiment", report
        )
    try:
        experiment_id = client.create_experiment(name, tags=tags or None)
    except MlflowException as exc:
        # MLflow's client retried a create whose answer was lost: the first try made it.
        found = client.get_experiment_by_name(name)
        if exc.error_code != "RESOURCE_ALREADY_EXISTS" or found is None:
            raise
        experiment_id = found.experiment_id
    report.add("experiment", name, "created", experiment_id)
    return experiment_id


def get(src: Endpoint, name_or_id: str):
    """The experiment named ``name_or_id``, else the one with that id."""
    client = src.client
    experiment = client.get_experiment_by_name(name_or_id)
    if experiment is None:
        try:
            experiment = client.get_experiment(name_or_id)
        except MlflowException:
            experiment = None
    if experiment is None:
        raise NotFoundError(f"experiment '{name_or_id}' not found on {src.display}")
    return experiment
