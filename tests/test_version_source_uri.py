"""A version's source URI follows its run or LoggedModel to the destination (no server)."""

from __future__ import annotations

import pytest

from mlflow_migrate_plugin.handlers.version_source_uri import (
    after_run_artifacts,
    join,
    logged_model_id,
    logged_model_name,
    model_location,
    model_source,
    relative_to,
    run_source,
    strip_file_scheme,
)

OLD_RUN = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
NEW_RUN = "ffeeddccbbaa99887766554433221100"


def _no_location():
    raise AssertionError("the new model's location was asked for a source that needs none")


# models:/ -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("models:/m-0123abc", "m-0123abc"),
        ("models:/m-0123abc/", "m-0123abc"),
        ("models:/churn/3", None),  # a registered model's version
        ("models:/churn@champion", None),  # an alias
        ("models://host/m-0123abc", None),
        ("runs:/abc/model", None),
        ("", None),
        (None, None),
    ],
)
def test_logged_model_id_reads_only_a_bare_model_id(source, expected):
    assert logged_model_id(source) == expected


def test_model_source_models_uri_names_the_new_model():
    moved = model_source("models:/m-old", "m-old", "s3://b/models/m-old", "m-new", _no_location)

    assert moved == "models:/m-new"


def test_model_source_path_under_the_model_moves_under_the_new_location():
    moved = model_source(
        "s3://bucket/1/models/m-old/artifacts/sub/model",
        "m-old",
        "s3://bucket/1/models/m-old/artifacts",
        "m-new",
        lambda: "s3://bucket/2/models/m-new/artifacts/",
    )

    assert moved == "s3://bucket/2/models/m-new/artifacts/sub/model"


def test_model_source_of_the_model_root_is_the_new_root():
    moved = model_source(
        "file:///srv/mlruns/1/models/m-old/artifacts",
        "m-old",
        "/srv/mlruns/1/models/m-old/artifacts",
        "m-new",
        lambda: "/data/mlruns/7/models/m-new/artifacts",
    )

    assert moved == "/data/mlruns/7/models/m-new/artifacts"


def test_model_source_outside_the_model_is_not_followed():
    assert model_source("s3://other/place", "m-old", "s3://b/m-old", "m-new", _no_location) is None
    assert model_source("models:/m-other", "m-old", None, "m-new", _no_location) is None


# runs:/ ---------------------------------------------------------------------------------------


def test_run_source_runs_uri_follows_the_new_run():
    moved = run_source(f"runs:/{OLD_RUN}/model", OLD_RUN, None, NEW_RUN, "s3://b/x")

    assert moved == f"runs:/{NEW_RUN}/model"


def test_run_source_runs_uri_of_the_run_itself_has_no_trailing_slash():
    assert run_source(f"runs:/{OLD_RUN}", OLD_RUN, None, NEW_RUN, "") == f"runs:/{NEW_RUN}"
    assert run_source(f"runs:/{OLD_RUN}/", OLD_RUN, None, NEW_RUN, "") == f"runs:/{NEW_RUN}"


def test_run_source_runs_uri_of_another_run_is_not_followed():
    assert run_source("runs:/someoneelse/model", OLD_RUN, None, NEW_RUN, "s3://b") is None


