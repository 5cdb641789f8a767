"""What a Unity Catalog registry accepts, checked on the export before anything is created.

No workspace is involved: these stand in for MLflow's Unity Catalog store, which refuses a model
version whose MLmodel lacks a signature with inputs and outputs, and for Unity Catalog having
aliases but no stages.
"""

from __future__ import annotations

import pytest

from mlflow_migrate_plugin.databricks.unity_catalog import (
    MissingSignatureError,
    require_signature,
    signature_refusal,
    skip_stage,
)
from mlflow_migrate_plugin.report import Report

MLMODEL = """artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
run_id: 0123456789abcdef0123456789abcdef
"""
INPUTS = """  inputs: '[{"type": "double", "name": "x"}]'
"""
OUTPUTS = """  outputs: '[{"type": "long"}]'
"""


def test_a_version_without_signature_is_refused_by_name(tmp_path):
    """Stands in for Unity Catalog refusing a model logged without a signature."""
    (tmp_path / "MLmodel").write_text(MLMODEL)

    with pytest.raises(
        MissingSignatureError, match="model 'main.ml.churn' version 3 has no signature"
    ):
        require_signature(tmp_path / "MLmodel", "main.ml.churn", 3)


def test_a_signature_without_outputs_is_refused(tmp_path):
    """Stands in for Unity Catalog refusing a signature that has inputs only."""
    (tmp_path / "MLmodel").write_text(MLMODEL + "signature:\n" + INPUTS)

    with pytest.raises(MissingSignatureError, match="version 7 has a signature without outputs"):
        require_signature(tmp_path / "MLmodel", "main.ml.churn", "7")


def test_a_full_signature_passes(tmp_path):
    """Stands in for Unity Catalog accepting a model logged with inputs and outputs."""
    (tmp_path / "MLmodel").write_text(MLMODEL + "signature:\n" + INPUTS + OUTPUTS)

    require_signature(tmp_path / "MLmodel", "main.ml.churn", 1)


def test_a_missing_mlmodel_is_named(tmp_path):
    """An export without the version's MLmodel cannot show a signature: said, not guessed."""
    with pytest.raises(MissingSignatureError, match="version 2: no MLmodel file"):
        require_signature(tmp_path / "absent" / "MLmodel", "main.ml.churn", 2)


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


def test_stages_are_skipped_with_one_warning_per_version():
    """Stands in for Unity Catalog, which has aliases and no stages."""
    report = Report()

    skipped = [
        skip_stage(stage, "main.ml.churn", 4, report)
        for stage in ("Production", "Production", "None", None)
    ]

    assert skipped == [True, True, False, False]
    assert report.warnings == [
        "model 'main.ml.churn' version 4: stage 'Production' not set; "
        "Unity Catalog has no stages; use aliases there"
    ]
