"""A copied model looks exactly as if MLflow had logged it on the destination.

MLflow 3 writes a LoggedModel's MLmodel with ``model_id`` and ``model_uuid`` both the model's id,
``run_id`` its run and ``artifact_path`` the model's artifact location; MLflow 2 clients record
each model a run logged in the run tag ``mlflow.log-model.history``. The source model here is
logged by MLflow itself (``mlflow.sklearn.log_model`` against the source server), the history tag
written as an MLflow 2 client writes it.
"""

from __future__ import annotations

import json

import mlflow
import yaml
from mlflow.utils.mlflow_tags import MLFLOW_LOGGED_MODELS
from sklearn.linear_model import LogisticRegression

from mlflow_migrate_plugin import api
from mlflow_migrate_plugin.transfer.mlmodel import rewrite_history, rewrite_ids
from tests.compare import artifact_tree

MLFLOW2_UUID = "5f3c9a0e2b7d4c1e9f8a6b4d2c0e1f3a"


def _mlmodel(endpoint, location: str) -> dict:
    return yaml.safe_load(artifact_tree(endpoint.artifact_repo(location))["MLmodel"])


def _log_model_with_mlflow(src, experiment_name: str, monkeypatch) -> tuple[str, str]:
    """A run with a sklearn model logged by MLflow's own fluent API; returns (run id, model id)."""
    experiment_id = src.client.create_experiment(experiment_name)
    with monkeypatch.context() as patch:  # the fluent API only, and only here
        patch.setenv("MLFLOW_TRACKING_URI", src.tracking_uri)
        with mlflow.start_run(experiment_id=experiment_id) as run:
            info = mlflow.sklearn.log_model(
                LogisticRegression().fit([[0.0], [1.0]], [0, 1]),
                name="classifier",
                pip_requirements=["scikit-learn"],  # no environment inference: faster
            )
    history = [
        {
            "run_id": run.info.run_id,
            "artifact_path": "model",
            "utc_time_created": "2024-01-01 00:00:00.000000",
            "model_uuid": MLFLOW2_UUID,
            "flavors": {"sklearn": {"pickled_model": "model.pkl"}},
            "mlflow_version": "2.9.2",
        }
    ]
    src.client.set_tag(run.info.run_id, MLFLOW_LOGGED_MODELS, json.dumps(history))
    return run.info.run_id, info.model_id


def test_copy_run_rewrites_mlmodel_and_log_model_history_to_the_new_ids(
    src, dst, unique_name, monkeypatch
):
    src_run, src_model = _log_model_with_mlflow(src, unique_name("src-"), monkeypatch)
    src_location = src.client.get_logged_model(src_model).artifact_location
    logged = _mlmodel(src, src_location)
    # What MLflow itself writes, which the destination must show for its own ids.
    assert (logged["model_uuid"], logged["artifact_path"], logged["run_id"]) == (
        src_model,
        src_location,
        src_run,
    )

    report = api.copy_run(
        src_run,
        unique_name("dst-"),
        src_mlflow_uri=src.tracking_uri,
        dst_mlflow_uri=dst.tracking_uri,
    )

    [run_out] = report.find("run", "imported")
    [model_out] = report.find("logged_model", "imported")
    new_run, new_model = run_out.destination_id, model_out.destination_id
    location = dst.client.get_logged_model(new_model).artifact_location
    assert _mlmodel(dst, location) == logged | {
        "model_id": new_model,
        "model_uuid": new_model,
        "run_id": new_run,
        "artifact_path": location,
    }
    [entry] = json.loads(dst.client.get_run(new_run).data.tags[MLFLOW_LOGGED_MODELS])
    assert entry == {
        **json.loads(src.client.get_run(src_run).data.tags[MLFLOW_LOGGED_MODELS])[0],
        "run_id": new_run,
    }


def test_mlmodel_written_by_hand_keeps_its_artifact_path_and_uuid():
    text = yaml.safe_dump(
        {"artifact_path": "model", "model_id": "m-old", "model_uuid": MLFLOW2_UUID, "run_id": "r1"}
    )

    new = yaml.safe_load(rewrite_ids(text, {"r1": "r2"}, {"m-old": "m-new"}, ("/a/m-x", "/b")))

    assert new == {
        "artifact_path": "model",
        "model_id": "m-new",
        "model_uuid": MLFLOW2_UUID,
        "run_id": "r2",
    }


def test_log_model_history_keeps_its_layout_and_changes_only_the_ids():
    # A string that is the run id names the run, wherever it stands.
    value = '[{"run_id":"r1","artifact_path":"model","model_uuid":"u1","note":"r1"}]'

    assert rewrite_history(value, {"r1": "r2"}, {}) == (
        '[{"run_id":"r2","artifact_path":"model","model_uuid":"u1","note":"r2"}]'
    )
    assert rewrite_history(value, {"other": "r2"}, {}) is None
    assert rewrite_history("not json", {"r1": "r2"}, {}) is None
