"""Benchmark: export-all + import-all of a whole server: a first pass, an unchanged second pass,
one worker, and the floor.

    python -m benchmarks.bench_bulk [--experiments 20] [--runs 100] [--models 50] [--versions 5]

Fills server A with ``--experiments`` experiments of ``--runs`` small runs each (the experiment
benchmark's runs: 10 metrics x 10 steps, 5 params, 2 files, nested in groups) and ``--models``
registered models of ``--versions`` versions (each model's runs in an experiment of its own),
then, each step in a fresh process: export-all + import-all with the tool's default pool (the
first pass); the same two commands again over the unchanged server, into the same directory and
destination (the incremental pass); the floor (every run's params, tags, history and files
copied by 8 plain threads, ``floor.copy_server``); and the first pass with ``--workers 1``. The
passes go to server B under names of their own (rename files), and each is checked: every
experiment with all its runs once, every model with all its versions, each linked to a run of
its experiment. Reports each step's time, CPU and peak RSS, the unchanged pass's share of the
first, the speed-up over one worker, and the first pass against the floor.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import ViewType

from . import harness, workload

TARGET_RSS_MB = 300


def main(argv: list[str] | None = None) -> None:
    parser = harness.parser("bench_bulk", __doc__)
    parser.add_argument("--experiments", type=int, default=20, help="experiments (default 20)")
    parser.add_argument("--runs", type=int, default=100, help="runs per experiment (100)")
    parser.add_argument("--models", type=int, default=50, help="registered models (50)")
    parser.add_argument("--versions", type=int, default=5, help="versions per model (5)")
    args = harness.parse_args(parser, argv)
    with harness.servers_for(args) as (root, server_a, server_b):
        a, b = harness.client(server_a.url), harness.client(server_b.url)
        (experiments, models), generated = harness.timed(_fill, a, args)
        total_runs = sum(experiments.values())
        print(
            f"workload: {len(experiments)} experiments, {total_runs} runs, {len(models)} models "
            f"x {args.versions} versions in {generated:.1f}s"
        )

        steps = _measure(root, server_a, server_b, args.tool_python, experiments, models, b)

    data = {
        "benchmark": "bench_bulk",
        "machine": harness.machine(),
        "workload": {
            "experiments": len(experiments),
            "runs": total_runs,
            "models": len(models),
            "versions_per_model": args.versions,
            "generated_seconds": generated,
            **harness.options_record(args),
        },
        "steps": {name: m.row() for name, m in steps.items()},
        **_figures(steps),
    }
    what = (
        f"whole server: {total_runs} runs in {len(experiments)} experiments, {len(models)} models"
        f" x {args.versions} versions"
    )
    harness.publish("bench-bulk", data, _table(data, what))


def _fill(a: MlflowClient, args) -> tuple[dict, dict]:
    """Server A's experiments and models: run count by experiment, version count by model."""
    experiments = {
        f"bulk-exp-{i:02d}": len(
            workload.small_runs_experiment(a, f"bulk-exp-{i:02d}", runs=args.runs)
        )
        for i in range(args.experiments)
    }
    models = {}
    for m in range(args.models):
        name, runs = f"bulk-model-{m:02d}", f"bulk-model-{m:02d}-runs"
        models[name] = len(workload.registered_model(a, name, runs, versions=args.versions))
        experiments[runs] = args.versions
    return experiments, models


def _measure(root, server_a, server_b, tool_python, experiments, models, b) -> dict:
    """The steps, in this order, each in a fresh process: the first pass with the default
    pool; the same commands again over the unchanged server (same directory, same
    destination); the floor; the first pass with one worker (last: it is the longest)."""
    servers = {"A": server_a, "B": server_b}
    steps: dict[str, harness.Measured] = {}

    def step(name: str, job: str, args: list[str]) -> None:
        steps[name] = harness.step(name, job, args, root, servers, tool_python)

    def export_all(out: Path, *extra: str) -> list[str]:
        return ["export-all", "--output-dir", str(out), "--tracking-uri", server_a.url, *extra]

    def import_all(out: Path, suffix: str, *extra: str) -> list[str]:
        return [
            "import-all",
            "--input-dir",
            str(out),
            "--experiment-rename-file",
            str(_renames(root, "experiments", suffix, experiments)),
            "--model-rename-file",
            str(_renames(root, "models", suffix, models)),
            "--tracking-uri",
            server_b.url,
            *extra,
        ]

    out = root / "export-default"
    step("export-all", "cli", export_all(out))
    step("import-all", "cli", import_all(out, "default"))
    _check(b, "default", experiments, models)
    step("export-all, unchanged", "cli", export_all(out))
    step("import-all, unchanged", "cli", import_all(out, "default"))
    _check(b, "default", experiments, models)  # nothing added twice
    floor_args = {"src_uri": server_a.url, "dst_uri": server_b.url, "suffix": "floor"}
    step("floor: every run copied, 8 threads", "floor-server", [json.dumps(floor_args)])
    out = root / "export-w1"
    step("export-all --workers 1", "cli", export_all(out, "--workers", "1"))
    step("import-all --workers 1", "cli", import_all(out, "w1", "--workers", "1"))
    _check(b, "w1", experiments, models)
    print("  checked: every experiment with each run once, every model with its versions")
    return steps


