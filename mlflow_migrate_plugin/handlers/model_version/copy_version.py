"""copy-model-version (:func:`copy`): deep (the version's run and LoggedModel are copied too)
or shallow (the new version points at the source version's run, so both sides must share a
tracking server).

A deep copy streams the version's run from the source (:mod:`.streamed`), or, for a version
that needs more than its run (or when an export directory is to be kept), is export-model-version
and import-model-version through a directory; a shallow copy writes the version with the same
VersionWriter as the imports, so numbers, stages, aliases and reruns behave alike.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from mlflow.exceptions import MlflowException

from ... import idmap
from ...context import Migration
from ...endpoint import Endpoint, redact
from ...errors import UsageError
from ...report import NO_PROGRESS, Progress, Report
from ...transfer import resilience
from ...transfer.engine import Engine
from .. import registered_model_lookup as registered_model
from ..run_source import LiveSource
from ..version_source_uri import logged_model_id
from . import single as single_version
from . import streamed
from .runs import undo
from .writer import Target, VersionOptions, VersionWriter, get, record

LINEAGE_PREFIX = idmap.PREFIX + "lineage."


def lineage_tags(src: Endpoint, mv) -> dict[str, str]:
    """Where the copy came from, as tags of the new version; URIs without credentials."""
    tags = {
        "source_model": mv.name,
        "source_version": str(mv.version),
        "source_run_id": mv.run_id or "",
        "source_tracking_uri": redact(src.tracking_uri),
        "source_registry_uri": redact(src.registry_uri),
        "source_user_id": mv.user_id or "",
    }
    return {LINEAGE_PREFIX + k: v for k, v in tags.items() if v}


def deep(
    src: Endpoint,
    dst: Endpoint,
    src_model: str,
    src_version: str,
    dst_model: str,
    experiment_name: str,
    space: Callable[[], AbstractContextManager[Path]],
    engine: Engine,
    report: Report,
    *,
    live: LiveSource | None = None,
    options: VersionOptions,
    copy_lineage_tags: bool,
    skip_unsupported: bool = False,
    progress: Progress = NO_PROGRESS,
) -> str | None:
    """Copy the version with its run (and LoggedModel) into ``experiment_name``; return the new
    version number. Streamed from ``live`` when the version allows it, else exported into
    ``space()`` and imported from there; ``options`` (stages and aliases, source tags, how long
    to await the version) apply to both ways alike."""
    mv = get(src, src_model, src_version)
    number = None
    if live is not None:
        number = streamed.copy(
            live,
            dst,
            src_model,
            src_version,
            dst_model,
            experiment_name,
            engine,
            report,
            options=options,
            skip_unsupported=skip_unsupported,
            progress=progress,
        )
    if number is None:
        number = _staged(
            src,
            dst,
            mv,
            dst_model,
            experiment_name,
            space,
            engine,
            report,
            options=options,
            skip_unsupported=skip_unsupported,
            progress=progress,
        )
    if number is not None and copy_lineage_tags:
        _tag(dst, dst_model, number, lineage_tags(src, mv))
    return number


def _staged(
    src, dst, mv, dst_model, experiment_name, space, engine, report, **options
) -> str | None:
    """The deep copy through an export directory: export-model-version, import-model-version."""
    with space() as path:
        return _through(src, dst, mv, dst_model, experiment_name, path, engine, report, **options)


def _through(
    src,
    dst,
    mv,
    dst_model,
    experiment_name,
    space,
    engine,
    report,
    *,
    options: VersionOptions,
    skip_unsupported,
    progress,
) -> str | None:
    src_model, src_version = mv.name, str(mv.version)
    ctx = Migration(
        engine,
        report,
        src=src,
        dst=dst,
        progress=progress,
        options={
            "model_version": single_version.VersionImportOptions(
                create_model=True,
                import_source_tags=options.import_source_tags,
                import_stages_and_aliases=options.stages_and_aliases,
                import_metadata=True,
                skip_unsupported=skip_unsupported,
                await_creation_for=options.await_creation_for,
            )
        },
    )
    single_version.export(
        ctx, src_model, src_version, space, export_version_model=not _run_exists(src, mv.run_id)
    )
    return single_version.import_(ctx, space, experiment_name, dst_model).destination_id


def shallow(
    src: Endpoint,
    dst: Endpoint,
    src_model: str,
    src_version: str,
    dst_model: str,
    report: Report,
    *,
    copy_stages_and_aliases: bool,
    copy_lineage_tags: bool,
    progress: Progress = NO_PROGRESS,
) -> str:
    """A new version of ``dst_model`` pointing at the source version's run and source."""
    if not src.same_server_as(dst):
        raise UsageError(
            "without --dst-experiment-name the copy is shallow: the new version points at the "
            "source version's run, which only works when source and destination share a "
            f"tracking server ({src.display} is not {dst.display}); give --dst-experiment-name "
            "to copy the run too"
        )
    mv = get(src, src_model, src_version)
    model_rec = registered_model.record(src.client.get_registered_model(src_model))
    aliases = [a for a, v in model_rec["aliases"].items() if str(v) == str(mv.version)]
    rec = record(mv, aliases)
    if copy_lineage_tags:
        rec["tags"] = {**(rec.get("tags") or {}), **lineage_tags(src, mv)}
    created = registered_model.ensure(dst, dst_model, model_rec, report)
    writer = VersionWriter(
        dst,
        dst_model,
        src_model,
        report,
        VersionOptions(stages_and_aliases=copy_stages_and_aliases),
        progress,
    )
    try:
        model_id = mv.model_id or logged_model_id(mv.source)
        return writer.write(rec, Target(mv.source, mv.run_id, model_id))
    except BaseException as exc:
        gone = resilience.gone_error(dst, exc)  # then the cleanup tries once each
        undo(dst, dst_model, writer, created, [], {})
        if gone is not None:
            raise gone from exc
        raise


