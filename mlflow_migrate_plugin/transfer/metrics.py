"""Metric histories: every point with its step and timestamp, paged out and batched in.

Reading uses MLflow's metric-history call per key, page by page, several keys at once (MLflow's
bulk-interval endpoint samples and would lose points). Writing uses ``log_batch`` with MLflow's
batch limit, several batches at once; points are streamed, never held for the whole run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from mlflow.entities import Metric, Param, RunTag
from mlflow.store.tracking import GET_METRIC_HISTORY_MAX_RESULTS
from mlflow.utils.validation import MAX_METRICS_PER_BATCH

from ..exportdir.run_dir import MetricsWriter
from ..report import NO_PROGRESS, Phase
from .engine import Task

# Maps a point to (model_id, dataset_name, dataset_digest) when it also belongs to a LoggedModel.
ModelLink = Callable[[dict], "tuple[str, str | None, str | None] | None"]

BATCH_SIZE = MAX_METRICS_PER_BATCH
HISTORY_PAGE_SIZE = GET_METRIC_HISTORY_MAX_RESULTS  # what MlflowClient itself asks per page


def export_tasks(
    client, run_id: str, keys: Iterable[str], writer: MetricsWriter, phase: Phase | None = None
) -> Iterator[Task]:
    phase = phase or NO_PROGRESS.phase("", None)
    for key in keys:
        yield _export_task(client, run_id, key, writer, phase)


def _export_task(client, run_id: str, key: str, writer: MetricsWriter, phase: Phase) -> Task:
    def task() -> int:
        count = 0
        for page in history_pages(client, run_id, key):
            writer.write(
                [
                    {"key": key, "value": m.value, "timestamp": m.timestamp, "step": m.step}
                    for m in page
                ]
            )
            phase.advance(len(page))
            count += len(page)
        return count

    return task


def history_pages(
    client, run_id: str, key: str, page_size: int | None = None, token: str | None = None
) -> Iterator[Sequence[Metric]]:
    """One key's history, page by page, so that a key of millions of points is never held whole.

    ``MlflowClient.get_metric_history`` gathers every page of its store into one list; this walks
    the same store calls (``max_results`` and ``page_token``, MLflow's own page size) and hands
    each page on, from ``token`` (a page's ``token``) when given. A client without that store
    falls back to the whole list.
    """
    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    if store is None:
        yield client.get_metric_history(run_id, key)
        return
    page_size = page_size or HISTORY_PAGE_SIZE
    while True:
        page = store.get_metric_history(run_id, key, max_results=page_size, page_token=token)
        yield page
        token = getattr(page, "token", None)
        if not token:
            return


def import_tasks(
    client,
    run_id: str,
    batches: Iterable[list[dict]],
    link: ModelLink | None = None,
    phase: Phase | None = None,
    *,
    params: Sequence[Param] = (),
    tags: Sequence[RunTag] = (),
) -> Iterator[Task]:
    """Tasks that log one batch of points each. ``params`` and ``tags`` go with the first batch;
    the caller keeps that call within MLflow's limits (``MAX_ENTITIES_PER_BATCH``)."""
    phase = phase or NO_PROGRESS.phase("", None)
    for i, batch in enumerate(batches):
        first = i == 0
        yield _import_task(
            client, run_id, batch, link, phase, params if first else (), tags if first else ()
        )


def _import_task(
    client,
    run_id: str,
    batch: list[dict],
    link: ModelLink | None,
    phase: Phase,
    params: Sequence[Param] = (),
    tags: Sequence[RunTag] = (),
) -> Task:
    def task() -> int:
        metrics = [_to_metric(p, link) for p in batch]
        client.log_batch(run_id, metrics=metrics, params=params, tags=tags, synchronous=True)
        phase.advance(len(metrics))
        return len(metrics)

    return task


def _to_metric(point: dict, link: ModelLink | None) -> Metric:
    model = link(point) if link else None
    if model is None:
        return Metric(
            point["key"], float(point["value"]), int(point["timestamp"]), int(point["step"])
        )
    model_id, dataset_name, dataset_digest = model
    return Metric(
        point["key"],
        float(point["value"]),
        int(point["timestamp"]),
        int(point["step"]),
        model_id=model_id,
        dataset_name=dataset_name,
        dataset_digest=dataset_digest,
    )
