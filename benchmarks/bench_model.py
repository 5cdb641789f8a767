"""Benchmark: export-model + import-model of a model with many versions, default pool vs one worker.

    python -m benchmarks.bench_model [--versions N]

Builds on server A a registered model of N versions, each from its own small run (even versions
with an MLflow 3 LoggedModel source, odd ones with a path in their run's artifacts), then exports
and imports it to server B with the tool's default pool and with ``--workers 1``, each step in a
fresh process. Checks each import (every version with its number, run, source and the alias) and
reports the speed-up and peak RSS.
"""

from __future__ import annotations

from mlflow import MlflowClient

from . import harness, speedup, workload

MODEL = "bench-model"
TARGET_SPEEDUP = None  # issue 4 asks for the speed-up to be reported, and sets no target
TARGET_RSS_MB = 250


def main(argv: list[str] | None = None) -> None:
    parser = harness.parser("bench_model", __doc__)
    parser.add_argument("--versions", type=int, default=20, help="model versions (default 20)")
    args = harness.parse_args(parser, argv)
    with harness.servers_for(args) as (root, server_a, server_b):
        a, b = harness.client(server_a.url), harness.client(server_b.url)
        numbers, generated = harness.timed(
            workload.registered_model, a, MODEL, f"{MODEL}-runs", versions=args.versions
        )
        print(f"workload: model of {len(numbers)} versions in {generated:.1f}s")

        passes = speedup.measure_passes(
            root,
            server_a,
            server_b,
            args.tool_python,
            export_args=lambda out: ["export-model", "--model", MODEL, "--output-dir", str(out)],
            import_args=lambda out, suffix: [
                "import-model",
                "--input-dir",
                str(out),
                "--model",
                f"{MODEL}-{suffix}",
                "--experiment-name",
                f"{MODEL}-runs-{suffix}",
            ],
            check=lambda suffix: _check(b, f"{MODEL}-{suffix}", f"{MODEL}-runs-{suffix}", numbers),
        )
        print("  checked: every version on B with its number, run, source and the alias")

    speedup.publish(
        "bench_model",
        {"versions": len(numbers), "generated_seconds": generated, **harness.options_record(args)},
        passes,
        TARGET_SPEEDUP,
        TARGET_RSS_MB,
        f"registered model of {len(numbers)} versions",
    )


def _check(b: MlflowClient, model: str, experiment: str, numbers: list[int]) -> None:
    exp = b.get_experiment_by_name(experiment)
    run_ids = {r.info.run_id for r in b.search_runs([exp.experiment_id], max_results=1000)}
    versions = b.search_model_versions(f"name = '{model}'", max_results=1000)
    if sorted(int(v.version) for v in versions) != sorted(numbers):
        raise AssertionError(
            f"{model}: versions {sorted(int(v.version) for v in versions)} on "
            f"B, expected {sorted(numbers)}"
        )
    for v in versions:
        if v.run_id not in run_ids:
            raise AssertionError(f"{model} v{v.version}: run {v.run_id} is not the imported run")
        if int(v.version) % 2 == 0:
            if not (v.source or "").startswith("models:/m-"):
                raise AssertionError(f"{model} v{v.version}: source {v.source!r} lost its model")
            b.get_logged_model(v.source.removeprefix("models:/"))
    alias = b.get_registered_model(model).aliases.get("champion")
    if numbers and str(alias) != str(numbers[-1]):
        raise AssertionError(f"{model}: alias champion -> {alias}, expected {numbers[-1]}")


if __name__ == "__main__":
    main()
