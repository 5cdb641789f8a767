"""Whole-server migration: export-all and import-all on servers of their own.

export-all takes everything a server holds, so these tests start their own source and
destinations (the session servers hold other tests' objects). The tests run in file order on
one source: the round trip first, reruns next, the change at the source last.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from mlflow.entities import Metric, Param, RunTag, ViewType

from mlflow_migrate_plugin import api, idmap
from mlflow_migrate_plugin.cli import migrate
from mlflow_migrate_plugin.endpoint import Endpoint
from mlflow_migrate_plugin.handlers.run_sync import UPDATED
from mlflow_migrate_plugin.report import FAILED, IMPORTED, SKIPPED, Phase, Progress
from tests import builders
from tests.experiment_builders import light_run, nested_experiment
from tests.model_builders import registered_model, version_from_new_run
from tests.servers import start_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """A source, a destination, and a second destination for the sharded import."""
    started = []
    try:
        for name in ("bulk-src", "bulk-dst", "bulk-dst-shards"):
            started.append(start_server(tmp_path_factory.mktemp(name)))
        yield [Endpoint(s.url, s.url) for s in started]
    finally:
        for server in started:
            server.stop()


@pytest.fixture(scope="module")
def source(servers):
    """Two experiments of runs (nested, deleted, LoggedModels) and a registered model whose
    versions' runs live in a third experiment (run-artifact and LoggedModel versions)."""
    src = servers[0]
    nested = nested_experiment(src, "bulk-nested")
    plain_id = builders.experiment(src, "bulk-plain", tags={"team": "bulk"})
    plain_runs = [light_run(src, plain_id, name=f"plain-{i}") for i in range(3)]
    running = light_run(src, plain_id, name="still-running", status="RUNNING", end_time=None)
    model = registered_model(src, "bulk-model", "bulk-model-runs")
    return {
        "nested": nested,
        "plain_id": plain_id,
        "plain_runs": plain_runs,
        "running": running,
        "model": model,
    }


@pytest.fixture(scope="module")
def exported(servers, source, tmp_path_factory):
    out = tmp_path_factory.mktemp("bulk-export")
    report = api.export_all(out, export_deleted_runs=True, tracking_uri=servers[0].tracking_uri)
    assert not report.failed, report.outcomes
    return out


def _invoke(*args):
    return CliRunner().invoke(migrate, [str(a) for a in args])


def _runs(endpoint: Endpoint, experiment_name: str) -> list:
    exp = endpoint.client.get_experiment_by_name(experiment_name)
    return endpoint.client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL)


def test_export_all_writes_every_object_and_a_manifest(exported, source):
    manifest = json.loads((exported / "manifest.json").read_text())

    names = {e["name"] for e in manifest["mlflow"]["experiments"]}
    models = manifest["mlflow"]["registered_models"]
    assert {"Default", "bulk-nested", "bulk-plain", "bulk-model-runs"} == names
    assert [m["name"] for m in models] == ["bulk-model"]
    assert models[0]["experiment_name"] == "bulk-model-runs"
    assert {e["status"] for e in manifest["mlflow"]["experiments"] + models} == {"exported"}
    assert (exported / "models" / "bulk-model" / "model.json").is_file()


def test_import_all_copies_everything_field_by_field(servers, source, exported):
    src, dst, _ = servers

    report = api.import_all(exported, tracking_uri=dst.tracking_uri)

    assert not report.failed, [o for o in report.outcomes if o.status == FAILED]
    for name in ("bulk-nested", "bulk-plain", "bulk-model-runs"):
        result = api.verify_experiment(
            name,
            include_deleted_runs=True,
            src_mlflow_uri=src.tracking_uri,
            dst_mlflow_uri=dst.tracking_uri,
        )
        assert result.ok, result.report_lines()
    result = api.verify_model(
        "bulk-model", src_mlflow_uri=src.tracking_uri, dst_mlflow_uri=dst.tracking_uri
    )
    assert result.ok, result.report_lines()
    # The model's versions' runs came with their experiment, and were not copied again.
    assert len(_runs(dst, "bulk-model-runs")) == len(source["model"].run_ids)
    assert len(report.find("registered_model", IMPORTED)) == 1


def test_a_second_import_all_adds_nothing(servers, exported):
    dst = servers[1]
    before = len(_runs(dst, "bulk-nested"))

    result = _invoke("import-all", "--input-dir", exported, "--tracking-uri", dst.tracking_uri)

    assert result.exit_code == 0, result.output
    assert "experiments: 4 skipped" in result.output
    report = api.import_all(exported, tracking_uri=dst.tracking_uri)
    assert not report.find("run", IMPORTED) and not report.find("model_version", IMPORTED)
    assert {o.status for o in report.find("experiment")} == {SKIPPED}
    assert len(_runs(dst, "bulk-nested")) == before


