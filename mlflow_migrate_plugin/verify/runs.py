"""Verify runs and LoggedModels: each destination counterpart against its source, by the rules
the import follows (handlers/run_tags.py, handlers/logged_model.py).

Compared: the run's status, times, lifecycle, name and user; params; tags; every metric point;
datasets; artifacts (size and sha256, MLmodel files parsed with their ids mapped); the parent
link and LoggedModel outputs and inputs, followed to the source ids they were imported from.
Not compared: the import's own ``mlflow_migrate.*`` tags (its completion mark excepted), and
what MLflow will not let a client set (ids, artifact locations; reported as info).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

from mlflow.utils.mlflow_tags import (
    MLFLOW_LOGGED_MODELS,
    MLFLOW_MODEL_VERSIONS,
    MLFLOW_PARENT_RUN_ID,
    MLFLOW_RUN_NAME,
    MLFLOW_USER,
)

from .. import idmap
from ..endpoint import Endpoint
from ..handlers.run_tags import SOURCE_USER
from ..report import NO_PROGRESS, Phase, Progress
from ..transfer.engine import Engine
from ..transfer.mlmodel import rewrite_history
from . import pairing, views
from .artifacts import digest_tree
from .diff import diff
from .findings import DUPLICATE, INFO, MISSING, Finding, ObjectResult, Verification

NOT_SETTABLE = "not settable through MLflow's API"


@dataclass
class Context:
    """Both sides, the pool, options and the result one verify call shares."""

    src: Endpoint
    dst: Endpoint
    engine: Engine
    result: Verification
    sizes_only: bool = False
    progress: Progress = NO_PROGRESS
    bytes_phase: Phase | None = None
    seen: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.ids = pairing.SourceIds(self.dst.client)

    def first_visit(self, key: str) -> bool:
        """True once per object: several versions may lead to one run or LoggedModel."""
        with self._lock:
            seen = key in self.seen
            self.seen.add(key)
        return not seen

    def artifacts(self, repo) -> dict:
        return digest_tree(repo, self.engine, self.sizes_only, self.bytes_phase)


def record_counterparts(
    ctx: Context, kind: str, source_id: str, counterparts: list, id_of
) -> ObjectResult:
    """The result entry of a source object, with ``missing`` or ``duplicate`` findings."""
    first = id_of(counterparts[0]) if counterparts else None
    result = ctx.result.add(kind, source_id, first)
    if not counterparts:
        result.findings.append(Finding(MISSING, note="no counterpart on the destination"))
    for extra in counterparts[1:]:
        result.findings.append(
            Finding(DUPLICATE, "id", first, id_of(extra), "a second counterpart")
        )
    return result


LEFTOVER = "an import discarded it (deleted, never completed); `mlflow gc` purges it"


def _without_leftovers(counterparts: list) -> tuple[list, list]:
    """The counterparts, and apart from them the discarded attempts: a copy an import gave up
    (in the deleted state, never completed) is no second copy of the run, whatever tag a
    cleanup refused by a busy server left on it."""

    def leftover(run) -> bool:
        return (
            run.info.lifecycle_stage == "deleted"
            and run.data.tags.get(idmap.STATE) != idmap.STATE_COMPLETE
        )

    kept = [r for i, r in enumerate(counterparts) if i == 0 or not leftover(r)]
    return kept, [r for r in counterparts[1:] if leftover(r)]


def verify_run(
    ctx: Context, source, counterparts: list, with_models: bool = True, histories=(None, None)
):
    """Compare source run ``source`` (a Run, or its id) with the first of its destination
    ``counterparts`` (Runs); ``histories`` may hold both sides' metric points, read in bulk."""
    source_id = source if isinstance(source, str) else source.info.run_id
    counterparts, leftovers = _without_leftovers(counterparts)
    result = record_counterparts(ctx, "run", source_id, counterparts, lambda r: r.info.run_id)
    for run in leftovers:
        result.findings.append(Finding(INFO, "leftover", None, run.info.run_id, LEFTOVER))
    if not counterparts:
        return result
    dst_id = counterparts[0].info.run_id
    ctx.ids.know_run(dst_id, source_id)
    src_histories, dst_histories = histories
    expected = _source_run(
        views.run_view(ctx.src, source, ctx.artifacts, ctx.engine, src_histories)
    )
    actual = _destination_run(
        ctx, views.run_view(ctx.dst, counterparts[0], ctx.artifacts, ctx.engine, dst_histories)
    )
    result.findings += diff(expected, actual)
    result.findings.append(Finding(INFO, "run_id", source_id, dst_id, NOT_SETTABLE))
    if with_models:
        src_run = ctx.src.client.get_run(source_id)
        dst_run = counterparts[0]
        verify_models(
            ctx,
            pairing.logged_models(ctx.src.client, src_run.info.experiment_id, source_id),
            pairing.logged_models(ctx.dst.client, dst_run.info.experiment_id, dst_id),
        )
    return result


def _source_run(view: dict) -> dict:
    """The run as the import must reproduce it."""
    tags = {k: v for k, v in view["tags"].items() if not k.startswith(idmap.PREFIX)}
    # The import takes the user from the tag first, and keeps the run name over the tag.
    view["info"]["user_id"] = tags.pop(MLFLOW_USER, None) or view["info"]["user_id"]
    if view["info"]["run_name"]:
        tags[MLFLOW_RUN_NAME] = view["info"]["run_name"]
    view["tags"] = tags
    view["import_state"] = idmap.STATE_COMPLETE
    return view


