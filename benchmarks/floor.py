"""The floor: the least work that moves a run's bytes and points from one server to another.

Nothing here keeps what the tool keeps (no export directory, no manifest, no hashes, no run
metadata); it only moves the data, as fast as MLflow's public client and artifact repositories
allow, so that the tool's time can be read against it.

- :func:`copy_artifacts`: every file of the source run, downloaded and uploaded by a pool of
  threads through MLflow's artifact repositories (one temporary file per copy in flight).
- :func:`copy_metrics`: the raw history, key by key with ``get_metric_history``, written with
  ``log_batch`` in batches of MLflow's limit (1000), by ``threads`` threads.
- :func:`copy_server`: every run of a server (params, tags, history, files), a run per thread.
- :func:`copy_experiment`: an experiment of small runs, a run per thread at a time: the run
  created with its start time, name and tags, its params, tags and history in one ``log_batch``,
  its files copied, its status and end time set. No parent links, markers or checks.
"""

from __future__ import annotations

import posixpath
import queue
import tempfile
import threading
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.utils.validation import MAX_METRICS_PER_BATCH

from .workload import experiment_id, run_bounded


def _client(uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def artifact_repo(uri: str, artifact_uri: str):
    return get_artifact_repository(artifact_uri, tracking_uri=uri, registry_uri=uri)


def list_files(repo, path: str | None = None) -> list[tuple[str, int]]:
    """(path, size) of every file under ``path``, depth first."""
    found = []
    for info in repo.list_artifacts(path):
        if info.is_dir:
            found += list_files(repo, info.path)
        else:
            found.append((info.path, int(info.file_size or 0)))
    return found


def copy_artifacts(
    src_uri: str, run_id: str, dst_uri: str, experiment: str, threads: int = 8
) -> dict:
    """Copy the run's artifact files into a new run of ``experiment`` on the destination."""
    src_run = _client(src_uri).get_run(run_id)
    dst_client = _client(dst_uri)
    dst_run = dst_client.create_run(experiment_id(dst_client, experiment), run_name="floor-files")
    src_repo = artifact_repo(src_uri, src_run.info.artifact_uri)
    dst_repo = artifact_repo(dst_uri, dst_run.info.artifact_uri)
    files = list_files(src_repo)

    def copy(path: str) -> None:
        folder, name = posixpath.split(path)
        with tempfile.TemporaryDirectory(prefix="floor-") as tmp:
            local = str(Path(tmp, name))
            # The single-file download every repository implements; the public
            # download_artifacts() would first list the path, one more request per file.
            src_repo._download_file(path, local)
            dst_repo.log_artifact(local, folder or None)

    run_bounded(((lambda p=p: copy(p)) for p, _ in files), threads)
    return {
        "run_id": dst_run.info.run_id,
        "files": len(files),
        "bytes": sum(size for _, size in files),
    }


def copy_metrics(
    src_uri: str, run_id: str, dst_uri: str, experiment: str, threads: int = 8
) -> dict:
    """Copy the run's full metric history into a new run of ``experiment`` on the destination.

    Each thread takes keys from a shared queue, reads each key's whole history and sends
    ``log_batch`` calls of up to 1000 points as its buffer fills.
    """
    src = _client(src_uri)
    dst = _client(dst_uri)
    keys = sorted(src.get_run(run_id).data.metrics)
    dst_run_id = dst.create_run(
        experiment_id(dst, experiment), run_name=f"floor-metrics-{threads}"
    ).info.run_id
    todo: queue.SimpleQueue[str] = queue.SimpleQueue()
    for key in keys:
        todo.put(key)
    copied = [0] * threads
    errors: list[BaseException] = []

    def worker(slot: int) -> None:
        buffer: list[Metric] = []
        try:
            while True:
                try:
                    key = todo.get_nowait()
                except queue.Empty:
                    break
                buffer += src.get_metric_history(run_id, key)
                while len(buffer) >= MAX_METRICS_PER_BATCH:
                    batch, buffer = buffer[:MAX_METRICS_PER_BATCH], buffer[MAX_METRICS_PER_BATCH:]
                    dst.log_batch(dst_run_id, metrics=batch, synchronous=True)
                    copied[slot] += len(batch)
            if buffer:
                dst.log_batch(dst_run_id, metrics=buffer, synchronous=True)
                copied[slot] += len(buffer)
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]
    return {"run_id": dst_run_id, "points": sum(copied), "keys": len(keys)}


