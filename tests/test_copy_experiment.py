"""copy-experiment between two real servers: what import-experiment keeps, with nothing exported.

Compared as in test_experiment_import.py: ids through the mapping the copy made (found by the
marker tags), the marker tags left out; everything else in ``run_view`` / ``logged_model_view``
must be equal.
"""

from __future__ import annotations

import uuid

import pytest
from mlflow.entities import ViewType
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from mlflow_migrate_plugin import api, idmap
from mlflow_migrate_plugin.endpoint import Endpoint
from tests import experiment_builders as eb


def _copy(src, dst, experiment, name, **options):
    options.setdefault("use_src_user_id", True)
    return api.copy_experiment(
        experiment,
        name,
        src_mlflow_uri=src.tracking_uri,
        dst_mlflow_uri=dst.tracking_uri,
        **options,
    )


def _failures(report) -> list:
    return [o for o in report.outcomes if o.status == "failed"]


@pytest.fixture(scope="module")
def nested(src_server):
    src = Endpoint(src_server.url, src_server.url)
    return eb.nested_experiment(src, f"src-copy-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def copied(src_server, dst_server, nested):
    """(destination experiment name, its id, the copy's report), deleted runs included."""
    src = Endpoint(src_server.url, src_server.url)
    dst = Endpoint(dst_server.url, dst_server.url)
    name = f"dst-copy-{uuid.uuid4().hex[:8]}"
    report = _copy(src, dst, nested.name, name, export_deleted_runs=True, workers=4)
    return name, dst.client.get_experiment_by_name(name).experiment_id, report


def test_copy_experiment_reproduces_every_run_and_model(src, dst, nested, copied):
    name, exp_id, report = copied

    assert not report.failed, _failures(report)
    eb.assert_nested_reproduced(src, dst, nested, exp_id)


def test_copy_experiment_links_parents_and_keeps_deleted_and_failed_states(dst, nested, copied):
    name, exp_id, report = copied

    run_ids = eb.run_id_map(dst, exp_id)
    eb.assert_parents_linked(dst, nested, run_ids)
    assert dst.client.get_run(run_ids[nested.deleted_child]).info.lifecycle_stage == "deleted"
    assert dst.client.get_run(run_ids[nested.child]).info.status == "FAILED"
    eb.assert_experiment_model_relinked(dst, nested, exp_id, run_ids)


def test_copy_experiment_twice_adds_nothing(src, dst, nested, copied):
    name, exp_id, _ = copied

    report = _copy(src, dst, nested.name, name, export_deleted_runs=True)

    assert not report.failed, _failures(report)
    assert {o.status for o in report.find("run")} == {"skipped"}
    assert set(eb.run_id_map(dst, exp_id)) == nested.all_runs
    assert len(dst.client.search_logged_models([exp_id])) == 2


def test_copy_experiment_selects_runs_as_export_experiment_does(src, dst, nested, unique_name):
    name = unique_name("dst-")

    report = _copy(src, dst, nested.name, name, run_ids=[nested.child], check_nested_runs=True)

    assert not report.failed, _failures(report)
    exp_id = dst.client.get_experiment_by_name(name).experiment_id
    run_ids = eb.run_id_map(dst, exp_id)
    assert set(run_ids) == {nested.child, nested.grandchild}
    grandchild = dst.client.get_run(run_ids[nested.grandchild])
    assert grandchild.data.tags[MLFLOW_PARENT_RUN_ID] == run_ids[nested.child]


def test_interrupted_copy_completes_on_rerun_without_duplicates(
    src, dst, nested, unique_name, scratch
):
    name = unique_name("dst-")
    with pytest.raises(KeyboardInterrupt):
        _copy(src, dst, nested.name, name, workers=1, progress=eb.InterruptAfter(2))
    exp_id = dst.client.get_experiment_by_name(name).experiment_id
    assert 0 < len(eb.imported_runs(dst, exp_id)) < len(nested.active_runs)
    assert list(scratch.iterdir()) == []  # the spool is gone with the command

    report = _copy(src, dst, nested.name, name)

    assert not report.failed, _failures(report)
    eb.assert_rerun_completed(dst, nested, exp_id, nested.active_runs)
    assert list(scratch.iterdir()) == []


def test_a_run_that_fails_leaves_nothing_and_the_others_are_copied(
    src_server, src, dst, unique_name
):
    exp_id = eb.builders.experiment(src, unique_name("src-"))
    runs = [eb.light_run(src, exp_id, name=f"run-{i}") for i in range(3)]
    src_name = src.client.get_experiment(exp_id).name
    # The second run's store holds a file the source server cannot read.
    stored = next((src_server.root / "artifacts").glob(f"**/{runs[1]}/artifacts/report.txt"))
    stored.unlink()
    stored.symlink_to(stored.parent / "missing.txt")
    name = unique_name("dst-")

    report = _copy(src, dst, src_name, name)

    assert [o.source_id for o in _failures(report)] == [runs[1]]
    dst_id = dst.client.get_experiment_by_name(name).experiment_id
    assert set(eb.run_id_map(dst, dst_id)) == {runs[0], runs[2]}
    every = dst.client.search_runs([dst_id], run_view_type=ViewType.ALL)
    assert sorted(r.data.tags.get(idmap.SOURCE_RUN_ID) for r in every) == sorted([runs[0], runs[2]])