def test_verify_all_passes_after_import_all_and_names_what_was_altered(servers, source):
    src, dst, _ = servers
    sides = ("--src-mlflow-uri", src.tracking_uri, "--dst-mlflow-uri", dst.tracking_uri)
    args = ("verify-all", *sides, "--include-deleted-runs", "--output", "json")

    clean = CliRunner().invoke(migrate, list(args))

    assert clean.exit_code == 0, clean.output
    report = json.loads(clean.stdout)
    kinds = {o["kind"] for o in report["objects"]}
    assert {"experiment", "run", "registered_model", "model_version"} <= kinds
    assert {o["source_id"] for o in report["objects"] if o["kind"] == "experiment"} >= {
        "bulk-nested",
        "bulk-plain",
        "bulk-model-runs",
    }

    (copy,) = [r for r in _runs(dst, "bulk-plain") if r.info.run_name == "plain-0"]
    model = dst.client.get_registered_model("bulk-model")
    dst.client.set_tag(copy.info.run_id, "altered", "yes")
    dst.client.update_registered_model("bulk-model", "described on the destination")
    try:
        altered = CliRunner().invoke(migrate, list(args))
    finally:
        dst.client.delete_tag(copy.info.run_id, "altered")
        dst.client.update_registered_model("bulk-model", model.description or "")

    assert altered.exit_code == 1, altered.output
    found = {
        (o["kind"], f["field"]): f
        for o in json.loads(altered.stdout)["objects"]
        for f in o["findings"]
        if f["kind"] != "info"
    }
    assert set(found) == {("run", "tags[altered]"), ("registered_model", "description")}
    assert found[("run", "tags[altered]")]["destination"] == "yes"
    assert found[("registered_model", "description")]["source"] == model.description
    assert found[("registered_model", "description")]["destination"] == (
        "described on the destination"
    )


def test_a_failing_object_does_not_stop_its_siblings(servers, exported, tmp_path):
    dst = servers[1]
    manifest = json.loads((exported / "manifest.json").read_text())
    broken = next(e for e in manifest["mlflow"]["experiments"] if e["name"] == "bulk-plain")
    (exported / broken["dir"] / "experiment.json").rename(tmp_path / "experiment.json")
    renames = tmp_path / "renames.csv"
    renames.write_text("bulk-nested,bulk-nested-renamed\nbulk-model-runs,bulk-runs-renamed\n")
    model_renames = tmp_path / "models.csv"
    model_renames.write_text("bulk-model,bulk-model-renamed\n")
    try:
        result = _invoke(
            "import-all",
            "--input-dir",
            exported,
            "--experiment-rename-file",
            renames,
            "--model-rename-file",
            model_renames,
            "--tracking-uri",
            dst.tracking_uri,
        )
    finally:
        (tmp_path / "experiment.json").rename(exported / broken["dir"] / "experiment.json")

    assert result.exit_code == 1, result.output
    assert f"FAILED experiment {broken['source_id']}" in result.output
    assert len(_runs(dst, "bulk-nested-renamed")) == 5
    versions = dst.client.search_model_versions("name = 'bulk-model-renamed'")
    assert len(versions) == 4
    assert {v.run_id for v in versions} <= {r.info.run_id for r in _runs(dst, "bulk-runs-renamed")}


def test_import_all_interrupted_by_ctrl_c_completes_on_rerun(servers, source, exported, tmp_path):
    src, dst, _ = servers
    renames = tmp_path / "renames.csv"
    renames.write_text(
        "".join(f"{n},{n}-int\n" for n in ("bulk-nested", "bulk-plain", "bulk-model-runs"))
    )
    models = tmp_path / "models.csv"
    models.write_text("bulk-model,bulk-model-int\n")
    args = ["--experiment-rename-file", renames, "--model-rename-file", models]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow_migrate_plugin", "import-all", "--input-dir", exported]
        + [str(a) for a in args]
        + ["--tracking-uri", dst.tracking_uri, "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"},
    )
    deadline = time.monotonic() + 120
    while not _complete_runs(dst, "bulk-nested-int"):  # stopped in the middle of the first
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.05)

    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    report = api.import_all(
        exported,
        experiment_rename_file=renames,
        model_rename_file=models,
        tracking_uri=dst.tracking_uri,
    )

    assert not report.failed, [o for o in report.outcomes if o.status == FAILED]
    for name in ("bulk-nested", "bulk-plain", "bulk-model-runs"):
        result = api.verify_experiment(
            name,
            dst_experiment_name=f"{name}-int",
            include_deleted_runs=True,
            src_mlflow_uri=src.tracking_uri,
            dst_mlflow_uri=dst.tracking_uri,
        )
        assert result.ok, result.report_lines()
        # Each run once; a run in flight at Ctrl-C was discarded (deleted, its marker removed).
        imported = [r for r in _runs(dst, f"{name}-int") if idmap.SOURCE_RUN_ID in r.data.tags]
        assert len(imported) == len(_runs(src, name))
    result = api.verify_model(
        "bulk-model",
        dst_model="bulk-model-int",
        src_mlflow_uri=src.tracking_uri,
        dst_mlflow_uri=dst.tracking_uri,
    )
    assert result.ok, result.report_lines()


