"""Two imports of the same export at once (a scheduler retrying a job while the first still
runs), and what such imports left before leases existed: never two live copies of a run.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest
from click.testing import CliRunner
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from mlflow_migrate_plugin import api, idmap
from mlflow_migrate_plugin.cli import migrate
from mlflow_migrate_plugin.handlers import lease
from mlflow_migrate_plugin.handlers.model_version import all_versions
from mlflow_migrate_plugin.report import Report
from tests import experiment_builders as eb
from tests import model_builders
from tests.test_faults import assert_equal_to_source, assert_no_duplicates_nor_active_orphans

RUNS = 8
PARENTS = {1: 0, 2: 1, 3: 0, 5: 4}  # child index -> parent index


@pytest.fixture
def nested_export(src, unique_name, tmp_path):
    """Eight small runs, r0 <- r1 <- r2, r0 <- r3 and r4 <- r5 nested: (source name, runs,
    export directory)."""
    name = unique_name("src-")
    exp_id = eb.builders.experiment(src, name)
    runs: list[str] = []
    for i in range(RUNS):
        parent = runs[PARENTS[i]] if i in PARENTS else None
        runs.append(
            eb.light_run(src, exp_id, name=f"run-{i}", parent_run_id=parent, start_time=eb.T0 + i)
        )
    out = tmp_path / "exp"
    api.export_experiment(name, out, tracking_uri=src.tracking_uri)
    return name, runs, out


def _start(out, name: str, uri: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mlflow_migrate_plugin", "import-experiment"]
        + ["--experiment-name", name, "--input-dir", str(out), "--tracking-uri", uri]
        + ["--workers", "4", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def assert_linked(dst, name: str, runs: list[str]) -> None:
    """Every source run once, live and complete, each child linked to its imported parent."""
    exp_id = dst.client.get_experiment_by_name(name).experiment_id
    run_ids = eb.run_id_map(dst, exp_id)  # fails on any duplicate
    assert set(run_ids) == set(runs)
    for index, source_run in enumerate(runs):
        tags = dst.client.get_run(run_ids[source_run]).data.tags
        expected = run_ids[runs[PARENTS[index]]] if index in PARENTS else None
        assert tags.get(MLFLOW_PARENT_RUN_ID) == expected, f"run-{index} not linked"
        assert idmap.PENDING_PARENT not in tags


def _lease_tag(dst, name: str) -> str | None:
    return dst.client.get_experiment_by_name(name).tags.get(idmap.LEASE)


@pytest.mark.slow
def test_two_imports_started_at_once_leave_one_copy_of_each_run(
    src, dst, nested_export, unique_name
):
    src_name, runs, out = nested_export
    name = unique_name("dst-")
    dst.client.create_experiment(name)  # both find it, so both reach the lease at once

    first = _start(out, name, dst.tracking_uri, "--wait")
    second = _start(out, name, dst.tracking_uri, "--wait")
    outputs = [p.communicate(timeout=300)[0] for p in (first, second)]

    assert [first.returncode, second.returncode] == [0, 0], outputs
    assert any("another import of experiment" in o and "waiting" in o for o in outputs), outputs
    assert_no_duplicates_nor_active_orphans(dst, name)
    assert_linked(dst, name, runs)
    assert_equal_to_source(src, dst, src_name, name)
    assert _lease_tag(dst, name) is None  # released at the end


def test_an_import_refuses_while_another_holds_the_lease(dst, nested_export, unique_name):
    _, _, out = nested_export
    name = unique_name("dst-")
    exp_id = dst.client.create_experiment(name)
    until = time.time() + 300
    dst.client.set_experiment_tag(exp_id, idmap.LEASE, f"other-host/pid 7/abc:{until:.0f}")

    result = CliRunner().invoke(
        migrate,
        ["import-experiment", "--experiment-name", name, "--input-dir", str(out)]
        + ["--tracking-uri", dst.tracking_uri],
    )

    assert result.exit_code == 1, result.output
    line = result.output.strip().splitlines()[-1]
    assert f"another import of experiment '{name}' is in progress" in line
    assert "holder other-host/pid 7/abc" in line and "--wait" in line
    assert dst.client.search_runs([exp_id], run_view_type=ViewType.ALL) == []
    assert _lease_tag(dst, name).startswith("other-host/")  # not ours to remove


def test_an_expired_lease_is_taken_over(src, dst, nested_export, unique_name):
    src_name, runs, out = nested_export
    name = unique_name("dst-")
    exp_id = dst.client.create_experiment(name)
    dst.client.set_experiment_tag(exp_id, idmap.LEASE, f"killed/pid 1/x:{time.time() - 1:.0f}")

    report = api.import_experiment(out, name, tracking_uri=dst.tracking_uri, workers=4)

    assert not report.failed
    assert_linked(dst, name, runs)
    assert _lease_tag(dst, name) is None


def test_a_lease_left_by_an_ended_process_of_this_host_is_taken_over(
    dst, nested_export, unique_name
):
    """An import whose server went away could not release its lease; the rerun right after the
    server is back need not wait for the lease to expire."""
    _, runs, out = nested_export
    name = unique_name("dst-")
    exp_id = dst.client.create_experiment(name)
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], **_TEXT)
    holder = f"{socket.gethostname()}/pid {ended.stdout.strip()}/x"
    dst.client.set_experiment_tag(exp_id, idmap.LEASE, f"{holder}:{time.time() + 300:.0f}")

    report = api.import_experiment(out, name, tracking_uri=dst.tracking_uri, workers=4)

    assert not report.failed
    assert_linked(dst, name, runs)
    assert _lease_tag(dst, name) is None


_TEXT = {"capture_output": True, "text": True, "check": True}


def test_a_lease_lost_to_a_later_writer_is_not_held(dst, unique_name):
    """Tags are last-writer-wins: of two takers, the one whose value is read back holds it."""
    exp_id = dst.client.create_experiment(unique_name("dst-"))
    target = lease.on_experiment(dst, exp_id, "x")
    report = Report()
    written = []

    def write_then_lose(value: str) -> None:
        dst.client.set_experiment_tag(exp_id, idmap.LEASE, value)
        if not written:  # another taker writes right after our first write
            written.append(value)
            dst.client.set_experiment_tag(exp_id, idmap.LEASE, f"rival:{time.time() + 60:.0f}")

    with pytest.raises(lease.LeaseHeldError, match="holder rival"):
        lease.take(lease.Target(target.what, target.read, write_then_lose, target.remove), report)


def test_a_lease_write_refused_by_a_colliding_insert_reads_the_rival(dst, unique_name):
    """Two takers insert the new tag at one moment and the server's database refuses the second
    (sqlite: UNIQUE constraint failed): the refused taker reads the rival's lease and refuses
    with the usual line, not with the database's error."""
    exp_id = dst.client.create_experiment(unique_name("dst-"))
    target = lease.on_experiment(dst, exp_id, "x")

    def collide(value: str) -> None:
        dst.client.set_experiment_tag(exp_id, idmap.LEASE, f"rival:{time.time() + 60:.0f}")
        dst.client.get_experiment("does-not-exist")  # the server refuses our write

    with pytest.raises(lease.LeaseHeldError, match="holder rival"):
        lease.take(lease.Target(target.what, target.read, collide, target.remove), Report())