def _figures(steps: dict) -> dict:
    def total(export: str, import_: str) -> float:
        return steps[export].seconds + steps[import_].seconds

    first = total("export-all", "import-all")
    again = total("export-all, unchanged", "import-all, unchanged")
    one = total("export-all --workers 1", "import-all --workers 1")
    floor = steps["floor: every run copied, 8 threads"].seconds
    return {
        "first_pass_seconds": first,
        "unchanged_pass_seconds": again,
        "unchanged_ratio": again / first,
        "one_worker_seconds": one,
        "speedup_over_one_worker": one / first,
        "floor_seconds": floor,
        "first_pass_over_floor": first / floor,
        "peak_rss_mb": max(m.peak_rss_mb for m in steps.values()),
        "target_rss_mb": TARGET_RSS_MB,
    }


def _table(data: dict, what: str) -> str:
    rows = [
        [
            name,
            f"{m['seconds']:.2f}",
            f"{m['peak_rss_mb']:.0f}",
            " / ".join(f"{m['cpu_seconds'].get(k, 0):.1f}" for k in ("client", "A", "B")),
        ]
        for name, m in data["steps"].items()
    ]
    return (
        harness.heading(what, data["workload"]["server_workers"], data["machine"])
        + "\n\n"
        + harness.markdown_table(rows, ["step", "wall s", "peak RSS MB", "CPU s: client / A / B"])
        + f"\n\nfirst pass (export + import) {data['first_pass_seconds']:.1f} s; unchanged "
        f"second pass {data['unchanged_pass_seconds']:.1f} s (**{data['unchanged_ratio']:.3f}** "
        f"of the first, {1 / data['unchanged_ratio']:.0f}x less); `--workers 1` first pass "
        f"{data['one_worker_seconds']:.1f} s ({data['speedup_over_one_worker']:.1f}x slower); "
        f"floor {data['floor_seconds']:.1f} s (first pass = "
        f"{data['first_pass_over_floor']:.2f} x floor); peak RSS {data['peak_rss_mb']:.0f} MB "
        f"(target < {data['target_rss_mb']})"
    )


def _renames(root: Path, kind: str, suffix: str, names: dict) -> Path:
    """A rename file that sends every object of a pass to a name of its own on B."""
    path = root / f"rename-{kind}-{suffix}.csv"
    path.write_text("".join(f"{name},{name}-{suffix}\n" for name in names))
    return path


def _check(b: MlflowClient, suffix: str, experiments: dict, models: dict) -> None:
    for name, runs in experiments.items():
        exp = b.get_experiment_by_name(f"{name}-{suffix}")
        if exp is None:
            raise AssertionError(f"experiment {name}-{suffix} is not on B")
        found = b.search_runs([exp.experiment_id], run_view_type=ViewType.ALL, max_results=5000)
        if len(found) != runs:
            raise AssertionError(f"{name}-{suffix}: {len(found)} runs on B, expected {runs}")
    for name, versions in models.items():
        model = f"{name}-{suffix}"
        found = b.search_model_versions(f"name = '{model}'", max_results=1000)
        if len(found) != versions:
            raise AssertionError(f"{model}: {len(found)} versions on B, expected {versions}")
        exp = b.get_experiment_by_name(f"{name}-runs-{suffix}")
        run_ids = {r.info.run_id for r in b.search_runs([exp.experiment_id], max_results=1000)}
        for v in found:
            if v.run_id not in run_ids:
                raise AssertionError(
                    f"{model} v{v.version}: run {v.run_id} is not the imported run"
                )


if __name__ == "__main__":
    main()
