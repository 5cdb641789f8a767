"""Imports through a faulty network (tests/fault_proxy.py) in front of a real destination server,
and into a destination that dies or hangs mid-import.

Each scenario checks what the user is promised: no run or version twice, nothing half-made left
active, the exit status, and that a rerun (without the faults) makes the destination equal to
the source field by field.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from click.testing import CliRunner
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from mlflow_migrate_plugin import api, idmap
from mlflow_migrate_plugin.cli import migrate
from mlflow_migrate_plugin.endpoint import Endpoint
from mlflow_migrate_plugin.handlers import run_cleanup
from mlflow_migrate_plugin.handlers.model_version import all_versions
from mlflow_migrate_plugin.transfer.engine import DEFAULT_WORKERS
from mlflow_migrate_plugin.transfer.resilience import Limiter
from tests import builders, model_builders
from tests.experiment_builders import light_run
from tests.fault_proxy import FaultProxy
from tests.processes import start_interruptible
from tests.servers import start_server

RUNS = 8


@pytest.fixture
def proxy(dst_server):
    """A fault proxy in front of the session's destination server, stopped after the test."""
    running = FaultProxy(dst_server.url).start()
    yield running
    running.stop()


@pytest.fixture
def exported_experiment(src, unique_name, tmp_path):
    """An experiment of small runs, one with a LoggedModel: (name, export directory)."""
    name = unique_name("src-")
    exp_id = builders.experiment(src, name)
    for i in range(RUNS):
        light_run(src, exp_id, logged_model=(i == 0))
    out = tmp_path / "exp"
    api.export_experiment(name, out, tracking_uri=src.tracking_uri)
    return name, out


def _runs(dst, name: str, view=ViewType.ALL) -> list:
    experiment = dst.client.get_experiment_by_name(name)
    return dst.client.search_runs([experiment.experiment_id], run_view_type=view, max_results=1000)


def assert_no_duplicates_nor_active_orphans(dst, name: str) -> None:
    """Each source run has exactly one live copy, and every live run is a complete import."""
    active = _runs(dst, name, ViewType.ACTIVE_ONLY)
    sources = [r.data.tags.get(idmap.SOURCE_RUN_ID) for r in active]
    assert len(sources) == len(set(sources)), f"runs imported twice: {sources}"
    orphans = [r.info.run_id for r in active if r.data.tags.get(idmap.STATE) != "complete"]
    assert orphans == [], "active runs the import did not finish"
    experiment = dst.client.get_experiment_by_name(name)
    models = dst.client.search_logged_models([experiment.experiment_id])
    live_runs = {r.info.run_id for r in active}
    assert all(m.source_run_id in live_runs for m in models), "LoggedModels of discarded runs"
    model_sources = [(m.tags or {}).get(idmap.SOURCE_MODEL_ID) for m in models]
    assert len(model_sources) == len(set(model_sources)), "LoggedModels imported twice"


def assert_equal_to_source(src, dst, src_name: str, dst_name: str) -> None:
    result = api.verify_experiment(
        src_name,
        dst_experiment_name=dst_name,
        src_mlflow_uri=src.tracking_uri,
        dst_mlflow_uri=dst.tracking_uri,
        workers=2,
    )
    assert result.ok, "\n".join(result.report_lines())


def assert_whole_copy(src, dst, src_name: str, dst_name: str) -> None:
    """One complete live copy of each of the RUNS source runs, equal to the source."""
    assert_no_duplicates_nor_active_orphans(dst, dst_name)
    assert _active_count(dst, dst_name) == RUNS
    assert_equal_to_source(src, dst, src_name, dst_name)


def _active_count(dst: Endpoint, name: str) -> int:
    return len(_runs(dst, name, ViewType.ACTIVE_ONLY))


