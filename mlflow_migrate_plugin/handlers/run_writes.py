"""What fills a destination run once it is made: its params, tags and metric history in
``log_batch`` calls, and at the end its status, end time and deleted state."""

from __future__ import annotations

from mlflow.entities import Param, RunStatus, RunTag
from mlflow.utils.validation import MAX_ENTITIES_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH

from ..transfer import metrics
from ..transfer.engine import Task
from .run_source import RunSource


def data_tasks(
    client, run_id: str, source: RunSource, params: dict, tags: dict, link, phase, check=None
) -> list:
    """Task streams that log params, tags and the metric history with ``log_batch``.

    A small run whose data fits MLflow's limits for one call sends it all in that call: one
    request less per run, and one call costs the server less than two (benchmarks/README.md).
    """
    points = source.metric_points()  # before the batches: a live source may read them now
    history = source.metric_batches(metrics.BATCH_SIZE)
    if check is not None:
        history = check.watch(history)
    if (
        points is not None
        and 0 < points
        and len(params) <= MAX_PARAMS_TAGS_PER_BATCH
        and len(tags) <= MAX_PARAMS_TAGS_PER_BATCH
        and points + len(params) + len(tags) <= MAX_ENTITIES_PER_BATCH
    ):
        return [
            metrics.import_tasks(
                client,
                run_id,
                history,
                link,
                phase,
                params=[Param(k, v) for k, v in params.items()],
                tags=[RunTag(k, v) for k, v in tags.items()],
            )
        ]
    return [
        param_and_tag_tasks(client, run_id, params, tags),
        metrics.import_tasks(client, run_id, history, link, phase),
    ]


def param_and_tag_tasks(client, run_id: str, params: dict, tags: dict) -> list[Task]:
    """``log_batch`` calls of params and tags, as many of each as MLflow takes in one call."""
    param_list = [Param(k, v) for k, v in params.items()]
    tag_list = [RunTag(k, v) for k, v in tags.items()]
    n = MAX_PARAMS_TAGS_PER_BATCH
    tasks = []
    for i in range(0, max(len(param_list), len(tag_list)), n):
        p, t = param_list[i : i + n], tag_list[i : i + n]
        tasks.append(lambda p=p, t=t: client.log_batch(run_id, params=p, tags=t, synchronous=True))
    return tasks


def finish(client, run_id: str, info: dict) -> None:
    """The run's status and end time, then its deletion: a deleted run refuses writes."""
    status = info.get("status") or "FINISHED"
    if status != RunStatus.to_string(RunStatus.RUNNING):
        client.set_terminated(run_id, status, end_time=info.get("end_time"))
    if info.get("lifecycle_stage") == "deleted":
        client.delete_run(run_id)


def complete_finish(client, run, info: dict) -> None:
    """An import stopped between its completion mark and its last steps (status, end time,
    deletion) is finished now; a fully imported run is left as it is."""
    want_deleted = info.get("lifecycle_stage") == "deleted"
    if run.info.lifecycle_stage == "deleted":
        return
    if run.info.status != (info.get("status") or "FINISHED"):
        finish(client, run.info.run_id, info)
    elif want_deleted:
        client.delete_run(run.info.run_id)
