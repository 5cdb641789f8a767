"""Incremental whole-server sync: a second export-all + import-all moves only what changed.

The source and destination are servers of their own, each behind a counting proxy
(tests/fault_proxy.py), so that the tests can say what a pass asked of each server. The tests
run in file order on one source: the first pass, an unchanged pass, then changes at the source.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from mlflow.entities import Metric, RunTag, ViewType

from mlflow_migrate_plugin import api, idmap
from mlflow_migrate_plugin.endpoint import Endpoint
from mlflow_migrate_plugin.handlers.run_reuse import UNCHANGED
from mlflow_migrate_plugin.handlers.run_sync import UPDATED
from mlflow_migrate_plugin.report import EXPORTED, FAILED, IMPORTED, SKIPPED, Phase, Progress
from tests import builders
from tests.experiment_builders import light_run
from tests.fault_proxy import FaultProxy
from tests.model_builders import registered_model, version_from_new_run
from tests.servers import start_server

pytestmark = pytest.mark.slow

# Requests that read: every GET, and the searches MLflow sends as POST.
_READ_POST = re.compile(r"/(search|search-datasets)(\?|$)")


def _writes(proxy: FaultProxy, since: int) -> list[tuple[str, str]]:
    """Requests that changed something: answered 2xx, neither a GET nor a search (a refused
    request, such as the capability probe of log-inputs without a run, wrote nothing)."""
    return [
        (method, path)
        for method, path, status in proxy.answered[since:]
        if method != "GET" and not _READ_POST.search(path) and 200 <= status < 300
    ]


def _history_reads(proxy: FaultProxy, since: int) -> list[str]:
    return [path for _, path, _ in proxy.answered[since:] if "metrics/get-history" in path]


def _artifact_requests(proxy: FaultProxy, since: int) -> list[str]:
    return [path for _, path, _ in proxy.answered[since:] if "/mlflow-artifacts/" in path]


@pytest.fixture(scope="module")
def sides(tmp_path_factory):
    """Source and destination, each reached through a counting proxy."""
    servers, proxies = [], []
    try:
        for name in ("inc-src", "inc-dst"):
            servers.append(start_server(tmp_path_factory.mktemp(name)))
            proxies.append(FaultProxy(servers[-1].url).start())
        yield {
            "src": Endpoint(proxies[0].url, proxies[0].url),
            "dst": Endpoint(proxies[1].url, proxies[1].url),
            "src_proxy": proxies[0],
            "dst_proxy": proxies[1],
        }
    finally:
        for proxy in proxies:
            proxy.stop()
        for server in servers:
            server.stop()


@pytest.fixture(scope="module")
def source(sides):
    """An experiment of finished runs and one still RUNNING, and a model with four versions
    whose runs live in an experiment of their own."""
    src = sides["src"]
    exp_id = builders.experiment(src, "inc-plain", tags={"team": "inc"})
    finished = [light_run(src, exp_id, name=f"plain-{i}") for i in range(3)]
    running = light_run(src, exp_id, name="training", status="RUNNING", end_time=None)
    model = registered_model(src, "inc-model", "inc-model-runs")
    return {"exp_id": exp_id, "finished": finished, "running": running, "model": model}


@pytest.fixture(scope="module")
def first_pass(sides, source, tmp_path_factory):
    out = tmp_path_factory.mktemp("inc-export")
    exported = api.export_all(out, tracking_uri=sides["src"].tracking_uri)
    assert not exported.failed, exported.outcomes
    imported = api.import_all(out, tracking_uri=sides["dst"].tracking_uri)
    assert not imported.failed, [o for o in imported.outcomes if o.status == FAILED]
    return out


def _runs(endpoint: Endpoint, experiment_name: str) -> list:
    exp = endpoint.client.get_experiment_by_name(experiment_name)
    return endpoint.client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL)


def _source_of(run) -> str | None:
    return run.data.tags.get(idmap.SOURCE_RUN_ID)


def _copy_of(dst: Endpoint, experiment_name: str, run_name: str):
    (run,) = [r for r in _runs(dst, experiment_name) if r.info.run_name == run_name]
    return run


def test_the_export_records_each_runs_source_fingerprint(first_pass, source):
    listing = json.loads(
        (first_pass / "experiments" / source["exp_id"] / "experiment.json").read_text()
    )
    for entry in listing["info"]["runs"]:
        run_json = json.loads(
            (first_pass / "experiments" / source["exp_id"] / entry["dir"] / "run.json").read_text()
        )
        assert entry["source_fingerprint"] == run_json["info"]["source_fingerprint"]
        assert len(entry["source_fingerprint"]) == 20


def test_an_unchanged_second_pass_reads_no_history_and_writes_nothing(sides, source, first_pass):
    src_proxy, dst_proxy = sides["src_proxy"], sides["dst_proxy"]
    src_mark, dst_mark = len(src_proxy.answered), len(dst_proxy.answered)

    exported = api.export_all(first_pass, tracking_uri=sides["src"].tracking_uri)

    assert not exported.failed, exported.outcomes
    runs = {o.source_id: o.status for o in exported.find("run")}
    assert runs.pop(source["running"]) == EXPORTED  # a live run is always exported again
    assert set(runs.values()) == {UNCHANGED}
    assert len(runs) == len(source["finished"]) + len(source["model"].run_ids)
    # Only the live run's history and files were read again.
    assert _history_reads(src_proxy, src_mark)
    assert all(source["running"] in path for path in _history_reads(src_proxy, src_mark))
    assert all(
        source["running"] in path or "/artifacts/" not in path
        for path in _artifact_requests(src_proxy, src_mark)
    )
    assert not (first_pass / "pass.jsonl").exists() and (first_pass / "manifest.json").is_file()

    imported = api.import_all(first_pass, tracking_uri=sides["dst"].tracking_uri)

    assert not imported.failed, [o for o in imported.outcomes if o.status == FAILED]
    # The only writes: each object's import lease (handlers/lease.py), taken and released once.
    writes = Counter(
        path.rsplit("/", 2)[-2] + "/" + path.rsplit("/", 1)[-1]
        for _, path in _writes(dst_proxy, dst_mark)
    )
    experiments = len(imported.find("experiment"))
    models = len(imported.find("registered_model"))
    assert writes == {
        "experiments/set-experiment-tag": experiments,
        "experiments/delete-experiment-tag": experiments,
        "registered-models/set-tag": models,
        "registered-models/delete-tag": models,
    }
    assert not _artifact_requests(dst_proxy, dst_mark)
    assert {o.status for o in imported.find("run")} == {SKIPPED}
    assert {o.status for o in imported.find("experiment")} == {SKIPPED}
    assert {o.status for o in imported.find("registered_model")} == {SKIPPED}


def _train_on(src: Endpoint, run_id: str, steps: range, end: bool) -> list[Metric]:
    """What a training run does after an export: more points, a tag, and maybe it ends."""
    client = src.client
    start = client.get_run(run_id).info.start_time
    points = [Metric("metric_0", 10.0 + s, start + 60_000 + s, s) for s in steps]
    client.log_batch(run_id, metrics=points, tags=[RunTag("phase", "later ✓")])
    if end:
        client.set_terminated(run_id, "FINISHED", start + 120_000)
    return points


def test_a_second_pass_moves_exactly_what_changed(sides, source, first_pass):
    src, dst = sides["src"], sides["dst"]
    src_proxy, dst_proxy = sides["src_proxy"], sides["dst_proxy"]
    finished_points = _train_on(src, source["running"], range(3, 6), end=True)
    later_point = _train_on(src, source["finished"][0], range(7, 8), end=False)
    new_run = light_run(src, source["exp_id"], name="plain-new")
    model_run = version_from_new_run(src, source["model"], "run-new")
    src.client.update_model_version("inc-model", "3", "v3, described again")
    src.client.set_registered_model_alias("inc-model", "champion", "4")
    src.client.update_registered_model("inc-model", "described later")
    src_mark, dst_mark = len(src_proxy.answered), len(dst_proxy.answered)

    exported = api.export_all(first_pass, tracking_uri=src.tracking_uri)

    runs = {o.source_id: o.status for o in exported.find("run")}
    moved = {source["running"], source["finished"][0], new_run, model_run}
    assert {r for r, status in runs.items() if status == EXPORTED} == moved
    assert {status for r, status in runs.items() if r not in moved} == {UNCHANGED}
    read_again = {p.split("run_id=")[1].split("&")[0] for p in _history_reads(src_proxy, src_mark)}
    assert read_again == moved

    imported = api.import_all(first_pass, tracking_uri=dst.tracking_uri)

    assert not imported.failed, [o for o in imported.outcomes if o.status == FAILED]
    assert sorted(o.source_id for o in imported.find("run", IMPORTED)) == sorted(
        [new_run, model_run]
    )
    updated = {o.source_id: o.detail for o in imported.find("run", UPDATED)}
    assert set(updated) == {source["running"], source["finished"][0]}
    assert "3 metric points added" in updated[source["running"]]
    assert "1 metric points added" in updated[source["finished"][0]]
    # The new version's run came with its experiment; the model's import finds it (skipped).
    skipped = {o.source_id for o in imported.find("run", SKIPPED)} - {model_run}
    assert skipped == set(source["finished"][1:]) | set(source["model"].run_ids)

    # Field by field: the run that finished since, and the point logged on a finished run.
    done = _copy_of(dst, "inc-plain", "training")
    assert (done.info.status, done.info.end_time) == (
        "FINISHED",
        src.client.get_run(source["running"]).info.end_time,
    )
    assert done.data.tags["phase"] == "later ✓"
    history = {
        (m.step, m.timestamp, m.value)
        for m in dst.client.get_metric_history(done.info.run_id, "metric_0")
    }
    assert {(p.step, p.timestamp, p.value) for p in finished_points} <= history
    assert len(history) == 3 + len(finished_points)
    later = _copy_of(dst, "inc-plain", "plain-0")
    assert later.info.status == "FINISHED"
    assert later.data.metrics["metric_0"] == later_point[0].value
    # The model: one new version, a new description on v3 and the model, the alias moved.
    (version,) = imported.find("model_version", IMPORTED)
    assert version.source_id == "inc-model/6"
    assert [o.source_id for o in imported.find("model_version", UPDATED)] == ["inc-model/3"]
    model = dst.client.get_registered_model("inc-model")
    assert model.description == "described later"
    assert model.aliases["champion"] == "4"
    assert dst.client.get_model_version("inc-model", "3").description == "v3, described again"
    for name in ("inc-plain", "inc-model-runs"):
        result = api.verify_experiment(
            name, src_mlflow_uri=src.tracking_uri, dst_mlflow_uri=dst.tracking_uri
        )
        assert result.ok, result.report_lines()
    result = api.verify_model(
        "inc-model", src_mlflow_uri=src.tracking_uri, dst_mlflow_uri=dst.tracking_uri
    )
    assert result.ok, result.report_lines()
    # The unchanged runs cost the destination no write.
    kept = set(source["finished"][1:])
    unchanged = {r.info.run_id for r in _runs(dst, "inc-plain") if _source_of(r) in kept}
    assert len(unchanged) == len(kept)
    assert not [w for w in _writes(dst_proxy, dst_mark) if any(r in w[1] for r in unchanged)]


class _StopAfterFirstObject(Progress):
    """Interrupts the export once its first object is written, as a Ctrl-C would."""

    def phase(self, label, total, unit=""):
        class Stops(Phase):
            def advance(self, n=1):
                raise KeyboardInterrupt

        return Stops()


def test_an_interrupted_incremental_pass_resumes_and_keeps_what_it_finished(
    sides, source, first_pass
):
    src = sides["src"]
    with pytest.raises(KeyboardInterrupt):
        api.export_all(first_pass, tracking_uri=src.tracking_uri, progress=_StopAfterFirstObject())
    assert not (first_pass / "manifest.json").exists()
    (done,) = [
        json.loads(line)["dir"] for line in (first_pass / "pass.jsonl").read_text().splitlines()
    ]

    report = api.export_all(first_pass, tracking_uri=src.tracking_uri)

    objects = {o.source_id: o for o in report.find("experiment") + report.find("registered_model")}
    manifest = json.loads((first_pass / "manifest.json").read_text())["mlflow"]
    by_dir = {
        e["dir"]: e["source_id"] for e in manifest["experiments"] + manifest["registered_models"]
    }
    assert objects.pop(by_dir[done]).status == SKIPPED
    assert {o.status for o in objects.values()} == {EXPORTED}
    assert {o.status for o in report.find("run")} == {UNCHANGED}
    assert not (first_pass / "pass.jsonl").exists()