def _destination_run(ctx: Context, view: dict) -> dict:
    """The destination run in the source's terms: user as recorded, ids mapped back."""
    tags = view["tags"]
    view["import_state"] = tags.get(idmap.STATE)
    recorded_user = tags.get(SOURCE_USER)
    clean = {
        k: v for k, v in tags.items() if not k.startswith(idmap.PREFIX) or k == idmap.PENDING_PARENT
    }
    view["info"]["user_id"] = recorded_user or clean.get(MLFLOW_USER) or view["info"]["user_id"]
    clean.pop(MLFLOW_USER, None)
    if MLFLOW_PARENT_RUN_ID in clean:
        clean[MLFLOW_PARENT_RUN_ID] = ctx.ids.run(clean[MLFLOW_PARENT_RUN_ID])
    if MLFLOW_LOGGED_MODELS in clean:
        clean[MLFLOW_LOGGED_MODELS] = _history_in_source_ids(ctx, clean[MLFLOW_LOGGED_MODELS])
    view["tags"] = clean
    view["artifacts"] = map_mlmodels(ctx, view["artifacts"])
    view["model_outputs"] = sorted([ctx.ids.model(m), step] for m, step in view["model_outputs"])
    view["model_inputs"] = sorted(ctx.ids.model(m) for m in view["model_inputs"])
    return view


def _history_in_source_ids(ctx: Context, value: str) -> str:
    """The ``mlflow.log-model.history`` tag with the run and model ids the import rewrote
    mapped back to the source's (the text otherwise as it is)."""
    try:
        entries = json.loads(value)
    except ValueError:
        return value
    if not isinstance(entries, list):
        return value
    entries = [e for e in entries if isinstance(e, dict)]
    run_ids = {e["run_id"]: ctx.ids.run(e["run_id"]) for e in entries if e.get("run_id")}
    model_ids = {e["model_id"]: ctx.ids.model(e["model_id"]) for e in entries if e.get("model_id")}
    return rewrite_history(value, run_ids, model_ids) or value


def map_mlmodels(ctx: Context, files: dict) -> dict:
    """MLmodel documents with their run and model ids mapped back to source ids."""
    out = {}
    for path, value in files.items():
        if isinstance(value, dict) and "sha256" not in value and "size" not in value:
            value = dict(value)
            if "run_id" in value:
                value["run_id"] = ctx.ids.run(value["run_id"])
            if "model_uuid" in value and value.get("model_uuid") == value.get("model_id"):
                value["model_uuid"] = ctx.ids.model(value["model_uuid"])  # MLflow 3 sets both
            if "model_id" in value:
                value["model_id"] = ctx.ids.model(value["model_id"])
        out[path] = value
    return out


def verify_models(ctx: Context, src_models: list, dst_models: list, pool=None) -> None:
    """Pair LoggedModels by the source id recorded on the destination and compare each (on
    ``pool``, an executor, if given)."""
    by_source = pairing.models_by_source(dst_models)

    def one(model) -> None:
        verify_model_pair(ctx, model.model_id, by_source.get(model.model_id, []))

    list((pool.map if pool else map)(one, src_models))


def verify_model_pair(ctx: Context, source_id: str, counterparts: list) -> None:
    """Compare LoggedModel ``source_id`` with its first counterpart (once per verification)."""
    if not ctx.first_visit("model:" + source_id):
        return
    result = record_counterparts(ctx, "logged_model", source_id, counterparts, lambda m: m.model_id)
    if not counterparts:
        return
    dst_id = counterparts[0].model_id
    ctx.ids.know_model(dst_id, source_id)
    expected = views.logged_model_view(ctx.src, source_id, ctx.artifacts)
    actual = views.logged_model_view(ctx.dst, dst_id, ctx.artifacts)
    expected["tags"] = _model_tags(expected["tags"])
    state = actual["tags"].get(idmap.STATE)
    actual["tags"] = _model_tags(actual["tags"])
    if state is not None:  # a finished import removes it
        actual["import_state"] = state
    actual["source_run_id"] = ctx.ids.run(actual["source_run_id"])
    actual["metric_runs"] = sorted(ctx.ids.run(r) for r in actual["metric_runs"])
    actual["artifacts"] = map_mlmodels(ctx, actual["artifacts"])
    result.findings += diff(expected, actual)
    result.findings.append(Finding(INFO, "model_id", source_id, dst_id, NOT_SETTABLE))


def _model_tags(tags: dict) -> dict:
    # mlflow.modelVersions is kept by the registry (the versions registered from the model).
    return {
        k: v
        for k, v in tags.items()
        if not k.startswith(idmap.PREFIX) and k != MLFLOW_MODEL_VERSIONS
    }


def verify_single_run(ctx: Context, run_id: str, dst_experiment_name: str | None) -> None:
    """Compare run ``run_id`` with the run imported from it into ``dst_experiment_name``
    (default: the experiment of the same name as the source run's), and its LoggedModels."""
    from ..handlers.run import get_run

    run = get_run(ctx.src, run_id)
    name = dst_experiment_name or ctx.src.client.get_experiment(run.info.experiment_id).name
    experiment = ctx.dst.client.get_experiment_by_name(name)
    if experiment is None:
        result = ctx.result.add("run", run_id, None)
        result.findings.append(Finding(MISSING, note=f"no experiment '{name}' on the destination"))
        return
    counterparts = pairing.counterparts_of_run(ctx.dst.client, experiment.experiment_id, run_id)
    verify_run(ctx, run_id, counterparts)
