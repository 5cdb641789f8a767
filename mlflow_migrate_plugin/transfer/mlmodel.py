"""Rewrite the ids an MLmodel file embeds, so that a moved model looks as MLflow would have logged
it on the destination: its run, its LoggedModel and its location.

MLflow 3 writes a LoggedModel's MLmodel with ``model_id`` and ``model_uuid`` both the model's
id, ``run_id`` its run and ``artifact_path`` the model's artifact location
(``mlflow.models.Model.log``); an MLmodel logged into a run's artifacts (MLflow 2) has a random
``model_uuid`` and a run-relative ``artifact_path``, which stay. MLmodel is YAML; it is edited as
YAML (``mlflow.models.Model`` needs numpy, which mlflow-skinny does not bring); every other key
keeps its value and order. The run tag ``mlflow.log-model.history`` (written by MLflow 2 clients)
records the same ids for each model the run logged, and is rewritten the same way.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import yaml

MLMODEL = "MLmodel"


def is_mlmodel(artifact_path: str) -> bool:
    return PurePosixPath(artifact_path).name == MLMODEL


# A LoggedModel's artifact location on the source and on the destination.
Move = tuple[str | None, str]


def _id_maps(run_ids: dict[str, str], model_ids: dict[str, str]) -> tuple:
    """Which id map each key follows (MLflow 3 writes the model id as ``model_uuid`` too)."""
    return (("run_id", run_ids), ("model_id", model_ids), ("model_uuid", model_ids))


def _map_ids(
    doc: dict, run_ids: dict[str, str], model_ids: dict[str, str], move: Move | None
) -> bool:
    """Rewrite one MLmodel (or history entry) in place; return whether anything changed."""
    before = dict(doc)
    old_model = doc.get("model_id")
    for key, mapping in _id_maps(run_ids, model_ids):
        old = doc.get(key)
        if isinstance(old, str) and old in mapping:
            doc[key] = mapping[old]
    # MLflow writes a LoggedModel's own location into its MLmodel: the moved model names its
    # new one. Another value (a file written by hand) is the user's and stays.
    path = doc.get("artifact_path")
    if move is not None and isinstance(old_model, str) and old_model in model_ids:
        old_location, new_location = move
        if isinstance(path, str) and (path == old_location or old_model in path.split("/")):
            doc["artifact_path"] = new_location
    return doc != before


def rewrite_ids(
    text: str, run_ids: dict[str, str], model_ids: dict[str, str], move: Move | None = None
) -> str | None:
    """New MLmodel text with mapped ids (and, for a LoggedModel's MLmodel, ``artifact_path``
    moved as ``move`` says), or None when nothing changes or it is not an MLmodel."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(doc, dict) or not _map_ids(doc, run_ids, model_ids, move):
        return None
    return yaml.safe_dump(doc, default_flow_style=False, sort_keys=False, allow_unicode=True)


def rewrite_history(value: str, run_ids: dict[str, str], model_ids: dict[str, str]) -> str | None:
    """The ``mlflow.log-model.history`` tag with mapped run and model ids, or None when nothing
    changes or it is not the JSON list MLflow writes. Only the ids change: the text keeps its
    layout (Databricks writes it without spaces), so the tag reads as the source's did."""
    try:
        entries = json.loads(value)
    except ValueError:
        return None
    if not isinstance(entries, list):
        return None
    replace: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        for key, mapping in _id_maps(run_ids, model_ids):
            old = entry.get(key)
            if isinstance(old, str) and old in mapping and mapping[old] != old:
                replace[old] = mapping[old]
    for old, new in replace.items():
        value = value.replace(json.dumps(old), json.dumps(new))
    return value if replace else None


class MLmodelRewriter:
    """An upload rewriter (see :mod:`.artifacts`) for MLmodel files; ``move`` is set for the
    files of a LoggedModel (its source and destination artifact locations)."""

    def __init__(
        self, run_ids: dict[str, str], model_ids: dict[str, str], move: Move | None = None
    ):
        self.run_ids = run_ids
        self.model_ids = model_ids
        self.move = move

    def into(self, old_location: str | None, new_location: str) -> MLmodelRewriter:
        """The same rewriter for the files of a LoggedModel that moved between locations."""
        return MLmodelRewriter(self.run_ids, self.model_ids, (old_location, new_location))

    def __call__(self, artifact_path: str, local: Path) -> bytes | None:
        if not is_mlmodel(artifact_path):
            return None
        text = local.read_text(encoding="utf-8")
        new = rewrite_ids(text, self.run_ids, self.model_ids, self.move)
        return None if new is None else new.encode("utf-8")
