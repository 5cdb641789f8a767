"""Benchmark: export-run + import-run of one large run, against the floor, on the same servers.

    python -m benchmarks.bench_run [--points N --keys K --mb M --files F]

Starts two local ``mlflow server`` processes (A and B), builds the large run on A, then measures,
each in a fresh process: the floor (a plain copy of the artifact files, and the fastest of 1, 4
and 8 threads copying the raw metric history) and the tool (``mlflow-migrate export-run`` then
``import-run``). It checks that every copy is whole (points per key and values, artifact sizes
and sha256 on B), prints a table and writes JSON and Markdown to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from pathlib import Path

from mlflow import MlflowClient

from mlflow_migrate_plugin import idmap

from . import harness, workload
from .floor import artifact_repo, list_files

TARGET_RATIO = 1.3
TARGET_RSS_MB = 200


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    with harness.servers_for(args) as (root, server_a, server_b):
        uri_a, uri_b = server_a.url, server_b.url
        servers = {"A": server_a, "B": server_b}
        a, b = harness.client(uri_a), harness.client(uri_b)
        built, generated = build(a, "bench-large-run", args)

        def job(label, name, payload=None, cli=None):
            args_ = cli if cli is not None else [json.dumps(payload)]
            m = harness.measure(label, name, args_, root, servers, python=args.tool_python)
            print(
                f"  {label}: {m.seconds:.2f}s, peak RSS {m.peak_rss_mb:.0f} MB, CPU s {_cpu(m.cpu)}"
            )
            return m

        def floor_tries(part: str, threads: list[int]) -> list[harness.Measured]:
            """One floor part (``artifacts`` or ``metrics``) at each thread count."""
            payload = {"src_uri": uri_a, "run_id": built.run_id, "dst_uri": uri_b}
            return [
                job(
                    f"floor: {part}, {_threads(t)}",
                    f"floor-{part}",
                    {**payload, "experiment": "bench-floor", "threads": t},
                )
                for t in threads
            ]

        file_runs = floor_tries("artifacts", args.artifact_threads)
        for m in file_runs:
            _check_artifacts(uri_b, m.detail["run_id"], built, hashes=False)
        files = min(file_runs, key=lambda m: m.seconds)
        metric_runs = floor_tries("metrics", args.metric_threads)
        for m in metric_runs:
            _check_metric_count(b, m.detail["run_id"], built.points)
        metrics = min(metric_runs, key=lambda m: m.seconds)

        export_dir = root / "export"
        workers = ["--workers", str(args.workers)] if args.workers else []
        export = job(
            "tool: export-run",
            "cli",
            cli=[
                "export-run",
                "--run-id",
                built.run_id,
                "--output-dir",
                str(export_dir),
                "--tracking-uri",
                uri_a,
                *workers,
            ],
        )
        import_ = job(
            "tool: import-run",
            "cli",
            cli=[
                "import-run",
                "--input-dir",
                str(export_dir),
                "--experiment-name",
                "bench-tool",
                "--tracking-uri",
                uri_b,
                *workers,
            ],
        )
        tool_run = _imported_run(b, built.run_id)
        _check_metrics(a, built.run_id, b, tool_run, built.keys)
        _check_artifacts(uri_b, tool_run, built, hashes=True)
        print("  checked: the tool's run on B has every point and every artifact byte")

    data = _results(args, built, generated, file_runs, files, metric_runs, metrics, export, import_)
    table = _table(data)
    harness.publish("bench-run", data, table)


def build(a: MlflowClient, name: str, args: argparse.Namespace) -> tuple[workload.LargeRun, float]:
    """The large run on A, as ``--points``, ``--keys``, ``--mb`` and ``--files`` ask, and the
    seconds it took."""
    size = {"points": args.points, "keys": args.keys, "mb": args.mb, "files": args.files}
    built, seconds = harness.timed(workload.large_run, a, name, **size)
    print(
        f"workload: {built.points} points over {built.keys} keys, {len(built.files)} "
        f"files ({built.artifact_bytes / workload.MB:.0f} MiB) in {seconds:.1f}s"
    )
    return built, seconds


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = harness.parser("bench_run", __doc__)
    p.add_argument("--points", type=int, default=100_000, help="metric points (default 100000)")
    p.add_argument("--keys", type=int, default=200, help="metric keys (default 200)")
    p.add_argument("--mb", type=float, default=200, help="MiB of artifacts (default 200)")
    p.add_argument("--files", type=int, default=200, help="artifact files (default 200)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="the tool's --workers (default: the tool's default)",
    )
    p.add_argument(
        "--metric-threads",
        type=_ints,
        default=[1, 4, 8],
        help="thread counts tried for the metric floor (default 1,4,8)",
    )
    p.add_argument(
        "--artifact-threads",
        type=_ints,
        default=[8],
        help="thread counts tried for the artifact floor (default 8)",
    )
    return harness.parse_args(
        p,
        argv,
        tool_python_help="Python that runs the tool and the floor (default: this one); use a "
        "venv with only the tool's runtime dependencies (mlflow-skinny) to "
        "measure the memory a user's install takes",
    )


def _threads(n: int) -> str:
    return "1 thread" if n == 1 else f"{n} threads"


def _cpu(cpu: dict) -> str:
    return " / ".join(f"{cpu[k]:.1f}" for k in ("client", "A", "B"))


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


# Correctness: a fast wrong copy must not pass ---------------------------------------------------


def _imported_run(client: MlflowClient, source_run_id: str) -> str:
    exp = client.get_experiment_by_name("bench-tool")
    found = client.search_runs(
        [exp.experiment_id], filter_string=f"tags.`{idmap.SOURCE_RUN_ID}` = '{source_run_id}'"
    )
    if len(found) != 1:
        raise AssertionError(f"expected one imported run on B, found {len(found)}")
    return found[0].info.run_id


def _history(client: MlflowClient, run_id: str, key: str) -> list[tuple]:
    return sorted((m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key))


def _check_metrics(a: MlflowClient, run_a: str, b: MlflowClient, run_b: str, keys: int) -> None:
    """Every key's full history (step, timestamp, value) on B equals A's."""
    key_names = sorted(a.get_run(run_a).data.metrics)
    if len(key_names) != keys or sorted(b.get_run(run_b).data.metrics) != key_names:
        raise AssertionError("metric keys differ between A and B")
    differing = [
        key
        for key, same in workload.run_bounded(
            (lambda k=k: (k, _history(a, run_a, k) == _history(b, run_b, k))) for k in key_names
        )
        if not same
    ]
    if differing:
        raise AssertionError(
            f"metric history differs on B for {len(differing)} keys, e.g. {differing[0]!r}"
        )


def _check_metric_count(b: MlflowClient, run_b: str, points: int) -> None:
    keys = sorted(b.get_run(run_b).data.metrics)
    counted = sum(
        workload.run_bounded((lambda k=k: len(b.get_metric_history(run_b, k))) for k in keys)
    )
    if counted != points:
        raise AssertionError(f"floor run {run_b} has {counted} points on B, expected {points}")


def _check_artifacts(uri_b: str, run_b: str, built: workload.LargeRun, hashes: bool) -> None:
    """B holds exactly the generated files with their sizes (and, if ``hashes``, bytes)."""
    repo = artifact_repo(uri_b, harness.client(uri_b).get_run(run_b).info.artifact_uri)
    on_b = dict(list_files(repo))
    expected = {path: size for path, (size, _) in built.files.items()}
    if on_b != expected:
        raise AssertionError(
            f"artifacts on B differ: {len(on_b)} files, expected "
            f"{len(expected)}; e.g. {sorted(set(on_b) ^ set(expected))[:3]}"
        )
    if not hashes:
        return

    def digest(path: str) -> tuple[str, str]:
        with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
            local = Path(tmp, "f")
            repo._download_file(path, str(local))
            return path, hashlib.sha256(local.read_bytes()).hexdigest()

    wrong = [
        p
        for p, d in workload.run_bounded((lambda p=p: digest(p)) for p in on_b)
        if d != built.files[p][1]
    ]
    if wrong:
        raise AssertionError(f"{len(wrong)} artifacts differ in content on B, e.g. {wrong[0]}")


# Results ---------------------------------------------------------------------------------------


def _results(
    args, built, generated, file_runs, files, metric_runs, metrics, export, import_
) -> dict:
    floor_s = files.seconds + metrics.seconds
    tool_s = export.seconds + import_.seconds
    tool_rss = max(export.peak_rss_mb, import_.peak_rss_mb)
    return {
        "benchmark": "bench_run",
        "machine": harness.machine(),
        "workload": {
            "points": built.points,
            "keys": built.keys,
            "files": len(built.files),
            "artifact_bytes": built.artifact_bytes,
            "generated_seconds": generated,
            "server_workers": args.server_workers,
            "tool_workers": args.workers,
            "tool_python": args.tool_python or "this interpreter",
        },
        "floor": {
            "artifacts_tried": [m.row() for m in file_runs],
            "artifacts": files.row(),
            "metrics_tried": [m.row() for m in metric_runs],
            "metrics_best": metrics.row(),
            "seconds": floor_s,
        },
        "tool": {
            "export": export.row(),
            "import": import_.row(),
            "seconds": tool_s,
            "peak_rss_mb": tool_rss,
        },
        "ratio": tool_s / floor_s,
        "targets": {
            "ratio": TARGET_RATIO,
            "peak_rss_mb": TARGET_RSS_MB,
            "ratio_met": tool_s / floor_s <= TARGET_RATIO,
            "rss_met": tool_rss < TARGET_RSS_MB,
        },
    }


def _table(data: dict) -> str:
    floor, tool = data["floor"], data["tool"]
    rows = []
    for m in [*floor["artifacts_tried"], *floor["metrics_tried"], tool["export"], tool["import"]]:
        rows.append(
            [
                m["label"],
                f"{m['seconds']:.2f}",
                f"{m['process_seconds']:.2f}",
                f"{m['peak_rss_mb']:.0f}",
                f"{m['import_rss_mb']:.0f}",
                f"{m['peak_rss_mb'] - m['import_rss_mb']:.0f}",
                _cpu(m["cpu_seconds"]),
            ]
        )
    rows.append(
        [
            "**floor** (artifacts + fastest metrics)",
            f"**{floor['seconds']:.2f}**",
            "",
            "",
            "",
            "",
            "",
        ]
    )
    rows.append(
        [
            "**tool** (export + import)",
            f"**{tool['seconds']:.2f}**",
            "",
            f"**{tool['peak_rss_mb']:.0f}**",
            "",
            "",
            "",
        ]
    )
    table = harness.markdown_table(
        rows,
        [
            "step",
            "wall s",
            "process s",
            "peak RSS MB",
            "after imports MB",
            "growth MB",
            "CPU s: client / A / B",
        ],
    )
    w = data["workload"]
    what = (
        f"{w['points']} points / {w['keys']} keys, {w['files']} files "
        f"({w['artifact_bytes'] / workload.MB:.0f} MiB)"
    )
    targets = data["targets"]
    return (
        harness.heading(what, w["server_workers"], data["machine"])
        + f"; python: {w['tool_python']}\n\n{table}\n\n"
        f"tool / floor = **{data['ratio']:.2f}** (target <= {targets['ratio']}: "
        f"{'met' if targets['ratio_met'] else 'NOT met'}); tool peak RSS "
        f"{tool['peak_rss_mb']:.0f} MB (target < {targets['peak_rss_mb']}: "
        f"{'met' if targets['rss_met'] else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
