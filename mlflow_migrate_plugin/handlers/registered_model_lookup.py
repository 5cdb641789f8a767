"""A registered model's record, finding it on a server, and making it when an import needs it.

Both the registered-model handler and the model-version handler ask here, so neither imports
the other.
"""

from __future__ import annotations

from mlflow.exceptions import MlflowException

from .. import idmap
from ..endpoint import Endpoint
from ..report import IMPORTED, Report

SOURCE_MODEL_PREFIX = idmap.PREFIX + "source.registered_model."
_SOURCE_FIELDS = ("name", "creation_timestamp", "last_updated_timestamp")


def record(model) -> dict:
    """The export record of a registered model, from its public properties."""
    return {
        "name": model.name,
        "description": model.description or "",
        "tags": dict(model.tags or {}),
        "aliases": dict(model.aliases or {}),
        "creation_timestamp": model.creation_timestamp,
        "last_updated_timestamp": model.last_updated_timestamp,
    }


def get(endpoint: Endpoint, name: str):
    """The registered model ``name``, or None when it does not exist."""
    try:
        return endpoint.client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise


def ensure(
    dst: Endpoint,
    name: str,
    rec: dict,
    report: Report,
    *,
    metadata: bool = True,
    source_tags: bool = False,
) -> bool:
    """Create model ``name`` (with the description and tags of ``rec`` when ``metadata``) if it
    does not exist; return whether it was created. An existing model is left as it is."""
    if get(dst, name) is not None:
        return False
    tags = dict(rec.get("tags") or {}) if metadata else {}
    if source_tags:
        for key in _SOURCE_FIELDS:
            if rec.get(key) is not None:
                tags[SOURCE_MODEL_PREFIX + key] = str(rec[key])
    description = (rec.get("description") or None) if metadata else None
    try:
        dst.client.create_registered_model(name, tags=tags or None, description=description)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":  # a retried POST that had succeeded
            raise
    report.add("registered_model", rec.get("name") or name, IMPORTED, name)
    return True
