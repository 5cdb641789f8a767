"""What a Unity Catalog registry takes: versions with a full signature, and no stages.

No workspace is involved. MLflow's own Unity Catalog store refuses a version whose MLmodel lacks
a signature, and the import names the version; a registry that is Unity Catalog gets no stage
and no rebuilt gap from the version writer, which decides this from the destination's registry
URI before any call (here a sqlite registry the writer is told is Unity Catalog).
"""

from __future__ import annotations

import pytest

from mlflow_migrate_plugin.databricks.unity_catalog import (
    MissingSignatureError,
    signature_refusal,
)
from mlflow_migrate_plugin.endpoint import Endpoint
from mlflow_migrate_plugin.handlers.model_version import Target, VersionOptions, VersionWriter
from mlflow_migrate_plugin.report import Report

MLMODEL = """artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
run_id: 0123456789abcdef0123456789abcdef
"""
INPUTS = """  inputs: '[{"type": "double", "name": "x"}]'
"""


@pytest.mark.parametrize("signature", ["", "signature:\n" + INPUTS])
def test_mlflows_own_refusal_is_told_with_the_version(tmp_path, signature):
    """MLflow's Unity Catalog store refuses the version while creating it, with a message that
    names no version; the import says which version it was."""
    from mlflow.exceptions import MlflowException
    from mlflow.store._unity_catalog.registry.rest_store import UcModelRegistryStore

    (tmp_path / "MLmodel").write_text(MLMODEL + signature)
    with pytest.raises(MlflowException) as refused:
        UcModelRegistryStore._validate_model_signature(None, str(tmp_path))

    error = signature_refusal(refused.value, "main.ml.churn", "5")

    assert isinstance(error, MissingSignatureError)
    assert "model 'main.ml.churn' version 5 has no signature" in str(error)
    assert signature_refusal(MlflowException("RESOURCE_DOES_NOT_EXIST"), "m", 1) is None


class UnityCatalogStandIn(Endpoint):
    """A sqlite store whose registry the handlers take for Unity Catalog (``databricks-uc``)."""

    @property
    def registry_is_unity_catalog(self) -> bool:
        return True


def _writer(sqlite_endpoint, unique_name):
    store = sqlite_endpoint()
    dst = UnityCatalogStandIn(store.tracking_uri, store.registry_uri)
    run = dst.client.create_run(dst.client.create_experiment(unique_name("exp-")))
    name = unique_name("main.ml.")
    dst.client.create_registered_model(name)
    report = Report()
    writer = VersionWriter(dst, name, "churn", report, VersionOptions())
    target = Target(f"runs:/{run.info.run_id}/model", run.info.run_id, None)
    return dst, name, writer, target, report


def _version(number: str, stage: str) -> dict:
    return {
        "version": number,
        "current_stage": stage,
        "aliases": ["champion"],
        "tags": {"team": "churn"},
        "description": "the churn model",
    }


def test_a_unity_catalog_destination_gets_no_stage_and_one_warning(sqlite_endpoint, unique_name):
    dst, name, writer, target, report = _writer(sqlite_endpoint, unique_name)

    number = writer.write(_version("1", "Production"), target)

    version = dst.client.get_model_version(name, number)
    assert version.current_stage == "None"
    assert dst.client.get_registered_model(name).aliases == {"champion": number}
    assert version.tags["team"] == "churn"
    assert report.warnings == [
        "version 1: Unity Catalog has no stages; stage 'Production' is not set"
    ]


def test_a_unity_catalog_destination_keeps_no_gap_and_says_so(sqlite_endpoint, unique_name):
    dst, name, writer, target, report = _writer(sqlite_endpoint, unique_name)

    number = writer.write(_version("3", "None"), target)

    assert str(number) == "1"
    assert [str(v.version) for v in dst.client.search_model_versions(f"name = '{name}'")] == ["1"]
    assert report.warnings[0] == (
        "version 3: Unity Catalog cannot rebuild the gap before it; its number will differ"
    )
    assert "version 3 of 'churn' became version 1" in report.warnings[1]
