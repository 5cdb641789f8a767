"""export-experiment on a real server: the directory it writes, and every option that selects runs.

The source experiment (``tests.experiment_builders.nested_experiment``): root -> child (FAILED)
-> grandchild, root -> deleted child, an unrelated run started a day earlier, a LoggedModel the
root run produced and one no run produced.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
from click.testing import CliRunner
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from mlflow_migrate_plugin import api
from mlflow_migrate_plugin.cli import migrate
from mlflow_migrate_plugin.endpoint import Endpoint
from mlflow_migrate_plugin.errors import UsageError
from mlflow_migrate_plugin.exportdir.experiment_dir import ExperimentDir
from mlflow_migrate_plugin.exportdir.run_dir import RunDir
from tests import experiment_builders as eb


@pytest.fixture(scope="module")
def nested(src_server):
    """Built once for the module: the tests only read it."""
    src = Endpoint(src_server.url, src_server.url)
    return eb.nested_experiment(src, f"src-export-{uuid.uuid4().hex[:8]}")


def _export(src, experiment: str, out, **options):
    return api.export_experiment(experiment, out, tracking_uri=src.tracking_uri, **options)


def _export_cli(src, experiment: str, out, *options):
    """``export-experiment`` through Click's runner, with ``options`` after the required ones."""
    return CliRunner().invoke(
        migrate,
        [
            "export-experiment",
            "--experiment",
            experiment,
            "--output-dir",
            str(out),
            "--tracking-uri",
            src.tracking_uri,
            *options,
        ],
    )


def _exported(out) -> set[str]:
    return {entry.run_id for entry in ExperimentDir(out).runs}


def _document(out) -> dict:
    return json.loads((out / "experiment.json").read_text())


def test_export_experiment_writes_experiment_runs_and_parents(src, nested, tmp_path):
    out = tmp_path / "exp"

    report = _export(src, nested.name, out)

    assert not report.failed
    doc = _document(out)
    experiment = doc["mlflow"]["experiment"]
    assert experiment["name"] == nested.name
    assert experiment["experiment_id"] == nested.experiment_id
    assert experiment["lifecycle_stage"] == "active"
    assert experiment["tags"]["mlflow.note.content"] == "Experiment **description** ✓"
    assert {k: experiment["tags"][k] for k in eb.EXPERIMENT_TAGS} == eb.EXPERIMENT_TAGS
    info = doc["info"]
    assert (info["num_ok_runs"], info["num_failed_runs"], info["failed_runs"]) == (4, 0, [])
    assert sorted(doc["mlflow"]["runs"]) == sorted(nested.active_runs)
    parents = {r["run_id"]: r["parent_run_id"] for r in info["runs"]}
    assert parents == {
        nested.root: None,
        nested.child: nested.root,
        nested.grandchild: nested.child,
        nested.other: None,
    }
    for run_id in nested.active_runs:
        run_dir = RunDir(out / "runs" / run_id)
        assert run_dir.source_run_id == run_id


def test_export_experiment_writes_the_experiment_level_logged_model(src, nested, tmp_path):
    out = tmp_path / "exp"

    _export(src, nested.name, out)

    exp_dir = ExperimentDir(out)
    [model] = exp_dir.logged_models
    assert model["model_id"] == nested.experiment_model and model["name"] == "registered-outside"
    files = {f.path for f in exp_dir.logged_model_files(nested.experiment_model)}
    assert files == {"MLmodel", "weights.bin"}
    root = exp_dir.logged_model_root(nested.experiment_model)
    assert (root / "weights.bin").read_bytes() == bytes(range(200)) * 3
    # The run-produced model travels with its run, not a second time with the experiment.
    root_run = RunDir(out / "runs" / nested.root)
    assert [m["model_id"] for m in root_run.record["logged_models"]] == [nested.run_model]


def test_export_leaves_deleted_runs_out_unless_asked(src, nested, tmp_path):
    _export(src, nested.name, tmp_path / "default")
    _export(src, nested.name, tmp_path / "all", export_deleted_runs=True)

    assert _exported(tmp_path / "default") == nested.active_runs
    assert _exported(tmp_path / "all") == nested.all_runs
    deleted = RunDir(tmp_path / "all" / "runs" / nested.deleted_child).record["info"]
    assert deleted["lifecycle_stage"] == "deleted"


def test_export_with_run_ids_exports_only_those(src, nested, tmp_path):
    report = _export(src, nested.name, tmp_path / "exp", run_ids=f"{nested.child},{nested.other}")

    assert not report.failed
    assert _exported(tmp_path / "exp") == {nested.child, nested.other}


def test_export_with_check_nested_runs_brings_every_descendant(src, nested, tmp_path):
    _export(src, nested.name, tmp_path / "active", run_ids=[nested.root], check_nested_runs=True)
    _export(
        src,
        nested.name,
        tmp_path / "all",
        run_ids=[nested.root],
        check_nested_runs=True,
        export_deleted_runs=True,
    )
    _export(src, nested.name, tmp_path / "child", run_ids=[nested.child], check_nested_runs=True)

    assert _exported(tmp_path / "active") == {nested.root, nested.child, nested.grandchild}
    assert _exported(tmp_path / "all") == {
        nested.root,
        nested.child,
        nested.grandchild,
        nested.deleted_child,
    }
    assert _exported(tmp_path / "child") == {nested.child, nested.grandchild}