def _copy_permissions(
    src: Endpoint, src_model: str, dst: Endpoint, dst_model: str, report: Report
) -> None:
    """The source model's ACL or Unity Catalog grants onto the destination model (Databricks)."""
    if not (src.is_databricks or src.registry_is_unity_catalog) or not (
        dst.is_databricks or dst.registry_is_unity_catalog
    ):
        report.warn(
            "--copy-permissions: permissions are copied between Databricks servers "
            "only; none copied"
        )
        return
    from ...databricks import permissions

    permissions.import_model_permissions(
        dst, dst_model, permissions.export_model_permissions(src, src_model), report
    )


def _run_exists(src: Endpoint, run_id: str | None) -> bool:
    if not run_id:
        return False
    try:
        src.client.get_run(run_id)
        return True
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return False
        raise


def _tag(dst: Endpoint, name: str, version: str, tags: dict[str, str]) -> None:
    for key, value in tags.items():
        dst.client.set_model_version_tag(name, version, key, value)


def copy(
    src: Endpoint,
    dst: Endpoint,
    src_model: str,
    src_version: str,
    dst_model: str,
    space: Callable[[], AbstractContextManager[Path]],
    engine: Engine,
    report: Report,
    *,
    live: LiveSource | None = None,
    experiment_name: str | None = None,
    copy_stages_and_aliases: bool = False,
    copy_lineage_tags: bool = False,
    copy_permissions: bool = False,
    skip_unsupported: bool = False,
    progress: Progress = NO_PROGRESS,
) -> str | None:
    """Copy the version: deep into ``experiment_name`` if given (streamed from ``live`` where
    it can be, else through ``space()``), else shallow; then the model's permissions if asked.
    Return the new version number."""
    if experiment_name:
        number = deep(
            src,
            dst,
            src_model,
            src_version,
            dst_model,
            experiment_name,
            space,
            engine,
            report,
            live=live,
            options=VersionOptions(stages_and_aliases=copy_stages_and_aliases),
            copy_lineage_tags=copy_lineage_tags,
            skip_unsupported=skip_unsupported,
            progress=progress,
        )
    else:
        number = shallow(
            src,
            dst,
            src_model,
            src_version,
            dst_model,
            report,
            copy_stages_and_aliases=copy_stages_and_aliases,
            copy_lineage_tags=copy_lineage_tags,
            progress=progress,
        )
    if copy_permissions:
        _copy_permissions(src, src_model, dst, dst_model, report)
    return number
