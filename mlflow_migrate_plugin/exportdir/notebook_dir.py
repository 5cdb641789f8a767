"""A run's Databricks notebook inside its export: ``artifacts/notebooks/`` and its manifest.

The notebook revision a run was logged from is saved next to the run's artifacts, one file per
format, named ``<notebook name>.<format in lower case>`` (``Train.source``, ``Train.html``,
``Train.jupyter``, ``Train.dbc``), with ``manifest.json`` beside them. mlflow-export-import writes
the same names and a manifest with the three ``mlflow.databricks.*`` keys; ours adds the
language and each file's size and sha256, so that the import can verify what it uploads.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ExportDirError
from .layout import (
    ARTIFACTS_DIR,
    FORMAT_NAME,
    FORMAT_VERSION,
    RUN_JSON,
    is_own_format,
    read_json,
    write_json,
)
from .paths import ArtifactFile, manifest_from, manifest_of, safe_join, verify_file

NOTEBOOKS_DIR = "notebooks"
MANIFEST = "manifest.json"
# The notebook tags, spelled as Databricks writes them (MLflow has a constant only for the path).
NOTEBOOK_PATH_TAG = "mlflow.databricks.notebookPath"
NOTEBOOK_REVISION_TAG = "mlflow.databricks.notebookRevisionID"
EXPORTED_REVISION_KEY = "mlflow.databricks.export-notebook-revision"


def file_name(notebook_path: str, fmt: str) -> str:
    """The file a format of the notebook at workspace path ``notebook_path`` is saved as."""
    name = posixpath.basename(notebook_path.rstrip("/"))
    if not name or name in (".", ".."):
        raise ExportDirError(f"notebook path {notebook_path!r} has no usable name")
    return f"{name}.{fmt.lower()}"


def artifact_path(name: str) -> str:
    """``name``'s path relative to the run's artifact root (how the run's manifest lists it)."""
    return f"{NOTEBOOKS_DIR}/{name}"


def notebooks_root(run_dir: str | Path) -> Path:
    return Path(run_dir) / ARTIFACTS_DIR / NOTEBOOKS_DIR


@dataclass
class NotebookManifest:
    """What ``manifest.json`` records: the notebook, its revision and the saved formats."""

    notebook_path: str
    revision_id: str
    language: str | None = None
    # format (SOURCE, HTML, ...) -> the saved file, its name relative to the notebooks folder
    files: dict[str, ArtifactFile] = field(default_factory=dict)
    file_types: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            NOTEBOOK_REVISION_TAG: self.revision_id,
            NOTEBOOK_PATH_TAG: self.notebook_path,
            EXPORTED_REVISION_KEY: self.revision_id,
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "language": self.language,
            "files": {
                fmt: {**entry.to_dict(), "file_type": self.file_types.get(fmt)}
                for fmt, entry in sorted(self.files.items())
            },
        }


def write_notebook(run_dir: str | Path, name: str, content: bytes) -> Path:
    """Write one saved format under the run's ``artifacts/notebooks/``; return its path."""
    root = notebooks_root(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    path = safe_join(root, name)
    path.write_bytes(content)
    return path


def write_manifest(run_dir: str | Path, manifest: NotebookManifest) -> Path:
    path = notebooks_root(run_dir) / MANIFEST
    write_json(path, manifest.to_dict())
    return path


def read_manifest(run_dir: str | Path) -> NotebookManifest | None:
    """The run's notebook manifest, in our format or mlflow-export-import's; None if absent."""
    root = notebooks_root(run_dir)
    path = root / MANIFEST
    if root.is_symlink() or path.is_symlink():
        raise ExportDirError(f"{path}: is a symlink; export files must be regular files")
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        notebook_path = document[NOTEBOOK_PATH_TAG]
        revision = document.get(NOTEBOOK_REVISION_TAG) or document.get(EXPORTED_REVISION_KEY)
        files = {
            fmt: ArtifactFile(entry["path"], int(entry["size"]), entry.get("sha256"))
            for fmt, entry in (document.get("files") or {}).items()
        }
        file_types = {
            fmt: entry.get("file_type") for fmt, entry in (document.get("files") or {}).items()
        }
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ExportDirError(f"{path}: not a notebook manifest ({exc})") from None
    return NotebookManifest(
        notebook_path, str(revision or ""), document.get("language"), files, file_types
    )


def source_file(run_dir: str | Path, manifest: NotebookManifest) -> Path | None:
    """The saved SOURCE format, checked against the manifest; None if it was not exported.

    mlflow-export-import's manifest lists no files: its SOURCE file is found by name.
    """
    root = notebooks_root(run_dir)
    entry = manifest.files.get("SOURCE")
    if entry is not None:
        return verify_file(root, entry)
    path = safe_join(root, file_name(manifest.notebook_path, "SOURCE"))
    return path if path.is_file() else None


def run_artifact_paths(run_dir: str | Path) -> set[str]:
    """The artifact paths the run's own manifest lists (what a notebook must not overwrite)."""
    document = read_json(Path(run_dir) / RUN_JSON, "run")
    files = ((document.get("info") or {}).get("artifacts") or {}).get("files") or []
    return {f.path for f in manifest_from(files)}


def add_to_run_manifest(run_dir: str | Path, files: list[ArtifactFile]) -> None:
    """List the saved notebook files in ``run.json``'s artifact manifest, so that the import
    verifies them and uploads them with the run's artifacts (as mlflow-export-import's import
    does with its ``artifacts/notebooks/``)."""
    path = Path(run_dir) / RUN_JSON
    document = read_json(path, "run")
    if not is_own_format(document):
        raise ExportDirError(f"{path}: not written by mlflow-migrate; cannot add notebooks")
    info = document.setdefault("info", {})
    listed = {f.path: f for f in manifest_from((info.get("artifacts") or {}).get("files") or [])}
    listed.update({f.path: f for f in files})
    info["artifacts"] = manifest_of(list(listed.values()))
    write_json(path, document)
