"""Benchmark: verify-experiment of the 200-run experiment, against the import it checks.

    python -m benchmarks.bench_verify [--runs N]

Builds on server A the experiment of ``bench_experiment`` (N small runs: 10 metrics x 10 steps,
5 params, 2 small artifacts each, some nested), exports it and imports it to server B with the
tool's default pool, checks the import as ``bench_experiment`` does, then runs
``verify-experiment`` (default pool, every metric point and every file's sha256), each step in a
fresh process. The verify must exit 0; then one tag is changed on B and a second verify (not
timed) must find it. Target: verifying takes less time than importing.
"""

from __future__ import annotations

from mlflow import MlflowClient

from mlflow_migrate_plugin import api, idmap

from . import harness
from .bench_experiment import _check, all_runs, build, command_line

EXPERIMENT = "bench-verify-runs"
TARGET_RSS_MB = 250


def main(argv: list[str] | None = None) -> None:
    args = command_line("bench_verify", __doc__, argv)
    with harness.servers_for(args) as (root, server_a, server_b):
        servers = {"A": server_a, "B": server_b}
        a, b = harness.client(server_a.url), harness.client(server_b.url)
        source_ids, _ = build(a, EXPERIMENT, args.runs)

        out = root / "export"
        target = f"{EXPERIMENT}-imported"
        steps = {
            "export": ["export-experiment", "--experiment", EXPERIMENT, "--output-dir", str(out),
                       "--tracking-uri", server_a.url],
            "import": ["import-experiment", "--experiment-name", target, "--input-dir", str(out),
                       "--tracking-uri", server_b.url],
            "verify": ["verify-experiment", "--experiment", EXPERIMENT, "--dst-experiment-name",
                       target, "--src-mlflow-uri", server_a.url, "--dst-mlflow-uri", server_b.url,
                       "--output-file", str(root / "verify.json")],
        }  # fmt: skip
        measured = {}
        for step, step_args in steps.items():
            measured[step] = harness.step(step, "cli", step_args, root, servers, args.tool_python)
            if step == "import":
                _check(a, b, source_ids, target, server_b.url)
        _check_verify_finds_a_change(b, target, server_a.url, server_b.url)
        print("  checked: the import is complete, and verify finds a tag changed afterwards")

    verify, import_ = measured["verify"], measured["import"]
    data = {
        "benchmark": "bench_verify",
        "machine": harness.machine(),
        "workload": {"runs": len(source_ids), "server_workers": args.server_workers},
        "steps": {step: m.row() for step, m in measured.items()},
        "targets": {
            "verify_faster_than_import": verify.seconds < import_.seconds,
            "verify_over_import": round(verify.seconds / import_.seconds, 2),
            "rss_mb": TARGET_RSS_MB,
            "rss_met": verify.peak_rss_mb < TARGET_RSS_MB,
        },
    }
    what = f"experiment of {len(source_ids)} small runs"
    table = (
        harness.heading(what, args.server_workers, data["machine"])
        + "\n\n"
        + harness.markdown_table(
            [
                [step, f"{r.seconds:.2f}", f"{r.peak_rss_mb:.0f}", f"{r.cpu['client']:.1f}"]
                for step, r in measured.items()
            ],
            ["step (default workers)", "wall s", "peak RSS MB", "client CPU s"],
        )
        + f"\n\nverify / import: {data['targets']['verify_over_import']}x; target < 1: "
        + ("met" if data["targets"]["verify_faster_than_import"] else "NOT met")
    )
    harness.publish("bench-verify", data, table)


def _check_verify_finds_a_change(b: MlflowClient, target: str, uri_a: str, uri_b: str) -> None:
    """A verify that cannot fail proves nothing: change one tag on B and expect it named."""
    run = all_runs(b, b.get_experiment_by_name(target).experiment_id)[0]
    b.set_tag(run.info.run_id, "bench-altered", "yes")
    source_id = run.data.tags[idmap.SOURCE_RUN_ID]
    result = api.verify_run(
        source_id, dst_experiment_name=target, src_mlflow_uri=uri_a, dst_mlflow_uri=uri_b
    )
    fields = [f.field for _, f in result.findings("changed")]
    if fields != ["tags[bench-altered]"]:
        raise AssertionError(f"verify after altering B found {fields}")


if __name__ == "__main__":
    main()
