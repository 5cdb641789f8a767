"""Experiments: find or create the destination experiment of an import."""

from __future__ import annotations

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
    experiment_id = client.create_experiment(name, tags=tags or None)
    report.add("experiment", name, "created", experiment_id)
    return experiment_id


def get(src: Endpoint, name_or_id: str):
    """The experiment named ``name_or_id``, else the one with that id."""
    from mlflow.exceptions import MlflowException

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
