"""Quickstart: move a sample run between two local sqlite stores with ``mlflow migrate``.

No server to start: both sides are sqlite files under ./quickstart-work/. The script
1. builds a sample run in the source store (params, tags, a metric history, dataset input,
   artifacts, and an MLflow 3 LoggedModel with its MLmodel file),
2. runs ``mlflow migrate export-run`` and ``mlflow migrate import-run`` exactly as a user would,
3. compares source and destination and prints what moved.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, LoggedModelOutput, Metric, Param
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

WORK = Path("quickstart-work").resolve()
SOURCE = f"sqlite:///{WORK / 'source.db'}"
DESTINATION = f"sqlite:///{WORK / 'destination.db'}"
MLMODEL = """artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.pyfunc.model
    python_version: 3.11.7
mlflow_version: 3.17.2
model_id: {model_id}
run_id: {run_id}
"""


def build_sample_run(client: MlflowClient) -> str:
    experiment_id = client.create_experiment(
        "quickstart-source",
        artifact_location=str(WORK / "source-artifacts"),
        tags={"mlflow.note.content": "Sample experiment for the mlflow-migrate quickstart"},
    )
    run = client.create_run(
        experiment_id,
        start_time=1_700_000_000_000,
        run_name="sample-run",
        tags={"mlflow.user": "alice", "team": "ml-platform"},
    )
    run_id = run.info.run_id
    client.log_batch(run_id, params=[Param("learning_rate", "0.01"), Param("epochs", "50")])
    client.log_batch(
        run_id,
        metrics=[
            Metric(key, value, 1_700_000_000_000 + 1000 * step, step)
            for step in range(50)
            for key, value in (("loss", 1 / (step + 1)), ("accuracy", 1 - 1 / (step + 2)))
        ],
    )
    client.log_inputs(
        run_id,
        [
            DatasetInput(
                Dataset("iris", "d41d8cd9", "local", '{"uri": "data/iris.csv"}'),
                [InputTag("mlflow.data.context", "training")],
            )
        ],
    )
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "report.txt").write_text("validation accuracy 0.98\n")
        Path(tmp, "plots").mkdir()
        Path(tmp, "plots", "loss.csv").write_text(
            "".join(f"{s},{1 / (s + 1)}\n" for s in range(50))
        )
        client.log_artifacts(run_id, tmp)
    model = client.create_logged_model(
        experiment_id,
        name="iris-classifier",
        source_run_id=run_id,
        model_type="classifier",
        params={"max_depth": "3"},
    )
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "MLmodel").write_text(MLMODEL.format(model_id=model.model_id, run_id=run_id))
        Path(tmp, "model.bin").write_bytes(b"\x00trained-weights\x00" * 64)
        get_artifact_repository(model.artifact_location, tracking_uri=SOURCE).log_artifacts(tmp)
    client.finalize_logged_model(model.model_id, "READY")
    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, 49)])
    client.set_terminated(run_id, "FINISHED", end_time=1_700_000_060_000)
    return run_id


def migrate(*args: str) -> None:
    command = [sys.executable, "-m", "mlflow_migrate_plugin", *args]
    print("$ mlflow migrate " + " ".join(args), flush=True)
    subprocess.run(command, check=True)


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    source = MlflowClient(tracking_uri=SOURCE, registry_uri=SOURCE)
    destination = MlflowClient(tracking_uri=DESTINATION, registry_uri=DESTINATION)
    run_id = build_sample_run(source)
    # The destination experiment is made first only to keep its artifacts under WORK;
    # import-run would otherwise create it with MLflow's default location (./mlruns).
    destination.create_experiment(
        "quickstart-destination", artifact_location=str(WORK / "destination-artifacts")
    )

    export_dir = WORK / "export"
    migrate(
        "export-run", "--run-id", run_id, "--output-dir", str(export_dir), "--tracking-uri", SOURCE
    )
    migrate(
        "import-run",
        "--input-dir",
        str(export_dir),
        "--experiment-name",
        "quickstart-destination",
        "--use-src-user-id",
        "--tracking-uri",
        DESTINATION,
    )

    src_run = source.get_run(run_id)
    [dst_run] = destination.search_runs(
        [destination.get_experiment_by_name("quickstart-destination").experiment_id]
    )
    checks = {
        "start/end time": (src_run.info.start_time, src_run.info.end_time)
        == (dst_run.info.start_time, dst_run.info.end_time),
        "user": src_run.info.user_id == dst_run.info.user_id,
        "params": src_run.data.params == dst_run.data.params,
        "metric history": all(
            [(m.step, m.timestamp, m.value) for m in source.get_metric_history(run_id, k)]
            == [
                (m.step, m.timestamp, m.value)
                for m in destination.get_metric_history(dst_run.info.run_id, k)
            ]
            for k in src_run.data.metrics
        ),
        "dataset input": len(dst_run.inputs.dataset_inputs) == 1,
        "logged model": len(dst_run.outputs.model_outputs) == 1,
        "artifacts": sorted(a.path for a in destination.list_artifacts(dst_run.info.run_id))
        == sorted(a.path for a in source.list_artifacts(run_id)),
    }
    print(f"\nSource run {run_id} -> destination run {dst_run.info.run_id}")
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    if not all(checks.values()):
        sys.exit(1)
    print(f"\nEverything is in {WORK}. Run the import again: it reports the run as skipped.")


if __name__ == "__main__":
    main()
