"""copy-run: the run import of import-run, reading the run live from the source server."""

from __future__ import annotations

import subprocess
import sys

import pytest
from mlflow.entities import Metric, ViewType

from mlflow_migrate_plugin import api, idmap
from mlflow_migrate_plugin.endpoint import Endpoint
from mlflow_migrate_plugin.handlers import experiment as experiment_handler
from mlflow_migrate_plugin.handlers import run as run_handler
from mlflow_migrate_plugin.handlers.run_source import LiveSource
from mlflow_migrate_plugin.report import Report
from mlflow_migrate_plugin.transfer.engine import Engine
from mlflow_migrate_plugin.transfer.spool import Spool
from tests import builders
from tests.compare import run_view
from tests.servers import start_server


def _copy(src: Endpoint, dst: Endpoint, run_id: str, experiment_name: str, **options):
    return api.copy_run(
        run_id,
        experiment_name,
        src_mlflow_uri=src.tracking_uri,
        dst_mlflow_uri=dst.tracking_uri,
        **options,
    )


def _copy_process(run_id: str, target: str, src_uri: str, dst_uri: str, *options, timeout: int):
    """``copy-run`` as a user runs it, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "mlflow_migrate_plugin", "copy-run", "--run-id", run_id]
        + ["--experiment-name", target, "--src-mlflow-uri", src_uri, "--dst-mlflow-uri", dst_uri]
        + [str(o) for o in options],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _only_run(endpoint: Endpoint, experiment_name: str, view: int = ViewType.ALL):
    experiment = endpoint.client.get_experiment_by_name(experiment_name)
    runs = endpoint.client.search_runs([experiment.experiment_id], run_view_type=view)
    assert len(runs) == 1, runs
    return runs[0]


def _comparable(view: dict) -> dict:
    # MLmodel files carry the run id on purpose; the round-trip tests check their rewrite.
    view["artifacts"] = {k: v for k, v in view["artifacts"].items() if not k.endswith("MLmodel")}
    return view


def _assert_same_run(src: Endpoint, run_id: str, dst: Endpoint, copy_id: str) -> None:
    """The copy's every field equals the source run's, MLmodel files aside."""
    assert _comparable(run_view(dst, copy_id)) == _comparable(run_view(src, run_id))


def test_copy_run_between_two_servers_keeps_every_field(src, dst, unique_name):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, status="KILLED")
    target = unique_name("dst-")

    _copy(src, dst, built.run_id, target, use_src_user_id=True)

    copied = _only_run(dst, target)
    _assert_same_run(src, built.run_id, dst, copied.info.run_id)
    assert copied.data.tags[idmap.SOURCE_RUN_ID] == built.run_id


def test_copy_run_streams_a_history_longer_than_one_call_point_by_point(src, dst, unique_name):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, metric_keys=0, logged_model=False, classic_model=False)
    # One key longer than the first read of a small run (so it goes on from a page token),
    # two short ones, and more points than one log_batch takes.
    points = [Metric("long", i * 0.5, 1_000 + i, i) for i in range(2_500)]
    points += [Metric(k, float(i), 2_000 + i, i) for k in ("a", "b") for i in range(300)]
    for i in range(0, len(points), 1000):
        src.client.log_batch(built.run_id, metrics=points[i : i + 1000])
    target = unique_name("dst-")

    _copy(src, dst, built.run_id, target)

    copied = _only_run(dst, target)
    for key in ("long", "a", "b"):
        want = src.client.get_metric_history(built.run_id, key)
        got = dst.client.get_metric_history(copied.info.run_id, key)
        assert sorted((m.step, m.timestamp, m.value) for m in got) == sorted(
            (m.step, m.timestamp, m.value) for m in want
        )
    assert len(dst.client.get_metric_history(copied.info.run_id, "long")) == 2_500


def _streamed(src, dst, run_id: str, experiment_name: str, workers: int) -> Spool:
    """Copy a run through the handlers with a spool the test can look at afterwards."""
    with Engine(workers) as engine, Spool(workers) as spool:
        source = LiveSource(src, engine, spool)
        experiment_id = experiment_handler.ensure(dst, experiment_name, Report())
        options = run_handler.RunImportOptions(use_src_user_id=True)
        run_handler.import_(
            dst, source.run(run_id), engine, Report(), experiment_id=experiment_id, options=options
        )
    return spool


def test_copy_run_holds_at_most_workers_files_on_disk_and_makes_no_export(
    src, dst, unique_name, tmp_path, scratch
):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, logged_model=False, classic_model=False)
    files = tmp_path / "files"
    files.mkdir()
    for i in range(12):
        (files / f"part-{i:02d}.bin").write_bytes(bytes([i]) * 50_000)
    src.artifact_repo(src.client.get_run(built.run_id).info.artifact_uri).log_artifacts(
        str(files), "parts"
    )
    target = unique_name("dst-")

    spool = _streamed(src, dst, built.run_id, target, workers=2)

    assert 1 <= spool.peak <= 2
    assert list(scratch.iterdir()) == []  # the spool is gone, and nothing else was written
    copied = _only_run(dst, target)
    _assert_same_run(src, built.run_id, dst, copied.info.run_id)


def test_copy_run_that_fails_midway_leaves_no_run_and_a_rerun_copies_it(
    src_server, src, dst, unique_name
):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, logged_model=False, classic_model=False)
    target = unique_name("dst-")
    experiment_id = experiment_handler.ensure(dst, target, Report())
    stored = next((src_server.root / "artifacts").glob(f"**/{built.run_id}/artifacts/report.txt"))
    content = stored.read_bytes()

    with Engine(2) as engine, Spool(2) as spool:
        run = LiveSource(src, engine, spool).run(built.run_id)  # lists the file
        stored.unlink()  # gone from the source between the listing and its copy
        with pytest.raises(Exception, match="report.txt"):
            run_handler.import_(dst, run, engine, Report(), experiment_id=experiment_id)

    runs = dst.client.search_runs([experiment_id], run_view_type=ViewType.ALL)
    assert [r.info.lifecycle_stage for r in runs] == ["deleted"]
    assert idmap.SOURCE_RUN_ID not in runs[0].data.tags  # never taken for a copy
    stored.write_bytes(content)
    report = _copy(src, dst, built.run_id, target)
    assert [o.status for o in report.find("run")] == ["imported"]
    copied = _only_run(dst, target, ViewType.ACTIVE_ONLY)
    assert copied.data.tags[idmap.SOURCE_RUN_ID] == built.run_id


def test_copy_run_within_one_server_makes_a_second_run(src, unique_name):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, logged_model=False)
    target = unique_name("copy-")

    _copy(src, src, built.run_id, target, use_src_user_id=True)

    copied = _only_run(src, target)
    assert copied.info.run_id != built.run_id
    _assert_same_run(src, built.run_id, src, copied.info.run_id)


def test_copy_run_twice_adds_nothing(src, dst, unique_name):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, logged_model=False, classic_model=False)
    target = unique_name("dst-")

    _copy(src, dst, built.run_id, target)
    report = _copy(src, dst, built.run_id, target)

    assert [o.status for o in report.find("run") if o.source_id == built.run_id][-1] == "skipped"
    _only_run(dst, target)


def test_copy_run_removes_its_temporary_export_on_success_and_failure(
    src, dst, unique_name, scratch
):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, logged_model=False, classic_model=False)

    _copy(src, dst, built.run_id, unique_name("dst-"))
    assert list(scratch.iterdir()) == []

    deleted_target = unique_name("deleted-")
    dst.client.delete_experiment(dst.client.create_experiment(deleted_target))
    with pytest.raises(Exception, match="deleted"):
        _copy(src, dst, built.run_id, deleted_target)
    assert list(scratch.iterdir()) == []


def test_copy_run_keeps_the_export_when_asked(src, dst, unique_name, tmp_path):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, logged_model=False, classic_model=False)

    _copy(src, dst, built.run_id, unique_name("dst-"), keep_export_dir=tmp_path / "kept")

    assert (tmp_path / "kept" / "run.json").is_file()
    assert (tmp_path / "kept" / "artifacts" / "report.txt").is_file()


def test_copy_run_of_a_missing_run_fails_with_one_line_and_creates_nothing(src, dst, unique_name):
    target = unique_name("dst-")
    result = _copy_process("0" * 32, target, src.tracking_uri, dst.tracking_uri, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: run '000")
    assert "Traceback" not in result.stderr
    assert dst.client.get_experiment_by_name(target) is None


def _auth_server(root, user: str, password: str):
    root.mkdir(parents=True)
    config = root / "auth.ini"
    config.write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{root / 'auth.db'}\n"
        f"admin_username = {user}\nadmin_password = {password}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    return start_server(
        root,
        app_name="basic-auth",
        env={
            "MLFLOW_AUTH_CONFIG_PATH": str(config),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": f"test-secret-{user}",
        },
    )


@pytest.fixture(scope="module")
def auth_servers(tmp_path_factory):
    root = tmp_path_factory.mktemp("auth")
    first = _auth_server(root / "a", "alice", "alice-Passw-0001")
    try:
        second = _auth_server(root / "b", "bob", "bob-Passw-0002")
    except BaseException:
        first.stop()
        raise
    yield first, second
    first.stop()
    second.stop()


def _with_credentials(url: str, user: str, password: str) -> str:
    return url.replace("http://", f"http://{user}:{password}@")


@pytest.mark.slow
def test_copy_run_between_two_basic_auth_servers_with_different_users(
    auth_servers, unique_name, tmp_path
):
    first, second = auth_servers
    src = Endpoint(*[_with_credentials(first.url, "alice", "alice-Passw-0001")] * 2)
    dst_uri = _with_credentials(second.url, "bob", "bob-Passw-0002")
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, logged_model=True)
    target = unique_name("dst-")

    result = _copy_process(
        built.run_id,
        target,
        src.tracking_uri,
        dst_uri,
        "--keep-export-dir",
        tmp_path / "export",
        timeout=300,
    )

    assert result.returncode == 0, result.stderr
    dst = Endpoint(dst_uri, dst_uri)
    copied = _only_run(dst, target)
    assert copied.data.params == src.client.get_run(built.run_id).data.params
    assert "alice-Passw-0001" not in (tmp_path / "export" / "run.json").read_text()
    assert "Passw-000" not in result.stdout + result.stderr
