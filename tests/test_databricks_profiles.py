"""Two workspaces in one process, reached through two profiles of ~/.databrickscfg.

Each stand-in accepts only its own token, so a call that reached the wrong workspace fails with
401 instead of passing unnoticed. No DATABRICKS_* variable is set: only the profiles say where
to go, as on a machine where the user ran ``databricks auth login`` for two workspaces.
"""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from mlflow_migrate_plugin import api
from mlflow_migrate_plugin.cli import migrate
from mlflow_migrate_plugin.databricks import permissions
from mlflow_migrate_plugin.endpoint import Endpoint
from mlflow_migrate_plugin.errors import UnreachableError, UsageError
from mlflow_migrate_plugin.handlers.run import SOURCE_USER
from tests.compare import run_view
from tests.databricks_fixtures import HOME_FOLDER, notebook_run
from tests.servers import free_port

NOTEBOOK_IMPORT = "/api/2.0/workspace/import"


def _source_run(fake, monkeypatch, unique_name):
    """A notebook run on ``fake``, logged through DATABRICKS_HOST as a notebook would: MLflow's
    own client cannot log run artifacts through a profile that is not the default one (its SDK
    artifact repository builds a client from the default configuration); the tool does not take
    that path."""
    monkeypatch.setenv("DATABRICKS_HOST", fake.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", fake.token)
    built, _ = notebook_run(
        Endpoint("databricks", "databricks"),
        fake,
        f"{HOME_FOLDER}/{unique_name()}",
        revision="1700000900000",
    )
    monkeypatch.delenv("DATABRICKS_HOST")
    monkeypatch.delenv("DATABRICKS_TOKEN")
    return built


def test_export_and_import_through_two_profiles_reach_their_own_workspaces(
    databricks_profiles, workspace_a, workspace_b, monkeypatch, unique_name, tmp_path
):
    """Stands in for moving a run, its notebook and its experiment's permissions from one
    workspace to another with ``databricks://A`` and ``databricks://B`` in the same process."""
    built = _source_run(workspace_a, monkeypatch, unique_name)
    profiles = databricks_profiles(a=workspace_a, b=workspace_b)
    src = Endpoint(f"databricks://{profiles['a']}", f"databricks://{profiles['a']}")
    dst = Endpoint(f"databricks://{profiles['b']}", f"databricks://{profiles['b']}")
    acl = permissions.export_experiment_acl(src, built.experiment_id)
    # The stand-ins serve the whole session: count this test's notebook imports only.
    before_a, before_b = (len(w.calls(NOTEBOOK_IMPORT)) for w in (workspace_a, workspace_b))

    api.export_run(
        built.run_id, tmp_path / "run", tracking_uri=src.tracking_uri, notebook_formats=["SOURCE"]
    )
    report = api.import_run(
        tmp_path / "run",
        f"{HOME_FOLDER}/{unique_name()}",
        tracking_uri=dst.tracking_uri,
        dst_notebook_dir=f"{HOME_FOLDER}/{unique_name()}",
    )
    [outcome] = report.find("run", "imported")
    dst_experiment = dst.client.get_run(outcome.destination_id).info.experiment_id
    permissions.import_experiment_acl(dst, dst_experiment, acl, report)

    assert report.warnings == []
    expected, actual = run_view(src, built.run_id), run_view(dst, outcome.destination_id)
    notebook_files = {p for p in actual["artifacts"] if p.startswith("notebooks/")}
    assert notebook_files == {"notebooks/Train.source", "notebooks/manifest.json"}
    for path in notebook_files:
        del actual["artifacts"][path]
    del actual["tags"]["mlflow_migrate.imported_notebook_path"]
    assert actual["tags"].pop(SOURCE_USER) == expected["info"]["user_id"]
    for path, content in expected["artifacts"].items():
        expected["artifacts"][path] = content.replace(
            built.run_id.encode(), outcome.destination_id.encode()
        )
    assert actual == expected
    assert workspace_b.calls(NOTEBOOK_IMPORT)[before_b:] == [("POST", NOTEBOOK_IMPORT)]
    assert workspace_a.calls(NOTEBOOK_IMPORT)[before_a:] == []


def test_copy_run_between_two_profiles_in_one_command(
    databricks_profiles, workspace_a, workspace_b, monkeypatch, unique_name
):
    """Stands in for ``mlflow migrate copy-run`` from one workspace to another, each side named
    by its profile, in one command."""
    built = _source_run(workspace_a, monkeypatch, unique_name)
    profiles = databricks_profiles(a=workspace_a, b=workspace_b)
    src = Endpoint(f"databricks://{profiles['a']}", f"databricks://{profiles['a']}")
    experiment = f"{HOME_FOLDER}/{unique_name('copied/')}"

    result = CliRunner().invoke(
        migrate,
        [
            "copy-run",
            "--run-id",
            built.run_id,
            "--experiment-name",
            experiment,
            "--src-mlflow-uri",
            src.tracking_uri,
            "--dst-mlflow-uri",
            f"databricks://{profiles['b']}",
        ],
    )

    assert result.exit_code == 0, result.output
    dst = Endpoint(f"databricks://{profiles['b']}", f"databricks://{profiles['b']}")
    [run] = dst.client.search_runs([dst.client.get_experiment_by_name(experiment).experiment_id])
    assert run.data.params == src.client.get_run(built.run_id).data.params
    assert src.client.get_experiment_by_name(experiment) is None


def test_a_profile_that_databricks_host_would_override_is_refused(
    databricks_profiles, workspace_a, workspace_b, monkeypatch, tmp_path
):
    """databricks-sdk reads DATABRICKS_HOST before the profile: left set, it would send both
    sides of a copy to one workspace. One readable line instead."""
    profiles = databricks_profiles(a=workspace_a, b=workspace_b)
    monkeypatch.setenv("DATABRICKS_HOST", workspace_a.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", workspace_a.token)

    with pytest.raises(UsageError, match="unset DATABRICKS_HOST"):
        api.export_run("0" * 32, tmp_path / "run", tracking_uri=f"databricks://{profiles['b']}")
    with pytest.raises(UsageError, match="unset DATABRICKS_HOST"):
        permissions.export_experiment_acl(
            Endpoint(f"databricks://{profiles['b']}", f"databricks://{profiles['b']}"), "1"
        )
    same_host = Endpoint(f"databricks://{profiles['a']}", f"databricks://{profiles['a']}")
    assert same_host.workspace.config.host == workspace_a.url


def test_an_unreachable_workspace_fails_within_the_connect_timeout(
    clean_databricks_env, monkeypatch, tmp_path
):
    """databricks-sdk and MLflow retry an unreachable workspace for minutes; a wrong host in a
    profile or in DATABRICKS_HOST is one line within MLFLOW_MIGRATE_CONNECT_TIMEOUT."""
    closed = f"http://127.0.0.1:{free_port()}"
    (clean_databricks_env / ".databrickscfg").write_text(f"[gone]\nhost = {closed}\ntoken = t\n")
    monkeypatch.setenv("MLFLOW_MIGRATE_CONNECT_TIMEOUT", "2")
    started = time.monotonic()

    with pytest.raises(UnreachableError, match=f"cannot reach {closed}"):
        api.export_run("0" * 32, tmp_path / "run", tracking_uri="databricks://gone")
    monkeypatch.setenv("DATABRICKS_HOST", closed)
    monkeypatch.setenv("DATABRICKS_TOKEN", "t")
    with pytest.raises(UnreachableError, match=f"cannot reach {closed}"):
        api.import_run(tmp_path / "run", f"{HOME_FOLDER}/x", tracking_uri="databricks")

    assert time.monotonic() - started < 20