def test_a_lease_write_refused_every_time_is_raised(dst, unique_name):
    exp_id = dst.client.create_experiment(unique_name("dst-"))
    target = lease.on_experiment(dst, exp_id, "x")

    def refuse(value: str) -> None:
        dst.client.get_experiment("does-not-exist")

    with pytest.raises(MlflowException, match="does-not-exist"):
        lease.take(lease.Target(target.what, target.read, refuse, target.remove), Report())
    assert _lease_tag_of(dst, exp_id) is None


def _lease_tag_of(dst, exp_id: str) -> str | None:
    return dst.client.get_experiment(exp_id).tags.get(idmap.LEASE)


def test_rerun_repairs_two_complete_copies_and_relinks_children(
    src, dst, nested_export, unique_name
):
    """What two imports at once left before leases: two complete copies of r0, a child linked to
    each. The rerun keeps one, links every child to it, and counts the other as a leftover."""
    src_name, runs, out = nested_export
    name = unique_name("dst-")
    api.import_experiment(out, name, tracking_uri=dst.tracking_uri, workers=4)
    exp_id = dst.client.get_experiment_by_name(name).experiment_id
    first = eb.run_id_map(dst, exp_id)[runs[0]]
    api.import_run(out / "runs" / runs[0], name, tracking_uri=dst.tracking_uri, fresh=True)
    second = next(
        r.info.run_id
        for r in dst.client.search_runs([exp_id])
        if r.data.tags.get(idmap.SOURCE_RUN_ID) == runs[0] and r.info.run_id != first
    )
    dst.client.delete_tag(second, idmap.FRESH_COPY)  # as a second import would have made it
    r3 = next(
        r.info.run_id
        for r in dst.client.search_runs([exp_id])
        if r.data.tags.get(idmap.SOURCE_RUN_ID) == runs[3]
    )
    dst.client.set_tag(r3, MLFLOW_PARENT_RUN_ID, second)

    report = api.import_experiment(out, name, tracking_uri=dst.tracking_uri, workers=4)

    assert not report.failed
    assert any("repaired" in w and runs[0] in w for w in report.warnings), report.warnings
    assert len(report.discarded_runs) == 1 and report.discarded_runs[0] in (first, second)
    assert "1 discarded runs" in report.leftover_lines()[0]
    assert_no_duplicates_nor_active_orphans(dst, name)
    assert_linked(dst, name, runs)
    assert_equal_to_source(src, dst, src_name, name)