@pytest.mark.slow
def test_a_lost_answer_to_log_inputs_is_no_failure(
    src, dst, proxy, exported_experiment, unique_name
):
    """The server logged a run's inputs and the answer was lost; MLflow's client sent the POST
    again and got the unique-key error of inputs already there: the run has them, it goes on."""
    src_name, out = exported_experiment
    name = unique_name("dst-")
    proxy.lose_answers(r"/runs/log-inputs$", every=2)

    report = api.import_experiment(out, name, tracking_uri=proxy.url, workers=4)

    assert proxy.answers_lost >= 1
    assert not report.failed, [o.detail for o in report.outcomes if o.status == "failed"]
    assert_whole_copy(src, dst, src_name, name)


@pytest.mark.slow
def test_lost_answers_to_creates_leave_no_duplicate(
    src, dst, proxy, exported_experiment, unique_name
):
    src_name, out = exported_experiment
    name = unique_name("dst-")
    proxy.lose_answers(r"/runs/create$", every=3)
    proxy.lose_answers(r"/logged-models$", every=2)

    report = api.import_experiment(out, name, tracking_uri=proxy.url, workers=4)

    assert proxy.answers_lost >= 3
    assert not report.failed
    assert_whole_copy(src, dst, src_name, name)


@pytest.mark.slow
def test_gateway_errors_and_lost_answers_everywhere_leave_an_exact_copy(
    src, dst, proxy, exported_experiment, unique_name
):
    """A share of every kind of request answered 502/503 before or after the server saw it."""
    src_name, out = exported_experiment
    name = unique_name("dst-")
    proxy.refuse(r".", every=13)
    proxy.lose_answers(r"/api/2\.0/mlflow/", every=11)

    report = api.import_experiment(out, name, tracking_uri=proxy.url, workers=4)

    assert proxy.refused >= 5 and proxy.answers_lost >= 5
    assert not report.failed, [o.detail for o in report.outcomes if o.status == "failed"]
    assert_no_duplicates_nor_active_orphans(dst, name)
    assert_equal_to_source(src, dst, src_name, name)


@pytest.mark.slow
def test_overloaded_destination_is_waited_for_not_failed(
    src, dst, proxy, exported_experiment, unique_name
):
    """503 to every log_batch for a while (more than MLflow's retries of one request take): the
    runs hit are imported again after a pause instead of being reported failed."""
    src_name, out = exported_experiment
    name = unique_name("dst-")
    # One worker: the first run's first log_batch meets all four tries of MLflow's retries.
    proxy.refuse(r"/runs/log-batch$", every=1, limit=5)
    proxy.refuse(r"/runs/create$", every=2)

    report = api.import_experiment(out, name, tracking_uri=proxy.url, workers=1)

    assert proxy.refused >= 5
    assert len(report.discarded_runs) == 1  # the run hit was discarded, then imported again
    assert not report.failed, report.outcomes
    assert_whole_copy(src, dst, src_name, name)


def test_rerun_discards_a_stale_copy_beside_a_complete_run(
    src, dst, exported_experiment, unique_name
):
    """What a retried create left before imports carried a create token: a complete run and,
    beside it, a 'started' copy with the same source id. The rerun skips the complete run and
    discards the copy."""
    src_name, out = exported_experiment
    name = unique_name("dst-")
    api.import_experiment(out, name, tracking_uri=dst.tracking_uri, workers=2)
    complete = _runs(dst, name, ViewType.ACTIVE_ONLY)[0]
    stale = dst.client.create_run(
        complete.info.experiment_id,
        tags={
            idmap.SOURCE_RUN_ID: complete.data.tags[idmap.SOURCE_RUN_ID],
            idmap.STATE: idmap.STATE_STARTED,
        },
    )

    report = api.import_experiment(out, name, tracking_uri=dst.tracking_uri, workers=2)

    assert dst.client.get_run(stale.info.run_id).info.lifecycle_stage == "deleted"
    assert report.discarded_runs == [stale.info.run_id]
    assert (
        f"mlflow gc --backend-store-uri <destination store URI> --run-ids {stale.info.run_id}"
        in ("\n".join(report.leftover_lines()))
    )
    assert_no_duplicates_nor_active_orphans(dst, name)
    assert _active_count(dst, name) == RUNS


