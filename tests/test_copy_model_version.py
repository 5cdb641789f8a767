"""copy-model-version: deep (run and LoggedModel copied) or shallow (same tracking server)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mlflow_migrate_plugin import api
from mlflow_migrate_plugin.errors import UsageError
from mlflow_migrate_plugin.handlers.model_version.copy_version import LINEAGE_PREFIX
from tests import model_builders
from tests.model_compare import version_view


@pytest.fixture
def source_model(src, unique_name):
    return model_builders.registered_model(src, unique_name("model-"), unique_name("exp-"))


def _copy(src, dst, name: str, version: str, dst_model: str, **options):
    return api.copy_model_version(
        name,
        version,
        dst_model,
        src_registry_uri=src.registry_uri,
        dst_registry_uri=dst.registry_uri,
        **options,
    )


def _deep_copy_with_stages(src, dst, name, version, dst_model, unique_name, **options):
    """A deep copy of ``version`` with its stage and aliases, into a new experiment."""
    return _copy(
        src,
        dst,
        name,
        version,
        dst_model,
        dst_experiment_name=unique_name("dst-exp-"),
        copy_stages_and_aliases=True,
        **options,
    )


def _copy_process(src, dst, name: str, version: str, dst_model: str, *options):
    """``copy-model-version`` as a user runs it, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "mlflow_migrate_plugin", "copy-model-version"]
        + ["--src-model", name, "--src-version", version, "--dst-model", dst_model]
        + ["--src-registry-uri", src.registry_uri, "--dst-registry-uri", dst.registry_uri]
        + list(options),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _lineage(endpoint, name, version) -> dict:
    tags = endpoint.client.get_model_version(name, version).tags
    return {k: v for k, v in tags.items() if k.startswith(LINEAGE_PREFIX)}


@pytest.mark.parametrize("version", ["1", "3"], ids=["run-artifact", "logged-model"])
def test_deep_copy_between_servers_reproduces_the_version(
    src, dst, source_model, unique_name, version
):
    dst_model = unique_name("copied-")

    _deep_copy_with_stages(
        src, dst, source_model.name, version, dst_model, unique_name, copy_lineage_tags=True
    )

    assert version_view(dst, dst_model, version) == version_view(src, source_model.name, version)
    copied = dst.client.get_model_version(dst_model, version)
    run_id, _ = source_model.versions[version]
    assert copied.run_id != run_id
    assert _lineage(dst, dst_model, version) == {
        LINEAGE_PREFIX + "source_model": source_model.name,
        LINEAGE_PREFIX + "source_version": version,
        LINEAGE_PREFIX + "source_run_id": run_id,
        LINEAGE_PREFIX + "source_tracking_uri": src.tracking_uri,
        LINEAGE_PREFIX + "source_registry_uri": src.registry_uri,
        **(
            {LINEAGE_PREFIX + "source_user_id": u}
            if (u := src.client.get_model_version(source_model.name, version).user_id)
            else {}
        ),
    }


def test_deep_copy_twice_adds_no_version(src, dst, source_model, unique_name):
    dst_model = unique_name("copied-")
    experiment = unique_name("dst-exp-")
    for _ in range(2):
        _copy(src, dst, source_model.name, "4", dst_model, dst_experiment_name=experiment)

    live = dst.client.search_model_versions(f"name = '{dst_model}'")
    assert [v.version for v in live] == ["4"]
    exp = dst.client.get_experiment_by_name(experiment)
    assert len(dst.client.search_runs([exp.experiment_id])) == 1


@pytest.mark.parametrize("version", ["1", "3"], ids=["run-artifact", "logged-model"])
def test_deep_copy_streams_the_run_without_an_export(
    src, dst, source_model, unique_name, version, scratch
):
    dst_model = unique_name("copied-")

    report = _deep_copy_with_stages(src, dst, source_model.name, version, dst_model, unique_name)

    assert [o for o in report.outcomes if o.status == "exported"] == []
    assert [o.status for o in report.find("run")] == ["imported"]
    assert list(scratch.iterdir()) == []
    assert version_view(dst, dst_model, version) == version_view(src, source_model.name, version)


def test_shallow_copy_within_one_server_points_at_the_source_run(src, source_model, unique_name):
    dst_model = unique_name("shallow-")

    _copy(src, src, source_model.name, "3", dst_model, copy_stages_and_aliases=True)

    original = src.client.get_model_version(source_model.name, "3")
    copied = src.client.get_model_version(dst_model, "3")
    assert (copied.run_id, copied.source, copied.model_id) == (
        original.run_id,
        original.source,
        original.model_id,
    )
    assert copied.current_stage == "Staging"
    assert sorted(copied.aliases) == ["best", "challenger"]
    assert copied.description == original.description


def test_shallow_copy_between_two_servers_is_a_usage_error_that_creates_nothing(
    src, dst, source_model, unique_name
):
    dst_model = unique_name("shallow-")

    with pytest.raises(UsageError, match="--dst-experiment-name"):
        _copy(src, dst, source_model.name, "1", dst_model)

    assert dst.client.search_registered_models(f"name = '{dst_model}'") == []
    result = _copy_process(src, dst, source_model.name, "1", dst_model)
    assert result.returncode == 2
    assert "--dst-experiment-name" in result.stderr
    assert "Traceback" not in result.stderr


def test_failed_deep_copy_leaves_no_model_and_no_run(src, dst, source_model, unique_name):
    dst_model = unique_name("copied-")
    experiment = unique_name("deleted-exp-")
    dst.client.delete_experiment(dst.client.create_experiment(experiment))

    with pytest.raises(Exception, match="deleted"):
        _copy(src, dst, source_model.name, "3", dst_model, dst_experiment_name=experiment)

    assert dst.client.search_registered_models(f"name = '{dst_model}'") == []


def test_copy_of_a_missing_version_fails_in_one_line(src, dst, source_model, unique_name):
    result = _copy_process(
        src,
        dst,
        source_model.name,
        "99",
        unique_name("x-"),
        "--dst-experiment-name",
        unique_name("exp-"),
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: version 99 of registered")