def _complete_runs(dst: Endpoint, name: str) -> int:
    exp = dst.client.get_experiment_by_name(name)
    if exp is None:
        return 0
    marker = f"tags.`{idmap.STATE}` = '{idmap.STATE_COMPLETE}'"
    return len(dst.client.search_runs([exp.experiment_id], filter_string=marker))


def test_two_shards_split_the_server_and_together_move_it_all(servers, source, tmp_path):
    src, _, dst = servers
    outputs = [tmp_path / "shard-0", tmp_path / "shard-1"]

    for index, out in enumerate(outputs):
        args = ["--tracking-uri", src.tracking_uri, "--shard", f"{index}/2"]
        result = _invoke("export-all", "--output-dir", out, "--export-deleted-runs", *args)
        assert result.exit_code == 0, result.output
    for index, out in enumerate(outputs):
        args = ["--tracking-uri", dst.tracking_uri, "--shard", f"{index}/2"]
        result = _invoke("import-all", "--input-dir", out, *args)
        assert result.exit_code == 0, result.output

    parts = [json.loads((out / "manifest.json").read_text())["mlflow"] for out in outputs]
    experiments = [{e["source_id"] for e in p["experiments"]} for p in parts]
    models = [{m["name"] for m in p["registered_models"]} for p in parts]
    every_experiment = {e.experiment_id for e in src.client.search_experiments()}
    assert experiments[0] | experiments[1] == every_experiment
    assert not experiments[0] & experiments[1]
    assert models[0] | models[1] == {"bulk-model"} and not models[0] & models[1]
    result = api.verify_model(
        "bulk-model", src_mlflow_uri=src.tracking_uri, dst_mlflow_uri=dst.tracking_uri
    )
    assert result.ok, result.report_lines()
    assert len(_runs(dst, "bulk-nested")) == len(source["nested"].all_runs)


def test_an_interrupted_export_all_resumes_where_it_stopped(servers, source, tmp_path):
    src = servers[0]
    out = tmp_path / "export"
    api.export_all(out, include_models=False, tracking_uri=src.tracking_uri)
    # Interrupted: one experiment's JSON (each is written last) and the manifest are missing.
    (out / "manifest.json").unlink()
    (out / "experiments" / source["plain_id"] / "experiment.json").unlink()

    report = api.export_all(out, include_models=False, tracking_uri=src.tracking_uri)

    statuses = {o.source_id: o.status for o in report.find("experiment")}
    assert statuses.pop(source["plain_id"]) == "exported"
    assert set(statuses.values()) == {SKIPPED} and len(statuses) == 3
    assert (out / "manifest.json").is_file()
    again = api.export_all(out, include_models=False, tracking_uri=src.tracking_uri)
    assert {o.status for o in again.find("experiment")} == {"exported"}  # a new pass


def _finish_running_run(src: Endpoint, run_id: str, tmp_path) -> None:
    """What a training run does after a first export: more points, a tag, a param, a file,
    then it ends."""
    client = src.client
    start = client.get_run(run_id).info.start_time
    client.log_batch(
        run_id,
        metrics=[Metric("metric_0", 0.5 + s, start + 60_000 + s, s) for s in range(3, 7)],
        params=[Param("late_param", "added-later")],
        tags=[RunTag("phase", "done ✓")],
    )
    (tmp_path / "final.txt").write_text("written at the end\n")
    client.log_artifact(run_id, str(tmp_path / "final.txt"), "late")
    client.set_terminated(run_id, "FINISHED", start + 120_000)


