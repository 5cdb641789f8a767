"""Rewrite the ids an MLmodel file embeds, so that a moved model points at its new run and model.

MLmodel is YAML; it is edited as YAML (``mlflow.models.Model`` needs numpy, which mlflow-skinny
does not bring). Only ``run_id`` and ``model_id`` change; every other key keeps its value and order.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import yaml

MLMODEL = "MLmodel"


def is_mlmodel(artifact_path: str) -> bool:
    return PurePosixPath(artifact_path).name == MLMODEL


def rewrite_ids(text: str, run_ids: dict[str, str], model_ids: dict[str, str]) -> str | None:
    """New MLmodel text with mapped ids, or None when nothing changes or it is not an MLmodel."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(doc, dict):
        return None
    changed = False
    for key, mapping in (("run_id", run_ids), ("model_id", model_ids)):
        old = doc.get(key)
        if isinstance(old, str) and old in mapping and mapping[old] != old:
            doc[key] = mapping[old]
            changed = True
    if not changed:
        return None
    return yaml.safe_dump(doc, default_flow_style=False, sort_keys=False, allow_unicode=True)


class MLmodelRewriter:
    """An upload rewriter (see :mod:`.artifacts`) for MLmodel files."""

    def __init__(self, run_ids: dict[str, str], model_ids: dict[str, str]):
        self.run_ids = run_ids
        self.model_ids = model_ids

    def __call__(self, artifact_path: str, local: Path) -> bytes | None:
        if not is_mlmodel(artifact_path):
            return None
        new = rewrite_ids(local.read_text(encoding="utf-8"), self.run_ids, self.model_ids)
        return None if new is None else new.encode("utf-8")
