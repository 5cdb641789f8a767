"""Verify an experiment: its name, lifecycle and tags, every run (paired by the source run id
each imported run carries), every LoggedModel, trace and evaluation dataset of the experiment."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from mlflow.entities import ViewType

from .. import capabilities, idmap
from ..handlers import experiment as experiment_handler
from ..transfer import resilience
from . import pairing, views
from .datasets import verify_datasets
from .diff import diff
from .findings import INFO, MISSING, Finding
from .metric_history import BULK_MAX_RUNS, MetricHistories
from .runs import NOT_SETTABLE, Context, verify_models, verify_run
from .traces import verify_traces


def verify_experiment(
    ctx: Context,
    experiment: str,
    dst_experiment_name: str | None,
    *,
    include_deleted_runs: bool = False,
    traces: bool = True,
    workers: int = 1,
) -> None:
    """Compare source ``experiment`` (name or id) with the destination experiment of the same
    name (or ``dst_experiment_name``), run by run. Deleted source runs are compared only with
    ``include_deleted_runs`` (export-experiment leaves them out by default). Then its traces
    (unless ``traces`` is false) and its evaluation datasets."""
    src_exp = experiment_handler.get(ctx.src, experiment)
    dst_name = dst_experiment_name or src_exp.name
    dst_exp = ctx.dst.client.get_experiment_by_name(dst_name)
    result = ctx.result.add("experiment", src_exp.name, dst_name if dst_exp else None)
    if dst_exp is None:
        result.findings.append(Finding(MISSING, note=f"no experiment '{dst_name}'"))
        return
    expected, actual = views.experiment_view(src_exp), views.experiment_view(dst_exp)
    expected["name"] = dst_name  # the name is the one asked for
    for view in (expected, actual):
        view["tags"] = {k: v for k, v in view["tags"].items() if not k.startswith(idmap.PREFIX)}
    result.findings += diff(expected, actual)
    result.findings.append(
        Finding(INFO, "experiment_id", src_exp.experiment_id, dst_exp.experiment_id, NOT_SETTABLE)
    )

    view_type = ViewType.ALL if include_deleted_runs else ViewType.ACTIVE_ONLY
    src_runs = pairing.all_runs(ctx.src.client, src_exp.experiment_id, view_type)
    dst_runs = pairing.all_runs(ctx.dst.client, dst_exp.experiment_id)
    counterparts = pairing.runs_by_source(dst_runs)
    for source_id, runs in counterparts.items():
        ctx.ids.know_run(runs[0].info.run_id, source_id)
    phase = ctx.progress.phase("Verifying runs", len(src_runs), "runs")
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="mlflow-migrate-verify") as pool:
        # A batch at a time: both sides' metric histories are read in bulk for the batch.
        for batch in _chunks(src_runs, BULK_MAX_RUNS):
            histories = MetricHistories(ctx.src), MetricHistories(ctx.dst)
            histories[0].prefetch(batch, ctx.engine)
            paired = [
                counterparts[r.info.run_id][0] for r in batch if r.info.run_id in counterparts
            ]
            histories[1].prefetch(paired, ctx.engine)

            def one(run, histories=histories) -> None:
                found = counterparts.get(run.info.run_id, [])
                verify_run(ctx, run, found, with_models=False, histories=histories)
                phase.advance()

            list(pool.map(resilience.guarded((ctx.src, ctx.dst), one), batch))
        phase.close()
        selected = {run.info.run_id for run in src_runs}
        src_models = [
            m
            for m in pairing.logged_models(ctx.src.client, src_exp.experiment_id)
            if not m.source_run_id or m.source_run_id in selected
        ]
        dst_models = pairing.logged_models(ctx.dst.client, dst_exp.experiment_id)
        verify_models(ctx, src_models, dst_models, pool)

    trace_ids: dict[str, str] = {}
    if traces and ctx.src.supports(capabilities.TRACES) and ctx.dst.supports(capabilities.TRACES):
        trace_ids = verify_traces(ctx, src_exp.experiment_id, dst_exp.experiment_id, result)
    verify_datasets(ctx, src_exp.experiment_id, dst_exp.experiment_id, trace_ids)

    unpaired = [r.info.run_id for r in dst_runs if idmap.SOURCE_RUN_ID not in r.data.tags]
    if unpaired:
        result.findings.append(
            Finding(INFO, "runs", None, unpaired, "on the destination only (not imported)")
        )


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]
