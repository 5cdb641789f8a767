"""copy-run: the same export and import as export-run + import-run, in one command."""

from __future__ import annotations

import subprocess
import sys
import tempfile

import pytest
from mlflow.entities import ViewType

from mlflow_migrate_plugin import api, idmap
from mlflow_migrate_plugin.endpoint import Endpoint
from tests import builders
from tests.compare import run_view
from tests.servers import start_server


def _only_run(endpoint: Endpoint, experiment_name: str):
    experiment = endpoint.client.get_experiment_by_name(experiment_name)
    runs = endpoint.client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL)
    assert len(runs) == 1, runs
    return runs[0]


def _comparable(view: dict) -> dict:
    # MLmodel files carry the run id on purpose; the round-trip tests check their rewrite.
    view["artifacts"] = {k: v for k, v in view["artifacts"].items() if not k.endswith("MLmodel")}
    return view


def test_copy_run_between_two_servers_keeps_every_field(src, dst, unique_name):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, status="KILLED")
    target = unique_name("dst-")

    api.copy_run(
        built.run_id,
        target,
        src_mlflow_uri=src.tracking_uri,
        dst_mlflow_uri=dst.tracking_uri,
        use_src_user_id=True,
    )

    copied = _only_run(dst, target)
    assert _comparable(run_view(dst, copied.info.run_id)) == _comparable(
        run_view(src, built.run_id)
    )
    assert copied.data.tags[idmap.SOURCE_RUN_ID] == built.run_id


def test_copy_run_within_one_server_makes_a_second_run(src, unique_name):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, logged_model=False)
    target = unique_name("copy-")

    api.copy_run(
        built.run_id,
        target,
        src_mlflow_uri=src.tracking_uri,
        dst_mlflow_uri=src.tracking_uri,
        use_src_user_id=True,
    )

    copied = _only_run(src, target)
    assert copied.info.run_id != built.run_id
    assert _comparable(run_view(src, copied.info.run_id)) == _comparable(
        run_view(src, built.run_id)
    )


def test_copy_run_twice_adds_nothing(src, dst, unique_name):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, logged_model=False, classic_model=False)
    target = unique_name("dst-")

    api.copy_run(
        built.run_id, target, src_mlflow_uri=src.tracking_uri, dst_mlflow_uri=dst.tracking_uri
    )
    report = api.copy_run(
        built.run_id, target, src_mlflow_uri=src.tracking_uri, dst_mlflow_uri=dst.tracking_uri
    )

    assert [o.status for o in report.find("run") if o.source_id == built.run_id][-1] == "skipped"
    _only_run(dst, target)


def test_copy_run_removes_its_temporary_export_on_success_and_failure(
    src, dst, unique_name, tmp_path, monkeypatch
):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, logged_model=False, classic_model=False)

    api.copy_run(
        built.run_id,
        unique_name("dst-"),
        src_mlflow_uri=src.tracking_uri,
        dst_mlflow_uri=dst.tracking_uri,
    )
    assert list(scratch.iterdir()) == []

    deleted_target = unique_name("deleted-")
    dst.client.delete_experiment(dst.client.create_experiment(deleted_target))
    with pytest.raises(Exception, match="deleted"):
        api.copy_run(
            built.run_id,
            deleted_target,
            src_mlflow_uri=src.tracking_uri,
            dst_mlflow_uri=dst.tracking_uri,
        )
    assert list(scratch.iterdir()) == []


def test_copy_run_keeps_the_export_when_asked(src, dst, unique_name, tmp_path):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, logged_model=False, classic_model=False)

    api.copy_run(
        built.run_id,
        unique_name("dst-"),
        src_mlflow_uri=src.tracking_uri,
        dst_mlflow_uri=dst.tracking_uri,
        keep_export_dir=tmp_path / "kept",
    )

    assert (tmp_path / "kept" / "run.json").is_file()
    assert (tmp_path / "kept" / "artifacts" / "report.txt").is_file()


def test_copy_run_of_a_missing_run_fails_with_one_line_and_creates_nothing(src, dst, unique_name):
    target = unique_name("dst-")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlflow_migrate_plugin",
            "copy-run",
            "--run-id",
            "0" * 32,
            "--experiment-name",
            target,
            "--src-mlflow-uri",
            src.tracking_uri,
            "--dst-mlflow-uri",
            dst.tracking_uri,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
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

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlflow_migrate_plugin",
            "copy-run",
            "--run-id",
            built.run_id,
            "--experiment-name",
            target,
            "--src-mlflow-uri",
            src.tracking_uri,
            "--dst-mlflow-uri",
            dst_uri,
            "--keep-export-dir",
            str(tmp_path / "export"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr
    dst = Endpoint(dst_uri, dst_uri)
    copied = _only_run(dst, target)
    assert copied.data.params == src.client.get_run(built.run_id).data.params
    assert "alice-Passw-0001" not in (tmp_path / "export" / "run.json").read_text()
    assert "Passw-000" not in result.stdout + result.stderr
