"""Damaged or crafted run exports: refused in one line naming the file and the field, and
nothing at all made on the destination (no experiment, so no run, not even a deleted one).

One good export is made once per module from the source server; each case copies it, damages
one field (see ``tests/damage.py``), and imports it through the real ``migrate`` group. The
oversized cases run the import in a child process and measure its peak memory, which must stay
far below the size of the file. Experiments and models: ``test_damaged_object_exports.py``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlflow_migrate_plugin.endpoint import Endpoint
from mlflow_migrate_plugin.errors import ExportDirError, RecordError
from mlflow_migrate_plugin.exportdir.run_dir import RunDir
from tests.damage import (
    MiB,
    assert_no_experiment,
    cli,
    damaged_copy,
    drop_run_field,
    edit_json,
    export_a_good_run,
    format_version,
    metric_line,
    one_error_line,
    record_history,
    refused_import,
    run_field,
    surrogate_in_param_key,
    surrogate_in_tag,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REFERENCE_RUN = (
    FIXTURES
    / "anchor-repo-samples/oss_mlflow/single/experiments/basic/runs"
    / "eb66c160957d4a28b11d3f1b968df9cd"
)


@pytest.fixture(scope="module")
def good_run_export(src_server, tmp_path_factory) -> Path:
    """One run export (metric history, a dataset input, a LoggedModel), made once."""
    return export_a_good_run(src_server, tmp_path_factory, "damaged")


RUN_CASES = [
    pytest.param(
        run_field("info", "start_time", "yesterday"),
        "run.json: mlflow.info.start_time: expected an integer (ms since epoch), got a string "
        "'yesterday'",
        id="start-time-a-string",
    ),
    pytest.param(
        run_field("info", "end_time", 1.5),
        "run.json: mlflow.info.end_time: expected an integer",
        id="end-time-a-float",
    ),
    pytest.param(
        run_field("info", "status", "EXPLODED"),
        "run.json: mlflow.info.status: expected one of RUNNING, SCHEDULED, FINISHED, FAILED, "
        "KILLED; got 'EXPLODED'",
        id="unknown-status",
    ),
    pytest.param(
        run_field("info", "lifecycle_stage", "gone"),
        "run.json: mlflow.info.lifecycle_stage: expected one of active, deleted",
        id="unknown-lifecycle-stage",
    ),
    pytest.param(
        drop_run_field("info", "run_id"),
        "run.json: mlflow.info.run_id: missing",
        id="missing-run-id",
    ),
    pytest.param(drop_run_field("info"), "run.json: mlflow.info: missing", id="missing-info"),
    pytest.param(
        run_field("params", "alpha", 0.1),
        "run.json: mlflow.params.alpha: expected a string, got a number 0.1",
        id="param-a-number",
    ),
    pytest.param(
        run_field("tags", ["team"]),
        "run.json: mlflow.tags[0]: expected an object, got a string 'team'",
        id="tags-a-list-of-strings",
    ),
    pytest.param(
        surrogate_in_tag,
        "run.json: mlflow.tags.team: holds a lone surrogate",
        id="lone-surrogate",
    ),
    pytest.param(
        surrogate_in_param_key,
        "run.json: mlflow.params.al\\ud800pha: holds a lone surrogate",
        id="lone-surrogate-in-a-key",
    ),
    pytest.param(
        run_field("inputs", "dataset_inputs", [{"dataset": {"digest": "x"}}]),
        "run.json: mlflow.inputs.dataset_inputs[0].dataset.name: missing",
        id="dataset-without-name",
    ),
    pytest.param(
        run_field("outputs", "model_outputs", [{"model_id": "m-1", "step": "0"}]),
        "run.json: mlflow.outputs.model_outputs[0].step: expected an integer",
        id="model-output-step-a-string",
    ),
    pytest.param(
        lambda e: edit_json(
            e / "run.json", lambda d: d["mlflow"]["logged_models"][0].update(status="SHINY")
        ),
        "run.json: mlflow.logged_models[0].status: expected one of UNSPECIFIED, PENDING, "
        "READY, FAILED",
        id="logged-model-status",
    ),
    pytest.param(
        lambda e: edit_json(
            e / "run.json", lambda d: d["info"]["artifacts"]["files"][0].update(size="12")
        ),
        "run.json: info.artifacts.files[0].size: expected an integer, got a string '12'",
        id="manifest-size-a-string",
    ),
    pytest.param(
        format_version,
        "run.json: system.format_version: format version 99 is not supported",
        id="unknown-format-version",
    ),
    pytest.param(
        metric_line("step", 1.5),
        "metrics.jsonl:1: step: expected an integer, got a number 1.5",
        id="float-step",
    ),
    pytest.param(
        metric_line("timestamp", -5),
        "metrics.jsonl:1: timestamp: expected a timestamp (ms since epoch), got -5",
        id="negative-timestamp",
    ),
    pytest.param(
        metric_line("value", "abc"),
        "metrics.jsonl:1: value: expected a number, got a string 'abc'",
        id="value-a-string",
    ),
    pytest.param(
        metric_line("key", "k" * 251),
        "metrics.jsonl:1: key: 251 characters long; MLflow takes at most 250",
        id="metric-key-too-long",
    ),
    pytest.param(
        metric_line("key", None),
        "metrics.jsonl:1: key: missing",
        id="metric-key-null",
    ),
]


@pytest.mark.parametrize("damage,says", RUN_CASES)
def test_damaged_run_export_is_refused_before_anything_is_created(
    good_run_export, tmp_path, dst, unique_name, damage, says
):
    export = damaged_copy(good_run_export, tmp_path / "run", damage)

    assert says in refused_import("import-run", export, dst, unique_name("dst-"))


def test_reference_run_with_a_metric_value_not_a_number_is_refused(tmp_path, dst, unique_name):
    export = damaged_copy(REFERENCE_RUN, tmp_path / "run", lambda e: edit_json(
        e / "run.json", lambda d: d["mlflow"]["metrics"].update(
            rmse=[{"value": "abc", "timestamp": 1, "step": 0}]
        )
    ))  # fmt: skip

    line = refused_import("import-run", export, dst, unique_name("dst-"))

    assert "run.json: mlflow.metrics.rmse[0].value: expected a number, got a string 'abc'" in line


@pytest.mark.parametrize(
    "change,says",
    [
        pytest.param(
            lambda m: m.update(status="shiny"),
            "mlflow.status: expected one of UNSPECIFIED, PENDING, READY, FAILED; got 'SHINY'",
            id="status",
        ),
        pytest.param(
            lambda m: m["metrics"][0].update(step=0.5),
            "mlflow.metrics[0].step: expected an integer, got a number 0.5",
            id="metric-step",
        ),
        pytest.param(
            lambda m: m.update(params={"depth": 3}),
            "mlflow.params.depth: expected a string, got an integer 3",
            id="param-an-integer",
        ),
    ],
)
def test_reference_logged_model_json_damaged_is_refused(
    reference_fixtures, tmp_path, dst, unique_name, change, says
):
    export = tmp_path / "run"
    shutil.copytree(reference_fixtures / "anchor-exports/run-with-logged-model", export)
    [model_json] = list(export.glob("m-*/logged_model.json"))
    edit_json(model_json, lambda d: change(d["mlflow"]))

    assert "logged_model.json: " + says in refused_import(
        "import-run", export, dst, unique_name("dst-")
    )


# Oversized files: refused without being read whole -----------------------------------------------

# A child process that runs the command given and reports its peak RSS (Linux: kilobytes).
_PEAK_RSS_PROBE = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stderr.write(done.stderr)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(done.returncode)
"""