def test_fresh_copies_are_not_repaired(dst, nested_export, unique_name):
    _, runs, out = nested_export
    name = unique_name("dst-")
    api.import_experiment(out, name, tracking_uri=dst.tracking_uri, workers=4)
    api.import_run(out / "runs" / runs[6], name, tracking_uri=dst.tracking_uri, fresh=True)

    report = api.import_experiment(out, name, tracking_uri=dst.tracking_uri, workers=4)

    assert report.discarded_runs == [] and report.warnings == []
    exp_id = dst.client.get_experiment_by_name(name).experiment_id
    copies = [
        r
        for r in dst.client.search_runs([exp_id])
        if r.data.tags.get(idmap.SOURCE_RUN_ID) == runs[6]
    ]
    assert len(copies) == 2


def test_a_model_import_refuses_while_another_holds_the_lease(src, dst, unique_name, tmp_path):
    """Before any run is imported: the other import's runs in progress are left alone."""
    built = model_builders.registered_model(src, unique_name("src-model-"), unique_name("src-"))
    api.export_model(built.name, tmp_path / "model", tracking_uri=src.tracking_uri)
    name, experiment = unique_name("model-"), unique_name("exp-")
    dst.client.create_registered_model(name)
    until = time.time() + 300
    dst.client.set_registered_model_tag(name, idmap.LEASE, f"other-host/pid 7/abc:{until:.0f}")

    with pytest.raises(lease.LeaseHeldError, match=f"registered model '{name}' is in progress"):
        api.import_model(tmp_path / "model", experiment, model=name, tracking_uri=dst.tracking_uri)

    assert dst.client.get_experiment_by_name(experiment) is None
    assert dst.client.search_model_versions(f"name = '{name}'") == []
    assert dst.client.get_registered_model(name).tags[idmap.LEASE].startswith("other-host/")


def _held_by_other(dst, name: str) -> None:
    dst.client.create_registered_model(name)
    until = time.time() + 300
    dst.client.set_registered_model_tag(name, idmap.LEASE, f"other-host/pid 7/abc:{until:.0f}")


def test_a_model_import_with_wait_goes_on_once_the_other_ends(
    src, dst, unique_name, tmp_path, monkeypatch
):
    built = model_builders.registered_model(src, unique_name("src-model-"), unique_name("src-"))
    api.export_model(built.name, tmp_path / "model", tracking_uri=src.tracking_uri)
    name = unique_name("model-")
    _held_by_other(dst, name)
    monkeypatch.setattr(lease, "WAIT_POLL", 0.2)
    ended = threading.Timer(1.0, dst.client.delete_registered_model_tag, (name, idmap.LEASE))
    ended.start()
    started = time.monotonic()

    report = api.import_model(
        tmp_path / "model",
        unique_name("exp-"),
        model=name,
        tracking_uri=dst.tracking_uri,
        wait=True,
    )

    ended.join()
    assert time.monotonic() - started >= 1.0  # it waited for the other's lease
    assert not report.failed
    assert [v.version for v in all_versions(dst.client, name)] == ["1", "3", "4", "5"]
    assert idmap.LEASE not in dst.client.get_registered_model(name).tags


def test_a_model_copy_refuses_while_another_holds_the_lease(src, dst, unique_name):
    built = model_builders.registered_model(src, unique_name("src-model-"), unique_name("src-"))
    name, experiment = unique_name("model-"), unique_name("exp-")
    _held_by_other(dst, name)

    with pytest.raises(lease.LeaseHeldError, match="or pass --wait"):
        api.copy_model(
            built.name,
            experiment,
            dst_model=name,
            src_mlflow_uri=src.tracking_uri,
            dst_mlflow_uri=dst.tracking_uri,
        )

    assert dst.client.get_experiment_by_name(experiment) is None
    assert dst.client.search_model_versions(f"name = '{name}'") == []
