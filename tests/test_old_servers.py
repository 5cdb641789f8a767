"""Older MLflow servers as sources and destinations: every command round-trips data an old
client logged (MLflow 2.22.5, the last 2.x, and 3.1.4, an early 3.x) onto the pinned 3.17.2
server field by field, every imported version loads and predicts, and a 2.x destination that
cannot hold what a 3.x export has refuses it before anything is created (or, with
--skip-unsupported, takes the rest).
"""

from __future__ import annotations

import shlex
import tempfile
import uuid
from dataclasses import dataclass

import numpy as np
import pytest
from click.testing import CliRunner

from mlflow_migrate_plugin import capabilities, idmap
from mlflow_migrate_plugin.cli import migrate
from mlflow_migrate_plugin.endpoint import Endpoint
from tests import builders, model_builders
from tests.experiment_builders import run_id_map
from tests.model_compare import model_view, run_summary, version_view
from tests.old_servers import LOG_OLD_DATA, MLFLOW_2, MLFLOW_3_EARLY, log_with_old_client

pytestmark = pytest.mark.slow


@dataclass
class OldSource:
    release: str
    endpoint: Endpoint
    data: dict


@pytest.fixture(scope="session", params=[MLFLOW_2, MLFLOW_3_EARLY])
def old(request, old_server_of) -> OldSource:
    """An old server with what its own client logged (tests/old_servers.py LOG_OLD_DATA)."""
    server = old_server_of(request.param)
    data = log_with_old_client(
        request.param, server.url, LOG_OLD_DATA, f"old-{request.param}-{uuid.uuid4().hex[:6]}"
    )
    return OldSource(request.param, Endpoint(server.url, server.url), data)


@pytest.fixture
def mlflow2(old_server_of) -> Endpoint:
    server = old_server_of(MLFLOW_2)
    return Endpoint(server.url, server.url)


def cli(command: str):
    """Run ``mlflow migrate <command>`` (split like a shell line) in this process."""
    return CliRunner().invoke(migrate, shlex.split(command))


def ok(command: str):
    result = cli(command)
    assert result.exit_code == 0, result.output
    return result


def predictions(endpoint: Endpoint, name: str, version: str) -> list[float]:
    """Load the version with mlflow.pyfunc from files fetched through the endpoint (no global
    tracking URI) and predict."""
    import mlflow.pyfunc

    uri = endpoint.client.get_model_version_download_uri(name, version)
    with tempfile.TemporaryDirectory() as tmp:
        local = endpoint.artifact_repo(uri).download_artifacts("", tmp)
        model = mlflow.pyfunc.load_model(local)
        return [round(float(v), 6) for v in model.predict(np.array([[1.0], [4.0]]))]


def parent_left_behind(imported: dict, source: dict, source_parent_id: str) -> None:
    """A model export holds the versions' runs only: a nested run whose parent is not among
    them keeps its source parent id in a tag (README, "What is kept"); else it is the same."""
    assert imported["tags"].pop(idmap.PENDING_PARENT) == source_parent_id
    assert imported["parent"] is None and source["parent"] == "parent"
    imported["parent"] = source["parent"]


def imported_ids(endpoint: Endpoint, experiment: str) -> dict[str, str]:
    """Source run id -> run id in ``experiment`` on ``endpoint``."""
    return run_id_map(endpoint, endpoint.client.get_experiment_by_name(experiment).experiment_id)


def assert_old_runs_imported(old: OldSource, dst: Endpoint, experiment: str) -> None:
    """The old server's parent and child runs are in ``experiment``, each as it was there."""
    ids = imported_ids(dst, experiment)
    for run in ("parent", "child"):
        source = old.data[run]
        assert run_summary(dst, ids[source]) == run_summary(old.endpoint, source)


def assert_old_model_moved(old: OldSource, target: Endpoint, name: str, experiment: str, out):
    """export-model of the old server's model (deleted runs too) into ``out``, then import-model
    into ``target`` as ``name``: the model equals its source, but for the parent run the
    version's run left behind."""
    ok(
        f"export-model --model {old.data['model']} --output-dir {out} "
        f"--export-deleted-runs --tracking-uri {old.endpoint.tracking_uri}"
    )
    ok(
        f"import-model --input-dir {out} --model {name} --experiment-name {experiment} "
        f"--tracking-uri {target.tracking_uri}"
    )
    imported, source = model_view(target, name), model_view(old.endpoint, old.data["model"])
    parent_left_behind(
        imported["versions"]["1"]["run"], source["versions"]["1"]["run"], old.data["parent"]
    )
    assert imported == source


