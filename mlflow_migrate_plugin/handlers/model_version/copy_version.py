"""copy-model-version (:func:`copy`): deep (the version's run and LoggedModel are copied too)
or shallow (the new version points at the source version's run, so both sides must share a
tracking server).

A deep copy is export-model-version and import-model-version through a temporary directory (one
code path); a shallow copy writes the version with the same VersionWriter as the imports, so
numbers, stages, aliases and reruns behave alike.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mlflow.exceptions import MlflowException

from ... import idmap
from ...context import Migration
from ...endpoint import Endpoint, redact
from ...errors import UsageError
from ...report import IMPORTED, SKIPPED, Report
from .. import registered_model_lookup as registered_model
from ..results import Imported
from ..version_source_uri import logged_model_id
from . import single as single_version
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
    ctx: Migration,
    src_model: str,
    src_version: str,
    dst_model: str,
    experiment_name: str,
    space: Path,
    *,
    copy_stages_and_aliases: bool,
    copy_lineage_tags: bool,
    skip_unsupported: bool = False,
) -> Imported:
    """Copy the version with its run (and LoggedModel) into ``experiment_name``: an export into
    ``space`` and an import from it."""
    src, dst = ctx.src, ctx.dst
    mv = get(src, src_model, src_version)
    single_version.export(
        ctx, src_model, src_version, space, export_version_model=not _run_exists(src, mv.run_id)
    )
    options = single_version.VersionImportOptions(
        create_model=True,
        import_stages_and_aliases=copy_stages_and_aliases,
        import_metadata=True,
        skip_unsupported=skip_unsupported,
    )
    result = single_version.import_(
        replace(ctx, options={**ctx.options, "model_version": options}),
        space,
        experiment_name,
        dst_model,
    )
    if copy_lineage_tags:
        _tag(dst, dst_model, result.destination_id, lineage_tags(src, mv))
    return result


def shallow(
    ctx: Migration,
    src_model: str,
    src_version: str,
    dst_model: str,
    *,
    copy_stages_and_aliases: bool,
    copy_lineage_tags: bool,
) -> Imported:
    """A new version of ``dst_model`` pointing at the source version's run and source."""
    src, dst, report = ctx.src, ctx.dst, ctx.report
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
        ctx.progress,
    )
    status = SKIPPED if writer.done(rec) is not None else IMPORTED
    try:
        model_id = mv.model_id or logged_model_id(mv.source)
        number = writer.write(rec, Target(mv.source, mv.run_id, model_id))
    except BaseException:
        undo(dst, dst_model, writer, created, [], {})
        raise
    return Imported("model_version", writer.key(rec), str(number), status)


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
    ctx: Migration,
    src_model: str,
    src_version: str,
    dst_model: str,
    space: Path,
    *,
    experiment_name: str | None = None,
    copy_stages_and_aliases: bool = False,
    copy_lineage_tags: bool = False,
    copy_permissions: bool = False,
    skip_unsupported: bool = False,
) -> Imported:
    """Copy version ``src_version`` of ``src_model`` (on ``ctx.src``) to a new version of
    ``dst_model`` (on ``ctx.dst``): deep into ``experiment_name`` if given, through ``space``,
    else shallow; then the model's permissions if asked."""
    if experiment_name:
        result = deep(
            ctx,
            src_model,
            src_version,
            dst_model,
            experiment_name,
            space,
            copy_stages_and_aliases=copy_stages_and_aliases,
            copy_lineage_tags=copy_lineage_tags,
            skip_unsupported=skip_unsupported,
        )
    else:
        result = shallow(
            ctx,
            src_model,
            src_version,
            dst_model,
            copy_stages_and_aliases=copy_stages_and_aliases,
            copy_lineage_tags=copy_lineage_tags,
        )
    if copy_permissions:
        _copy_permissions(ctx.src, src_model, ctx.dst, dst_model, ctx.report)
    return result
