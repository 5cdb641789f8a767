"""Field-by-field views of a registered model, its versions and their runs, for comparing a
source with its imported copy.

Allowed to differ, and nothing else: run and LoggedModel ids (a version's run and model are
checked through the source identity the import stored on them, see ``identities``), creation and
update times, the version's ``user_id`` and ``run_link`` (not settable), the run's user (import-
model runs as the importing user and keeps the source user in a tag), the import's own marker tags
(``mlflow_migrate.*``), ids inside MLmodel files, and the registry-maintained
``mlflow.modelVersions`` tag of a LoggedModel (it lists the versions registered from it).
"""

from __future__ import annotations

import yaml
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import (
    MLFLOW_LOGGED_MODELS,
    MLFLOW_MODEL_VERSIONS,
    MLFLOW_PARENT_RUN_ID,
    MLFLOW_USER,
)

from mlflow_migrate_plugin import idmap
from mlflow_migrate_plugin.endpoint import Endpoint
from mlflow_migrate_plugin.handlers.model_version import all_versions, logged_model_id
from mlflow_migrate_plugin.handlers.run import SOURCE_USER
from mlflow_migrate_plugin.verify import views
from tests.compare import artifact_tree, logged_model_view, run_view


def _without_markers(tags) -> dict:
    return {k: v for k, v in (tags or {}).items() if not k.startswith(idmap.PREFIX)}


def model_view(endpoint: Endpoint, name: str, runs: bool = True) -> dict:
    """The registered model and every live version (with its run when ``runs``)."""
    client = endpoint.client
    model = client.get_registered_model(name)
    return {
        "description": model.description or "",
        "tags": _without_markers(model.tags),
        "aliases": dict(model.aliases or {}),
        "versions": {
            v.version: version_view(endpoint, name, v.version, runs)
            for v in all_versions(client, name)
        },
    }


def version_view(endpoint: Endpoint, name: str, version: str, runs: bool = True) -> dict:
    """The version's fields as ``verify`` reads them, its source as what it points at (without
    ids), its files, and with ``runs`` its run."""
    client = endpoint.client
    mv = client.get_model_version(name, version)
    run = _run_or_none(client, mv.run_id)
    view = views.version_view(endpoint, mv)
    # Ids: each version's run and LoggedModel are checked through ``identities``.
    del view["version"], view["run_id"], view["model_id"]
    view["tags"] = _without_markers(view["tags"])
    view["source"] = source_shape(endpoint, mv.source, run)
    view["run_name"] = run.info.run_name if run else None
    view["files"] = normalized_tree(
        artifact_tree(endpoint.artifact_repo(client.get_model_version_download_uri(name, version)))
    )
    if runs and run is not None:
        view["run"] = run_summary(endpoint, run.info.run_id)
    return view


_run_or_none = views.run_or_none


def source_shape(endpoint: Endpoint, source: str, run) -> tuple:
    """What a source points at, without ids: a LoggedModel (by name) or a path in the run."""
    model_id = logged_model_id(source)
    if model_id:
        try:
            model = endpoint.client.get_logged_model(model_id)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            return ("logged_model", "deleted")
        tags = _without_markers(model.tags)
        tags.pop(MLFLOW_MODEL_VERSIONS, None)
        return (
            "logged_model",
            model.name,
            model.model_type,
            str(model.status),
            dict(model.params or {}),
            tags,
        )
    if source.startswith("runs:/"):
        run_part, _, path = source[len("runs:/") :].partition("/")
        return ("runs", run is not None and run_part == run.info.run_id, path)
    root = run.info.artifact_uri.rstrip("/") if run else None
    if root and source.startswith(root + "/"):
        return ("run_artifact", source[len(root) + 1 :])
    return ("other", source)


def normalized_tree(files: dict[str, bytes]) -> dict:
    """Artifact files by path; MLmodel files parsed, without the ids an import must change."""
    out = {}
    for path, content in files.items():
        if path.rsplit("/", 1)[-1] == "MLmodel":
            doc = yaml.safe_load(content)
            # A LoggedModel's MLmodel names the model as model_uuid too, and its own location
            # as artifact_path (tests/test_mlmodel_lineage.py checks that they follow).
            model_id = doc.get("model_id")
            if model_id and doc.get("model_uuid") == model_id:
                doc.pop("model_uuid")
            if model_id and model_id in str(doc.get("artifact_path", "")).split("/"):
                doc.pop("artifact_path")
            doc.pop("run_id", None)
            doc.pop("model_id", None)
            out[path] = doc
        else:
            out[path] = content
    return out


def run_summary(endpoint: Endpoint, run_id: str) -> dict:
    """``tests.compare.run_view`` with the parent named by its run name, the user left out, and
    the run's LoggedModels compared by name."""
    client = endpoint.client
    view = run_view(endpoint, run_id)
    view["info"].pop("user_id")
    tags = view["tags"]
    tags.pop(MLFLOW_USER, None)
    tags.pop(SOURCE_USER, None)
    parent = tags.pop(MLFLOW_PARENT_RUN_ID, None)
    view["parent"] = client.get_run(parent).info.run_name if parent else None
    if MLFLOW_LOGGED_MODELS in tags:  # the import names the new run in it
        tags[MLFLOW_LOGGED_MODELS] = tags[MLFLOW_LOGGED_MODELS].replace(run_id, "<this run>")
    view["artifacts"] = normalized_tree(view["artifacts"])
    models = {}
    for output in client.get_run(run_id).outputs.model_outputs:
        model = logged_model_view(endpoint, output.model_id)
        model["tags"].pop(MLFLOW_MODEL_VERSIONS, None)
        model["artifacts"] = normalized_tree(model["artifacts"])
        models[model["name"]] = model
    view["logged_models"] = models
    return view


def identities(endpoint: Endpoint, name: str) -> dict[str, tuple]:
    """For each version of an imported model: the source ids stored on its run and LoggedModel
    (the import's identity tags), to check each version follows its own run and model."""
    client = endpoint.client
    out = {}
    for v in all_versions(client, name):
        run = _run_or_none(client, v.run_id)
        model_id = logged_model_id(v.source)
        model = client.get_logged_model(model_id) if model_id else None
        out[v.version] = (
            run.data.tags.get(idmap.SOURCE_RUN_ID) if run else None,
            (model.tags or {}).get(idmap.SOURCE_MODEL_ID) if model else None,
        )
    return out