def test_rerun_finishes_a_run_stopped_after_its_completion_mark(
    src, dst, exported_experiment, unique_name
):
    """A server lost between a run's completion mark and its status leaves it complete and
    RUNNING; the experiment's rerun gives it its status instead of skipping it."""
    src_name, out = exported_experiment
    name = unique_name("dst-")
    api.import_experiment(out, name, tracking_uri=dst.tracking_uri, workers=2)
    stopped = _runs(dst, name, ViewType.ACTIVE_ONLY)[0].info.run_id
    dst.client.update_run(stopped, status="RUNNING")

    api.import_experiment(out, name, tracking_uri=dst.tracking_uri, workers=2)

    assert dst.client.get_run(stopped).info.status == "FINISHED"
    assert_equal_to_source(src, dst, src_name, name)


@pytest.fixture
def exported_model(src, unique_name, tmp_path):
    """A model with versions 1, 3, 4 and 5 and aliases (model_builders): (name, export dir)."""
    built = model_builders.registered_model(src, unique_name("src-model-"), unique_name("src-"))
    api.export_model(built.name, tmp_path / "model", tracking_uri=src.tracking_uri)
    return built.name, tmp_path / "model"


@pytest.mark.slow
def test_lost_answers_to_version_creates_keep_every_number(
    src, dst, proxy, exported_model, unique_name
):
    src_name, out = exported_model
    name, experiment = unique_name("model-"), unique_name("exp-")
    proxy.lose_answers(r"/model-versions/create$", every=2)
    proxy.lose_answers(r"/runs/create$", every=2)

    report = api.import_model(out, experiment, model=name, tracking_uri=proxy.url)

    assert proxy.answers_lost >= 3
    assert not report.failed and report.warnings == []
    assert [v.version for v in all_versions(dst.client, name)] == ["1", "3", "4", "5"]
    result = api.verify_model(
        src_name, dst_model=name, src_mlflow_uri=src.tracking_uri, dst_mlflow_uri=dst.tracking_uri
    )
    assert result.ok, "\n".join(result.report_lines())


GIVE_UP_WITHIN = 60.0
CTRL_C_WITHIN = 10.0
KILL_MODEL_IMPORT_AT = 60  # requests into import-model: its runs are in, its versions being made


@pytest.fixture
def own_dst(tmp_path):
    """A destination server of this test's own, that the test may kill."""
    server = start_server(tmp_path / "own-dst")
    yield server
    server.stop()


def _killed_at(server, requests: int) -> FaultProxy:
    """A proxy to ``server`` that kills it at its ``requests``-th request and answers nothing
    from then on."""
    proxy = FaultProxy(server.url).start()

    def kill():
        os.killpg(server.process.pid, signal.SIGKILL)
        proxy.go_dark()

    proxy.on_request(requests, kill)
    return proxy


def _restart(server):
    """``server`` started again on its store and port, after it was killed."""
    return start_server(server.root, port=int(server.url.rsplit(":", 1)[1]))


def _assert_gave_up_fast(code: int, output: str, elapsed: float) -> None:
    """The import ended with exit 1 within GIVE_UP_WITHIN, saying the server stopped answering."""
    assert code == 1, output
    assert elapsed < GIVE_UP_WITHIN, output
    assert "stopped answering" in output


def _import(uri: str, name: str, out) -> tuple[int, str, float]:
    started = time.monotonic()
    result = CliRunner().invoke(
        migrate,
        ["import-experiment", "--experiment-name", name, "--input-dir", str(out)]
        + ["--tracking-uri", uri, "--workers", "4"],
    )
    return result.exit_code, result.output, time.monotonic() - started


