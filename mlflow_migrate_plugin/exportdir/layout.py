"""File names, JSON envelopes and the format version of an export directory.

Every JSON file has three parts: ``system`` (who wrote it and in what format), ``info`` (facts
about the export: counts, the artifact manifest, where the metric history is) and ``mlflow`` (the
object as MLflow shows it, built from public properties). mlflow-export-import writes the same
envelope, with ``system.export_file_version`` and no ``system.format``; both are read.
"""

from __future__ import annotations

import getpass
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import ExportDirError

RUN_JSON = "run.json"
EXPERIMENT_JSON = "experiment.json"
MODEL_JSON = "model.json"
VERSION_JSON = "version.json"
ARTIFACTS_DIR = "artifacts"
METRICS_FILE = "metrics.jsonl"
LOGGED_MODELS_DIR = "logged_models"
RUNS_DIR = "runs"

FORMAT_NAME = "mlflow-migrate"
FORMAT_VERSION = 1
# export_file_version values written by mlflow-export-import that we know how to read.
REFERENCE_FILE_VERSIONS = {None, "1", "2"}

# The largest JSON record file read. Ours hold no metric history (that is in metrics.jsonl) and
# stay small; mlflow-export-import's run.json holds its history inline, about 100 bytes a point,
# so 64 MiB is some 600,000 points. json.load holds the text and the objects built from it,
# about three times the file: a larger file is refused before it is read.
MAX_RECORD_ENV = "MLFLOW_MIGRATE_MAX_RECORD_BYTES"
MAX_RECORD_BYTES = 64 << 20


def system_part(script: str, source_uri: str | None) -> dict[str, Any]:
    """Provenance of an export. Never holds a secret: the URI comes in already redacted."""
    import mlflow

    from .. import __version__

    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "script": script,
        "export_time": int(time.time()),
        "mlflow_version": mlflow.__version__,
        "mlflow_tracking_uri": source_uri,
        "platform": {"python_version": platform.python_version(), "system": platform.system()},
        "user": current_user(),
    }


def current_user() -> str:
    """The local user's name, or "unknown" (as MLflow names the user of a run it starts) where
    the system has none for this process (no passwd entry in some containers)."""
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def existing_dir(path: str | os.PathLike) -> Path:
    """``path``, an export directory to read; an error that says what is wrong if it is not one."""
    path = Path(path)
    if not path.exists():
        raise ExportDirError(f"{path}: does not exist")
    if not path.is_dir():
        raise ExportDirError(f"{path}: not a directory")
    return path


def write_json(path: str | os.PathLike, document: dict[str, Any]) -> None:
    """Write atomically: a reader never sees half a file, and a crash leaves the old one or none."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=2, ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: str | os.PathLike, what: str) -> dict[str, Any]:
    """Read one of the export's JSON files, checking its envelope and format version."""
    path = Path(path)
    if path.is_symlink():
        raise ExportDirError(f"{path}: is a symlink; export files must be regular files")
    if not path.is_file():
        raise ExportDirError(
            f"{path}: not found; is '{path.parent}' a {what} export directory "
            "(or was the export interrupted)?"
        )
    limit = limit_from_env(MAX_RECORD_ENV, MAX_RECORD_BYTES)
    size = path.stat().st_size
    if size > limit:
        raise ExportDirError(
            f"{path}: {size} bytes, more than the {limit} an export record may have; not "
            f"read (a larger limit can be set with {MAX_RECORD_ENV})"
        )
    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportDirError(f"{path}: not valid JSON ({exc}); the file is corrupt") from None
    if not isinstance(document, dict) or not isinstance(document.get("mlflow"), dict):
        raise ExportDirError(f"{path}: has no 'mlflow' part; not a {what} export file")
    for part in ("system", "info"):
        if document.get(part) is not None and not isinstance(document[part], dict):
            raise ExportDirError(f"{path}: {part}: expected an object, got {document[part]!r:.60}")
    check_format(path, document.get("system") or {})
    return document


def limit_from_env(env: str, default: int) -> int:
    """A size limit in bytes: ``default``, or the environment variable ``env`` when set."""
    value = os.environ.get(env, "").strip()
    if not value:
        return default
    try:
        limit = int(value)
    except ValueError:
        raise ExportDirError(f"{env}={value!r}: expected a number of bytes") from None
    if limit <= 0:
        raise ExportDirError(f"{env}={value!r}: expected a positive number of bytes")
    return limit


def check_format(path: Path, system: dict[str, Any]) -> None:
    if "format" in system:
        if system["format"] != FORMAT_NAME:
            raise ExportDirError(
                f"{path}: system.format: unknown export format {system['format']!r}"
            )
        version = system.get("format_version")
        if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
            raise ExportDirError(
                f"{path}: system.format_version: format version {version!r} is not supported "
                f"by this release (it reads versions 1 to {FORMAT_VERSION}); upgrade mlflow-migrate"
            )
        return
    version = system.get("export_file_version")
    if version is not None:
        version = str(version)
    if version not in REFERENCE_FILE_VERSIONS:
        raise ExportDirError(
            f"{path}: system.export_file_version: mlflow-export-import file version "
            f"{version!r} is not supported "
            f"(known: {', '.join(sorted(v for v in REFERENCE_FILE_VERSIONS if v))})"
        )


def is_own_format(document: dict[str, Any]) -> bool:
    return (document.get("system") or {}).get("format") == FORMAT_NAME
