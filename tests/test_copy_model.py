"""copy-model: a registered model with every version and its run, streamed server to server."""

from __future__ import annotations

import pytest
from mlflow.entities import ViewType

from mlflow_migrate_plugin import api, idmap
from mlflow_migrate_plugin.handlers.model_version import all_versions
from mlflow_migrate_plugin.handlers.model_version.writer import SOURCE_VERSION_PREFIX
from mlflow_migrate_plugin.handlers.registered_model_lookup import SOURCE_MODEL_PREFIX
from mlflow_migrate_plugin.handlers.run_tags import SOURCE_INFO_PREFIX
from tests import model_builders
from tests.model_compare import model_view


@pytest.fixture
def source_model(src, unique_name):
    return model_builders.registered_model(src, unique_name("model-"), unique_name("exp-"))


def _copy(src, dst, name, experiment, **options):
    return api.copy_model(
        name,
        experiment,
        src_registry_uri=src.registry_uri,
        dst_registry_uri=dst.registry_uri,
        **options,
    )


def _runs(endpoint, experiment_name: str) -> list:
    experiment = endpoint.client.get_experiment_by_name(experiment_name)
    return endpoint.client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL)


def test_copy_model_reproduces_every_version_with_its_number_and_run(
    src, dst, source_model, unique_name, scratch
):
    experiment = unique_name("dst-exp-")

    report = _copy(src, dst, source_model.name, experiment)

    assert not [o for o in report.outcomes if o.status == "failed"], report.outcomes
    assert model_view(dst, source_model.name) == model_view(src, source_model.name)
    # Version 2 was deleted on the source: its number is kept free, as import-model keeps it.
    assert [v.version for v in all_versions(dst.client, source_model.name)] == ["1", "3", "4", "5"]
    assert [o for o in report.outcomes if o.status == "exported"] == []  # streamed, no export
    assert list(scratch.iterdir()) == []
    # run-a holds versions 1 and 3, run-b version 4, its child version 5: three runs, once each.
    assert len([r for r in _runs(dst, experiment) if r.info.lifecycle_stage == "active"]) == 3


def test_copy_model_twice_adds_nothing(src, dst, source_model, unique_name):
    experiment = unique_name("dst-exp-")
    dst_name = unique_name("copy-")
    _copy(src, dst, source_model.name, experiment, dst_model=dst_name)
    runs_before = {r.info.run_id for r in _runs(dst, experiment)}
    report = _copy(src, dst, source_model.name, experiment, dst_model=dst_name)

    assert report.find("model_version", "imported") == []
    assert len(report.find("model_version", "skipped")) == 4
    assert [v.version for v in all_versions(dst.client, dst_name)] == ["1", "3", "4", "5"]
    assert {r.info.run_id for r in _runs(dst, experiment)} == runs_before


def test_copy_model_of_chosen_versions_copies_only_those(src, dst, source_model, unique_name):
    dst_name = unique_name("copy-")

    _copy(src, dst, source_model.name, unique_name("dst-exp-"), dst_model=dst_name, versions="3")

    assert [v.version for v in all_versions(dst.client, dst_name)] == ["3"]
    assert dst.client.get_model_version_by_alias(dst_name, "best").version == "3"


def test_copy_all_copies_experiments_then_models_whose_runs_it_copied_once(
    src, dst, source_model, unique_name
):
    experiment = src.client.get_experiment(source_model.experiment_id).name
    options = {
        "src_mlflow_uri": src.tracking_uri,
        "dst_mlflow_uri": dst.tracking_uri,
        "experiments": [experiment],
        "models": [source_model.name],
    }

    report = api.copy_all(**options)

    assert not [o for o in report.outcomes if o.status == "failed"], report.outcomes
    assert model_view(dst, source_model.name) == model_view(src, source_model.name)
    copied = _runs(dst, experiment)
    assert len([r for r in copied if r.info.lifecycle_stage == "active"]) == 3
    version_runs = {dst.client.get_model_version(source_model.name, "4").run_id}
    assert version_runs <= {r.info.run_id for r in copied}

    again = api.copy_all(**options)

    assert again.find("run", "imported") == [] and again.find("model_version", "imported") == []
    assert {r.info.run_id for r in _runs(dst, experiment)} == {r.info.run_id for r in copied}


def test_copy_model_import_source_tags_record_what_cannot_be_set(
    src, dst, source_model, unique_name
):
    name, experiment = unique_name("copy-"), unique_name("dst-exp-")

    report = _copy(
        src,
        dst,
        source_model.name,
        experiment,
        dst_model=name,
        versions="1,4",
        import_source_tags=True,
        await_creation_for=30,
    )

    assert not report.failed, report.outcomes
    model_tags = dst.client.get_registered_model(name).tags
    assert model_tags[SOURCE_MODEL_PREFIX + "name"] == source_model.name
    for version in ("1", "4"):
        source = src.client.get_model_version(source_model.name, version)
        tags = dst.client.get_model_version(name, version).tags
        assert tags[SOURCE_VERSION_PREFIX + "creation_timestamp"] == str(source.creation_timestamp)
        assert tags[SOURCE_VERSION_PREFIX + "run_id"] == source.run_id
    copied_runs = _runs(dst, experiment)
    assert len(copied_runs) == 2  # run-a (version 1) and run-b (version 4)
    for run in copied_runs:
        source_run = src.client.get_run(run.data.tags[idmap.SOURCE_RUN_ID])
        assert run.data.tags[SOURCE_INFO_PREFIX + "start_time"] == str(source_run.info.start_time)