@pytest.mark.slow
def test_killed_destination_fails_fast_and_rerun_completes(
    src, own_dst, exported_experiment, unique_name
):
    src_name, out = exported_experiment
    name = unique_name("dst-")
    proxy = _killed_at(own_dst, 40)
    try:
        code, output, elapsed = _import(proxy.url, name, out)
    finally:
        proxy.stop()

    _assert_gave_up_fast(code, output, elapsed)
    restarted = _restart(own_dst)
    try:
        dst = Endpoint(restarted.url, restarted.url)
        code, output, _ = _import(restarted.url, name, out)
        assert code == 0, output
        assert_whole_copy(src, dst, src_name, name)
    finally:
        restarted.stop()


@pytest.mark.slow
def test_hung_destination_fails_fast_and_rerun_completes(
    src, own_dst, exported_experiment, unique_name
):
    src_name, out = exported_experiment
    name = unique_name("dst-")
    proxy = FaultProxy(own_dst.url).start()
    proxy.hang_after(40)
    try:
        code, output, elapsed = _import(proxy.url, name, out)
    finally:
        proxy.stop()

    _assert_gave_up_fast(code, output, elapsed)
    dst = Endpoint(own_dst.url, own_dst.url)
    code, output, _ = _import(own_dst.url, name, out)
    assert code == 0, output
    assert_whole_copy(src, dst, src_name, name)


def _source_killed_after(own: object, name: str, requests: int) -> FaultProxy:
    """Experiment ``name`` of RUNS runs on the test's own server, and a proxy to it that kills
    the server at its ``requests``-th request and answers nothing from then on."""
    source = Endpoint(own.url, own.url)
    exp_id = builders.experiment(source, name)
    for _ in range(RUNS):
        light_run(source, exp_id, steps=50)
    return _killed_at(own, requests)


@pytest.mark.slow
def test_killed_source_fails_export_fast(own_dst, unique_name, tmp_path):
    """The same for export-experiment: a source killed mid-export is given up within a minute,
    and the export run again once it is back is whole."""
    name = unique_name("src-")
    proxy = _source_killed_after(own_dst, name, 30)
    started = time.monotonic()
    try:
        result = CliRunner().invoke(
            migrate,
            ["export-experiment", "--experiment", name, "--output-dir", str(tmp_path / "a")]
            + ["--tracking-uri", proxy.url, "--workers", "4"],
        )
    finally:
        proxy.stop()
    elapsed = time.monotonic() - started

    assert result.exit_code == 1, result.output
    assert elapsed < GIVE_UP_WITHIN, result.output
    restarted = _restart(own_dst)
    try:
        again = CliRunner().invoke(
            migrate,
            ["export-experiment", "--experiment", name, "--output-dir", str(tmp_path / "b")]
            + ["--tracking-uri", restarted.url],
        )
        assert again.exit_code == 0, again.output
        assert f"{RUNS} exported" in again.output
    finally:
        restarted.stop()


@pytest.mark.slow
def test_killed_source_fails_a_copy_fast_and_rerun_completes(dst, own_dst, unique_name):
    """copy-experiment reads from a live source: one killed mid-copy is given up within a
    minute, the runs not started then fail at once, and the copy run again once the source is
    back leaves one whole copy of each run."""
    src_name, name = unique_name("src-"), unique_name("dst-")
    proxy = _source_killed_after(own_dst, src_name, 30)
    started = time.monotonic()
    try:
        result = CliRunner().invoke(
            migrate,
            ["copy-experiment", "--experiment", src_name, "--experiment-name", name]
            + ["--src-mlflow-uri", proxy.url, "--dst-mlflow-uri", dst.tracking_uri]
            + ["--workers", "4"],
        )
    finally:
        proxy.stop()
    elapsed = time.monotonic() - started

    assert result.exit_code == 1, result.output
    assert elapsed < GIVE_UP_WITHIN, result.output
    assert (
        result.output.strip().splitlines()[-1].startswith(f"Error: {proxy.url} stopped answering")
    )
    restarted = _restart(own_dst)
    try:
        again = CliRunner().invoke(
            migrate,
            ["copy-experiment", "--experiment", src_name, "--experiment-name", name]
            + ["--src-mlflow-uri", restarted.url, "--dst-mlflow-uri", dst.tracking_uri],
        )
        assert again.exit_code == 0, again.output
        assert_whole_copy(Endpoint(restarted.url, restarted.url), dst, src_name, name)
    finally:
        restarted.stop()


