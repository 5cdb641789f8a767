"""Importing a run export again adds nothing; an interrupted import is replaced on rerun."""

from __future__ import annotations

import pytest
from mlflow.entities import ViewType

from mlflow_migrate_plugin import api, idmap
from tests import builders
from tests.compare import run_view


@pytest.fixture
def exported(src, unique_name, tmp_path):
    """A small run with a LoggedModel, exported once: (source run id, export directory)."""
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, metric_keys=2, steps=3, classic_model=False)
    out = tmp_path / "run"
    api.export_run(built.run_id, out, tracking_uri=src.tracking_uri)
    return built.run_id, out


def _imported_runs(dst, experiment_name: str, source_run_id: str) -> list:
    experiment = dst.client.get_experiment_by_name(experiment_name)
    return idmap.find_runs(dst.client, experiment.experiment_id, source_run_id)


def _all_runs(dst, experiment_name: str) -> list:
    experiment = dst.client.get_experiment_by_name(experiment_name)
    return dst.client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL)


def _live_models(dst, experiment_name: str) -> list:
    experiment = dst.client.get_experiment_by_name(experiment_name)
    return list(dst.client.search_logged_models([experiment.experiment_id]))


def test_second_import_of_the_same_export_is_skipped(dst, exported, unique_name):
    source_run_id, out = exported
    name = unique_name("dst-")

    first = api.import_run(out, name, tracking_uri=dst.tracking_uri)
    second = api.import_run(out, name, tracking_uri=dst.tracking_uri)

    [imported] = first.find("run", "imported")
    [skipped] = second.find("run", "skipped")
    assert skipped.destination_id == imported.destination_id
    assert skipped.detail == "already imported"
    assert second.find("logged_model") == []
    assert [r.info.run_id for r in _all_runs(dst, name)] == [imported.destination_id]
    assert len(_live_models(dst, name)) == 1


def test_fresh_import_makes_a_second_copy(dst, exported, unique_name):
    source_run_id, out = exported
    name = unique_name("dst-")

    first = api.import_run(out, name, tracking_uri=dst.tracking_uri)
    again = api.import_run(out, name, tracking_uri=dst.tracking_uri, fresh=True)

    [one] = first.find("run", "imported")
    [two] = again.find("run", "imported")
    assert one.destination_id != two.destination_id
    copies = _imported_runs(dst, name, source_run_id)
    assert {r.info.run_id for r in copies} == {one.destination_id, two.destination_id}
    assert all(r.data.tags[idmap.STATE] == idmap.STATE_COMPLETE for r in copies)
    assert (
        run_view(dst, one.destination_id)["metrics"] == run_view(dst, two.destination_id)["metrics"]
    )
    assert len(_live_models(dst, name)) == 2
    # A third, ordinary import finds a complete copy and adds nothing.
    third = api.import_run(out, name, tracking_uri=dst.tracking_uri)
    assert third.find("run", "skipped") and not third.find("run", "imported")
    assert len(_all_runs(dst, name)) == 2


def test_interrupted_import_is_discarded_and_imported_cleanly_on_rerun(dst, exported, unique_name):
    source_run_id, out = exported
    name = unique_name("dst-")
    experiment_id = dst.client.create_experiment(name)
    # What an import killed after its first steps leaves: the run with only its marker tags,
    # still 'started', and the LoggedModel it had begun to create.
    stale = dst.client.create_run(
        experiment_id, tags={idmap.SOURCE_RUN_ID: source_run_id, idmap.STATE: idmap.STATE_STARTED}
    )
    stale_model = dst.client.create_logged_model(
        experiment_id,
        name="my-model",
        source_run_id=stale.info.run_id,
        tags={idmap.SOURCE_MODEL_ID: "m-from-the-source"},
    )

    report = api.import_run(out, name, tracking_uri=dst.tracking_uri)

    [outcome] = report.find("run", "imported")
    assert outcome.destination_id != stale.info.run_id
    [marked] = _imported_runs(dst, name, source_run_id)
    assert marked.info.run_id == outcome.destination_id
    assert marked.data.tags[idmap.STATE] == idmap.STATE_COMPLETE
    active = dst.client.search_runs([experiment_id], run_view_type=ViewType.ACTIVE_ONLY)
    assert [r.info.run_id for r in active] == [outcome.destination_id]
    leftover = dst.client.get_run(stale.info.run_id)
    assert leftover.info.lifecycle_stage == "deleted"
    assert idmap.SOURCE_RUN_ID not in leftover.data.tags
    assert stale_model.model_id not in {m.model_id for m in _live_models(dst, name)}
    assert len(_live_models(dst, name)) == 1


def test_rerun_after_an_interrupted_import_is_then_skipped(dst, exported, unique_name):
    source_run_id, out = exported
    name = unique_name("dst-")
    experiment_id = dst.client.create_experiment(name)
    dst.client.create_run(
        experiment_id, tags={idmap.SOURCE_RUN_ID: source_run_id, idmap.STATE: idmap.STATE_STARTED}
    )

    first = api.import_run(out, name, tracking_uri=dst.tracking_uri)
    second = api.import_run(out, name, tracking_uri=dst.tracking_uri)

    [imported] = first.find("run", "imported")
    [skipped] = second.find("run", "skipped")
    assert skipped.destination_id == imported.destination_id
    assert [r.info.run_id for r in _imported_runs(dst, name, source_run_id)] == [
        imported.destination_id
    ]


def test_second_import_of_a_deleted_run_is_skipped(src, dst, unique_name, tmp_path):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(
        src, exp_id, metric_keys=1, steps=2, logged_model=False, classic_model=False, deleted=True
    )
    api.export_run(built.run_id, tmp_path / "deleted", tracking_uri=src.tracking_uri)
    name = unique_name("dst-")

    first = api.import_run(tmp_path / "deleted", name, tracking_uri=dst.tracking_uri)
    second = api.import_run(tmp_path / "deleted", name, tracking_uri=dst.tracking_uri)

    [imported] = first.find("run", "imported")
    [skipped] = second.find("run", "skipped")
    assert skipped.destination_id == imported.destination_id
    [run] = _all_runs(dst, name)
    assert run.info.lifecycle_stage == "deleted"


def test_rerun_finishes_an_import_stopped_after_its_completion_mark(
    src, dst, unique_name, tmp_path
):
    """A kill between the completion mark and set_terminated/delete_run leaves a complete run
    that is still RUNNING and not deleted; the rerun gives it its status and deletes it."""
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(
        src, exp_id, status="FAILED", deleted=True, logged_model=False, classic_model=False
    )
    out = tmp_path / "run"
    api.export_run(built.run_id, out, tracking_uri=src.tracking_uri)
    name = unique_name("dst-")
    experiment_id = dst.client.create_experiment(name)
    stopped = dst.client.create_run(
        experiment_id, tags={idmap.SOURCE_RUN_ID: built.run_id, idmap.STATE: idmap.STATE_COMPLETE}
    )

    report = api.import_run(out, name, tracking_uri=dst.tracking_uri)

    [skipped] = report.find("run", "skipped")
    assert skipped.destination_id == stopped.info.run_id
    finished = dst.client.get_run(stopped.info.run_id)
    source = src.client.get_run(built.run_id)
    assert (finished.info.status, finished.info.end_time, finished.info.lifecycle_stage) == (
        "FAILED",
        source.info.end_time,
        "deleted",
    )
    assert len(_all_runs(dst, name)) == 1
