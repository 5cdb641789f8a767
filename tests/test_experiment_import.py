"""import-experiment between two real servers: nothing lost, parents first, reruns add nothing.

Fields allowed to differ between a source object and its copy: ids (runs, LoggedModels: compared
through the mapping the import made, found by the marker tags), the import's marker tags
(``tests.compare.IMPORT_TAGS`` and the LoggedModel source tag), and the experiment's name (the
one given). Everything else in ``run_view`` / ``logged_model_view`` must be equal.
"""

from __future__ import annotations

import json
import uuid

import pytest
from mlflow.entities import ViewType
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from mlflow_migrate_plugin import api, idmap
from mlflow_migrate_plugin.endpoint import Endpoint
from tests import experiment_builders as eb


def _export(src, exp, out, **options):
    return api.export_experiment(exp.name, out, tracking_uri=src.tracking_uri, **options)


def _import(dst, out, name, **options):
    options.setdefault("use_src_user_id", True)
    return api.import_experiment(out, name, tracking_uri=dst.tracking_uri, **options)


def _failures(report) -> list:
    return [o for o in report.outcomes if o.status == "failed"]


def _dst_experiment_id(dst, name) -> str:
    return dst.client.get_experiment_by_name(name).experiment_id


# The source experiment, its export (deleted runs included) and one import of it are made once
# for this module; tests that only read them share them. Tests that import again use their own
# destination experiment.


