"""Damaged or crafted experiment and model exports: refused in one line naming the file and the
field, and nothing made on the destination (no experiment, no registered model).

An experiment import checks every run before it creates the experiment; a model import checks
the model, its versions, their runs and LoggedModels before it creates anything.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from mlflow_migrate_plugin import api
from mlflow_migrate_plugin.endpoint import Endpoint
from tests import builders
from tests.damage import damaged_copy, edit_json, metric_line, refused_import


@pytest.fixture(scope="module")
def good_experiment_export(src_server, tmp_path_factory) -> Path:
    """An experiment export holding one run."""
    src = Endpoint(src_server.url, src_server.url)
    name = f"damaged-exp-src-{os.getpid()}-{time.time_ns()}"
    exp_id = builders.experiment(src, name)
    builders.make_run(src, exp_id, metric_keys=1, steps=3, logged_model=False)
    out = tmp_path_factory.mktemp("damaged") / "experiment"
    api.export_experiment(name, out, tracking_uri=src.tracking_uri)
    return out


def _only_run_dir(export: Path) -> Path:
    [run_dir] = [p.parent for p in export.glob("runs/*/run.json")]
    return run_dir


# Experiments -------------------------------------------------------------------------------------


def test_experiment_whose_only_run_is_damaged_leaves_no_experiment(
    good_experiment_export, tmp_path, dst, unique_name
):
    export = damaged_copy(good_experiment_export, tmp_path / "experiment", lambda e: edit_json(
        _only_run_dir(e) / "run.json",
        lambda d: d["mlflow"]["info"].update(start_time="yesterday"),
    ))  # fmt: skip

    line = refused_import("import-experiment", export, dst, unique_name("dst-"))

    assert "FAILED run" in line
    assert "run.json: mlflow.info.start_time: expected an integer" in line


def test_experiment_whose_only_run_has_a_float_step_leaves_no_experiment(
    good_experiment_export, tmp_path, dst, unique_name
):
    export = damaged_copy(
        good_experiment_export,
        tmp_path / "experiment",
        lambda e: metric_line("step", 2.5)(_only_run_dir(e)),
    )

    line = refused_import("import-experiment", export, dst, unique_name("dst-"))

    assert "metrics.jsonl:1: step: expected an integer, got a number 2.5" in line


def test_damaged_experiment_json_is_refused(good_experiment_export, tmp_path, dst, unique_name):
    export = damaged_copy(good_experiment_export, tmp_path / "experiment", lambda e: edit_json(
        e / "experiment.json",
        lambda d: d["mlflow"]["experiment"].update(lifecycle_stage="archived"),
    ))  # fmt: skip

    line = refused_import("import-experiment", export, dst, unique_name("dst-"))

    assert "experiment.json: mlflow.experiment.lifecycle_stage: expected one of" in line


# Registered models -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change,says",
    [
        pytest.param(
            lambda v: v.update(current_stage="Gold"),
            "mlflow.registered_model.versions[0].current_stage: expected one of None, Staging",
            id="unknown-stage",
        ),
        pytest.param(
            lambda v: v.update(version="one"),
            "mlflow.registered_model.versions[0].version: expected a version number, got 'one'",
            id="version-not-a-number",
        ),
    ],
)
def test_damaged_model_json_is_refused_before_anything_is_created(
    reference_fixtures, tmp_path, dst, unique_name, change, says
):
    [source] = [
        p.parent
        for p in (reference_fixtures / "anchor-repo-samples/oss_mlflow/single/models").glob(
            "*/model.json"
        )
        if json.loads(p.read_text())["mlflow"]["registered_model"].get("versions")
    ][:1]
    export = tmp_path / "model"
    shutil.copytree(source, export)
    edit_json(
        export / "model.json", lambda d: change(d["mlflow"]["registered_model"]["versions"][0])
    )
    model, experiment = unique_name("model-"), unique_name("dst-")

    line = refused_import("import-model", export, dst, experiment, "--model", model)

    assert "model.json: " + says in line
    assert dst.client.search_registered_models(filter_string=f"name = '{model}'") == []


@pytest.mark.parametrize(
    "damage,says",
    [
        pytest.param(
            lambda run: run["mlflow"]["info"].update(status="EXPLODED"),
            "run.json: mlflow.info.status: expected one of RUNNING",
            id="run-status",
        ),
        pytest.param(
            lambda run: run["mlflow"].update(metrics={"loss": [{"value": 1, "step": 1.5}]}),
            "run.json: mlflow.metrics.loss[0].step: expected an integer, got a number 1.5",
            id="inline-metric-step",
        ),
        pytest.param(
            lambda model: model["mlflow"].update(status="shiny"),
            "logged_model.json: mlflow.status: expected one of UNSPECIFIED",
            id="logged-model-status",
        ),
    ],
)
def test_model_export_with_a_damaged_run_or_logged_model_makes_nothing(
    reference_fixtures, tmp_path, dst, unique_name, damage, says
):
    export = tmp_path / "model"
    shutil.copytree(reference_fixtures / "anchor-exports/model-with-logged-model-versions", export)
    target = "m-*/logged_model.json" if "logged_model" in says else "*/run.json"
    edit_json(sorted(export.glob(target))[-1], damage)
    model, experiment = unique_name("model-"), unique_name("dst-")

    assert says in refused_import("import-model", export, dst, experiment, "--model", model)
    assert dst.client.search_registered_models(filter_string=f"name = '{model}'") == []