# Paths under the run's artifact root ----------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "old_root", "new_root", "expected"),
    [
        # local store: MLflow records a file:// root and a plain-path source, or the reverse
        (
            f"/srv/mlruns/1/{OLD_RUN}/artifacts/model",
            f"file:///srv/mlruns/1/{OLD_RUN}/artifacts",
            f"file:///data/mlruns/4/{NEW_RUN}/artifacts",
            f"file:///data/mlruns/4/{NEW_RUN}/artifacts/model",
        ),
        (
            f"file:///srv/mlruns/1/{OLD_RUN}/artifacts/model/",
            f"/srv/mlruns/1/{OLD_RUN}/artifacts/",
            f"/data/mlruns/4/{NEW_RUN}/artifacts",
            f"/data/mlruns/4/{NEW_RUN}/artifacts/model",
        ),
        (
            f"s3://bucket/mlflow/1/{OLD_RUN}/artifacts/deep/er/model",
            f"s3://bucket/mlflow/1/{OLD_RUN}/artifacts",
            f"s3://other/mlflow/9/{NEW_RUN}/artifacts",
            f"s3://other/mlflow/9/{NEW_RUN}/artifacts/deep/er/model",
        ),
        (  # the proxied artifact store of `mlflow server`
            f"mlflow-artifacts:/1/{OLD_RUN}/artifacts/model",
            f"mlflow-artifacts:/1/{OLD_RUN}/artifacts",
            f"mlflow-artifacts:/2/{NEW_RUN}/artifacts",
            f"mlflow-artifacts:/2/{NEW_RUN}/artifacts/model",
        ),
        (  # a Databricks workspace run, copied to a Unity Catalog workspace
            f"dbfs:/databricks/mlflow-tracking/123/{OLD_RUN}/artifacts/model",
            f"dbfs:/databricks/mlflow-tracking/123/{OLD_RUN}/artifacts",
            f"dbfs:/databricks/mlflow-tracking/456/{NEW_RUN}/artifacts",
            f"dbfs:/databricks/mlflow-tracking/456/{NEW_RUN}/artifacts/model",
        ),
        (  # the source is the run's whole artifact root
            f"s3://bucket/1/{OLD_RUN}/artifacts",
            f"s3://bucket/1/{OLD_RUN}/artifacts",
            f"s3://bucket/2/{NEW_RUN}/artifacts/",
            f"s3://bucket/2/{NEW_RUN}/artifacts",
        ),
    ],
    ids=["file-root", "file-source", "s3", "mlflow-artifacts", "dbfs", "root-itself"],
)
def test_run_source_path_under_the_run_root_moves_under_the_new_root(
    source, old_root, new_root, expected
):
    assert run_source(source, OLD_RUN, old_root, NEW_RUN, new_root) == expected


def test_run_source_under_another_root_follows_the_path_after_run_artifacts():
    # The export recorded the run under one root, the version's source names a mount of it.
    source = f"dbfs:/mnt/legacy/1/{OLD_RUN}/artifacts/model"

    moved = run_source(source, OLD_RUN, f"s3://bucket/1/{OLD_RUN}/artifacts", NEW_RUN, "s3://n")

    assert moved == "s3://n/model"


def test_run_source_outside_the_run_is_not_followed():
    old_root = f"s3://bucket/1/{OLD_RUN}/artifacts"

    assert run_source("s3://bucket/elsewhere/model", OLD_RUN, old_root, NEW_RUN, "s3://n") is None
    # a sibling whose name starts with the root's is not inside it
    assert run_source(old_root + "2/model", OLD_RUN, old_root, NEW_RUN, "s3://n") is None


# The small pieces -----------------------------------------------------------------------------


def test_relative_to():
    assert relative_to("s3://b/r/a/b", "s3://b/r") == "a/b"
    assert relative_to("s3://b/r/", "s3://b/r") == ""
    assert relative_to("s3://b/rx", "s3://b/r") is None
    assert relative_to("s3://b/r/a", None) is None
    assert relative_to("s3://b/r/a", "") is None


def test_after_run_artifacts():
    assert after_run_artifacts(f"x:/a/{OLD_RUN}/artifacts/m/1", OLD_RUN) == "m/1"
    assert after_run_artifacts(f"x:/a/{OLD_RUN}/artifacts", OLD_RUN) == ""
    assert after_run_artifacts(f"x:/a/{OLD_RUN}/artifactsX/m", OLD_RUN) is None
    assert after_run_artifacts("x:/a/other/artifacts/m", OLD_RUN) is None


def test_join_and_strip_file_scheme():
    assert join("s3://b/root/", "m") == "s3://b/root/m"
    assert join("s3://b/root/", "") == "s3://b/root"
    assert strip_file_scheme("file:///tmp/x") == "/tmp/x"
    assert strip_file_scheme("s3://b/x") == "s3://b/x"


def test_model_location_finds_the_model_in_a_run_record():
    models = [{"model_id": "m-1", "artifact_location": "s3://b/m-1"}, {"model_id": "m-2"}]

    assert model_location(models, "m-1") == "s3://b/m-1"
    assert model_location(models, "m-2") is None
    assert model_location([], "m-1") is None


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("models:/m-0123", "model"),
        ("s3://b/1/run/artifacts/sk model/", "sk_model"),
        ("runs:/abc/classifier.v2", "classifier.v2"),
        ("s3://b/1/run/artifacts/..", "model"),
        ("", "model"),
        (None, "model"),
    ],
)
def test_logged_model_name_from_the_source(source, expected):
    assert logged_model_name(source) == expected
