"""copy-model: a registered model with its versions and their runs, server to server.

The versions are chosen as export-model chooses them (:func:`.model_selection.select`)
and copied one after the other, in number order so that they keep their numbers, each as a deep
copy-model-version with its stage and aliases: streamed where the version allows it, through an
export of that version otherwise (:func:`.model_version.copy_version.deep`). A run shared by
several versions is copied once; a rerun adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from mlflow.entities import LifecycleStage
from mlflow.exceptions import MlflowException

from ..endpoint import Endpoint
from ..report import NO_PROGRESS, Progress, Report
from ..transfer import resilience
from ..transfer.engine import Engine
from . import lease, registered_model_lookup
from .model_selection import ModelSelection
from .model_selection import select as select_versions
from .model_version import VersionOptions, copy_version
from .registered_model import delete
from .run_source import LiveSource


def copy(
    live: LiveSource,
    dst: Endpoint,
    model: str,
    experiment_name: str,
    space: Callable[[], AbstractContextManager[Path]],
    engine: Engine,
    report: Report,
    selection: ModelSelection | None = None,
    *,
    dst_model: str | None = None,
    delete_model: bool = False,
    import_source_tags: bool = False,
    await_creation_for: int | None = None,
    wait: bool = False,
    skip_unsupported: bool = False,
    progress: Progress = NO_PROGRESS,
) -> str:
    """Copy source model ``model`` (its description, tags, and the selected versions with
    their runs into ``experiment_name``) to ``dst_model`` (default: the same name); return
    the destination model's name. ``delete_model`` deletes the destination model first.
    ``import_source_tags`` and ``await_creation_for`` are import-model's. The copy holds the
    destination model's lease, as import-model does: another import or copy of it in
    progress is refused, or waited for with ``wait``."""
    src = live.src
    selection = selection or ModelSelection()
    name = dst_model or model
    source = registered_model_lookup.record(src.client.get_registered_model(model))
    versions = select_versions(src.client, model, selection)
    if delete_model:
        delete(dst, name, report)
    registered_model_lookup.ensure(dst, name, source, report, source_tags=import_source_tags)
    held = lease.take(lease.on_registered_model(dst, name), report, wait=wait, note=progress.note)
    options = VersionOptions(
        import_source_tags=import_source_tags, await_creation_for=await_creation_for
    )
    progress.note(
        f"Model '{model}' -> '{name}': {len(versions)} versions; runs into experiment "
        f"'{experiment_name}'"
    )
    try:
        with resilience.one_line_when_gone((src, dst)):  # either server gone mid-way
            for mv in versions:
                if not selection.export_deleted_runs and _run_deleted(src, mv.run_id):
                    report.warn(
                        f"version {mv.version} of '{model}': its run {mv.run_id} is deleted; "
                        "add --export-deleted-runs to copy it"
                    )
                    continue
                copy_version.deep(
                    src,
                    dst,
                    model,
                    str(mv.version),
                    name,
                    experiment_name,
                    space,
                    engine,
                    report,
                    live=live,
                    options=options,
                    copy_lineage_tags=False,
                    skip_unsupported=skip_unsupported,
                    progress=progress,
                )
    finally:
        held.release()
    return name


def _run_deleted(src: Endpoint, run_id: str | None) -> bool:
    if not run_id:
        return False
    try:
        return src.client.get_run(run_id).info.lifecycle_stage == LifecycleStage.DELETED
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return False  # the version is copied from its own files, if it can be
        raise
