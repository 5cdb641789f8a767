"""export-model / import-model with the Databricks options, on the workspace model registry of
two workspace stand-ins (see tests/databricks_server.py), with the real SDK."""

from __future__ import annotations

import uuid

from mlflow_migrate_plugin import api
from mlflow_migrate_plugin.databricks import permissions
from mlflow_migrate_plugin.exportdir.permissions import read_model_permissions
from tests.databricks_fixtures import HOME_FOLDER, TOKEN_USER, grant, notebook_run


def test_registered_model_moves_with_its_permissions_and_its_versions_notebooks(
    databricks_env, workspace_a, workspace_b, unique_name, tmp_path
):
    """Stands in for export-model --export-permissions --notebook-formats from a workspace
    registry and import-model --import-permissions into another workspace: the model's ACL
    (under Databricks' model id) is applied, a group the destination lacks is skipped with a
    warning, and the version's run carries its notebook."""
    reviewers, outsiders = (f"{g}-{uuid.uuid4().hex[:6]}" for g in ("reviewers", "outsiders"))
    workspace_a.state.groups.update({reviewers, outsiders})
    workspace_b.state.groups.add(reviewers)
    src = databricks_env(workspace_a)
    built, _ = notebook_run(
        src, workspace_a, f"{HOME_FOLDER}/{unique_name()}", revision="1700000000000"
    )
    name = unique_name("model-")
    src.client.create_registered_model(name)
    run = src.client.get_run(built.run_id)
    src.client.create_model_version(name, f"{run.info.artifact_uri}/classic_model", built.run_id)
    grant(
        src,
        f"/api/2.0/permissions/registered-models/{permissions.registered_model_id(src, name)}",
        [
            {"group_name": reviewers, "permission_level": "CAN_MANAGE_PRODUCTION_VERSIONS"},
            {"group_name": outsiders, "permission_level": "CAN_READ"},
        ],
    )

    api.export_model(
        name,
        tmp_path / "model",
        tracking_uri="databricks",
        registry_uri="databricks",
        export_permissions=True,
        notebook_formats=["SOURCE"],
    )
    dst = databricks_env(workspace_b)
    new_name = unique_name("imported-")
    report = api.import_model(
        tmp_path / "model",
        f"{HOME_FOLDER}/{unique_name()}",
        model=new_name,
        tracking_uri="databricks",
        registry_uri="databricks",
        import_permissions=True,
    )

    assert read_model_permissions(tmp_path / "model")[1]["access_control"]
    acl = workspace_b.state.get_permissions(
        "registered-models", permissions.registered_model_id(dst, new_name)
    )
    direct = {
        (e.get("user_name") or e.get("group_name"), p["permission_level"])
        for e in acl["access_control_list"]
        for p in e["all_permissions"]
        if not p["inherited"]
    }
    assert direct == {(TOKEN_USER, "CAN_MANAGE"), (reviewers, "CAN_MANAGE_PRODUCTION_VERSIONS")}
    assert [w for w in report.warnings if outsiders in w]
    [version] = dst.client.search_model_versions(f"name = '{new_name}'")
    repo = dst.artifact_repo(dst.client.get_run(version.run_id).info.artifact_uri)
    assert {f.path for f in repo.list_artifacts("notebooks")} == {
        "notebooks/Train.source",
        "notebooks/manifest.json",
    }
