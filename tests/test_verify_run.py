"""verify-run: after a clean copy every field matches (exit 0); after the destination is
altered each alteration is named with both values (exit 1)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from click.testing import CliRunner
from mlflow.entities import ViewType

from mlflow_migrate_plugin import api, idmap
from mlflow_migrate_plugin.cli import migrate
from tests import builders


def verify_cli(*args) -> tuple[int, dict]:
    """Run a verify command through the CLI with --output json: its exit code and report."""
    result = CliRunner().invoke(migrate, [*map(str, args), "--output", "json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def findings(report: dict, kind: str | None = None) -> dict[str, dict]:
    """Non-info findings of objects of ``kind``, by field name."""
    return {
        f["field"]: f
        for o in report["objects"]
        if kind in (None, o["kind"])
        for f in o["findings"]
        if f["kind"] != "info"
    }


def copied_run(src, dst, unique_name, **kwargs):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, **kwargs)
    target = unique_name("dst-")
    api.copy_run(
        built.run_id, target, src_mlflow_uri=src.tracking_uri, dst_mlflow_uri=dst.tracking_uri
    )
    experiment = dst.client.get_experiment_by_name(target)
    [run] = dst.client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL)
    return built, target, run.info.run_id


def test_verify_run_after_a_clean_copy_exits_0(src, dst, unique_name):
    built, target, _ = copied_run(src, dst, unique_name)

    code, report = verify_cli(
        "verify-run",
        "--run-id", built.run_id,
        "--dst-experiment-name", target,
        "--src-mlflow-uri", src.tracking_uri,
        "--dst-mlflow-uri", dst.tracking_uri,
    )  # fmt: skip

    assert (code, report["ok"], findings(report)) == (0, True, {})
    kinds = {o["kind"]: o["status"] for o in report["objects"]}
    assert kinds == {"run": "ok", "logged_model": "ok"}


def test_verify_run_names_each_alteration_with_both_values(src, dst, unique_name):
    built, target, dst_id = copied_run(src, dst, unique_name)
    client = dst.client
    client.set_tag(dst_id, "team", "someone-else")
    client.delete_tag(dst_id, "unicode_value")
    client.log_metric(dst_id, "metric_0", 42.0, timestamp=1_705_400_000_000, step=99)
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "report.txt").write_text("replaced\n")
        client.log_artifact(dst_id, str(Path(tmp, "report.txt")))
    [dst_model] = client.search_logged_models(
        [client.get_run(dst_id).info.experiment_id], filter_string=f"source_run_id = '{dst_id}'"
    )
    client.set_logged_model_tags(dst_model.model_id, {"stage": "retired"})

    code, report = verify_cli(
        "verify-run", "--run-id", built.run_id, "--dst-experiment-name", target,
        "--src-mlflow-uri", src.tracking_uri, "--dst-mlflow-uri", dst.tracking_uri,
    )  # fmt: skip

    assert code == 1 and report["ok"] is False
    run = findings(report, "run")
    assert set(run) == {"tags[team]", "tags[unicode_value]", "metrics[metric_0]",
                        "artifacts[report.txt].sha256", "artifacts[report.txt].size"}  # fmt: skip
    assert (run["tags[team]"]["source"], run["tags[team]"]["destination"]) == (
        "ml-platform",
        "someone-else",
    )
    assert run["tags[unicode_value]"]["source"] == "значение ✓"
    assert run["tags[unicode_value]"]["destination"] is None
    assert run["metrics[metric_0]"]["source"] == []
    assert run["metrics[metric_0]"]["destination"] == [[99, 1_705_400_000_000, 42.0]]
    assert run["artifacts[report.txt].size"]["source"] == len("fold report ✓\n".encode())
    assert run["artifacts[report.txt].size"]["destination"] == len(b"replaced\n")
    model = findings(report, "logged_model")
    assert (model["tags[stage]"]["source"], model["tags[stage]"]["destination"]) == (
        "candidate",
        "retired",
    )


def test_verify_run_reports_a_deleted_and_a_missing_run(src, dst, unique_name):
    built, target, dst_id = copied_run(src, dst, unique_name, logged_model=False)
    dst.client.delete_run(dst_id)

    result = api.verify_run(
        built.run_id,
        dst_experiment_name=target,
        src_mlflow_uri=src.tracking_uri,
        dst_mlflow_uri=dst.tracking_uri,
    )

    assert not result.ok
    [run] = result.find("run")
    [changed] = [f for f in run.findings if f.kind != "info"]
    assert (changed.field, changed.source, changed.destination) == (
        "info.lifecycle_stage",
        "active",
        "deleted",
    )

    other = builders.make_run(src, built.experiment_id, logged_model=False, classic_model=False)
    missing = api.verify_run(
        other.run_id,
        dst_experiment_name=target,
        src_mlflow_uri=src.tracking_uri,
        dst_mlflow_uri=dst.tracking_uri,
    )
    assert [(o.kind, o.status) for o in missing.objects] == [("run", "missing")]


def test_verify_run_sizes_only_skips_hashing(src, dst, unique_name):
    built, target, dst_id = copied_run(src, dst, unique_name, logged_model=False)
    with tempfile.TemporaryDirectory() as tmp:  # same size, other bytes
        Path(tmp, "report.txt").write_bytes(bytes(len("fold report ✓\n".encode())))
        dst.client.log_artifact(dst_id, str(Path(tmp, "report.txt")))
    uris = {"src_mlflow_uri": src.tracking_uri, "dst_mlflow_uri": dst.tracking_uri}

    by_size = api.verify_run(built.run_id, dst_experiment_name=target, sizes_only=True, **uris)
    by_hash = api.verify_run(built.run_id, dst_experiment_name=target, **uris)

    assert by_size.ok
    assert [f.field for _, f in by_hash.findings("changed")] == ["artifacts[report.txt].sha256"]


def test_verify_run_text_report_and_json_file(src, dst, unique_name, tmp_path):
    built, target, dst_id = copied_run(src, dst, unique_name, logged_model=False)
    dst.client.set_tag(dst_id, "team", "someone-else")

    result = CliRunner().invoke(
        migrate,
        ["verify-run", "--run-id", built.run_id, "--dst-experiment-name", target,
         "--src-mlflow-uri", src.tracking_uri, "--dst-mlflow-uri", dst.tracking_uri,
         "--output-file", str(tmp_path / "report.json")],
    )  # fmt: skip

    assert result.exit_code == 1
    assert f"run {built.run_id} -> {dst_id}: changed" in result.stdout
    assert "changed   tags[team]: 'ml-platform' -> 'someone-else'" in result.stdout
    written = json.loads((tmp_path / "report.json").read_text())
    assert findings(written)["tags[team]"]["destination"] == "someone-else"
    assert idmap.SOURCE_RUN_ID not in result.stdout


def test_metric_histories_in_bulk_equal_the_public_history(src, unique_name):
    from mlflow_migrate_plugin.transfer.engine import Engine
    from mlflow_migrate_plugin.verify.metric_history import MetricHistories

    exp_id = builders.experiment(src, unique_name("src-"))
    runs = [
        builders.make_run(src, exp_id, logged_model=False, classic_model=False, steps=steps)
        for steps in (1, 7)
    ]
    entities = [src.client.get_run(r.run_id) for r in runs]
    histories = MetricHistories(src)

    with Engine(4) as engine:
        histories.prefetch(entities, engine)

    assert histories.available
    for run in entities:
        for key in run.data.metrics:
            public = sorted(
                [m.step, m.timestamp, m.value]
                for m in src.client.get_metric_history(run.info.run_id, key)
            )
            assert histories.take(run.info.run_id, key) == public
            assert histories.take(run.info.run_id, key) is None  # handed out once


def test_verify_run_of_an_unknown_run_is_one_line_and_exit_1(src, dst):
    result = CliRunner().invoke(
        migrate,
        ["verify-run", "--run-id", "0" * 32, "--src-mlflow-uri", src.tracking_uri,
         "--dst-mlflow-uri", dst.tracking_uri],
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: run '{'0' * 32}' not found on {src.tracking_uri}"
