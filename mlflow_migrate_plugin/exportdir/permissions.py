"""Where Databricks permissions sit in an export (``--export-permissions``).

The same places as mlflow-export-import: ``mlflow.permissions`` in ``experiment.json``, and
``mlflow.registered_model.permissions`` in ``model.json`` (export-model and
export-model-version). The value is what :mod:`..databricks.permissions` read from the service.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ExportDirError
from .layout import EXPERIMENT_JSON, MODEL_JSON, read_json, write_json

PERMISSIONS = "permissions"


def experiment_entry(permissions: dict[str, Any]) -> dict[str, Any]:
    """The entry to merge into ``experiment.json``'s ``mlflow`` part."""
    return {PERMISSIONS: permissions}


def read_experiment_permissions(export_dir: str | Path) -> dict[str, Any] | None:
    document = read_json(Path(export_dir) / EXPERIMENT_JSON, "experiment")
    return document["mlflow"].get(PERMISSIONS)


def add_model_permissions(export_dir: str | Path, permissions: dict[str, Any]) -> None:
    """Write the registered model's permissions into an export's ``model.json``."""
    path = Path(export_dir) / MODEL_JSON
    document = read_json(path, "registered model")
    model = document["mlflow"].get("registered_model")
    if not isinstance(model, dict):
        raise ExportDirError(f"{path}: has no registered model to add permissions to")
    model[PERMISSIONS] = permissions
    write_json(path, document)


def read_model_permissions(export_dir: str | Path) -> tuple[str | None, dict[str, Any] | None]:
    """The exported model's name and permissions (None when not exported)."""
    path = Path(export_dir) / MODEL_JSON
    if not path.is_file():
        return None, None
    model = read_json(path, "registered model")["mlflow"].get("registered_model") or {}
    return model.get("name"), model.get(PERMISSIONS)