# An import that refuses at once peaks near 175 MiB (Python, MLflow and this package loaded);
# reading the files below whole would take several times their size.
PEAK_RSS_LIMIT = 256 * MiB


def _import_in_child(export: Path, dst: Endpoint, name: str) -> tuple[int, str, int]:
    """import-run in a fresh process: its exit code, stderr and peak RSS in bytes."""
    command = [sys.executable, "-m", "mlflow_migrate_plugin", "import-run"]
    command += ["--input-dir", str(export), "--experiment-name", name]
    command += ["--tracking-uri", dst.tracking_uri]
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS_PROBE, *command],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, done.stderr, int(done.stdout.split()[-1]) * 1024


def _refused_in_child(export: Path, dst: Endpoint, name: str) -> str:
    """import-run in a fresh process: its one error line, once it is checked that it exited 1,
    stayed below PEAK_RSS_LIMIT and made no experiment."""
    code, stderr, peak = _import_in_child(export, dst, name)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1, stderr
    assert peak < PEAK_RSS_LIMIT, f"peak RSS {peak / MiB:.0f} MiB"
    assert_no_experiment(dst, name)
    return lines[0]


def _grow(path: Path, size: int) -> None:
    """Pad ``path`` to ``size`` bytes (NULs, sparse on disk: nothing real is written)."""
    with open(path, "r+b") as f:
        f.truncate(size)


