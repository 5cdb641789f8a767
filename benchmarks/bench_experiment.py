"""Benchmark: export-experiment + import-experiment of many small runs, default pool vs one worker.

    python -m benchmarks.bench_experiment [--runs N]

Builds on server A an experiment of N small runs (10 metrics x 10 steps, 5 params, 2 small
artifacts each, some nested three deep), then exports and imports it to server B with the tool's
default pool and with ``--workers 1``, each step in a fresh process. Checks each import (every run
there with its params, metrics and files, every child under its imported parent) and reports the
speed-up and peak RSS. Target: the default pool at least 5x faster than one worker, peak RSS
under 250 MB.
"""

from __future__ import annotations

from mlflow import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from mlflow_migrate_plugin import idmap

from . import harness, speedup, workload
from .floor import artifact_repo, list_files

EXPERIMENT = "bench-small-runs"
TARGET_SPEEDUP = 5.0
TARGET_RSS_MB = 250


def command_line(module: str, doc: str | None, argv: list[str] | None):
    """The options of a benchmark over the experiment of small runs: ``--runs`` and the common
    ones."""
    parser = harness.parser(module, doc)
    parser.add_argument("--runs", type=int, default=200, help="small runs (default 200)")
    return harness.parse_args(parser, argv)


def build(a: MlflowClient, name: str, runs: int) -> tuple[list[str], float]:
    """The experiment of ``runs`` small runs on A: its run ids, and the seconds it took."""
    source_ids, seconds = harness.timed(workload.small_runs_experiment, a, name, runs=runs)
    print(f"workload: experiment of {len(source_ids)} runs in {seconds:.1f}s")
    return source_ids, seconds


def main(argv: list[str] | None = None) -> None:
    args = command_line("bench_experiment", __doc__, argv)
    with harness.servers_for(args) as (root, server_a, server_b):
        a, b = harness.client(server_a.url), harness.client(server_b.url)
        source_ids, generated = build(a, EXPERIMENT, args.runs)
        passes = speedup.measure_passes(
            root,
            server_a,
            server_b,
            args.tool_python,
            export_args=lambda out: [
                "export-experiment",
                "--experiment",
                EXPERIMENT,
                "--output-dir",
                str(out),
            ],
            import_args=lambda out, suffix: [
                "import-experiment",
                "--experiment-name",
                f"{EXPERIMENT}-{suffix}",
                "--input-dir",
                str(out),
            ],
            check=lambda suffix: _check(a, b, source_ids, f"{EXPERIMENT}-{suffix}", server_b.url),
        )
        print("  checked: every run on B with its data, files and parent")

    speedup.publish(
        "bench_experiment",
        {"runs": len(source_ids), "generated_seconds": generated, **harness.options_record(args)},
        passes,
        TARGET_SPEEDUP,
        TARGET_RSS_MB,
        f"experiment of {len(source_ids)} small runs",
    )


def all_runs(client: MlflowClient, experiment_id: str) -> list:
    runs, token = [], None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        runs += page
        token = page.token
        if not token:
            return runs


def _check(a: MlflowClient, b: MlflowClient, source_ids: list[str], name: str, uri_b: str) -> None:
    """The imported experiment holds each source run once, with its params, metric keys and
    parent (mapped to the imported parent); a sample of runs has both artifact files."""
    exp = b.get_experiment_by_name(name)
    runs = all_runs(b, exp.experiment_id)
    by_source = {r.data.tags.get(idmap.SOURCE_RUN_ID): r for r in runs}
    if len(runs) != len(source_ids) or set(by_source) != set(source_ids):
        raise AssertionError(f"{name}: {len(runs)} runs on B, expected {len(source_ids)}")
    dst_to_src = {r.info.run_id: src for src, r in by_source.items()}
    for i, src_id in enumerate(source_ids):
        run = by_source[src_id]
        if len(run.data.params) != 5 or len(run.data.metrics) != 10:
            raise AssertionError(f"{name}: run {src_id} lost params or metrics")
        parent = workload.parent_index(i)
        want = source_ids[parent] if parent is not None and parent < len(source_ids) else None
        got = dst_to_src.get(run.data.tags.get(MLFLOW_PARENT_RUN_ID))
        if got != want:
            raise AssertionError(f"{name}: run {src_id} has parent {got}, expected {want}")
    for src_id in source_ids[:: max(1, len(source_ids) // 5)]:
        repo = artifact_repo(uri_b, by_source[src_id].info.artifact_uri)
        if sorted(p for p, _ in list_files(repo)) != ["config.json", "notes/summary.txt"]:
            raise AssertionError(f"{name}: run {src_id} lost artifacts")


if __name__ == "__main__":
    main()
