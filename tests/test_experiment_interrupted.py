"""Imports interrupted for real (Ctrl-C, the destination going down) complete when rerun.

The import runs as ``python -m mlflow_migrate_plugin import-experiment`` in a subprocess, one
run at a time, and is interrupted once a few runs are on the destination. The rerun must leave
exactly one complete copy of every source run, each nested run linked to its imported parent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from mlflow_migrate_plugin import api, idmap
from mlflow_migrate_plugin.endpoint import Endpoint
from tests import experiment_builders as eb
from tests.processes import start_interruptible
from tests.servers import start_server

RUNS = 10


def _source(src, unique_name, tmp_path):
    """Ten runs, exported: r0 <- r1 <- r2 and r0 <- r3 nested, the others alone."""
    exp_id = eb.builders.experiment(src, unique_name("src-"))
    runs: list[str] = []
    parents = {1: 0, 2: 1, 3: 0}
    for i in range(RUNS):
        parent = runs[parents[i]] if i in parents else None
        runs.append(
            eb.light_run(
                src, exp_id, name=f"run-{i}", parent_run_id=parent, start_time=eb.T0 + i * 1000
            )
        )
    out = tmp_path / "exp"
    api.export_experiment(
        src.client.get_experiment(exp_id).name, out, tracking_uri=src.tracking_uri
    )
    return runs, parents, out


def _start_import(out, name, tracking_uri) -> subprocess.Popen:
    env = {
        **os.environ,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
    }
    return start_interruptible(
        [
            sys.executable,
            "-m",
            "mlflow_migrate_plugin",
            "import-experiment",
            "--experiment-name",
            name,
            "--input-dir",
            str(out),
            "--tracking-uri",
            tracking_uri,
            "--workers",
            "1",
            "--use-src-user-id",
            "True",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def _complete(dst: Endpoint, name: str) -> int:
    exp = dst.client.get_experiment_by_name(name)
    if exp is None:
        return 0
    runs = dst.client.search_runs(
        [exp.experiment_id], filter_string=f"tags.`{idmap.STATE}` = '{idmap.STATE_COMPLETE}'"
    )
    return len(runs)


def _wait_for_runs(dst: Endpoint, name: str, proc: subprocess.Popen, n: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, (
            "the import ended before it could be interrupted:\n" + proc.communicate()[0]
        )
        if _complete(dst, name) >= n:
            return
        time.sleep(0.05)
    raise AssertionError("the import made no progress")


def _assert_complete(dst: Endpoint, name: str, runs: list[str], parents: dict) -> None:
    exp_id = dst.client.get_experiment_by_name(name).experiment_id
    run_ids = eb.run_id_map(dst, exp_id)  # fails on any duplicate
    assert set(run_ids) == set(runs)
    for index, source_run in enumerate(runs):
        tags = dst.client.get_run(run_ids[source_run]).data.tags
        assert tags[idmap.STATE] == idmap.STATE_COMPLETE
        expected_parent = run_ids[runs[parents[index]]] if index in parents else None
        assert tags.get(MLFLOW_PARENT_RUN_ID) == expected_parent
        assert idmap.PENDING_PARENT not in tags
    assert len(dst.client.search_runs([exp_id])) == len(runs)


@pytest.mark.slow
def test_import_interrupted_by_ctrl_c_completes_on_rerun(src, dst, unique_name, tmp_path):
    runs, parents, out = _source(src, unique_name, tmp_path)
    name = unique_name("dst-")
    proc = _start_import(out, name, dst.tracking_uri)
    _wait_for_runs(dst, name, proc, 2)

    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)

    assert proc.returncode == 130, output
    assert "Interrupted" in output
    assert _complete(dst, name) < RUNS
    report = api.import_experiment(out, name, tracking_uri=dst.tracking_uri, use_src_user_id=True)
    assert not report.failed
    assert report.find("run", "skipped") and report.find("run", "imported")
    _assert_complete(dst, name, runs, parents)


@pytest.mark.slow
def test_import_stopped_by_destination_going_down_completes_after_restart(
    src, unique_name, tmp_path
):
    runs, parents, out = _source(src, unique_name, tmp_path)
    server = start_server(tmp_path / "dst-server")
    try:
        dst = Endpoint(server.url, server.url)
        name = unique_name("dst-")
        proc = _start_import(out, name, server.url)
        _wait_for_runs(dst, name, proc, 2)

        server.stop()
        output, _ = proc.communicate(timeout=180)

        assert proc.returncode == 1, output
        assert "stopped answering" in output
        port = int(server.url.rsplit(":", 1)[1])
        server = start_server(tmp_path / "dst-server", port=port)
        assert _complete(dst, name) < RUNS
        report = api.import_experiment(out, name, tracking_uri=server.url, use_src_user_id=True)
        assert not report.failed, [o for o in report.outcomes if o.status == "failed"]
        _assert_complete(dst, name, runs, parents)
    finally:
        server.stop()