def test_oversized_run_json_is_refused_without_reading_it(
    good_run_export, tmp_path, dst, unique_name
):
    export = tmp_path / "run"
    shutil.copytree(good_run_export, export)
    size = 1024 * MiB
    _grow(export / "run.json", size)

    line = _refused_in_child(export, dst, unique_name("dst-"))

    assert f"run.json: {size} bytes, more than the {64 * MiB}" in line


def test_oversized_metrics_line_is_refused_without_holding_it(
    good_run_export, tmp_path, dst, unique_name
):
    export = tmp_path / "run"
    shutil.copytree(good_run_export, export)
    history = export / "metrics.jsonl"
    history.write_text('{"key": "loss", "value": 1.0, "timestamp": 1, "step": 0, "pad": "')
    size = 600 * MiB
    _grow(history, size)  # one line: no newline in it
    record_history(export)  # as a crafted export would: size and hash agree

    line = _refused_in_child(export, dst, unique_name("dst-"))

    assert f"metrics.jsonl:1: line longer than {MiB} bytes" in line


# Values no import takes: named at export ---------------------------------------------------------


def test_export_warns_of_a_param_longer_than_mlflow_keeps(tmp_path, monkeypatch, dst, unique_name):
    # A file store keeps what is written into it; a server would have cut or refused the value.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    store = tmp_path / "mlruns"
    src = Endpoint(store.as_uri(), store.as_uri())
    experiment_id = src.client.create_experiment("long-values")
    run_id = src.client.create_run(experiment_id).info.run_id
    src.client.log_param(run_id, "long", "short for now")
    src.client.set_terminated(run_id)
    (store / experiment_id / run_id / "params" / "long").write_text("p" * 7000)
    export = tmp_path / "export"

    exported = cli(
        "export-run", "--run-id", run_id, "--output-dir", export,
        "--tracking-uri", src.tracking_uri,
    )  # fmt: skip

    assert exported.exit_code == 0, exported.output
    warnings = [line for line in exported.stderr.splitlines() if line.startswith("Warning:")]
    assert warnings == [
        f"Warning: run {run_id}: param 'long' is 7000 characters long; the destination keeps "
        "only 6000 and would cut it silently; importing this export will refuse the run"
    ]
    name = unique_name("dst-")
    imported = cli(
        "import-run", "--input-dir", export, "--experiment-name", name,
        "--tracking-uri", dst.tracking_uri,
    )  # fmt: skip
    assert "run.json: param 'long' is 7000 characters long" in one_error_line(imported)
    assert_no_experiment(dst, name)


def test_record_error_carries_the_file_and_the_field(good_run_export, tmp_path):
    export = tmp_path / "run"
    shutil.copytree(good_run_export, export)
    run_field("info", "status", "EXPLODED")(export)

    with pytest.raises(RecordError) as caught:
        RunDir(export)

    assert isinstance(caught.value, ExportDirError)
    assert (caught.value.file, caught.value.field) == (export / "run.json", "mlflow.info.status")


def test_negative_step_is_imported_as_it_is(good_run_export, tmp_path, dst, unique_name):
    # MLflow takes any integer step (only a timestamp must not be negative): not damage.
    export = tmp_path / "run"
    shutil.copytree(good_run_export, export)
    metric_line("step", -3)(export)
    first = json.loads((export / "metrics.jsonl").read_text().splitlines()[0])
    name = unique_name("dst-")

    result = cli(
        "import-run", "--input-dir", export, "--experiment-name", name,
        "--tracking-uri", dst.tracking_uri,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    experiment = dst.client.get_experiment_by_name(name)
    [run] = dst.client.search_runs([experiment.experiment_id])
    history = dst.client.get_metric_history(run.info.run_id, first["key"])
    assert (-3, first["timestamp"], first["value"]) in [
        (m.step, m.timestamp, m.value) for m in history
    ]
