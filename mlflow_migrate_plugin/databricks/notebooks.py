"""A run's Databricks notebook: the revision it was logged from, exported and imported.

Export (``--notebook-formats``), after the run itself is exported: the run's tags name the
notebook (``mlflow.databricks.notebookPath``) and the revision it ran
(``mlflow.databricks.notebookRevisionID``); that revision is saved in each requested format
under the run's ``artifacts/notebooks/`` (see :mod:`..exportdir.notebook_dir`) and listed in
the run's manifest, so the files are verified and travel as run artifacts on import. A
notebook in a Git folder has no revision: the run gets a warning, not a failure.

Import (``--dst-notebook-dir``): the SOURCE format goes into ``<dir>/<destination run id>/``
of the destination workspace, created if missing. Nothing links the imported run to it:
Databricks has no API for that.
"""

from __future__ import annotations

import base64
import posixpath
from pathlib import Path

from ..endpoint import Endpoint
from ..errors import UsageError
from ..exportdir import notebook_dir
from ..exportdir.paths import ArtifactFile, sha256_of
from ..report import Report
from .tags import warn_once
from .workspace import DatabricksCallError, call, ensure_folder

FORMATS = ("SOURCE", "HTML", "JUPYTER", "DBC")
# A SOURCE export's first line names its language (the manifest of an older export may not).
_SOURCE_HEADERS = {
    "# Databricks notebook source": "PYTHON",
    "// Databricks notebook source": "SCALA",
    "-- Databricks notebook source": "SQL",
}
# Tag set on the imported run, naming where its notebook went (ours; not an mlflow.* tag).
IMPORTED_NOTEBOOK_TAG = "mlflow_migrate.imported_notebook_path"


def parse_formats(formats: list[str] | None) -> list[str]:
    """Upper-case, de-duplicated formats; an unknown one is a usage error (before any work)."""
    result: list[str] = []
    for fmt in formats or []:
        value = fmt.strip().upper()
        if value not in FORMATS:
            raise UsageError(
                f"--notebook-formats: unknown format '{fmt}' (use {', '.join(FORMATS)})"
            )
        if value not in result:
            result.append(value)
    return result


def export_run_notebook(
    src: Endpoint, run_id: str, run_dir: str | Path, formats: list[str], report: Report
) -> list[ArtifactFile]:
    """Save the notebook revision of an exported run into its folder ``run_dir``, in ``formats``,
    and list the files in the run's manifest; return them (empty, with a warning, if none).

    A run that logged its own files under ``notebooks/`` keeps them: its notebook is not
    exported over them.
    """
    formats = parse_formats(formats)
    if not formats:
        return []
    if not src.is_databricks:
        warn_once(
            report,
            "--notebook-formats: notebooks are exported from a Databricks "
            "source only; nothing exported",
        )
        return []
    tags = src.client.get_run(run_id).data.tags
    path = tags.get(notebook_dir.NOTEBOOK_PATH_TAG)
    revision = tags.get(notebook_dir.NOTEBOOK_REVISION_TAG)
    if not path:
        report.warn(
            f"run {run_id}: not logged from a notebook (no tag "
            f"'{notebook_dir.NOTEBOOK_PATH_TAG}'); no notebook exported"
        )
        return []
    if not revision:
        report.warn(
            f"run {run_id}: notebook '{path}' has no revision (tag "
            f"'{notebook_dir.NOTEBOOK_REVISION_TAG}' is not set, as for a notebook in a "
            "Git folder); no notebook exported"
        )
        return []
    names = {fmt: notebook_dir.file_name(path, fmt) for fmt in formats}
    taken = notebook_dir.run_artifact_paths(run_dir)
    clash = sorted(
        p
        for p in [
            *map(notebook_dir.artifact_path, names.values()),
            notebook_dir.artifact_path(notebook_dir.MANIFEST),
        ]
        if p in taken
    )
    if clash:
        report.warn(
            f"run {run_id}: its own artifacts include {', '.join(clash)}; the notebook "
            "is not exported over them"
        )
        return []

    manifest = notebook_dir.NotebookManifest(path, revision, _language(src, path))
    for fmt in formats:
        try:
            content, file_type = _export(src, path, revision, fmt)
        except DatabricksCallError as exc:
            report.warn(
                f"run {run_id}: notebook '{path}' revision {revision} not exported as {fmt}: {exc}"
            )
            continue
        written = notebook_dir.write_notebook(run_dir, names[fmt], content)
        manifest.files[fmt] = ArtifactFile(names[fmt], len(content), sha256_of(written))
        manifest.file_types[fmt] = file_type
    if not manifest.files:
        return []
    manifest_path = notebook_dir.write_manifest(run_dir, manifest)
    files = [
        ArtifactFile(notebook_dir.artifact_path(e.path), e.size, e.sha256)
        for e in manifest.files.values()
    ]
    files.append(
        ArtifactFile(
            notebook_dir.artifact_path(notebook_dir.MANIFEST),
            manifest_path.stat().st_size,
            sha256_of(manifest_path),
        )
    )
    notebook_dir.add_to_run_manifest(run_dir, files)
    return files


