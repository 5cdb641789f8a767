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

from .fields import Where
from .layout import ARTIFACTS_DIR, read_json
from .paths import ArtifactFile, walk_files
from .record_types import LoggedModelRecord
from .records import logged_model_record

LOGGED_MODEL_JSON = "logged_model.json"


@dataclass
class ExportedModel:
    """A LoggedModel exported on its own folder: its record, artifact root and files."""

    record: LoggedModelRecord
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
    record = logged_model_record(Where(where, "mlflow"), document["mlflow"])
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
