"""Permissions: experiment and registered-model ACLs, Unity Catalog grants, with the real SDK.

The stand-ins answer /api/2.0/permissions/{experiments,registered-models}/{id} (GET, PATCH,
PUT), /api/2.0/mlflow/databricks/registered-models/get (Databricks' model id), SCIM lookups of
users, groups and service principals, and /api/2.1/unity-catalog/permissions/function/{name};
a PATCH naming a principal the workspace does not know is refused, as a workspace does.
"""

from __future__ import annotations

import uuid

from mlflow_migrate_plugin.databricks import permissions
from mlflow_migrate_plugin.endpoint import Endpoint
from mlflow_migrate_plugin.report import Report
from tests.databricks_fixtures import HOME_FOLDER, TOKEN_USER, grant


def _people(*fakes):
    """Principals unique to the test: alice and the group everywhere; bob and the service
    principal only on the first workspace."""
    tag = uuid.uuid4().hex[:6]
    people = {
        "alice": f"alice-{tag}@example.com",
        "bob": f"bob-{tag}@example.com",
        "group": f"data-science-{tag}",
        "sp": f"{uuid.uuid4()}",
    }
    for fake in fakes:
        fake.state.users.add(people["alice"])
        fake.state.groups.add(people["group"])
    fakes[0].state.users.add(people["bob"])
    fakes[0].state.service_principals.add(people["sp"])
    return people


def _direct(acl: dict) -> set[tuple[str, str]]:
    return {
        (
            e.get("user_name") or e.get("group_name") or e.get("service_principal_name"),
            p["permission_level"],
        )
        for e in acl["access_control_list"]
        for p in e["all_permissions"]
        if not p["inherited"]
    }


def test_experiment_permissions_move_and_unknown_principals_are_skipped(
    databricks_env, workspace_a, workspace_b, unique_name
):
    """Stands in for --export-permissions / --import-permissions on an experiment: what was set
    on the experiment is applied on the destination; principals the destination workspace does
    not have are skipped with a warning; inherited permissions are not copied."""
    people = _people(workspace_a, workspace_b)
    src = databricks_env(workspace_a)
    src_id = src.client.create_experiment(f"{HOME_FOLDER}/{unique_name()}")
    grant(
        src,
        f"/api/2.0/permissions/experiments/{src_id}",
        [
            {"user_name": people["alice"], "permission_level": "CAN_EDIT"},
            {"user_name": people["bob"], "permission_level": "CAN_READ"},
            {"group_name": people["group"], "permission_level": "CAN_READ"},
            {"service_principal_name": people["sp"], "permission_level": "CAN_MANAGE"},
        ],
    )
    exported = permissions.export_experiment_acl(src, src_id)
    dst = databricks_env(workspace_b)
    dst_id = dst.client.create_experiment(f"{HOME_FOLDER}/{unique_name()}")
    report = Report()

    applied = permissions.import_experiment_acl(dst, dst_id, exported, report)

    assert applied == 3  # alice, the group, and the exporting user's own CAN_MANAGE
    after = workspace_b.state.get_permissions("experiments", dst_id)
    assert _direct(after) == {
        (TOKEN_USER, "CAN_MANAGE"),
        (people["alice"], "CAN_EDIT"),
        (people["group"], "CAN_READ"),
    }
    assert len(report.warnings) == 2
    assert any(people["bob"] in w and "does not exist" in w for w in report.warnings)
    assert any(people["sp"] in w and "does not exist" in w for w in report.warnings)


