"""export-experiment / import-experiment with the Databricks options, against two workspace
stand-ins (see tests/databricks_server.py) with the real SDK."""

from __future__ import annotations

import uuid

from mlflow_migrate_plugin import api
from mlflow_migrate_plugin.exportdir.permissions import read_experiment_permissions
from tests.databricks_fixtures import HOME_FOLDER, TOKEN_USER, grant, notebook_run


def test_experiment_moves_with_its_permissions_and_its_runs_notebooks(
    databricks_env, workspace_a, workspace_b, unique_name, tmp_path
):
    """Stands in for export-experiment --export-permissions --notebook-formats from one workspace
    and import-experiment --import-permissions --dst-notebook-dir into another: the ACL set on
    the experiment is applied (a user the destination lacks is skipped with a warning) and each
    run's notebook lands in a folder named after its destination run."""
    analyst, visitor = (f"{who}-{uuid.uuid4().hex[:6]}@example.com" for who in ("ana", "vis"))
    workspace_a.state.users.update({analyst, visitor})
    workspace_b.state.users.add(analyst)
    src = databricks_env(workspace_a)
    name = f"{HOME_FOLDER}/{unique_name()}"
    built, _ = notebook_run(src, workspace_a, name, revision="1700000000000")
    grant(
        src,
        f"/api/2.0/permissions/experiments/{built.experiment_id}",
        [
            {"user_name": analyst, "permission_level": "CAN_EDIT"},
            {"user_name": visitor, "permission_level": "CAN_READ"},
        ],
    )

    api.export_experiment(
        name,
        tmp_path / "exp",
        tracking_uri="databricks",
        export_permissions=True,
        notebook_formats=["SOURCE", "HTML"],
    )
    dst = databricks_env(workspace_b)
    folder = f"{HOME_FOLDER}/{unique_name('notebooks-')}"
    report = api.import_experiment(
        tmp_path / "exp",
        f"{HOME_FOLDER}/{unique_name()}",
        tracking_uri="databricks",
        import_permissions=True,
        dst_notebook_dir=folder,
    )

    assert read_experiment_permissions(tmp_path / "exp")["access_control_list"]
    [outcome] = report.find("run", "imported")
    run = dst.client.get_run(outcome.destination_id)
    acl = workspace_b.state.get_permissions("experiments", run.info.experiment_id)
    direct = {
        (e.get("user_name"), p["permission_level"])
        for e in acl["access_control_list"]
        for p in e["all_permissions"]
        if not p["inherited"]
    }
    assert direct == {(TOKEN_USER, "CAN_MANAGE"), (analyst, "CAN_EDIT")}
    assert [w for w in report.warnings if visitor in w]
    assert workspace_b.state.notebook_source(f"{folder}/{outcome.destination_id}/Train") == (
        "# Databricks notebook source\nprint('revision one')\n"
    )