def test_export_with_run_start_time_keeps_runs_from_that_utc_day_on(src, unique_name, tmp_path):
    exp_id = eb.builders.experiment(src, unique_name("src-"))
    midnight = eb.T0 - (eb.T0 % eb.DAY)  # 2024-01-15 00:00:00.000 UTC
    before = eb.light_run(src, exp_id, name="before", start_time=midnight - 1)
    at = eb.light_run(src, exp_id, name="at-midnight", start_time=midnight)
    after = eb.light_run(src, exp_id, name="after", start_time=midnight + eb.DAY)
    name = src.client.get_experiment(exp_id).name

    _export(src, name, tmp_path / "all", run_start_time="2024-01-15")
    _export(src, name, tmp_path / "picked", run_start_time="2024-01-15", run_ids=[before, after])

    assert _exported(tmp_path / "all") == {at, after}
    assert _exported(tmp_path / "picked") == {after}


def test_export_rejects_a_run_start_time_that_is_not_a_date(src, nested, tmp_path):
    with pytest.raises(UsageError, match="YYYY-MM-DD"):
        _export(src, nested.name, tmp_path / "exp", run_start_time="15/01/2024")


def test_export_by_experiment_id(src, nested, tmp_path):
    _export(src, nested.experiment_id, tmp_path / "exp")

    assert _exported(tmp_path / "exp") == nested.active_runs


def test_export_reports_a_run_it_cannot_export_and_exports_the_rest(
    src, nested, unique_name, tmp_path
):
    elsewhere = eb.builders.experiment(src, unique_name("elsewhere-"))
    foreign = eb.light_run(src, elsewhere, name="foreign")

    report = _export(src, nested.name, tmp_path / "exp", run_ids=[nested.root, "0" * 32, foreign])

    failed = {o.source_id: o.detail for o in report.find("run", "failed")}
    assert failed == {
        "0" * 32: "not found",
        foreign: f"belongs to experiment {elsewhere}, not {nested.experiment_id}",
    }
    assert _exported(tmp_path / "exp") == {nested.root}
    doc = _document(tmp_path / "exp")
    assert doc["info"]["num_failed_runs"] == 2
    assert {f["run_id"] for f in doc["info"]["failed_runs"]} == set(failed)


def test_export_experiment_cli_takes_reference_option_forms(src, nested, tmp_path):
    out = tmp_path / "exp"

    result = _export_cli(
        src,
        nested.name,
        out,
        "--run-ids",
        nested.root,
        "--check-nested-runs",
        "True",
        "--export-deleted-runs",
        "--workers",
        "2",
    )

    assert result.exit_code == 0, result.output
    assert "runs 4 exported, 0 skipped, 0 failed" in result.output
    assert _exported(out) == nested.all_runs - {nested.other}


def test_export_experiment_cli_exits_1_when_a_run_fails(src, nested, tmp_path):
    result = _export_cli(src, nested.name, tmp_path / "e", "--run-ids", f"{nested.root},{'f' * 32}")

    assert result.exit_code == 1, result.output
    assert f"FAILED run {'f' * 32}: not found" in result.output
    assert _exported(tmp_path / "e") == {nested.root}


def test_export_experiment_cli_warns_that_databricks_options_need_databricks(src, nested, tmp_path):
    result = _export_cli(
        src,
        nested.name,
        tmp_path / "e",
        "--run-ids",
        nested.other,
        "--export-permissions",
        "True",
        "--notebook-formats",
        "SOURCE,DBC",
    )

    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("Warning: ")]
    for option in ("--export-permissions", "--notebook-formats"):
        assert any(w.startswith(f"Warning: {option}: ") and "Databricks" in w for w in warnings), (
            result.output
        )
    assert _exported(tmp_path / "e") == {nested.other}


def test_export_of_unknown_experiment_is_one_line_error(src, unique_name, tmp_path):
    result = _export_cli(src, unique_name("missing-"), tmp_path / "e")

    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "not found" in result.output
    assert not (tmp_path / "e" / "experiment.json").exists()


def test_nested_child_keeps_parent_tag_in_its_run_json(src, nested, tmp_path):
    _export(src, nested.name, tmp_path / "exp", run_ids=[nested.grandchild])

    record = RunDir(tmp_path / "exp" / "runs" / nested.grandchild).record
    assert record["tags"][MLFLOW_PARENT_RUN_ID] == nested.child


def test_export_progress_in_plain_output_shows_runs_as_they_finish(
    src, nested, tmp_path, monkeypatch
):
    from mlflow_migrate_plugin.cli import progress

    monkeypatch.setattr(progress, "PLAIN_LINE_INTERVAL", 0.0)

    result = _export_cli(src, nested.name, tmp_path / "e", "--workers", "1")

    assert result.exit_code == 0, result.output
    label = f"exporting runs of '{nested.name}'"
    for done in range(1, 5):
        assert f"{label}: {done} runs/4 runs" in result.output
    assert f"{label}: 4 runs in " in result.output
    assert "\r" not in result.output


def test_export_progress_on_a_terminal_redraws_one_status_line(src, nested, tmp_path):
    import io

    from mlflow_migrate_plugin.cli.progress import CliProgress

    terminal = io.StringIO()

    _export(src, nested.name, tmp_path / "e", workers=1, progress=CliProgress(terminal, live=True))

    shown = terminal.getvalue()
    label = re.escape(f"exporting runs of '{nested.name}'")
    assert re.search(f"\r\033\\[K\\[[#-]{{24}}\\] {label}: [0-4] runs/4 runs", shown)
    assert re.search(f"{label}: 4 runs in [0-9.]+s\n$", shown)