def _export(src: Endpoint, path: str, revision: str, fmt: str) -> tuple[bytes, str | None]:
    # revision_timestamp selects the revision; the SDK's typed export() has no parameter for it,
    # so the documented endpoint is called with it through the SDK's API client.
    answer = call(
        src.workspace,
        "GET",
        "/api/2.0/workspace/export",
        f"workspace export of '{path}'",
        query={"path": path, "format": fmt, "revision_timestamp": revision},
    )
    return base64.b64decode(answer.get("content") or ""), answer.get("file_type")


def _language(src: Endpoint, path: str) -> str | None:
    try:
        status = call(
            src.workspace,
            "GET",
            "/api/2.0/workspace/get-status",
            f"status of '{path}'",
            query={"path": path},
        )
    except DatabricksCallError:
        return None  # deleted since; the SOURCE file's header still tells the language
    return status.get("language")


def import_run_notebook(
    dst: Endpoint, run_dir: str | Path, dst_run_id: str, notebook_parent: str | None, report: Report
) -> str | None:
    """Import the run's SOURCE notebook into ``<notebook_parent>/<dst_run_id>/``.

    Returns the workspace path, or None (with a warning) when there is nothing to import. Reruns
    overwrite the same path, so they never duplicate.
    """
    if not notebook_parent:
        return None
    if not dst.is_databricks:
        warn_once(
            report,
            "--dst-notebook-dir: notebooks are imported into a Databricks "
            "destination only; skipped",
        )
        return None
    manifest = notebook_dir.read_manifest(run_dir)
    source = notebook_dir.source_file(run_dir, manifest) if manifest else None
    if source is None:
        report.warn(
            f"{run_dir}: no SOURCE notebook in the export (export with "
            "--notebook-formats SOURCE); no notebook imported"
        )
        return None
    content = source.read_bytes()
    folder = posixpath.join(notebook_parent.rstrip("/") or "/", dst_run_id)
    target = posixpath.join(folder, posixpath.basename(manifest.notebook_path.rstrip("/")))
    ensure_folder(dst, folder)
    call(
        dst.workspace,
        "POST",
        "/api/2.0/workspace/import",
        f"cannot import notebook '{target}' on {dst.display}",
        body={
            "path": target,
            "format": "SOURCE",
            "overwrite": True,
            "language": manifest.language or _language_of(content),
            "content": base64.b64encode(content).decode("ascii"),
        },
    )
    _tag_run(dst, dst_run_id, target, report)
    return target


def _language_of(content: bytes) -> str:
    first = content.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    return _SOURCE_HEADERS.get(first, "PYTHON")


def _tag_run(dst: Endpoint, run_id: str, notebook_path: str, report: Report) -> None:
    """Record on the run where its notebook went (a deleted run refuses tags: it gets none)."""
    from mlflow.entities import LifecycleStage
    from mlflow.exceptions import MlflowException

    try:
        if dst.client.get_run(run_id).info.lifecycle_stage == LifecycleStage.DELETED:
            return
        dst.client.set_tag(run_id, IMPORTED_NOTEBOOK_TAG, notebook_path)
    except MlflowException as exc:
        report.warn(
            f"run {run_id}: notebook imported to '{notebook_path}', but tag "
            f"'{IMPORTED_NOTEBOOK_TAG}' could not be set ({exc.message})"
        )
