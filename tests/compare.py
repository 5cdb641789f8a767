"""Field-by-field comparison of a source object with its imported copy, for the tests.

The views are the ones ``mlflow migrate verify-*`` compares (``mlflow_migrate_plugin.verify.
views``), read here with artifacts as whole bytes so that tests can look inside them. Fields that
may differ: ids and creation times MLflow will not let us set, and the import's own marker tags;
every other field is checked.
"""

from __future__ import annotations

from mlflow_migrate_plugin import idmap
from mlflow_migrate_plugin.endpoint import Endpoint
from mlflow_migrate_plugin.verify import views

# Tags an import adds on purpose; anything else extra or missing is a failure.
IMPORT_TAGS = {idmap.SOURCE_RUN_ID, idmap.STATE}


def run_view(endpoint: Endpoint, run_id: str) -> dict:
    """Everything observable about a run, with LoggedModel outputs named by model name."""
    view = views.run_view(endpoint, run_id, artifact_tree)
    view["tags"] = {k: v for k, v in view["tags"].items() if k not in IMPORT_TAGS}
    view["model_outputs"] = sorted(
        (logged_model_view(endpoint, model_id)["name"], step)
        for model_id, step in view["model_outputs"]
    )
    del view["model_inputs"]  # ids; tests that use inputs map them themselves
    return view


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
    """A LoggedModel's fields, without the import's source tag and without run ids."""
    view = views.logged_model_view(endpoint, model_id, artifact_tree)
    view["tags"].pop(idmap.SOURCE_MODEL_ID, None)
    del view["source_run_id"], view["metric_runs"]
    return view
