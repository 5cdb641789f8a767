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

import argparse
import time

from mlflow import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from mlflow_migrate_plugin import idmap

from . import harness, speedup, workload
from .floor import artifact_repo, list_files

EXPERIMENT = "bench-small-runs"
TARGET_SPEEDUP = 5.0
TARGET_RSS_MB = 250


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_experiment",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=200, help="small runs (default 200)")
    speedup.add_common_options(parser)
    args = parser.parse_args(argv)
    harness.quiet_mlflow()

    with (
        harness.workdir(args.keep) as root,
        harness.two_servers(root, args.server_workers) as (server_a, server_b),
    ):
        a = MlflowClient(tracking_uri=server_a.url, registry_uri=server_a.url)
        b = MlflowClient(tracking_uri=server_b.url, registry_uri=server_b.url)
        started = time.perf_counter()
        source_ids = workload.small_runs_experiment(a, EXPERIMENT, runs=args.runs)
        generated = time.perf_counter() - started
        print(f"workload: experiment of {len(source_ids)} runs in {generated:.1f}s")

        passes = speedup.measure_passes(
            root,
            {"A": server_a, "B": server_b},
            args.tool_python,
            export_args=lambda out: [
                "export-experiment",
                "--experiment",
                EXPERIMENT,
                "--output-dir",
                str(out),
                "--tracking-uri",
                server_a.url,
            ],
            import_args=lambda out, suffix: [
                "import-experiment",
                "--experiment-name",
                f"{EXPERIMENT}-{suffix}",
                "--input-dir",
                str(out),
                "--tracking-uri",
                server_b.url,
            ],
            check=lambda suffix: _check(a, b, source_ids, f"{EXPERIMENT}-{suffix}", server_b.url),
        )
        print("  checked: every run on B with its data, files and parent")

    data = speedup.results(
        "bench_experiment",
        {
            "runs": len(source_ids),
            "generated_seconds": generated,
            "server_workers": args.server_workers,
            "tool_python": args.tool_python or "this interpreter",
        },
        passes,
        TARGET_SPEEDUP,
        TARGET_RSS_MB,
    )
    table = speedup.table(data, f"experiment of {len(source_ids)} small runs")
    path = harness.write_results("bench-experiment", data, table)
    print()
    print(table)
    print(f"\nwritten {path} (and .md)")


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
