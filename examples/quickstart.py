"""Quickstart: move a sample run between two local sqlite stores with ``mlflow migrate``.

No server to start: both sides are sqlite files under ./quickstart-work/. The script
1. builds a sample run in the source store (params, tags, a metric history, a dataset input,
   nested artifacts, and an MLflow 3 LoggedModel with a linked metric and its MLmodel file),
2. runs ``mlflow migrate export-run`` and ``mlflow migrate import-run`` with the ``mlflow``
   command of this Python environment, exactly as a user would,
3. compares the destination with the source field by field, prints one line per check, and
   exits 1 if any field was lost or changed.

What may differ is only what MLflow does not let a client set: the run's and the LoggedModel's
ids (every reference follows the new ones), and the import's own marker tags.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, LoggedModelOutput, Metric, Param
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

WORK = Path("quickstart-work").resolve()
SOURCE = f"sqlite:///{WORK / 'source.db'}"
DESTINATION = f"sqlite:///{WORK / 'destination.db'}"
# The `mlflow` command installed beside this Python; `migrate` joins it through the plugin hook.
MLFLOW = Path(sys.executable).with_name("mlflow")
# Tags the import adds on purpose (README, "What is kept"); any other difference is a loss.
RUN_MARKER_TAGS = {"mlflow_migrate.source.run_id", "mlflow_migrate.import_state"}
MODEL_MARKER_TAGS = {"mlflow_migrate.source.model_id"}
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
        Path(tmp, "plots", "by-epoch").mkdir(parents=True)
        Path(tmp, "plots", "by-epoch", "loss.csv").write_text(
            "".join(f"{s},{1 / (s + 1)}\n" for s in range(50))
        )
        client.log_artifacts(run_id, tmp)
    model = client.create_logged_model(
        experiment_id,
        name="iris-classifier",
        source_run_id=run_id,
        model_type="classifier",
        params={"max_depth": "3"},
        tags={"stage": "candidate"},
    )
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "MLmodel").write_text(MLMODEL.format(model_id=model.model_id, run_id=run_id))
        Path(tmp, "weights", "layer0.bin").parent.mkdir()
        Path(tmp, "weights", "layer0.bin").write_bytes(b"\x00trained-weights\x00" * 64)
        get_artifact_repository(model.artifact_location, tracking_uri=SOURCE).log_artifacts(tmp)
    client.finalize_logged_model(model.model_id, "READY")
    # A metric of the run that is also the model's, measured on the dataset.
    client.log_batch(
        run_id,
        metrics=[
            Metric(
                "val_accuracy",
                0.98,
                1_700_000_050_000,
                49,
                model_id=model.model_id,
                dataset_name="iris",
                dataset_digest="d41d8cd9",
            )
        ],
    )
    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, 49)])
    client.set_terminated(run_id, "FINISHED", end_time=1_700_000_060_000)
    return run_id


def migrate(*args: str) -> None:
    """Run ``mlflow migrate ARGS`` as a user types it; stop the quickstart if it fails."""
    print("$ mlflow migrate " + " ".join(args), flush=True)
    if not MLFLOW.is_file():
        sys.exit(f"FAIL: no `mlflow` command at {MLFLOW}; install with pip install -e '.[local]'")
    result = subprocess.run([str(MLFLOW), "migrate", *args])
    if result.returncode != 0:
        sys.exit(f"FAIL: mlflow migrate {args[0]} exited with {result.returncode}")


# Comparison -----------------------------------------------------------------------------------


def artifact_files(artifact_uri: str, tracking_uri: str) -> dict[str, bytes]:
    """Every artifact file below ``artifact_uri``, at any depth, with its bytes."""
    repo = get_artifact_repository(artifact_uri, tracking_uri=tracking_uri)
    files: dict[str, bytes] = {}

    def walk(path: str | None) -> None:
        for entry in repo.list_artifacts(path):
            if entry.is_dir:
                walk(entry.path)
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    files[entry.path] = Path(repo.download_artifacts(entry.path, tmp)).read_bytes()

    walk(None)
    return files


def run_fields(client: MlflowClient, run_id: str) -> dict:
    """What the README says is kept of a run, LoggedModels aside."""
    run = client.get_run(run_id)
    info = run.info
    return {
        "start and end time": (info.start_time, info.end_time),
        "status": info.status,
        "run name": info.run_name,
        "user": info.user_id,
        "lifecycle stage": info.lifecycle_stage,
        "params": run.data.params,
        "tags": {k: v for k, v in run.data.tags.items() if k not in RUN_MARKER_TAGS},
        "metric history": {
            key: [(m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key)]
            for key in sorted(run.data.metrics)
        },
        "dataset inputs": sorted(
            (
                d.dataset.name,
                d.dataset.digest,
                d.dataset.source_type,
                d.dataset.source,
                d.dataset.schema,
                d.dataset.profile,
                sorted((t.key, t.value) for t in d.tags),
            )
            for d in run.inputs.dataset_inputs
        ),
        "artifacts": artifact_files(info.artifact_uri, client.tracking_uri),
    }


def logged_model_fields(client: MlflowClient, model_id: str) -> dict:
    model = client.get_logged_model(model_id)
    artifacts = artifact_files(model.artifact_location, client.tracking_uri)
    mlmodel = yaml.safe_load(artifacts.pop("MLmodel", b"") or b"{}")
    return {
        "logged model": {
            "name": model.name,
            "model_type": model.model_type,
            "status": str(model.status),
            "params": model.params,
            "tags": {k: v for k, v in model.tags.items() if k not in MODEL_MARKER_TAGS},
            "metrics": sorted(
                (m.key, m.value, m.timestamp, m.step, m.dataset_name, m.dataset_digest)
                for m in model.metrics or []
            ),
        },
        "logged model artifacts": artifacts,
        # The ids it names are compared apart: they must be the model's and run's own.
        "MLmodel": {k: v for k, v in mlmodel.items() if k not in ("run_id", "model_id")},
        "MLmodel ids": (mlmodel.get("run_id"), mlmodel.get("model_id")),
    }


def compare(source: MlflowClient, destination: MlflowClient, src_id: str, dst_id: str) -> dict:
    """Check name -> None where source and destination agree, else what differs."""
    expected, found = run_fields(source, src_id), run_fields(destination, dst_id)
    [src_output] = source.get_run(src_id).outputs.model_outputs
    dst_outputs = destination.get_run(dst_id).outputs.model_outputs
    expected["model outputs"] = [("the imported model", src_output.step)]
    found["model outputs"] = [
        ("the imported model" if o.model_id != src_output.model_id else o.model_id, o.step)
        for o in dst_outputs
    ]
    expected.update(logged_model_fields(source, src_output.model_id))
    if len(dst_outputs) == 1:
        found.update(logged_model_fields(destination, dst_outputs[0].model_id))
        # The MLmodel names the destination's own run and model, not the source's.
        expected["MLmodel ids"] = (dst_id, dst_outputs[0].model_id)
    return {
        name: None if found.get(name) == value else _difference(value, found.get(name))
        for name, value in expected.items()
    }


def _difference(expected, found) -> str:
    if isinstance(expected, dict) and isinstance(found, dict):
        keys = sorted(k for k in expected.keys() | found.keys() if expected.get(k) != found.get(k))
        return "differs at " + ", ".join(repr(k) for k in keys[:5])
    return f"expected {str(expected)[:80]}, found {str(found)[:80]}"


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

    experiment = destination.get_experiment_by_name("quickstart-destination")
    [dst_run] = destination.search_runs([experiment.experiment_id])
    print(f"\nSource run {run_id} -> destination run {dst_run.info.run_id}")
    problems = compare(source, destination, run_id, dst_run.info.run_id)
    for name, problem in problems.items():
        print(f"  ok   {name}" if problem is None else f"  FAIL {name}: {problem}")
    if any(problems.values()):
        sys.exit(1)
    print(f"\nEverything is in {WORK}. Run the import again: it reports the run as skipped.")


if __name__ == "__main__":
    main()