def copy_server(src_uri: str, dst_uri: str, suffix: str, threads: int = 8) -> dict:
    """Copy every run of every active experiment into ``<name>-<suffix>`` on the destination:
    params, tags and the full metric history with one ``log_batch`` per 1000 points, and every
    file. ``threads`` threads, a run each; the floor of a whole-server copy's run data.

    Registered models and versions are not copied: their cost is a few calls each, and the
    versions of a model are created one after the other in any copy.
    """
    src = _client(src_uri)
    dst = _client(dst_uri)
    work = []
    for exp in src.search_experiments():
        target = experiment_id(dst, f"{exp.name}-{suffix}")
        token = None
        while True:
            page = src.search_runs([exp.experiment_id], max_results=1000, page_token=token)
            work += [(run, target) for run in page]
            token = page.token
            if not token:
                break
    totals = {"runs": 0, "points": 0, "files": 0}
    lock = threading.Lock()

    def copy(run, target: str) -> None:
        new = dst.create_run(target, start_time=run.info.start_time, run_name=run.info.run_name)
        run_id = new.info.run_id
        points = []
        for key in sorted(run.data.metrics):
            points += src.get_metric_history(run.info.run_id, key)
        params = [Param(k, v) for k, v in run.data.params.items()]
        tags = [RunTag(k, v) for k, v in run.data.tags.items() if not k.startswith("mlflow.")]
        dst.log_batch(run_id, metrics=points[:MAX_METRICS_PER_BATCH], params=params, tags=tags)
        for at in range(MAX_METRICS_PER_BATCH, len(points), MAX_METRICS_PER_BATCH):
            dst.log_batch(run_id, metrics=points[at : at + MAX_METRICS_PER_BATCH])
        src_repo = artifact_repo(src_uri, run.info.artifact_uri)
        dst_repo = artifact_repo(dst_uri, new.info.artifact_uri)
        files = list_files(src_repo)
        with tempfile.TemporaryDirectory(prefix="floor-") as tmp:
            for path, _ in files:
                folder, name = posixpath.split(path)
                local = str(Path(tmp, name))
                src_repo._download_file(path, local)
                dst_repo.log_artifact(local, folder or None)
        dst.set_terminated(run_id, run.info.status, run.info.end_time)
        with lock:
            totals["runs"] += 1
            totals["points"] += len(points)
            totals["files"] += len(files)

    run_bounded(((lambda r=r, t=t: copy(r, t)) for r, t in work), threads)
    return totals


def copy_experiment(
    src_uri: str, experiment: str, dst_uri: str, dst_experiment: str, threads: int = 8
) -> dict:
    """Copy every run of ``experiment`` into ``dst_experiment``, ``threads`` runs at a time."""
    src = _client(src_uri)
    dst = _client(dst_uri)
    source_id = src.get_experiment_by_name(experiment).experiment_id
    runs, token = [], None
    while True:
        page = src.search_runs(
            [source_id], run_view_type=ViewType.ACTIVE_ONLY, max_results=1000, page_token=token
        )
        runs += page
        token = page.token
        if not token:
            break
    target = experiment_id(dst, dst_experiment)

    def copy(run_id: str) -> int:
        run = src.get_run(run_id)
        new = dst.create_run(
            target,
            start_time=run.info.start_time,
            tags=dict(run.data.tags),
            run_name=run.info.run_name,
        ).info
        points = [m for key in run.data.metrics for m in src.get_metric_history(run_id, key)]
        dst.log_batch(
            new.run_id,
            metrics=points,
            params=[Param(k, v) for k, v in run.data.params.items()],
            tags=[RunTag(k, v) for k, v in run.data.tags.items()],
            synchronous=True,
        )
        src_repo = artifact_repo(src_uri, run.info.artifact_uri)
        dst_repo = artifact_repo(dst_uri, new.artifact_uri)
        for path, _ in list_files(src_repo):
            folder, name = posixpath.split(path)
            with tempfile.TemporaryDirectory(prefix="floor-") as tmp:
                local = str(Path(tmp, name))
                src_repo._download_file(path, local)
                dst_repo.log_artifact(local, folder or None)
        dst.set_terminated(new.run_id, run.info.status, end_time=run.info.end_time)
        return len(points)

    copied = run_bounded(((lambda r=r: copy(r.info.run_id)) for r in runs), threads)
    return {"experiment_id": target, "runs": len(runs), "points": sum(copied)}
