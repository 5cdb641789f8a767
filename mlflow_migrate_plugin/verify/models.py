"""Verify registered models and model versions: the model's description, tags and aliases;
each version (paired by the source version the import recorded on it) with its number, source,
stage, aliases, tags, description and status, and the run and LoggedModel it points at."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from mlflow.exceptions import MlflowException

from .. import idmap
from ..errors import NotFoundError
from ..handlers.model_version import all_versions, get
from ..transfer import resilience
from . import pairing, views
from .diff import diff
from .findings import INFO, MISSING, Finding
from .runs import Context, record_counterparts, verify_model_pair, verify_run

NUMBER_NOTE = "the version number was given, not kept"


def get_model(endpoint, name: str):
    try:
        return endpoint.client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise NotFoundError(
                f"registered model '{name}' not found on {endpoint.display}"
            ) from None
        raise


def verify_registered_model(
    ctx: Context,
    name: str,
    dst_name: str | None,
    *,
    stages_and_aliases: bool = True,
    workers: int = 1,
) -> None:
    """Compare registered model ``name`` with ``dst_name`` (default: the same name) and every
    live version of it with its counterpart."""
    src_model = get_model(ctx.src, name)
    dst_name = dst_name or name
    result = ctx.result.add("registered_model", name, dst_name)
    try:
        dst_model = ctx.dst.client.get_registered_model(dst_name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        result.destination_id = None
        result.findings.append(Finding(MISSING, note=f"no registered model '{dst_name}'"))
        return
    expected = views.registered_model_view(src_model)
    actual = views.registered_model_view(dst_model)
    for view in (expected, actual):
        view["tags"] = _without_markers(view["tags"])
        if not stages_and_aliases:
            del view["aliases"]
    result.findings += diff(expected, actual)

    src_versions = all_versions(ctx.src.client, name)
    dst_versions = all_versions(ctx.dst.client, dst_name)
    by_source = pairing.versions_by_source(dst_versions, name)
    paired = {mv.version for group in by_source.values() for mv in group}
    unpaired = [mv.version for mv in dst_versions if mv.version not in paired]
    if unpaired:
        result.findings.append(
            Finding(INFO, "versions", None, unpaired, "on the destination only (not imported)")
        )
    phase = ctx.progress.phase("Verifying versions", len(src_versions), "versions")

    def one(mv) -> None:
        verify_version(
            ctx, mv, dst_name, by_source.get(mv.version, []), stages_and_aliases=stages_and_aliases
        )
        phase.advance()

    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="mlflow-migrate-verify") as pool:
        list(pool.map(resilience.guarded((ctx.src, ctx.dst), one), src_versions))
    phase.close()


def verify_single_version(
    ctx: Context,
    name: str,
    version: str,
    dst_name: str | None,
    dst_version: str | None = None,
    *,
    stages_and_aliases: bool = True,
) -> None:
    """Compare one version with its counterpart in ``dst_name``: the version ``dst_version``
    if given, else the one the import recorded as coming from it."""
    mv = get(ctx.src, name, version)
    dst_name = dst_name or name
    if dst_version is not None:
        counterparts = [get(ctx.dst, dst_name, dst_version)]
    else:
        try:
            dst_versions = all_versions(ctx.dst.client, dst_name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            dst_versions = []
        counterparts = pairing.versions_by_source(dst_versions, name).get(mv.version, [])
    verify_version(
        ctx,
        mv,
        dst_name,
        counterparts,
        stages_and_aliases=stages_and_aliases,
        number_given=dst_version is not None,
    )


def verify_version(
    ctx: Context,
    mv,
    dst_name: str,
    counterparts: list,
    *,
    stages_and_aliases: bool = True,
    number_given: bool = False,
) -> None:
    """Compare version ``mv`` with the first of its ``counterparts``, then its run and model."""
    source_id = idmap.model_version_key(mv.name, mv.version)
    result = record_counterparts(
        ctx, "model_version", source_id, counterparts, lambda v: f"{dst_name}/{v.version}"
    )
    if not counterparts:
        return
    # Searches list versions without their aliases: read each version whole.
    mv = ctx.src.client.get_model_version(mv.name, mv.version)
    dst_mv = ctx.dst.client.get_model_version(dst_name, counterparts[0].version)
    expected, actual = views.version_view(ctx.src, mv), views.version_view(ctx.dst, dst_mv)
    state = actual["tags"].get(idmap.STATE)
    for view in (expected, actual):
        view["tags"] = _without_markers(view["tags"])
        if not stages_and_aliases:
            del view["stage"], view["aliases"]
    if state not in (None, idmap.STATE_COMPLETE):
        actual["import_state"] = state
    actual["run_id"] = ctx.ids.run(actual["run_id"])
    actual["model_id"] = ctx.ids.model(actual["model_id"])
    actual["source"] = _source_as_source_ids(ctx, actual["source"])
    if number_given:
        if expected["version"] != actual["version"]:
            result.findings.append(
                Finding(INFO, "version", expected["version"], actual["version"], NUMBER_NOTE)
            )
        del expected["version"], actual["version"]
    result.findings += diff(expected, actual)

    # What the version points at, compared once however many versions point at it.
    src_run = views.run_or_none(ctx.src.client, mv.run_id)
    # A shallow copy points at the source run itself: nothing was copied to compare.
    itself = ctx.src.same_server_as(ctx.dst) and dst_mv.run_id == mv.run_id
    if src_run is not None and actual["run_id"] == mv.run_id and dst_mv.run_id and not itself:
        if ctx.first_visit("run:" + mv.run_id):
            dst_run = ctx.dst.client.get_run(dst_mv.run_id)
            verify_run(ctx, mv.run_id, [dst_run])
    model_id = expected["model_id"]
    if model_id and actual["model_id"] == model_id and dst_mv.model_id:
        verify_model_pair(ctx, model_id, [ctx.dst.client.get_logged_model(dst_mv.model_id)])


def _source_as_source_ids(ctx: Context, parts: list) -> list:
    if parts[0] == "logged_model":
        return [parts[0], ctx.ids.model(parts[1])]
    if parts[0] in ("runs", "run_artifact"):
        return [parts[0], ctx.ids.run(parts[1]), parts[2]]
    return parts


def _without_markers(tags: dict) -> dict:
    return {k: v for k, v in tags.items() if not k.startswith(idmap.PREFIX)}
