"""Who may do what: experiment and registered-model ACLs, Unity Catalog grants.

Export keeps what the service answers, as plain JSON (it goes into experiment.json /
model.json under ``mlflow.permissions``). Import applies only what was set on the object
itself, never what it inherited from a folder, catalog or schema (the destination has its own
parents), one principal at a time with PATCH, so that one unknown principal does not cancel the
rest: a principal the destination does not know is skipped with a warning.

- Experiments: ``/api/2.0/permissions/experiments/{id}``.
- Registered models of the workspace registry: ``/api/2.0/permissions/registered-models/{id}``,
  where the id is Databricks' own (from ``/api/2.0/mlflow/databricks/registered-models/get``).
- Unity Catalog models: grants on ``/api/2.1/unity-catalog/permissions/function/{full_name}``
  (UC models are functions for grants). The model's owner is not a grant and is not moved.

Exports written by mlflow-export-import (``{"permissions": {...}}``, and for UC also
``effective_permissions``) import too; their effective (inherited) grants are ignored.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from ..endpoint import Endpoint
from ..errors import MigrateError
from ..report import Report
from .workspace import DatabricksCallError, call

# ACL entries name their principal with one of these keys.
PRINCIPAL_KEYS = ("user_name", "group_name", "service_principal_name")
_SCIM = {
    "user_name": ("Users", "userName"),
    "group_name": ("Groups", "displayName"),
    "service_principal_name": ("ServicePrincipals", "applicationId"),
}
UC_SECURABLE = "function"


# Workspace ACLs --------------------------------------------------------------------------------


def export_experiment_acl(endpoint: Endpoint, experiment_id: str) -> dict[str, Any]:
    """The experiment's permissions as the service reports them."""
    return _get_acl(
        endpoint, endpoint.workspace, "experiments", experiment_id, f"experiment {experiment_id}"
    )


def import_experiment_acl(
    endpoint: Endpoint, experiment_id: str, acl: dict[str, Any] | None, report: Report
) -> int:
    """Apply an exported experiment ACL; return how many permissions were applied."""
    return _apply_acl(
        endpoint,
        endpoint.workspace,
        "experiments",
        experiment_id,
        acl,
        f"experiment {experiment_id}",
        report,
    )


def export_registered_model_acl(endpoint: Endpoint, model_name: str) -> dict[str, Any]:
    """The permissions of a workspace-registry model."""
    model_id = registered_model_id(endpoint, model_name)
    return _get_acl(
        endpoint,
        endpoint.registry_workspace,
        "registered-models",
        model_id,
        f"registered model '{model_name}'",
    )


def import_registered_model_acl(
    endpoint: Endpoint, model_name: str, acl: dict[str, Any] | None, report: Report
) -> int:
    """Apply an exported registered-model ACL to ``model_name`` (workspace registry)."""
    model_id = registered_model_id(endpoint, model_name)
    return _apply_acl(
        endpoint,
        endpoint.registry_workspace,
        "registered-models",
        model_id,
        acl,
        f"registered model '{model_name}'",
        report,
    )


def registered_model_id(endpoint: Endpoint, model_name: str) -> str:
    """Databricks' id of a workspace-registry model (the permissions API wants it, not the name)."""
    answer = call(
        endpoint.registry_workspace,
        "GET",
        "/api/2.0/mlflow/databricks/registered-models/get",
        f"registered model '{model_name}' on {endpoint.display}",
        query={"name": model_name},
    )
    model_id = (answer.get("registered_model_databricks") or {}).get("id")
    if not model_id:
        raise MigrateError(
            f"registered model '{model_name}' on {endpoint.display}: the service "
            "returned no id; cannot read or set its permissions"
        )
    return model_id


def _get_acl(
    endpoint: Endpoint, client, object_type: str, object_id: str, what: str
) -> dict[str, Any]:
    return call(
        client,
        "GET",
        f"/api/2.0/permissions/{object_type}/{object_id}",
        f"cannot read permissions of {what} on {endpoint.display}",
    )


def direct_permissions(acl: dict[str, Any] | None) -> list[dict[str, str]]:
    """PATCH entries for the permissions set on the object itself, from a GET answer."""
    acl = acl or {}
    if "access_control_list" not in acl and isinstance(acl.get("permissions"), dict):
        acl = acl["permissions"]  # mlflow-export-import's envelope
    entries = []
    for entry in acl.get("access_control_list") or []:
        key = next((k for k in PRINCIPAL_KEYS if entry.get(k)), None)
        if key is None:
            continue
        for perm in entry.get("all_permissions") or []:
            if perm.get("inherited"):
                continue
            entries.append({key: entry[key], "permission_level": perm["permission_level"]})
    return entries


def _apply_acl(
    endpoint: Endpoint,
    client,
    object_type: str,
    object_id: str,
    acl: dict | None,
    what: str,
    report: Report,
) -> int:
    path = f"/api/2.0/permissions/{object_type}/{object_id}"
    known: dict[tuple[str, str], bool] = {}
    applied = 0
    for entry in direct_permissions(acl):
        key = next(k for k in PRINCIPAL_KEYS if k in entry)
        principal = (key, entry[key])
        if principal not in known:
            known[principal] = principal_exists(client, key, entry[key])
        if not known[principal]:
            report.warn(
                f"{what}: {key.replace('_', ' ')} '{entry[key]}' does not exist on "
                f"{endpoint.display}; its {entry['permission_level']} permission is "
                "not applied"
            )
            continue
        try:
            call(
                client,
                "PATCH",
                path,
                f"{what}: cannot grant {entry['permission_level']} to '{entry[key]}'",
                body={"access_control_list": [entry]},
            )
        except DatabricksCallError as exc:
            if exc.error_code in ("PERMISSION_DENIED", "UNAUTHENTICATED"):
                raise
            report.warn(str(exc))
            continue
        applied += 1
    return applied


