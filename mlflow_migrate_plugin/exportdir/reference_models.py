"""LoggedModel folders written by mlflow-export-import: ``<model_id>/logged_model.json`` with the
model's files in ``<model_id>/artifacts/``.

Its current version writes one for every MLflow 3 LoggedModel it exports: beside a run's
``run.json`` (export-run, and so inside export-model-version's ``run/``), under an experiment's
``logged_models/`` (export-experiment, which lists the ids in ``experiment.json``) and beside the
run folders of export-model. Each is read here into the record our own exports hold (see
``handlers/logged_model.record``), so the handlers import both formats the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ExportDirError
from .layout import ARTIFACTS_DIR, read_json
from .paths import ArtifactFile, walk_files

LOGGED_MODEL_JSON = "logged_model.json"


@dataclass
class ExportedModel:
    """A LoggedModel exported on its own folder: its record, artifact root and files."""

    record: dict[str, Any]
    root: Path
    files: list[ArtifactFile]

    @property
    def model_id(self) -> str:
        return self.record["model_id"]

    @property
    def source_run_id(self) -> str | None:
        return self.record.get("source_run_id")


def is_model_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and (path / LOGGED_MODEL_JSON).is_file()


def model_dirs_in(base: Path) -> list[Path]:
    """The folders directly under ``base`` that hold a ``logged_model.json``."""
    if not base.is_dir() or base.is_symlink():
        return []
    return sorted(p for p in base.iterdir() if p.name != ARTIFACTS_DIR and is_model_dir(p))


def read_model_dir(path: Path) -> ExportedModel:
    """One LoggedModel folder, its record normalized and its files listed (symlinks refused)."""
    where = path / LOGGED_MODEL_JSON
    document = read_json(where, "logged model")
    try:
        record = normalize(document["mlflow"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ExportDirError(f"{where}: malformed logged model record ({exc})") from None
    root = path / ARTIFACTS_DIR
    return ExportedModel(record, root, walk_files(root))


def read_all(base: Path) -> list[ExportedModel]:
    return [read_model_dir(p) for p in model_dirs_in(base)]


def assign(
    found: list[ExportedModel], runs: set[str], named: set[str | None]
) -> tuple[dict[str, list[ExportedModel]], dict[str, ExportedModel], list[ExportedModel]]:
    """Sort an export-model directory's LoggedModels: a model whose run the export holds
    (``runs``) goes with that run; one a version names (``named``) stands alone for it; the
    others are taken by nothing, and the import says so."""
    with_runs: dict[str, list[ExportedModel]] = {}
    standalone, unclaimed = {}, []
    for model in found:
        if model.source_run_id in runs:
            with_runs.setdefault(model.source_run_id, []).append(model)
        elif model.model_id in named:
            standalone[model.model_id] = model
        else:
            unclaimed.append(model)
    return with_runs, standalone, unclaimed


def model_id_of(source: str | None) -> str | None:
    """The LoggedModel id of a ``models:/<model_id>`` source (not ``models:/<name>/<version>``)."""
    prefix = "models:/"
    if not source or not source.startswith(prefix):
        return None
    rest = source[len(prefix) :].strip("/")
    return rest if rest and "/" not in rest and "@" not in rest else None


def normalize(raw: dict[str, Any]) -> dict[str, Any]:
    """The reference tool's ``logged_model.json`` part as our export record."""
    model_id = raw.get("model_id")
    if not model_id or not isinstance(model_id, str):
        raise ValueError("model_id is missing")
    status = raw.get("status")
    return {
        "model_id": model_id,
        "name": raw.get("name"),
        "experiment_id": _str_or_none(raw.get("experiment_id")),
        "source_run_id": raw.get("source_run_id") or None,
        "model_type": raw.get("model_type") or None,
        "status": str(status).upper() if status else "READY",
        "status_message": raw.get("status_message") or None,
        "tags": _mapping(raw.get("tags")),
        "params": _mapping(raw.get("params")),
        "metrics": [_metric(m) for m in raw.get("metrics") or []],
        "artifact_location": raw.get("artifact_location"),
        "creation_timestamp": raw.get("creation_timestamp", raw.get("creation_time")),
        "last_updated_timestamp": raw.get("last_updated_timestamp"),
    }


def _metric(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": str(m["key"]),
        "value": float(m["value"]),
        "timestamp": int(m.get("timestamp") or 0),
        "step": int(m.get("step") or 0),
        "run_id": m.get("run_id") or None,
        "dataset_name": m.get("dataset_name"),
        "dataset_digest": m.get("dataset_digest"),
    }


def _mapping(items: Any) -> dict[str, str]:
    if not items:
        return {}
    if isinstance(items, dict):
        return {str(k): "" if v is None else str(v) for k, v in items.items()}
    return {str(i["key"]): "" if i.get("value") is None else str(i["value"]) for i in items}


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
