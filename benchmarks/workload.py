"""Workloads for the benchmarks, built on a given server with MlflowClient alone (explicit URIs).

- :func:`large_run`: one run with a long metric history over many keys, a few params and tags,
  and many megabytes of random artifact bytes in nested folders.
- :func:`small_runs_experiment`: an experiment of many small runs, some nested three deep.
- :func:`registered_model`: a registered model whose versions each come from their own small
  run, alternating MLflow 3 LoggedModel sources (``models:/m-...``) and run-artifact sources.

Everything is written concurrently (log_batch calls, artifact uploads, runs), since one request
at a time to an ``mlflow server`` tops out at a few dozen per second. Sizes are parameters, so a
smoke run takes seconds. Run as a script to fill a server by hand::

    python -m benchmarks.workload --tracking-uri http://127.0.0.1:5000 large-run --points 1000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_USER
from mlflow.utils.validation import MAX_METRICS_PER_BATCH

MB = 1 << 20
WORKERS = 8


@dataclass
class LargeRun:
    """What :func:`large_run` built: ids, sizes, and each artifact's size and sha256."""

    run_id: str
    experiment_id: str
    points: int
    keys: int
    files: dict[str, tuple[int, str]] = field(default_factory=dict)  # path -> (size, sha256)

    @property
    def artifact_bytes(self) -> int:
        return sum(size for size, _ in self.files.values())


def run_bounded(tasks: Iterable[Callable[[], Any]], workers: int = WORKERS) -> list[Any]:
    """Run zero-argument callables on ``workers`` threads, pulling them lazily; results in
    completion order. The first failure is raised once the running tasks have finished."""
    results: list[Any] = []
    pending: set[Future] = set()
    with ThreadPoolExecutor(workers, thread_name_prefix="workload") as pool:
        for task in tasks:
            pending.add(pool.submit(task))
            if len(pending) >= 2 * workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                results += [f.result() for f in done]
        done, _ = wait(pending)
        results += [f.result() for f in done]
    return results


def experiment_id(client: MlflowClient, name: str) -> str:
    found = client.get_experiment_by_name(name)
    return found.experiment_id if found else client.create_experiment(name)


# One large run ---------------------------------------------------------------------------------


def large_run(
    client: MlflowClient,
    experiment_name: str,
    *,
    points: int = 100_000,
    keys: int = 200,
    mb: float = 200,
    files: int = 200,
    params: int = 10,
    tags: int = 5,
    workers: int = WORKERS,
    seed: int = 0,
) -> LargeRun:
    """One run with ``points`` metric points over ``keys`` keys (about ``points/keys`` steps
    each, with distinct timestamps) and ``mb`` MiB of random bytes in ``files`` files of varied
    size, spread over ten folders."""
    exp_id = experiment_id(client, experiment_name)
    run = client.create_run(exp_id, run_name="large-run", tags={MLFLOW_USER: "benchmark"})
    run_id = run.info.run_id
    client.log_batch(
        run_id,
        params=[Param(f"param_{i}", f"value-{i}") for i in range(params)],
        tags=[RunTag(f"tag_{i}", f"value-{i}") for i in range(tags)],
        synchronous=True,
    )
    sizes = artifact_sizes(int(mb * MB), files)
    built = LargeRun(run_id, exp_id, points, keys)
    metric_tasks = (
        (lambda b=batch: client.log_batch(run_id, metrics=b, synchronous=True))
        for batch in _metric_batches(points, keys, seed)
    )
    artifact_tasks = (
        (lambda i=i, size=size: _upload_random_file(client, run_id, i, size, seed))
        for i, size in enumerate(sizes)
    )
    for result in run_bounded(_alternate(metric_tasks, artifact_tasks), workers):
        if isinstance(result, tuple):
            path, size, digest = result
            built.files[path] = (size, digest)
    client.set_terminated(run_id, "FINISHED")
    return built


