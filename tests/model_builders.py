"""Build registered models on a real server with MlflowClient alone.

``registered_model`` makes a model with both kinds of version MLflow 3 has: classic versions
whose source is a folder in the run's artifacts (as an artifact URI and as ``runs:/``) and
LoggedModel versions (``models:/<model_id>``), a deleted version in the middle (a gap), every
stage, aliases, tags and descriptions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from mlflow_migrate_plugin.endpoint import Endpoint
from tests import builders


@dataclass
class BuiltModel:
    name: str
    experiment_id: str
    run_ids: list[str] = field(default_factory=list)
    # version number -> (run id, LoggedModel id or None)
    versions: dict[str, tuple] = field(default_factory=dict)


def small_run(endpoint: Endpoint, experiment_id: str, name: str, **kwargs) -> builders.BuiltRun:
    return builders.make_run(endpoint, experiment_id, name=name, metric_keys=1, steps=2, **kwargs)


def version_from_new_run(endpoint: Endpoint, model: BuiltModel, run_name: str) -> str:
    """A new run in the experiment of ``model`` and a classic version of ``model`` from it;
    the run's id."""
    run_id = small_run(endpoint, model.experiment_id, run_name).run_id
    uri = endpoint.client.get_run(run_id).info.artifact_uri
    endpoint.client.create_model_version(model.name, f"{uri}/classic_model", run_id)
    return run_id


def transition(client, name: str, version: str, stage: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        client.transition_model_version_stage(name, version, stage)


def registered_model(endpoint: Endpoint, name: str, experiment_name: str) -> BuiltModel:
    """Versions: 1 classic (artifact URI source, Production, alias champion); 2 LoggedModel,
    deleted; 3 LoggedModel (Staging, aliases challenger and best); 4 classic ``runs:/`` source
    (Archived); 5 classic from a nested child run (no stage)."""
    client = endpoint.client
    exp_id = builders.experiment(endpoint, experiment_name)
    run_a = small_run(endpoint, exp_id, "run-a")
    run_b = small_run(endpoint, exp_id, "run-b")
    child = small_run(endpoint, exp_id, "child", parent_run_id=run_b.run_id, logged_model=False)
    built = BuiltModel(name, exp_id, [run_a.run_id, run_b.run_id, child.run_id])
    client.create_registered_model(
        name,
        tags={"owner": "alice", "domain": "tabular ✓"},
        description="Registered model **description** ✓",
    )
    uri_a = client.get_run(run_a.run_id).info.artifact_uri
    uri_child = client.get_run(child.run_id).info.artifact_uri

    def version(source, run_id, model_id=None, **kwargs):
        mv = client.create_model_version(name, source, run_id, model_id=model_id, **kwargs)
        built.versions[mv.version] = (run_id, model_id)
        return mv.version

    v1 = version(
        f"{uri_a}/classic_model",
        run_a.run_id,
        description="v1 from a run artifact",
        tags={"style": "run-artifact", "unicode": "значение ✓"},
    )
    v2 = version(
        f"models:/{run_a.model_ids[0]}", run_a.run_id, run_a.model_ids[0], description="deleted"
    )
    v3 = version(
        f"models:/{run_b.model_ids[0]}",
        run_b.run_id,
        run_b.model_ids[0],
        description="v3 LoggedModel",
        tags={"style": "logged-model"},
    )
    v4 = version(f"runs:/{run_b.run_id}/classic_model", run_b.run_id)
    v5 = version(f"{uri_child}/classic_model", child.run_id, description="from a child run")
    client.delete_model_version(name, v2)
    del built.versions[v2]
    transition(client, name, v1, "Production")
    transition(client, name, v3, "Staging")
    transition(client, name, v4, "Archived")
    client.set_registered_model_alias(name, "champion", v1)
    client.set_registered_model_alias(name, "challenger", v3)
    client.set_registered_model_alias(name, "best", v3)
    assert [v1, v3, v4, v5] == ["1", "3", "4", "5"]
    return built