def _import_command(kind: str, export, experiment: str, endpoint: Endpoint, *extra: str) -> str:
    """The ``import-<kind>`` command of ``export`` into ``experiment`` on ``endpoint``."""
    return " ".join(
        [f"import-{kind} --input-dir {export} --experiment-name {experiment}"]
        + [f"--tracking-uri {endpoint.tracking_uri}", *extra]
    )


def test_probe_tells_what_each_server_has(old, dst):
    lacks_models = old.release.startswith("2.")

    assert old.endpoint.server_version == old.release
    assert old.endpoint.supports(capabilities.LOGGED_MODELS) is not lacks_models
    assert old.endpoint.supports(capabilities.DATASET_INPUTS)
    assert old.endpoint.supports(capabilities.MODEL_ALIASES)
    assert old.endpoint.supports(capabilities.TRACES)
    assert not old.endpoint.supports(capabilities.EVALUATION_DATASETS)
    assert not old.endpoint.supports(capabilities.WORKSPACES)
    assert dst.server_version == "3.17.2"
    assert dst.supports(capabilities.LOGGED_MODELS) and dst.supports(
        capabilities.EVALUATION_DATASETS
    )


def test_probe_of_a_store_this_process_opens_is_the_installed_release(sqlite_endpoint):
    import mlflow

    store = sqlite_endpoint()

    assert store.server_version == mlflow.__version__
    assert store.supports(capabilities.LOGGED_MODELS)
    assert store.supports(capabilities.EVALUATION_DATASETS)
    assert not store.supports(capabilities.WORKSPACES)


def test_export_and_import_run_from_old_server(old, dst, unique_name, tmp_path):
    experiment = unique_name("exp-")
    for run in ("parent", "child"):
        ok(
            f"export-run --run-id {old.data[run]} --output-dir {tmp_path / run} "
            f"--tracking-uri {old.endpoint.tracking_uri}"
        )
        ok(_import_command("run", tmp_path / run, experiment, dst))

    assert_old_runs_imported(old, dst, experiment)


def test_copy_run_from_old_server(old, dst, unique_name):
    experiment = unique_name("exp-")
    for run in ("parent", "child"):
        ok(
            f"copy-run --run-id {old.data[run]} --experiment-name {experiment} "
            f"--src-mlflow-uri {old.endpoint.tracking_uri} --dst-mlflow-uri "
            f"{dst.tracking_uri}"
        )

    assert_old_runs_imported(old, dst, experiment)


def test_export_and_import_experiment_from_old_server(old, dst, unique_name, tmp_path):
    experiment = unique_name("exp-")
    ok(
        f"export-experiment --experiment {old.data['experiment']} --output-dir {tmp_path} "
        f"--export-deleted-runs --tracking-uri {old.endpoint.tracking_uri}"
    )
    ok(_import_command("experiment", tmp_path, experiment, dst))

    imported = dst.client.get_experiment_by_name(experiment)
    source = old.endpoint.client.get_experiment_by_name(old.data["experiment"])
    assert imported.tags["team"] == source.tags["team"] == "old"
    ids = run_id_map(dst, imported.experiment_id)
    assert set(ids) == {old.data[r] for r in ("parent", "child", "discarded", "best")}
    for source_id, dst_id in ids.items():
        assert run_summary(dst, dst_id) == run_summary(old.endpoint, source_id)


def test_export_and_import_model_from_old_server(old, dst, unique_name, tmp_path):
    name = unique_name("model-")

    assert_old_model_moved(old, dst, name, unique_name("exp-"), tmp_path)
    for version, scale in (("1", 1), ("2", 2), ("3", 3)):
        expected = [scale * 3.0, scale * 9.0]
        assert predictions(dst, name, version) == predictions(
            old.endpoint, old.data["model"], version
        )
        assert predictions(dst, name, version) == pytest.approx(expected)


def test_export_and_import_model_version_from_old_server(old, dst, unique_name, tmp_path):
    name = unique_name("model-")
    ok(
        f"export-model-version --model {old.data['model']} --version 3 --output-dir "
        f"{tmp_path} --tracking-uri {old.endpoint.tracking_uri}"
    )
    ok(
        f"import-model-version --input-dir {tmp_path} --model {name} --experiment-name "
        f"{unique_name('exp-')} --create-model --import-metadata "
        f"--import-stages-and-aliases --tracking-uri {dst.tracking_uri}"
    )

    assert version_view(dst, name, "3") == version_view(old.endpoint, old.data["model"], "3")
    assert predictions(dst, name, "3") == pytest.approx([9.0, 27.0])