def _import_model(uri: str, name: str, experiment: str, out) -> tuple[int, str, float]:
    started = time.monotonic()
    result = CliRunner().invoke(
        migrate,
        ["import-model", "--model", name, "--experiment-name", experiment]
        + ["--input-dir", str(out), "--tracking-uri", uri, "--workers", "4"],
    )
    return result.exit_code, result.output, time.monotonic() - started


@pytest.mark.slow
def test_killed_destination_fails_a_model_import_fast(src, own_dst, exported_model, unique_name):
    """Killed while the versions are created: one line naming the server, within a minute;
    the rerun once it is back makes every version."""
    src_name, out = exported_model
    name, experiment = unique_name("model-"), unique_name("exp-")
    proxy = _killed_at(own_dst, KILL_MODEL_IMPORT_AT)
    try:
        code, output, elapsed = _import_model(proxy.url, name, experiment, out)
    finally:
        proxy.stop()

    assert code == 1, output
    assert elapsed < GIVE_UP_WITHIN, output
    last = output.strip().splitlines()[-1]
    assert "stopped answering" in last and proxy.url in last, output
    restarted = _restart(own_dst)
    try:
        dst = Endpoint(restarted.url, restarted.url)
        code, output, _ = _import_model(restarted.url, name, experiment, out)
        assert code == 0, output
        assert [v.version for v in all_versions(dst.client, name)] == ["1", "3", "4", "5"]
        result = api.verify_model(
            src_name, dst_model=name, src_mlflow_uri=src.tracking_uri, dst_mlflow_uri=restarted.url
        )
        assert result.ok, "\n".join(result.report_lines())
    finally:
        restarted.stop()


MANY = 150


@pytest.fixture
def one_process_dst(tmp_path):
    """A destination with MLflow's own database pool (no larger pool for tests): one process
    lets about 15 requests in at once."""
    server = start_server(tmp_path / "busy-dst", test_db_pool=False)
    yield server
    server.stop()


def _tiny_runs(src, name: str, count: int) -> None:
    """``count`` runs of a few params, tags and metric points, made 8 at a time."""
    from concurrent.futures import ThreadPoolExecutor

    from mlflow.entities import Metric, Param, RunTag

    exp_id = builders.experiment(src, name)

    def make(i: int) -> None:
        run = src.client.create_run(exp_id, start_time=1_705_312_860_000 + i, run_name=f"r{i}")
        src.client.log_batch(
            run.info.run_id,
            metrics=[Metric("loss", 1.0 / (s + 1), 1_705_312_860_000 + s, s) for s in range(5)],
            params=[Param("i", str(i)), Param("alpha", "0.1")],
            tags=[RunTag("team", "ml")],
        )
        src.client.set_terminated(run.info.run_id, "FINISHED", end_time=1_705_312_920_000 + i)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(make, range(count)))


@pytest.mark.slow
def test_default_workers_import_many_runs_into_one_process_without_failure(
    src, one_process_dst, unique_name, tmp_path
):
    """The default --workers against one `mlflow server` process with MLflow's own pool, behind
    a gateway that sheds load for a while (every try of the first log_batch calls answered
    503): the "too busy" answers cut the requests in flight, and no run fails."""
    src_name = unique_name("src-many-")
    _tiny_runs(src, src_name, MANY)
    out = tmp_path / "many"
    api.export_experiment(src_name, out, tracking_uri=src.tracking_uri)
    dst = Endpoint(one_process_dst.url, one_process_dst.url)
    name = unique_name("dst-")
    proxy = FaultProxy(one_process_dst.url).start()
    proxy.refuse(r"/runs/log-batch$", every=1, limit=3 * DEFAULT_WORKERS)
    try:
        report = api.import_experiment(out, name, tracking_uri=proxy.url)
    finally:
        proxy.stop()

    assert proxy.refused == 3 * DEFAULT_WORKERS
    assert not report.failed, [o.detail for o in report.outcomes if o.status == "failed"]
    assert len(report.find("run", "imported")) == MANY
    assert_no_duplicates_nor_active_orphans(dst, name)
    assert _active_count(dst, name) == MANY
    cut = [w for w in report.warnings if "answered 'too busy'" in w]
    assert cut, report.warnings  # the server was overloaded and the limiter shrank


