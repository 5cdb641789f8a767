"""The README's first command ends in ``examples/quickstart.py``: it must run as a user runs it.

The script runs in a subprocess from an empty folder (it writes ``./quickstart-work``), builds
its sample run in one sqlite store, moves it with the ``mlflow`` command's ``migrate export-run``
/ ``import-run`` and checks the destination itself, field by field; a FAIL line or a non-zero
exit fails this test. Its comparison must also see a field that was lost.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"
CHECKS = (
    "start and end time",
    "status",
    "run name",
    "user",
    "lifecycle stage",
    "params",
    "tags",
    "metric history",
    "dataset inputs",
    "artifacts",
    "model outputs",
    "logged model",
    "logged model artifacts",
    "MLmodel",
    "MLmodel ids",
)


@pytest.fixture(scope="module")
def quickstart_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quickstart")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    result = subprocess.run(
        [sys.executable, str(SCRIPT)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return folder, result


@pytest.mark.slow
def test_quickstart_moves_its_sample_run_with_every_check_ok(quickstart_run):
    folder, result = quickstart_run

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert [line.removeprefix("ok").strip() for line in lines if line.startswith("ok ")] == list(
        CHECKS
    )
    assert not any(line.startswith("FAIL") for line in lines)
    assert sum(line.startswith("$ mlflow migrate ") for line in lines) == 2
    assert (folder / "quickstart-work" / "destination.db").is_file()


@pytest.mark.slow
def test_quickstart_fails_a_field_that_was_lost(quickstart_run, monkeypatch):
    """The checks compare what they claim to: a tag, a metric point, an artifact's bytes or a
    LoggedModel param changed on the destination each fail their own check."""
    folder, result = quickstart_run
    assert result.returncode == 0, result.stderr[-3000:]
    monkeypatch.chdir(folder)
    spec = importlib.util.spec_from_file_location("quickstart", SCRIPT)
    quickstart = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quickstart)
    from mlflow import MlflowClient

    source = MlflowClient(quickstart.SOURCE, quickstart.SOURCE)
    destination = MlflowClient(quickstart.DESTINATION, quickstart.DESTINATION)
    [src_run] = source.search_runs(
        [source.get_experiment_by_name("quickstart-source").experiment_id]
    )
    experiment = destination.get_experiment_by_name("quickstart-destination")
    [dst_run] = destination.search_runs([experiment.experiment_id])
    src_id, dst_id = src_run.info.run_id, dst_run.info.run_id
    assert not any(quickstart.compare(source, destination, src_id, dst_id).values())

    destination.delete_tag(dst_id, "team")
    destination.log_metric(dst_id, "loss", 0.5, timestamp=1, step=1000)
    (Path(dst_run.info.artifact_uri) / "plots" / "by-epoch" / "loss.csv").write_text("0,1\n")
    model_id = dst_run.outputs.model_outputs[0].model_id
    destination.set_logged_model_tags(model_id, {"stage": "production"})

    failed = {k for k, v in quickstart.compare(source, destination, src_id, dst_id).items() if v}
    assert failed == {"tags", "metric history", "artifacts", "logged model"}