def test_registered_model_permissions_move_by_databricks_model_id(
    databricks_env, workspace_a, workspace_b, unique_name
):
    """Stands in for a workspace-registry model: its permissions live under Databricks' own
    model id (from /mlflow/databricks/registered-models/get), not its name."""
    people = _people(workspace_a, workspace_b)
    name = unique_name("model-")
    src = databricks_env(workspace_a)
    src.client.create_registered_model(name)
    model_id = permissions.registered_model_id(src, name)
    grant(
        src,
        f"/api/2.0/permissions/registered-models/{model_id}",
        [
            {"group_name": people["group"], "permission_level": "CAN_MANAGE_STAGING_VERSIONS"},
            {"user_name": people["bob"], "permission_level": "CAN_READ"},
        ],
    )
    exported = permissions.export_model_permissions(src, name)
    dst = databricks_env(workspace_b)
    dst.client.create_registered_model(name)
    report = Report()

    permissions.import_model_permissions(dst, name, exported, report)

    after = workspace_b.state.get_permissions(
        "registered-models", permissions.registered_model_id(dst, name)
    )
    assert _direct(after) == {
        (TOKEN_USER, "CAN_MANAGE"),
        (people["group"], "CAN_MANAGE_STAGING_VERSIONS"),
    }
    [warning] = report.warnings
    assert people["bob"] in warning


def test_unity_catalog_grants_move_and_unknown_principals_are_skipped(
    clean_databricks_env, monkeypatch, workspace_a, workspace_b
):
    """Stands in for a Unity Catalog model: its grants (UC models are FUNCTION securables) are
    read and re-granted one principal at a time; the service refuses an unknown principal, and
    that principal is skipped with a warning."""
    people = _people(workspace_a, workspace_b)
    name = f"main.ml.model_{uuid.uuid4().hex[:8]}"
    workspace_a.state.uc_models.add(name)
    workspace_b.state.uc_models.add(name)
    workspace_a.state.update_grants(
        "function",
        name,
        {
            "changes": [
                {"principal": people["group"], "add": ["EXECUTE", "APPLY_TAG"]},
                {"principal": people["bob"], "add": ["EXECUTE"]},
            ]
        },
    )
    monkeypatch.setenv("DATABRICKS_HOST", workspace_a.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", workspace_a.token)
    src = Endpoint("databricks", "databricks-uc")
    exported = permissions.export_model_permissions(src, name)
    monkeypatch.setenv("DATABRICKS_HOST", workspace_b.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", workspace_b.token)
    dst = Endpoint("databricks", "databricks-uc")
    report = Report()

    applied = permissions.import_model_permissions(dst, name, exported, report)

    assert applied == 1
    assert workspace_b.state.get_grants("function", name) == {
        "privilege_assignments": [
            {"principal": people["group"], "privileges": ["APPLY_TAG", "EXECUTE"]}
        ]
    }
    [warning] = report.warnings
    assert people["bob"] in warning and "skipped" in warning


def test_permissions_exported_by_the_reference_tool_import(
    databricks_env, workspace_b, unique_name
):
    """mlflow-export-import keeps the GET answer under ``permissions`` next to the permission
    levels; its experiment exports import the same way."""
    people = _people(workspace_b)
    dst = databricks_env(workspace_b)
    dst_id = dst.client.create_experiment(f"{HOME_FOLDER}/{unique_name()}")
    reference = {
        "permission_levels": [{"permission_level": "CAN_READ", "description": "Can view"}],
        "permissions": {
            "object_id": "/experiments/1",
            "object_type": "mlflowExperiment",
            "access_control_list": [
                {
                    "user_name": people["alice"],
                    "all_permissions": [{"permission_level": "CAN_READ", "inherited": False}],
                },
                {
                    "group_name": "admins",
                    "all_permissions": [
                        {
                            "permission_level": "CAN_MANAGE",
                            "inherited": True,
                            "inherited_from_object": ["/directories/0"],
                        }
                    ],
                },
            ],
        },
    }

    permissions.import_experiment_acl(dst, dst_id, reference, Report())

    assert _direct(workspace_b.state.get_permissions("experiments", dst_id)) == {
        (TOKEN_USER, "CAN_MANAGE"),
        (people["alice"], "CAN_READ"),
    }