def test_a_cleanup_call_refused_by_a_busy_server_is_tried_again(monkeypatch):
    """A discard whose calls a busy server refused would leave a copy that looks imported."""
    monkeypatch.setattr(run_cleanup, "CLEANUP_PAUSE", 0.01)
    calls = []

    def busy_twice(run_id):
        calls.append(run_id)
        if len(calls) < 3:
            raise MlflowException("QueuePool limit of size 5 overflow 10 reached")

    def wrong(run_id):
        calls.append(run_id)
        raise MlflowException("RESOURCE_DOES_NOT_EXIST: no run")

    run_cleanup.quietly(busy_twice, "r1")
    assert calls == ["r1", "r1", "r1"]
    calls.clear()
    run_cleanup.quietly(wrong, "r2")  # not an overload: once, and the error ignored
    assert calls == ["r2"]
    calls.clear()

    def hung(run_id):
        calls.append(run_id)
        raise MlflowException("HTTPConnectionPool(...): Read timed out. (read timeout=6)")

    run_cleanup.quietly(hung, "r3")  # no answer in time: a hung server, not tried again
    assert calls == ["r3"]


def test_limiter_halves_on_overload_and_grows_back_on_successes():
    limiter = Limiter("http://busy", 8)
    with pytest.raises(MlflowException):
        with limiter.slot():
            raise MlflowException("(sqlite3.OperationalError) database is locked")
    with pytest.raises(MlflowException):  # the same burst: no second cut
        with limiter.slot():
            raise MlflowException("too many 503 error responses")
    assert (limiter.limit, limiter.cuts, limiter.lowest) == (4, 1, 4)

    in_flight, most = [0], [0]
    lock = threading.Lock()

    def request() -> None:
        with limiter.slot():
            with lock:
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            time.sleep(0.02)
            with lock:
                in_flight[0] -= 1

    threads = [threading.Thread(target=request) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert most[0] <= 7  # at most 4 at first, one more after each `limit` successes
    assert limiter.limit == 7
    assert "cut from 8 to as few as 4 at a time" in limiter.summary()


@pytest.mark.slow
def test_ctrl_c_after_a_hang_ends_within_seconds_and_says_what_was_done(
    src, own_dst, exported_experiment, unique_name
):
    src_name, out = exported_experiment
    name = unique_name("dst-")
    proxy = FaultProxy(own_dst.url).start()
    proxy.hang_after(40)
    try:
        proc = start_interruptible(
            [sys.executable, "-m", "mlflow_migrate_plugin", "import-experiment"]
            + ["--experiment-name", name, "--input-dir", str(out)]
            + ["--tracking-uri", proxy.url, "--workers", "4"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        while proxy.requests <= 42:  # the hang has begun, with requests held
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.1)
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        output, _ = proc.communicate(timeout=120)
        elapsed = time.monotonic() - interrupted
    finally:
        proxy.stop()

    assert proc.returncode == 130, output
    assert elapsed < CTRL_C_WITHIN, output
    assert "Interrupted" in output and "again" in output, output
    assert "experiments: 1 created" in output, output  # what was done before the interrupt
    dst = Endpoint(own_dst.url, own_dst.url)
    code, output, _ = _import(own_dst.url, name, out)
    assert code == 0, output
    assert_whole_copy(src, dst, src_name, name)
