"""Field-by-field comparison of a source object with its imported copy.

Each comparison names the fields that may differ (ids and creation times MLflow will not let us
set, and the import's own marker tags) and checks every other field.
"""

from __future__ import annotations

from mlflow_migrate_plugin import idmap
from mlflow_migrate_plugin.endpoint import Endpoint

# Tags an import adds on purpose; anything else extra or missing is a failure.
IMPORT_TAGS = {idmap.SOURCE_RUN_ID, idmap.STATE}


def run_view(endpoint: Endpoint, run_id: str) -> dict:
    """Everything observable about a run, with ids of related objects resolved to names."""
    client = endpoint.client
    run = client.get_run(run_id)
    info = run.info
    history = {
        key: sorted((m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key))
        for key in run.data.metrics
    }
    repo = endpoint.artifact_repo(info.artifact_uri)
    return {
        "info": {
            "status": info.status,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "lifecycle_stage": info.lifecycle_stage,
            "run_name": info.run_name,
            "user_id": info.user_id,
        },
        "params": dict(run.data.params),
        "tags": {k: v for k, v in run.data.tags.items() if k not in IMPORT_TAGS},
        "metrics": history,
        "datasets": sorted(
            (
                d.dataset.name,
                d.dataset.digest,
                d.dataset.source_type,
                d.dataset.source,
                d.dataset.schema,
                d.dataset.profile,
                tuple(sorted((t.key, t.value) for t in d.tags)),
            )
            for d in run.inputs.dataset_inputs
        ),
        "artifacts": artifact_tree(repo),
        "model_outputs": sorted(
            (logged_model_view(endpoint, o.model_id)["name"], o.step)
            for o in run.outputs.model_outputs
        ),
    }


def artifact_tree(repo, path=None) -> dict[str, bytes]:
    """Every artifact file's bytes, by path (small test runs only)."""
    import tempfile
    from pathlib import Path

    files = {}
    for info in repo.list_artifacts(path):
        if info.is_dir:
            files.update(artifact_tree(repo, info.path))
        else:
            with tempfile.TemporaryDirectory() as tmp:
                local = repo.download_artifacts(info.path, tmp)
                files[info.path] = Path(local).read_bytes()
    return files


def logged_model_view(endpoint: Endpoint, model_id: str) -> dict:
    model = endpoint.client.get_logged_model(model_id)
    return {
        "name": model.name,
        "model_type": model.model_type,
        "status": str(model.status),
        "status_message": model.status_message,
        "tags": {k: v for k, v in (model.tags or {}).items() if k != idmap.SOURCE_MODEL_ID},
        "params": dict(model.params or {}),
        "metrics": sorted(
            (m.key, m.value, m.timestamp, m.step, m.dataset_name, m.dataset_digest)
            for m in model.metrics or []
        ),
        "artifacts": artifact_tree(endpoint.artifact_repo(model.artifact_location)),
    }
