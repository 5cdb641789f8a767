"""export-logged-model's directory: one MLflow 3 LoggedModel on its own.

::

    <dir>/artifacts/...          the model's files
    <dir>/logged_model.json      the model (as a run's export records it) and, in ``info``, the
                                 manifest of its files (size and sha256); written last

mlflow-export-import's export-logged-model writes the same two names (without a manifest), so
either imports.
"""

from __future__ import annotations

from pathlib import Path

from .fields import Where
from .layout import ARTIFACTS_DIR, existing_dir, is_own_format, read_json, write_json
from .paths import ArtifactFile, manifest_from, manifest_of, walk_files
from .records import logged_model_record, manifest
from .reference_models import LOGGED_MODEL_JSON, ExportedModel


def artifacts_root(path: str | Path) -> Path:
    """Where the model's files go, the record file removed until :func:`write` (an interrupted
    export is not taken for a complete one)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / LOGGED_MODEL_JSON).unlink(missing_ok=True)
    return path / ARTIFACTS_DIR


def write(path: str | Path, system: dict, record: dict, files: list[ArtifactFile]) -> None:
    write_json(
        Path(path) / LOGGED_MODEL_JSON,
        {"system": system, "info": {"artifacts": manifest_of(files)}, "mlflow": record},
    )


def read(path: str | Path) -> ExportedModel:
    """The model a directory holds, its record checked field by field, and its files (as the
    manifest lists them; the reference tool's as found on disk, symlinks refused)."""
    path = existing_dir(path)
    file = path / LOGGED_MODEL_JSON
    document = read_json(file, "logged model")
    record = logged_model_record(Where(file, "mlflow"), document["mlflow"])
    root = path / ARTIFACTS_DIR
    if is_own_format(document):
        listed = manifest(Where(file, "info") / "artifacts", document["info"].get("artifacts"))
        files = manifest_from(listed.get("files") or [])
    else:
        files = walk_files(root)
    return ExportedModel(record, root, files)