def artifact_sizes(total: int, files: int) -> list[int]:
    """``files`` sizes from about 0.4x to 1.6x of the mean, summing to ``total`` exactly."""
    if files <= 0:
        return []
    weights = [1 + (i % 4) for i in range(files)]
    sizes = [total * w // sum(weights) for w in weights]
    sizes[0] += total - sum(sizes)
    return sizes


def artifact_path(index: int) -> str:
    return f"shard-{index % 10:02d}/blob-{index:04d}.bin"


def _upload_random_file(
    client: MlflowClient, run_id: str, index: int, size: int, seed: int
) -> tuple[str, int, str]:
    rng = random.Random(seed * 1_000_003 + index)
    data = rng.randbytes(size)
    path = artifact_path(index)
    folder, name = path.rsplit("/", 1)
    with tempfile.TemporaryDirectory(prefix="workload-") as tmp:
        local = Path(tmp, name)
        local.write_bytes(data)
        client.log_artifact(run_id, str(local), folder)
    return path, size, hashlib.sha256(data).hexdigest()


def _metric_batches(points: int, keys: int, seed: int) -> Iterator[list[Metric]]:
    """The history key by key, in batches of MLflow's limit; timestamps grow with the step."""
    rng = random.Random(seed)
    start = int(time.time() * 1000) - points * 10
    per_key, extra = divmod(points, keys)
    batch: list[Metric] = []
    for k in range(keys):
        key = f"metric_{k:03d}"
        for step in range(per_key + (1 if k < extra else 0)):
            batch.append(Metric(key, rng.random(), start + step * 10 + k, step))
            if len(batch) == MAX_METRICS_PER_BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def _alternate(*streams: Iterable) -> Iterator:
    iterators = [iter(s) for s in streams]
    while iterators:
        for it in list(iterators):
            try:
                yield next(it)
            except StopIteration:
                iterators.remove(it)


# An experiment of small runs -------------------------------------------------------------------


def parent_index(i: int) -> int | None:
    """Nesting of the small runs: in every group of ten, run 0 is a parent of runs 1-3 and run 1
    of run 4 (three levels); the other five are top-level runs."""
    base, offset = divmod(i, 10)
    if offset in (1, 2, 3):
        return base * 10
    if offset == 4:
        return base * 10 + 1
    return None


def small_runs_experiment(
    client: MlflowClient, experiment_name: str, *, runs: int = 200, workers: int = WORKERS
) -> list[str]:
    """``runs`` runs of 10 metrics x 10 steps, 5 params, 2 small artifacts each, some nested
    (see :func:`parent_index`). Returns the run ids in creation order."""
    exp_id = experiment_id(client, experiment_name)
    start = int(time.time() * 1000) - runs * 1000
    created = run_bounded(
        (
            (
                lambda i=i: (
                    i,
                    client.create_run(
                        exp_id,
                        start_time=start + i * 1000,
                        run_name=f"small-{i:04d}",
                        tags={MLFLOW_USER: "benchmark"},
                    ).info.run_id,
                )
            )
            for i in range(runs)
        ),
        workers,
    )
    run_ids = [rid for _, rid in sorted(created)]
    run_bounded(
        ((lambda i=i: _fill_small_run(client, run_ids, i, start + i * 1000)) for i in range(runs)),
        workers,
    )
    return run_ids


def _fill_small_run(client: MlflowClient, run_ids: list[str], i: int, start: int) -> None:
    run_id = run_ids[i]
    tags = [RunTag("kind", "small"), RunTag("index", str(i))]
    parent = parent_index(i)
    if parent is not None and parent < len(run_ids):
        tags.append(RunTag(MLFLOW_PARENT_RUN_ID, run_ids[parent]))
    client.log_batch(
        run_id,
        metrics=[
            Metric(f"m{k}", (i + k + s) / 100, start + s * 10, s)
            for k in range(10)
            for s in range(10)
        ],
        params=[Param(f"p{k}", f"{i}-{k}") for k in range(5)],
        tags=tags,
        synchronous=True,
    )
    client.log_text(run_id, f"summary of run {i}\n" * 40, "notes/summary.txt")
    config = {"index": i, "values": list(range(300))}
    client.log_text(run_id, json.dumps(config), "config.json")
    client.set_terminated(run_id, "FINISHED", end_time=start + 500)


# A registered model with many versions ---------------------------------------------------------

MLMODEL = """artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.pyfunc.model
    python_version: 3.11.7
mlflow_version: 3.17.2
{model_id_line}run_id: {run_id}
utc_time_created: '2026-01-01 00:00:00.000000'
"""


def registered_model(
    client: MlflowClient,
    model_name: str,
    experiment_name: str,
    *,
    versions: int = 20,
    workers: int = WORKERS,
) -> list[int]:
    """A registered model with ``versions`` versions, each from its own small run; even
    versions have a LoggedModel source, odd ones a path in their run's artifacts. The last
    version gets the alias ``champion``. Returns the version numbers."""
    exp_id = experiment_id(client, experiment_name)
    client.create_registered_model(
        model_name, tags={"team": "benchmark"}, description="benchmark model"
    )
    sources = run_bounded(
        ((lambda v=v: (v, _model_source(client, exp_id, v))) for v in range(1, versions + 1)),
        workers,
    )
    numbers = []
    for v, (source, run_id, model_id) in sorted(sources):
        # Versions get consecutive numbers in the order they are created: one at a time.
        mv = client.create_model_version(
            model_name,
            source,
            run_id=run_id,
            model_id=model_id,
            tags={"index": str(v)},
            description=f"version {v}",
            await_creation_for=0,
        )
        numbers.append(int(mv.version))
    if numbers:
        client.set_registered_model_alias(model_name, "champion", str(numbers[-1]))
    return numbers


def _model_source(client: MlflowClient, exp_id: str, v: int) -> tuple[str, str, str | None]:
    run = client.create_run(exp_id, run_name=f"train-v{v}", tags={MLFLOW_USER: "benchmark"})
    run_id = run.info.run_id
    client.log_batch(
        run_id,
        metrics=[Metric("loss", 1 / (s + v), 0, s) for s in range(10)],
        params=[Param("version", str(v)), Param("alpha", "0.5")],
        synchronous=True,
    )
    model_id = None
    if v % 2 == 0:
        model = client.create_logged_model(
            exp_id, name="model", source_run_id=run_id, params={"alpha": "0.5"}
        )
        model_id = model.model_id
    with tempfile.TemporaryDirectory(prefix="workload-model-") as tmp:
        root = Path(tmp, "model")
        root.mkdir()
        id_line = f"model_id: {model_id}\n" if model_id else ""
        (root / "MLmodel").write_text(MLMODEL.format(model_id_line=id_line, run_id=run_id))
        (root / "model.pkl").write_bytes(os.urandom(10_000))
        (root / "requirements.txt").write_text("mlflow==3.17.2\n")
        if model_id:
            client.log_model_artifacts(model_id, str(root))
            client.finalize_logged_model(model_id, "READY")
            source = f"models:/{model_id}"
        else:
            client.log_artifacts(run_id, str(root), "model")
            source = f"{run.info.artifact_uri}/model"
    client.set_terminated(run_id, "FINISHED")
    return source, run_id, model_id


# Command line ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.workload",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--workers", type=int, default=WORKERS)
    sub = parser.add_subparsers(dest="what", required=True)
    large = sub.add_parser("large-run")
    large.add_argument("--experiment", default="bench-large-run")
    large.add_argument("--points", type=int, default=100_000)
    large.add_argument("--keys", type=int, default=200)
    large.add_argument("--mb", type=float, default=200)
    large.add_argument("--files", type=int, default=200)
    small = sub.add_parser("experiment")
    small.add_argument("--experiment", default="bench-small-runs")
    small.add_argument("--runs", type=int, default=200)
    model = sub.add_parser("model")
    model.add_argument("--model", default="bench-model")
    model.add_argument("--experiment", default="bench-model-runs")
    model.add_argument("--versions", type=int, default=20)
    args = parser.parse_args(argv)

    client = MlflowClient(tracking_uri=args.tracking_uri, registry_uri=args.tracking_uri)
    started = time.monotonic()
    if args.what == "large-run":
        built = large_run(
            client,
            args.experiment,
            points=args.points,
            keys=args.keys,
            mb=args.mb,
            files=args.files,
            workers=args.workers,
        )
        what = f"run {built.run_id}: {built.points} points, {len(built.files)} files"
    elif args.what == "experiment":
        ids = small_runs_experiment(client, args.experiment, runs=args.runs, workers=args.workers)
        what = f"experiment '{args.experiment}': {len(ids)} runs"
    else:
        numbers = registered_model(
            client, args.model, args.experiment, versions=args.versions, workers=args.workers
        )
        what = f"model '{args.model}': {len(numbers)} versions"
    print(f"built {what} in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()