def test_copy_model_version_from_old_server(old, dst, unique_name):
    name = unique_name("model-")
    ok(
        f"copy-model-version --src-model {old.data['model']} --src-version 1 --dst-model "
        f"{name} --dst-experiment-name {unique_name('exp-')} --copy-stages-and-aliases "
        f"--src-mlflow-uri {old.endpoint.tracking_uri} --dst-mlflow-uri {dst.tracking_uri}"
    )

    imported, source = (
        version_view(dst, name, "1"),
        version_view(old.endpoint, old.data["model"], "1"),
    )
    parent_left_behind(imported["run"], source["run"], old.data["parent"])
    assert imported == source
    assert predictions(dst, name, "1") == pytest.approx([3.0, 9.0])


def test_export_and_import_model_within_an_old_server(old, unique_name, tmp_path):
    name = unique_name("model-")

    assert_old_model_moved(old, old.endpoint, name, unique_name("exp-"), tmp_path)
    assert predictions(old.endpoint, name, "3") == pytest.approx([9.0, 27.0])


def test_model_of_the_pinned_release_moves_onto_an_early_3x_server(
    src, old_server_of, unique_name, tmp_path
):
    server = old_server_of(MLFLOW_3_EARLY)
    early = Endpoint(server.url, server.url)
    model = model_builders.registered_model(src, unique_name("src-model-"), unique_name("src-"))
    name = unique_name("model-")
    ok(
        f"export-model --model {model.name} --output-dir {tmp_path} "
        f"--tracking-uri {src.tracking_uri}"
    )
    ok(
        f"import-model --input-dir {tmp_path} --model {name} --experiment-name "
        f"{unique_name('exp-')} --tracking-uri {early.tracking_uri}"
    )

    assert model_view(early, name) == model_view(src, model.name)


# 3.17.2 -> 2.22.5 -----------------------------------------------------------------------------


def _nothing_named(endpoint: Endpoint, experiment: str, model: str | None = None) -> None:
    assert endpoint.client.get_experiment_by_name(experiment) is None
    if model is not None:
        assert endpoint.client.search_registered_models(f"name = '{model}'") == []


def _refusal(result, *parts: str) -> str:
    """The one error line of a refused import (a copy prints what it exported before it)."""
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and result.stderr.rstrip().endswith(errors[0]), result.output
    for part in parts:
        assert part in errors[0], errors[0]
    return errors[0]


def _exported_run(src: Endpoint, unique_name, out):
    """A run with LoggedModels, built on ``src`` and exported into ``out``."""
    built = builders.make_run(src, builders.experiment(src, unique_name("src-")))
    ok(f"export-run --run-id {built.run_id} --output-dir {out} --tracking-uri {src.tracking_uri}")
    return built


def _assert_equal_but_logged_models(imported: dict, source: dict) -> None:
    """``run_summary`` views equal once the source's LoggedModels and outputs (which it has)
    are set aside and the import has none."""
    assert source.pop("logged_models") and source.pop("model_outputs")
    assert imported.pop("logged_models") == {} and imported.pop("model_outputs") == []
    assert imported == source


def test_run_with_logged_model_is_refused_by_an_mlflow2_destination(
    src, mlflow2, unique_name, tmp_path
):
    built = _exported_run(src, unique_name, tmp_path)
    experiment = unique_name("exp-")

    result = cli(_import_command("run", tmp_path, experiment, mlflow2))

    _refusal(result, "LoggedModels", built.run_id, f"MLflow {MLFLOW_2}", "--skip-unsupported")
    _nothing_named(mlflow2, experiment)


def test_skip_unsupported_imports_the_run_without_its_logged_models(
    src, mlflow2, unique_name, tmp_path
):
    built = _exported_run(src, unique_name, tmp_path)
    experiment = unique_name("exp-")

    result = ok(_import_command("run", tmp_path, experiment, mlflow2, "--skip-unsupported"))

    warnings = [line for line in result.output.splitlines() if line.startswith("Warning: ")]
    assert len(warnings) == len(built.model_ids) and all("LoggedModels" in w for w in warnings)
    [run_id] = imported_ids(mlflow2, experiment).values()
    _assert_equal_but_logged_models(run_summary(mlflow2, run_id), run_summary(src, built.run_id))


