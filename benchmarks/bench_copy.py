"""Benchmark: the streaming copy commands, against the floor, at several network latencies.

    python -m benchmarks.bench_copy [--runs N] [--latencies 0,25,50] [--points N --keys K ...]

Starts two local ``mlflow server`` processes (A and B) and measures, each step in a fresh process
(``benchmarks.measure``):

1. the experiment of N small runs (``workload.small_runs_experiment``): the 8-thread floor
   (``floor.copy_experiment``), then ``copy-experiment`` with the tool's default pool and with
   ``--workers 1``, at each round-trip time, through a :class:`.latency_proxy.LatencyProxy` in
   front of each server (the tool reaches both servers through their proxies; the floor runs
   without one). Every copy is checked on B (each run once, with params, metrics, parent and
   files).
2. the large run of ``bench_run`` (``workload.large_run``): ``export-run`` then ``import-run``,
   and ``copy-run``, on the same servers, without added latency; both copies are checked point
   by point and byte by byte.

It prints the tables (times, ratios, peak RSS and its growth above the process's RSS after its
imports) and writes them with the full figures to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import json

from mlflow import MlflowClient

from mlflow_migrate_plugin import idmap

from . import bench_experiment, bench_run, harness, workload
from .latency_proxy import delayed

EXPERIMENT = "bench-copy-small-runs"
LARGE = "bench-copy-large-run"
# Targets: the large run's copy-run <= 1.15 x the larger of export-run and import-run; the
# experiment's copy-experiment <= the 8-thread floor; at 50 ms, <= 2 x its time at 0 ms; the
# tool's own memory (growth above its imports) for the large run < 50 MB.
TARGET_RUN_RATIO = 1.15
TARGET_LATENCY_RATIO = 2.0
TARGET_GROWTH_MB = 50


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    data: dict = {"bench": "bench_copy", "machine": harness.machine(), "args": vars(args)}
    with harness.servers_for(args) as (root, server_a, server_b):
        servers = {"A": server_a, "B": server_b}

        def job(label, name, cli):
            m = harness.measure(label, name, cli, root, servers, python=args.tool_python)
            print(
                f"  {label}: {m.seconds:.2f}s, peak RSS {m.peak_rss_mb:.0f} MB "
                f"(+{m.peak_rss_mb - m.import_rss_mb:.0f}), CPU s {bench_run._cpu(m.cpu)}"
            )
            return m

        if args.runs:
            data["experiment"] = _experiment(args, server_a, server_b, job)
        if args.points or args.mb:
            data["large_run"] = _large_run(args, server_a, server_b, root, job)
    data["machine_after"] = harness.machine()
    harness.publish("bench-copy", data, _table(data))


def _experiment(args, server_a, server_b, job) -> dict:
    a, b = harness.client(server_a.url), harness.client(server_b.url)
    source_ids, _ = bench_experiment.build(a, EXPERIMENT, args.runs)
    floor_payload = {
        "src_uri": server_a.url,
        "experiment": EXPERIMENT,
        "dst_uri": server_b.url,
        "dst_experiment": f"{EXPERIMENT}-floor",
        "threads": 8,
    }
    floor = job("floor: 8 threads", "floor-experiment", [json.dumps(floor_payload)])
    if floor.detail["runs"] != len(source_ids):
        raise AssertionError(f"floor copied {floor.detail['runs']} runs of {len(source_ids)}")
    copies = []
    for rtt in args.latencies:
        with delayed([server_a.url, server_b.url], rtt) as (uri_a, uri_b):
            for workers in (None, 1) if args.one_worker else (None,):
                suffix = f"{rtt}ms-{'default' if workers is None else f'w{workers}'}"
                name = f"{EXPERIMENT}-{suffix}"
                cli = [
                    "copy-experiment",
                    "--experiment",
                    EXPERIMENT,
                    "--experiment-name",
                    name,
                    "--src-mlflow-uri",
                    uri_a,
                    "--dst-mlflow-uri",
                    uri_b,
                    *([] if workers is None else ["--workers", str(workers)]),
                ]
                label = f"copy-experiment, {rtt} ms, workers {workers or 'default'}"
                m = job(label, "cli", cli)
                bench_experiment._check(a, b, source_ids, name, server_b.url)
                copies.append({"rtt_ms": rtt, "workers": workers, **m.row()})
    print("  checked: every copy on B holds each run once, with its data, files and parent")
    return {"runs": len(source_ids), "floor": floor.row(), "copies": copies}


def _large_run(args, server_a, server_b, root, job) -> dict:
    a, b = harness.client(server_a.url), harness.client(server_b.url)
    built, _ = bench_run.build(a, LARGE, args)
    export_dir = root / "large-export"
    uri_a, uri_b = server_a.url, server_b.url
    export = job(
        "export-run",
        "cli",
        ["export-run", "--run-id", built.run_id, "--output-dir", str(export_dir)]
        + ["--tracking-uri", uri_a],
    )
    import_ = job(
        "import-run",
        "cli",
        ["import-run", "--input-dir", str(export_dir), "--experiment-name", f"{LARGE}-import"]
        + ["--tracking-uri", uri_b],
    )
    copy = job(
        "copy-run",
        "cli",
        ["copy-run", "--run-id", built.run_id, "--experiment-name", f"{LARGE}-copy"]
        + ["--src-mlflow-uri", uri_a, "--dst-mlflow-uri", uri_b],
    )
    for name in (f"{LARGE}-import", f"{LARGE}-copy"):
        run_b = _copied_run(b, name, built.run_id)
        bench_run._check_metrics(a, built.run_id, b, run_b, built.keys)
        bench_run._check_artifacts(uri_b, run_b, built, hashes=True)
    print("  checked: both runs on B have every point and every artifact byte")
    return {
        "points": built.points,
        "keys": built.keys,
        "files": len(built.files),
        "artifact_bytes": built.artifact_bytes,
        "export": export.row(),
        "import": import_.row(),
        "copy": copy.row(),
    }


def _copied_run(client: MlflowClient, experiment: str, source_run_id: str) -> str:
    exp = client.get_experiment_by_name(experiment)
    found = client.search_runs(
        [exp.experiment_id], filter_string=f"tags.`{idmap.SOURCE_RUN_ID}` = '{source_run_id}'"
    )
    if len(found) != 1:
        raise AssertionError(f"{experiment}: expected one copied run on B, found {len(found)}")
    return found[0].info.run_id


def _growth(row: dict) -> float:
    return row["peak_rss_mb"] - row["import_rss_mb"]


def _table(data: dict) -> str:
    parts = []
    exp = data.get("experiment")
    if exp:
        floor = exp["floor"]["seconds"]
        base = {c["workers"]: c["seconds"] for c in exp["copies"] if c["rtt_ms"] == 0}
        floor_rss = f"{exp['floor']['peak_rss_mb']:.0f}"
        rows = [["floor, 8 threads, 0 ms", f"{floor:.2f}", "", "1.00", floor_rss]]
        for c in exp["copies"]:
            zero = base.get(c["workers"])
            rows.append(
                [
                    f"copy-experiment, {c['rtt_ms']} ms, workers {c['workers'] or 'default'}",
                    f"{c['seconds']:.2f}",
                    f"{c['seconds'] / zero:.2f}" if zero else "",
                    f"{c['seconds'] / floor:.2f}",
                    f"{c['peak_rss_mb']:.0f} (+{_growth(c):.0f})",
                ]
            )
        header = ["step", "wall s", "x its 0 ms time", "x floor", "peak RSS MB (growth)"]
        title = f"Experiment of {exp['runs']} small runs"
        parts.append(title + "\n\n" + harness.markdown_table(rows, header))
    run = data.get("large_run")
    if run:
        rows = [
            [
                step,
                f"{run[step]['seconds']:.2f}",
                f"{run[step]['peak_rss_mb']:.0f}",
                f"{_growth(run[step]):.0f}",
                bench_run._cpu(run[step]["cpu_seconds"]),
            ]
            for step in ("export", "import", "copy")
        ]
        larger = max(run["export"]["seconds"], run["import"]["seconds"])
        header = ["step", "wall s", "peak RSS MB", "growth MB", "CPU s: client / A / B"]
        parts.append(
            f"Large run: {run['points']} points / {run['keys']} keys, {run['files']} files "
            f"({run['artifact_bytes'] / workload.MB:.0f} MiB)\n\n"
            + harness.markdown_table(rows, header)
            + f"\n\ncopy-run / max(export-run, import-run) = "
            f"{run['copy']['seconds'] / larger:.2f} (target {TARGET_RUN_RATIO})"
        )
    load = data["machine"]["load_average"][0], data["machine_after"]["load_average"][0]
    parts.append(f"Load average {load[0]} at the start, {load[1]} at the end.")
    return "\n\n".join(parts)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = harness.parser("bench_copy", __doc__)
    p.add_argument("--runs", type=int, default=200, help="small runs (default 200; 0 skips)")
    p.add_argument(
        "--latencies",
        type=bench_run._ints,
        default=[0, 25, 50],
        help="round-trip times in ms added to both servers (default 0,25,50)",
    )
    p.add_argument(
        "--one-worker",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also copy the experiment with --workers 1 (default: yes)",
    )
    p.add_argument("--points", type=int, default=100_000, help="large run: metric points")
    p.add_argument("--keys", type=int, default=200, help="large run: metric keys (default 200)")
    p.add_argument(
        "--mb", type=float, default=200, help="large run: MiB (--points 0 --mb 0: no large run)"
    )
    p.add_argument("--files", type=int, default=200, help="large run: artifact files")
    return harness.parse_args(p, argv)


if __name__ == "__main__":
    main()