@pytest.fixture(scope="module")
def nested(src_server):
    src = Endpoint(src_server.url, src_server.url)
    return eb.nested_experiment(src, f"src-import-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def exported(src_server, nested, tmp_path_factory):
    out = tmp_path_factory.mktemp("experiment-export") / "exp"
    report = _export(
        Endpoint(src_server.url, src_server.url), nested, out, export_deleted_runs=True
    )
    assert not report.failed, _failures(report)
    return out


@pytest.fixture(scope="module")
def imported(dst_server, exported):
    """(destination experiment name, its id, the import's report)."""
    dst = Endpoint(dst_server.url, dst_server.url)
    name = f"dst-import-{uuid.uuid4().hex[:8]}"
    report = _import(dst, exported, name, workers=4)
    return name, _dst_experiment_id(dst, name), report


def test_import_experiment_reproduces_every_run_and_model(src, dst, nested, imported):
    name, exp_id, report = imported

    assert not report.failed, _failures(report)
    eb.assert_nested_reproduced(src, dst, nested, exp_id)


def test_import_experiment_links_nested_runs_to_imported_parents(dst, nested, imported):
    name, exp_id, report = imported

    run_ids = eb.run_id_map(dst, exp_id)
    eb.assert_parents_linked(dst, nested, run_ids)
    assert not [w for w in report.warnings if "parent run" in w]
    for dst_run in run_ids.values():
        assert idmap.PENDING_PARENT not in dst.client.get_run(dst_run).data.tags


def test_import_experiment_keeps_deleted_and_failed_states(dst, nested, imported):
    name, exp_id, report = imported

    run_ids = eb.run_id_map(dst, exp_id)
    deleted = dst.client.get_run(run_ids[nested.deleted_child]).info
    assert deleted.lifecycle_stage == "deleted"
    assert dst.client.get_run(run_ids[nested.child]).info.status == "FAILED"
    active = dst.client.search_runs([exp_id])
    assert {r.data.tags[idmap.SOURCE_RUN_ID] for r in active} == nested.active_runs


def test_import_experiment_relinks_inputs_and_metrics_of_experiment_model(dst, nested, imported):
    name, exp_id, report = imported

    run_ids = eb.run_id_map(dst, exp_id)
    model = eb.assert_experiment_model_relinked(dst, nested, exp_id, run_ids)
    assert not model.source_run_id


def test_import_experiment_creates_experiment_with_tags_and_description(
    dst, nested, exported, unique_name
):
    name = unique_name("dst-")

    report = _import(dst, exported, name, import_source_tags=True)

    exp = dst.client.get_experiment_by_name(name)
    expected = {
        **eb.EXPERIMENT_TAGS,
        "mlflow_migrate.source.experiment.experiment_id": nested.experiment_id,
        "mlflow_migrate.source.experiment.name": nested.name,
        "mlflow_migrate.source.experiment.lifecycle_stage": "active",
    }
    assert {k: v for k, v in exp.tags.items() if k in expected} == expected
    assert exp.tags["mlflow.note.content"] == "Experiment **description** ✓"
    assert report.find("experiment", "created")


def test_import_into_existing_experiment_adds_runs_and_keeps_its_metadata(
    dst, nested, exported, unique_name
):
    name = unique_name("dst-")
    existing_id = dst.client.create_experiment(name, tags={"owner": "destination-team"})
    existing_run = eb.light_run(dst, existing_id, name="already-here")

    report = _import(dst, exported, name)

    assert not report.failed, _failures(report)
    assert _dst_experiment_id(dst, name) == existing_id
    tags = dst.client.get_experiment(existing_id).tags
    assert tags.get("owner") == "destination-team"
    assert "mlflow.note.content" not in tags and "team" not in tags
    runs = dst.client.search_runs([existing_id])
    assert {r.info.run_id for r in runs} >= {existing_run}
    assert set(eb.run_id_map(dst, existing_id)) == nested.all_runs


def test_import_experiment_twice_adds_nothing(dst, nested, exported, imported):
    name, exp_id, _ = imported
    before_runs = dst.client.search_runs([exp_id], run_view_type=ViewType.ALL)
    before_models = dst.client.search_logged_models([exp_id])

    report = _import(dst, exported, name)

    assert not report.failed, _failures(report)
    assert not report.find("run", "imported") and not report.find("logged_model", "imported")
    assert {o.source_id for o in report.find("run", "skipped")} == nested.all_runs
    after_runs = dst.client.search_runs([exp_id], run_view_type=ViewType.ALL)
    assert sorted(r.info.run_id for r in after_runs) == sorted(r.info.run_id for r in before_runs)
    after_models = dst.client.search_logged_models([exp_id])
    assert sorted(m.model_id for m in after_models) == sorted(m.model_id for m in before_models)
    eb.run_id_map(dst, exp_id)  # still one copy of each


# Failures -------------------------------------------------------------------------------------


def _runs_dir(out, run_id):
    return out / "runs" / run_id


def test_corrupt_run_fails_alone_and_the_others_import(src, dst, unique_name, tmp_path):
    exp_id = eb.builders.experiment(src, unique_name("src-"))
    good = [eb.light_run(src, exp_id, name=f"good-{i}") for i in range(3)]
    bad = eb.light_run(src, exp_id, name="bad")
    name = src.client.get_experiment(exp_id).name
    api.export_experiment(name, tmp_path / "exp", tracking_uri=src.tracking_uri)
    (_runs_dir(tmp_path / "exp", bad) / "run.json").write_text('{"system": {"format": "mlfl')
    dst_name = unique_name("dst-")

    report = _import(dst, tmp_path / "exp", dst_name)

    [failed] = report.find("run", "failed")
    assert failed.source_id == bad and "not valid JSON" in failed.detail
    assert set(eb.run_id_map(dst, _dst_experiment_id(dst, dst_name))) == set(good)


def test_run_with_tampered_artifact_fails_and_leaves_nothing(src, dst, unique_name, tmp_path):
    exp_id = eb.builders.experiment(src, unique_name("src-"))
    good = eb.light_run(src, exp_id, name="good")
    bad = eb.light_run(src, exp_id, name="bad")
    name = src.client.get_experiment(exp_id).name
    api.export_experiment(name, tmp_path / "exp", tracking_uri=src.tracking_uri)
    (_runs_dir(tmp_path / "exp", bad) / "artifacts" / "report.txt").write_text("tampered\n")
    dst_name = unique_name("dst-")

    report = _import(dst, tmp_path / "exp", dst_name)

    [failed] = report.find("run", "failed")
    assert failed.source_id == bad and "does not match" in failed.detail
    dst_exp = _dst_experiment_id(dst, dst_name)
    assert set(eb.run_id_map(dst, dst_exp)) == {good}
    assert len(dst.client.search_runs([dst_exp])) == 1  # nothing half imported left active


def test_import_experiment_cli_exits_1_and_summarizes_when_a_run_fails(
    src, dst, unique_name, tmp_path
):
    from click.testing import CliRunner

    from mlflow_migrate_plugin.cli import migrate

    exp_id = eb.builders.experiment(src, unique_name("src-"))
    good = eb.light_run(src, exp_id, name="good")
    bad = eb.light_run(src, exp_id, name="bad")
    name = src.client.get_experiment(exp_id).name
    api.export_experiment(name, tmp_path / "exp", tracking_uri=src.tracking_uri)
    (_runs_dir(tmp_path / "exp", bad) / "run.json").unlink()
    dst_name = unique_name("dst-")

    result = CliRunner().invoke(
        migrate,
        [
            "import-experiment",
            "--experiment-name",
            dst_name,
            "--input-dir",
            str(tmp_path / "exp"),
            "--tracking-uri",
            dst.tracking_uri,
            "--use-src-user-id",
            "True",
        ],
    )

    assert result.exit_code == 1, result.output
    assert "runs 1 imported, 0 skipped, 1 failed" in result.output
    assert f"FAILED run {bad}" in result.output
    assert set(eb.run_id_map(dst, _dst_experiment_id(dst, dst_name))) == {good}


def test_child_of_failed_parent_imports_and_links_when_parent_arrives(
    src, dst, unique_name, tmp_path
):
    exp_id = eb.builders.experiment(src, unique_name("src-"))
    parent = eb.light_run(src, exp_id, name="parent")
    child = eb.light_run(src, exp_id, name="child", parent_run_id=parent)
    name = src.client.get_experiment(exp_id).name
    api.export_experiment(name, tmp_path / "exp", tracking_uri=src.tracking_uri)
    run_json = _runs_dir(tmp_path / "exp", parent) / "run.json"
    saved = run_json.read_bytes()
    run_json.write_text("{}")
    dst_name = unique_name("dst-")

    first = _import(dst, tmp_path / "exp", dst_name)
    run_json.write_bytes(saved)
    second = _import(dst, tmp_path / "exp", dst_name)

    assert [o.source_id for o in first.find("run", "failed")] == [parent]
    assert [o.source_id for o in second.find("run", "imported")] == [parent]
    run_ids = eb.run_id_map(dst, _dst_experiment_id(dst, dst_name))
    child_tags = dst.client.get_run(run_ids[child]).data.tags
    assert child_tags[MLFLOW_PARENT_RUN_ID] == run_ids[parent]
    assert idmap.PENDING_PARENT not in child_tags


# Interrupted imports --------------------------------------------------------------------------


def test_interrupted_import_completes_on_rerun_without_duplicates(
    dst, nested, exported, unique_name
):
    name = unique_name("dst-")
    with pytest.raises(KeyboardInterrupt):
        _import(dst, exported, name, workers=1, progress=eb.InterruptAfter(2))
    exp_id = _dst_experiment_id(dst, name)
    assert 0 < len(eb.imported_runs(dst, exp_id)) < len(nested.all_runs)

    report = _import(dst, exported, name)

    assert not report.failed, _failures(report)
    eb.assert_rerun_completed(dst, nested, exp_id, nested.all_runs)


def test_rerun_replaces_a_run_left_half_imported(src, dst, unique_name, tmp_path):
    exp_id = eb.builders.experiment(src, unique_name("src-"))
    runs = [eb.light_run(src, exp_id, name=f"run-{i}") for i in range(3)]
    name = src.client.get_experiment(exp_id).name
    api.export_experiment(name, tmp_path / "exp", tracking_uri=src.tracking_uri)
    dst_name = unique_name("dst-")
    _import(dst, tmp_path / "exp", dst_name)
    dst_exp = _dst_experiment_id(dst, dst_name)
    half = eb.run_id_map(dst, dst_exp)[runs[1]]
    # What an import stopped mid-run leaves: the run marked started, part of its data missing.
    dst.client.set_tag(half, idmap.STATE, idmap.STATE_STARTED)
    dst.client.delete_tag(half, "team")

    report = _import(dst, tmp_path / "exp", dst_name)

    assert [o.source_id for o in report.find("run", "imported")] == [runs[1]]
    run_ids = eb.run_id_map(dst, dst_exp)
    assert run_ids[runs[1]] != half
    assert dst.client.get_run(half).info.lifecycle_stage == "deleted"
    assert dst.client.get_run(run_ids[runs[1]]).data.tags["team"] == "ml-platform"
    assert len(dst.client.search_runs([dst_exp])) == 3


def test_rerun_replaces_an_experiment_model_left_half_imported(src, dst, unique_name, tmp_path):
    exp_id = eb.builders.experiment(src, unique_name("src-"))
    source_model = eb.experiment_model(src, exp_id)
    name = src.client.get_experiment(exp_id).name
    api.export_experiment(name, tmp_path / "exp", tracking_uri=src.tracking_uri)
    dst_name = unique_name("dst-")
    _import(dst, tmp_path / "exp", dst_name)
    dst_exp = _dst_experiment_id(dst, dst_name)
    [half] = dst.client.search_logged_models([dst_exp])
    dst.client.set_logged_model_tags(half.model_id, {idmap.STATE: idmap.STATE_STARTED})

    report = _import(dst, tmp_path / "exp", dst_name)

    [outcome] = report.find("logged_model", "imported")
    assert outcome.source_id == source_model
    [model] = dst.client.search_logged_models([dst_exp])
    assert model.model_id == outcome.destination_id != half.model_id
    assert idmap.STATE not in model.tags
    assert eb.comparable_model(dst, model.model_id, {}, {}) == eb.comparable_model(
        src, source_model, {}, {source_model: model.model_id}
    )


def test_export_listing_matches_runs_dir_layout(nested, exported):
    doc = json.loads((exported / "experiment.json").read_text())

    assert {r["run_id"] for r in doc["info"]["runs"]} == nested.all_runs
    for entry in doc["info"]["runs"]:
        assert (exported / entry["dir"] / "run.json").is_file()


def test_deleted_source_experiment_ends_deleted_and_reimports_without_duplicates(
    src, dst, unique_name, tmp_path
):
    exp_id = eb.builders.experiment(src, unique_name("src-"), tags={"team": "gone"})
    run = eb.light_run(src, exp_id, name="in-deleted-experiment")
    src.client.delete_experiment(exp_id)  # MLflow deletes its runs with it
    without = api.export_experiment(exp_id, tmp_path / "none", tracking_uri=src.tracking_uri)
    api.export_experiment(
        exp_id, tmp_path / "exp", tracking_uri=src.tracking_uri, export_deleted_runs=True
    )
    name = unique_name("dst-")

    first = _import(dst, tmp_path / "exp", name)
    second = _import(dst, tmp_path / "exp", name)

    assert not first.failed and not second.failed
    exp = dst.client.get_experiment_by_name(name)
    assert exp.lifecycle_stage == "deleted" and exp.tags["team"] == "gone"
    assert set(eb.run_id_map(dst, exp.experiment_id)) == {run}
    assert [o.source_id for o in second.find("run", "skipped")] == [run]
    assert (
        dst.client.get_run(eb.run_id_map(dst, exp.experiment_id)[run]).info.lifecycle_stage
        == "deleted"
    )
    assert any("add --export-deleted-runs" in w for w in without.warnings)


def test_experiment_import_links_a_child_imported_earlier_to_its_parent(
    src, dst, unique_name, tmp_path
):
    """A child brought by import-run waits for its parent; the experiment import that brings
    the parent links it (the waiting child is found by one search for the whole import)."""
    from tests import builders

    exp_id = builders.experiment(src, unique_name("src-"))
    parent, child = builders.parent_and_child(src, exp_id)
    name = unique_name("dst-")
    api.export_run(child.run_id, tmp_path / "child", tracking_uri=src.tracking_uri)
    [waiting] = api.import_run(tmp_path / "child", name, tracking_uri=dst.tracking_uri).find(
        "run", "imported"
    )
    experiment_id = dst.client.get_experiment_by_name(name).experiment_id
    assert idmap.awaited_parents(dst.client, experiment_id) == {parent.run_id}

    api.export_experiment(
        exp_id, tmp_path / "exp", run_ids=[parent.run_id], tracking_uri=src.tracking_uri
    )
    report = api.import_experiment(tmp_path / "exp", name, tracking_uri=dst.tracking_uri)

    [new_parent] = report.find("run", "imported")
    linked = dst.client.get_run(waiting.destination_id).data.tags
    assert linked[MLFLOW_PARENT_RUN_ID] == new_parent.destination_id
    assert idmap.PENDING_PARENT not in linked
    assert idmap.awaited_parents(dst.client, experiment_id) == set()