def test_a_second_pass_moves_only_what_changed_at_the_source(servers, source, exported, tmp_path):
    src, dst, _ = servers
    _finish_running_run(src, source["running"], tmp_path)
    new_run = light_run(src, source["plain_id"], name="plain-new")
    model_run = version_from_new_run(src, source["model"], "run-new")
    src.client.update_model_version("bulk-model", "1", "v1, described again")
    src.client.set_registered_model_alias("bulk-model", "champion", "3")
    src.client.set_registered_model_tag("bulk-model", "reviewed", "yes")
    src.client.set_experiment_tag(source["plain_id"], "mlflow.note.content", "described later")

    api.export_all(exported, export_deleted_runs=True, tracking_uri=src.tracking_uri)
    report = api.import_all(exported, tracking_uri=dst.tracking_uri)

    assert not report.failed, [o for o in report.outcomes if o.status == FAILED]
    assert sorted(o.source_id for o in report.find("run", IMPORTED)) == sorted([new_run, model_run])
    assert [o.source_id for o in report.find("model_version", IMPORTED)] == ["bulk-model/6"]
    assert len(_runs(dst, "bulk-model-runs")) == len(source["model"].run_ids) + 1
    updated = report.find("run", UPDATED)
    assert [o.source_id for o in updated] == [source["running"]]
    assert "4 metric points added" in updated[0].detail
    result = api.verify_experiment(
        "bulk-plain", src_mlflow_uri=src.tracking_uri, dst_mlflow_uri=dst.tracking_uri
    )
    assert result.ok, result.report_lines()
    assert [o.source_id for o in report.find("model_version", UPDATED)] == ["bulk-model/1"]
    (plain,) = [o for o in report.find("experiment") if o.source_id == source["plain_id"]]
    assert plain.status == IMPORTED and "tag mlflow.note.content" in plain.detail
    (model,) = report.find("registered_model")
    assert "alias champion -> 3" in model.detail and "tag reviewed" in model.detail
    result = api.verify_model(
        "bulk-model", src_mlflow_uri=src.tracking_uri, dst_mlflow_uri=dst.tracking_uri
    )
    assert result.ok, result.report_lines()
    marked = idmap.find_complete_run(
        dst.client, dst.client.get_experiment_by_name("bulk-plain").experiment_id, new_run
    )
    assert marked is not None


def test_import_experiments_reads_mlflow_export_import_bulk_directories(
    servers, reference_fixtures
):
    dst = servers[2]
    bulk = reference_fixtures / "anchor-repo-samples" / "oss_mlflow" / "bulk" / "experiments"

    result = _invoke("import-experiments", "--input-dir", bulk, "--tracking-uri", dst.tracking_uri)

    # The sample's experiments/2/experiment.json is corrupt (a broken string): that experiment
    # fails with the reason, and its sibling is imported all the same.
    assert result.exit_code == 1, result.output
    assert "FAILED experiment 2:" in result.output and "not valid JSON" in result.output
    assert "experiments: 1 failed, 1 imported" in result.output
    assert len(_runs(dst, "sklearn_wine")) == 1


class _StopAfterFirstObject(Progress):
    """Stops the destination server once the first object is imported."""

    def __init__(self, server):
        self.server = server

    def phase(self, label, total, unit=""):
        server = self.server

        class StopsServer(Phase):
            def advance(self, n=1):
                server.stop()

        return StopsServer()


def test_import_all_stops_at_once_when_the_destination_goes_away(exported, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    server = start_server(tmp_path / "dst")
    try:
        report = api.import_all(
            exported, tracking_uri=server.url, progress=_StopAfterFirstObject(server)
        )
    finally:
        server.stop()

    objects = report.find("experiment") + report.find("registered_model")
    assert len(objects) == 5 and objects[0].status != FAILED
    assert objects[1].status == FAILED
    assert all("not attempted" in o.detail and "stopped answering" in o.detail for o in objects[2:])


def test_export_experiments_takes_named_experiments_and_a_start_time_window(
    servers, source, tmp_path
):
    src = servers[0]
    uri = ["--tracking-uri", src.tracking_uri]

    before = _invoke(
        "export-experiments", "--experiments", "bulk-plain", "--output-dir", tmp_path / "a",
        "--runs-until", "2024-01-15", *uri,
    )  # fmt: skip
    window = _invoke(
        "export-experiments", "--experiments", f"bulk-plain,{source['nested'].experiment_id}",
        "--output-dir", tmp_path / "b", "--run-start-time", "2024-01-15",
        "--runs-until", "2024-01-16", *uri,
    )  # fmt: skip

    assert before.exit_code == 0 and window.exit_code == 0, before.output + window.output
    listed = json.loads((tmp_path / "a" / "manifest.json").read_text())["mlflow"]
    assert [e["name"] for e in listed["experiments"]] == ["bulk-plain"]
    assert not listed["registered_models"]
    plain = tmp_path / "a" / "experiments" / source["plain_id"] / "experiment.json"
    assert json.loads(plain.read_text())["info"]["num_ok_runs"] == 0
    plain = tmp_path / "b" / "experiments" / source["plain_id"] / "experiment.json"
    assert json.loads(plain.read_text())["info"]["num_ok_runs"] == len(_runs(src, "bulk-plain"))
    nested = tmp_path / "b" / "experiments" / source["nested"].experiment_id / "experiment.json"
    assert json.loads(nested.read_text())["info"]["num_ok_runs"] == 3  # "other" started a day early