def test_experiment_and_model_exports_are_refused_by_an_mlflow2_destination(
    src, mlflow2, unique_name, tmp_path
):
    model = model_builders.registered_model(src, unique_name("src-model-"), unique_name("src-"))
    ok(
        f"export-model --model {model.name} --output-dir {tmp_path / 'm'} --tracking-uri "
        f"{src.tracking_uri}"
    )
    src_experiment = src.client.get_experiment(model.experiment_id).name
    ok(
        f"export-experiment --experiment {src_experiment} --output-dir {tmp_path / 'e'} "
        f"--tracking-uri {src.tracking_uri}"
    )
    experiment, name = unique_name("exp-"), unique_name("model-")

    by_model = cli(
        f"import-model --input-dir {tmp_path / 'm'} --model {name} --experiment-name "
        f"{experiment} --tracking-uri {mlflow2.tracking_uri}"
    )
    by_experiment = cli(_import_command("experiment", tmp_path / "e", experiment, mlflow2))
    by_copy = cli(
        f"copy-model-version --src-model {model.name} --src-version 3 --dst-model {name} "
        f"--dst-experiment-name {experiment} --src-mlflow-uri {src.tracking_uri} "
        f"--dst-mlflow-uri {mlflow2.tracking_uri}"
    )

    for result in (by_model, by_experiment, by_copy):
        _refusal(result, "LoggedModels", f"MLflow {MLFLOW_2}")
    _nothing_named(mlflow2, experiment, name)


def test_skip_unsupported_imports_what_an_mlflow2_model_can_hold(
    src, mlflow2, unique_name, tmp_path
):
    model = model_builders.registered_model(src, unique_name("src-model-"), unique_name("src-"))
    ok(
        f"export-model --model {model.name} --output-dir {tmp_path} --tracking-uri "
        f"{src.tracking_uri}"
    )
    name = unique_name("model-")

    result = ok(
        f"import-model --input-dir {tmp_path} --model {name} --experiment-name "
        f"{unique_name('exp-')} --tracking-uri {mlflow2.tracking_uri} --skip-unsupported"
    )

    assert "Warning: version 3 of" in result.output
    imported, source = model_view(mlflow2, name), model_view(src, model.name)
    # Version 3 points at a LoggedModel, which an MLflow 2 server cannot hold: left out, with
    # its aliases; the classic versions arrive whole, apart from their runs' LoggedModels.
    del source["versions"]["3"]
    source["aliases"] = {a: v for a, v in source["aliases"].items() if v != "3"}
    for view in (imported, source):
        for version in view["versions"].values():
            version["run"].pop("logged_models")
            version["run"].pop("model_outputs")
    assert imported == source


def test_skip_unsupported_imports_an_experiment_without_its_logged_models(
    src, mlflow2, unique_name, tmp_path
):
    experiment_id = builders.experiment(src, unique_name("src-"))
    parent = builders.make_run(src, experiment_id, name="parent")
    child = builders.make_run(src, experiment_id, name="child", parent_run_id=parent.run_id)
    ok(
        f"export-experiment --experiment {experiment_id} --output-dir {tmp_path} "
        f"--tracking-uri {src.tracking_uri}"
    )
    experiment = unique_name("exp-")

    refused = cli(_import_command("experiment", tmp_path, experiment, mlflow2))
    _refusal(refused, "LoggedModels", f"MLflow {MLFLOW_2}")
    _nothing_named(mlflow2, experiment)
    ok(_import_command("experiment", tmp_path, experiment, mlflow2, "--skip-unsupported"))

    ids = imported_ids(mlflow2, experiment)
    assert set(ids) == {parent.run_id, child.run_id}
    for source_id, dst_id in ids.items():
        _assert_equal_but_logged_models(run_summary(mlflow2, dst_id), run_summary(src, source_id))


def test_copies_that_need_logged_models_are_refused_by_an_mlflow2_destination(
    src, mlflow2, unique_name
):
    model = model_builders.registered_model(src, unique_name("src-model-"), unique_name("src-"))
    run_b = model.versions["3"][0]
    experiment, name = unique_name("exp-"), unique_name("model-")

    by_run = cli(
        f"copy-run --run-id {run_b} --experiment-name {experiment} "
        f"--src-mlflow-uri {src.tracking_uri} --dst-mlflow-uri {mlflow2.tracking_uri}"
    )
    # A version whose source is its LoggedModel has nothing else to point at.
    by_version = cli(
        f"copy-model-version --src-model {model.name} --src-version 3 --dst-model {name} "
        f"--dst-experiment-name {experiment} --src-mlflow-uri {src.tracking_uri} "
        f"--dst-mlflow-uri {mlflow2.tracking_uri} --skip-unsupported"
    )

    _refusal(by_run, "LoggedModels", run_b, f"MLflow {MLFLOW_2}")
    _refusal(by_version, "LoggedModels", "version 3", "cannot be imported", f"MLflow {MLFLOW_2}")
    _nothing_named(mlflow2, experiment, name)