def principal_exists(client, key: str, name: str) -> bool:
    """Whether the destination workspace knows the principal (SCIM lookup).

    When the caller may not list principals, assume it exists and let the PATCH decide.
    """
    resource, attribute = _SCIM[key]
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    try:
        answer = call(
            client,
            "GET",
            f"/api/2.0/preview/scim/v2/{resource}",
            f"lookup of {key} '{name}'",
            query={"filter": f'{attribute} eq "{escaped}"', "count": 1},
        )
    except DatabricksCallError as exc:
        if exc.error_code in ("PERMISSION_DENIED", "FORBIDDEN") or exc.status == 403:
            return True
        raise
    return int(answer.get("totalResults") or len(answer.get("Resources") or [])) > 0


# Unity Catalog grants --------------------------------------------------------------------------


def export_uc_grants(endpoint: Endpoint, model_name: str) -> dict[str, Any]:
    """The grants made on a Unity Catalog model itself (inherited ones are not listed)."""
    answer = call(
        endpoint.registry_workspace,
        "GET",
        _grants_path(model_name),
        f"cannot read grants of model '{model_name}' on {endpoint.display}",
    )
    return {
        "securable_type": UC_SECURABLE,
        "full_name": model_name,
        "privilege_assignments": answer.get("privilege_assignments") or [],
    }


def import_uc_grants(
    endpoint: Endpoint, model_name: str, grants: dict[str, Any] | None, report: Report
) -> int:
    """Grant the exported privileges on ``model_name``; return how many principals got theirs.

    Unity Catalog principals may be account-level groups the workspace's SCIM API does not
    list, so a principal is tried and skipped with a warning when the service refuses it.
    """
    applied = 0
    for assignment in uc_assignments(grants):
        principal = assignment.get("principal")
        privileges = [_privilege(p) for p in assignment.get("privileges") or []]
        if not principal or not privileges:
            continue
        try:
            call(
                endpoint.registry_workspace,
                "PATCH",
                _grants_path(model_name),
                f"model '{model_name}': cannot grant {', '.join(privileges)} to '{principal}'",
                body={"changes": [{"principal": principal, "add": privileges}]},
            )
        except DatabricksCallError as exc:
            if exc.error_code in ("PERMISSION_DENIED", "UNAUTHENTICATED"):
                raise
            report.warn(f"{exc} (principal skipped)")
            continue
        applied += 1
    return applied


def uc_assignments(grants: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Direct privilege assignments, from our record or mlflow-export-import's."""
    grants = grants or {}
    if "privilege_assignments" in grants:
        return list(grants["privilege_assignments"] or [])
    direct = grants.get("permissions")
    return list((direct or {}).get("privilege_assignments") or [])


def _privilege(value: Any) -> str:
    return value.get("privilege") if isinstance(value, dict) else str(value)


def _grants_path(model_name: str) -> str:
    return (
        f"/api/2.1/unity-catalog/permissions/{UC_SECURABLE}/"
        f"{urllib.parse.quote(model_name, safe='.')}"
    )


# One entry point per kind of model -------------------------------------------------------------


def export_model_permissions(endpoint: Endpoint, model_name: str) -> dict[str, Any]:
    """ACL (workspace registry) or grants (Unity Catalog) of a registered model, tagged by kind."""
    if endpoint.registry_is_unity_catalog:
        return {"unity_catalog_grants": export_uc_grants(endpoint, model_name)}
    return {"access_control": export_registered_model_acl(endpoint, model_name)}


def import_model_permissions(
    endpoint: Endpoint, model_name: str, permissions: dict[str, Any] | None, report: Report
) -> int:
    """Apply what :func:`export_model_permissions` saved to ``model_name`` on ``endpoint``.

    Grants only go to a Unity Catalog registry and ACLs only to a workspace registry: moving a
    model between the two kinds cannot carry its permissions, which is said in a warning.
    """
    permissions = permissions or {}
    grants = permissions.get("unity_catalog_grants")
    acl = permissions.get("access_control")
    if grants is None and acl is None and permissions:
        # mlflow-export-import: UC grants have "effective_permissions", ACLs an ACL list.
        grants = permissions if "effective_permissions" in permissions else None
        acl = None if grants is not None else permissions
    if endpoint.registry_is_unity_catalog:
        if acl:
            report.warn(
                f"model '{model_name}': workspace-registry permissions cannot be applied "
                "to a Unity Catalog model; grant privileges there instead"
            )
        return import_uc_grants(endpoint, model_name, grants, report) if grants else 0
    if grants:
        report.warn(
            f"model '{model_name}': Unity Catalog grants cannot be applied to a "
            "workspace-registry model; set its permissions there instead"
        )
    return import_registered_model_acl(endpoint, model_name, acl, report) if acl else 0
