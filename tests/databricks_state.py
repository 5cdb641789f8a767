"""What the local Databricks stand-in remembers: workspace objects, permissions, grants, people.

Each method answers one documented REST call (request and response shapes as in the Databricks
REST reference) or raises :class:`ApiError` with the service's error code. The HTTP side lives
in ``tests/databricks_server.py``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
import posixpath
import threading
import time
import zipfile
from dataclasses import dataclass, field


class ApiError(Exception):
    """An error answer: HTTP status, Databricks ``error_code`` and message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


EXPERIMENT_LEVELS = ("CAN_READ", "CAN_EDIT", "CAN_MANAGE")
MODEL_LEVELS = (
    "CAN_READ",
    "CAN_EDIT",
    "CAN_MANAGE_STAGING_VERSIONS",
    "CAN_MANAGE_PRODUCTION_VERSIONS",
    "CAN_MANAGE",
)
_LEVELS = {"experiments": EXPERIMENT_LEVELS, "registered-models": MODEL_LEVELS}
_OBJECT_TYPES = {"experiments": "mlflowExperiment", "registered-models": "registered-model"}
_FILE_TYPES = {"PYTHON": "py", "SCALA": "scala", "SQL": "sql", "R": "r"}
PRINCIPAL_KEYS = ("user_name", "group_name", "service_principal_name")


@dataclass
class WorkspaceObject:
    path: str
    object_type: str  # DIRECTORY, NOTEBOOK, MLFLOW_EXPERIMENT
    object_id: int
    language: str | None = None
    revisions: list[tuple[int, bytes]] = field(default_factory=list)  # (timestamp ms, source)


@dataclass
class WorkspaceState:
    """One workspace: its tree, its principals, and the permissions set on its objects."""

    user: str
    users: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=lambda: {"admins", "users"})
    service_principals: set[str] = field(default_factory=set)
    objects: dict[str, WorkspaceObject] = field(default_factory=dict)
    # (object type, id) -> {(principal key, name): {permission levels set directly}}
    acls: dict[tuple[str, str], dict[tuple[str, str], set[str]]] = field(default_factory=dict)
    model_ids: dict[str, str] = field(default_factory=dict)
    uc_models: set[str] = field(default_factory=set)
    grants: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1000))

    def __post_init__(self):
        self.users.add(self.user)
        for folder in ("/", "/Users", f"/Users/{self.user}", "/Shared"):
            self._put(folder, "DIRECTORY")

    # Workspace tree ---------------------------------------------------------------------------

    def _put(self, path: str, object_type: str, **extra) -> WorkspaceObject:
        obj = WorkspaceObject(path, object_type, next(self._ids), **extra)
        self.objects[path] = obj
        return obj

    def get_status(self, path: str) -> dict:
        with self.lock:
            obj = self._object(path)
            answer = {"path": obj.path, "object_type": obj.object_type, "object_id": obj.object_id}
            if obj.language:
                answer["language"] = obj.language
            return answer

    def _object(self, path: str) -> WorkspaceObject:
        obj = self.objects.get(_norm(path))
        if obj is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Path ({path}) doesn't exist.")
        return obj

    def mkdirs(self, path: str) -> None:
        with self.lock:
            parts = _norm(path).strip("/").split("/")
            for i in range(1, len(parts) + 1):
                prefix = "/" + "/".join(parts[:i])
                existing = self.objects.get(prefix)
                if existing is None:
                    self._put(prefix, "DIRECTORY")
                elif existing.object_type != "DIRECTORY":
                    raise ApiError(
                        400,
                        "RESOURCE_ALREADY_EXISTS",
                        f"Cannot create directory {path}: {prefix} is not a directory",
                    )

    def _require_parent(self, path: str) -> None:
        parent = posixpath.dirname(_norm(path))
        obj = self.objects.get(parent)
        if obj is None or obj.object_type != "DIRECTORY":
            raise ApiError(
                404, "RESOURCE_DOES_NOT_EXIST", f"The parent folder ({parent}) does not exist."
            )

    def add_notebook(self, path: str, language: str, revisions: list[tuple[int, str]]) -> None:
        """A notebook with its revision history (what the tests read back by revision)."""
        with self.lock:
            self.mkdirs(posixpath.dirname(path))
            self._put(
                path,
                "NOTEBOOK",
                language=language,
                revisions=[(ts, text.encode()) for ts, text in revisions],
            )

    def import_notebook(self, body: dict) -> None:
        path, fmt = _norm(body["path"]), body.get("format", "SOURCE")
        if fmt != "SOURCE":
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Format {fmt} is not supported here")
        if body.get("language") not in _FILE_TYPES:
            raise ApiError(
                400, "INVALID_PARAMETER_VALUE", "A SOURCE notebook import needs a language"
            )
        with self.lock:
            self._require_parent(path)
            existing = self.objects.get(path)
            if existing is not None and not body.get("overwrite"):
                raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"Path ({path}) already exists.")
            content = base64.b64decode(body.get("content") or "")
            self._put(
                path,
                "NOTEBOOK",
                language=body["language"],
                revisions=[(int(time.time() * 1000), content)],
            )

    def export_notebook(self, query: dict) -> dict:
        with self.lock:
            obj = self._object(query["path"])
            if obj.object_type != "NOTEBOOK":
                raise ApiError(400, "INVALID_PARAMETER_VALUE", f"{obj.path} is not a notebook")
            wanted = query.get("revision_timestamp")
            revisions = [r for r in obj.revisions if wanted is None or r[0] <= int(wanted)]
            if not revisions:
                raise ApiError(
                    404, "RESOURCE_DOES_NOT_EXIST", f"No revision of {obj.path} at {wanted}"
                )
            source = max(revisions)[1]
        fmt = query.get("format", "SOURCE")
        content, file_type = _render(obj, source, fmt)
        return {"content": base64.b64encode(content).decode(), "file_type": file_type}

    def notebook_source(self, path: str) -> str:
        with self.lock:
            return max(self._object(path).revisions)[1].decode()

    def register_experiment(self, name: str, experiment_id: str) -> None:
        with self.lock:
            self._put(_norm(name), "MLFLOW_EXPERIMENT")
            self.acls[("experiments", experiment_id)] = {("user_name", self.user): {"CAN_MANAGE"}}

    def check_experiment_name(self, name: str) -> None:
        if not name.startswith("/"):
            raise ApiError(
                400,
                "INVALID_PARAMETER_VALUE",
                f"Got an invalid experiment name '{name}': it must be an absolute path "
                "in the workspace",
            )
        with self.lock:
            self._require_parent(name)
            if _norm(name) in self.objects:
                raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"Node named {name} exists")

    # Principals (SCIM) ------------------------------------------------------------------------

    def scim_list(self, resource: str, filter_: str | None) -> dict:
        members, attribute = {
            "Users": (self.users, "userName"),
            "Groups": (self.groups, "displayName"),
            "ServicePrincipals": (self.service_principals, "applicationId"),
        }[resource]
        wanted = _scim_equals(filter_, attribute)
        found = sorted(m for m in members if wanted is None or m == wanted)
        return {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": len(found),
            "startIndex": 1,
            "itemsPerPage": len(found),
            "Resources": [{"id": _stable_id(m), attribute: m} for m in found],
        }

    def _exists(self, key: str, name: str) -> bool:
        return (
            name
            in {
                "user_name": self.users,
                "group_name": self.groups,
                "service_principal_name": self.service_principals,
            }[key]
        )

    # Permissions API --------------------------------------------------------------------------

    def model_id(self, name: str) -> str:
        with self.lock:
            if name not in self.model_ids:
                self.model_ids[name] = _stable_id(name)
                self.acls[("registered-models", self.model_ids[name])] = {
                    ("user_name", self.user): {"CAN_MANAGE"}
                }
            return self.model_ids[name]

    def get_permissions(self, object_type: str, object_id: str) -> dict:
        with self.lock:
            direct = self._acl(object_type, object_id)
            entries = []
            for (key, name), levels in sorted(direct.items()):
                entries.append(
                    {
                        key: name,
                        "display_name": name,
                        "all_permissions": [
                            {"permission_level": level, "inherited": False}
                            for level in sorted(levels)
                        ],
                    }
                )
            entries.append(
                {
                    "group_name": "admins",
                    "all_permissions": [
                        {
                            "permission_level": "CAN_MANAGE",
                            "inherited": True,
                            "inherited_from_object": ["/directories/"],
                        }
                    ],
                }
            )
        return {
            "object_id": f"/{object_type}/{object_id}",
            "object_type": _OBJECT_TYPES[object_type],
            "access_control_list": entries,
        }

    def permission_levels(self, object_type: str) -> dict:
        return {
            "permission_levels": [
                {"permission_level": level, "description": level} for level in _LEVELS[object_type]
            ]
        }

    def update_permissions(
        self, object_type: str, object_id: str, body: dict, replace: bool
    ) -> dict:
        with self.lock:
            acl = self._acl(object_type, object_id)
            changes = []
            for entry in body.get("access_control_list") or []:
                key = next((k for k in PRINCIPAL_KEYS if entry.get(k)), None)
                level = entry.get("permission_level")
                if key is None or level not in _LEVELS[object_type]:
                    raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Invalid ACL entry {entry}")
                if not self._exists(key, entry[key]):
                    kind = {
                        "user_name": "UserName",
                        "group_name": "GroupName",
                        "service_principal_name": "ServicePrincipalName",
                    }[key]
                    raise ApiError(
                        400,
                        "INVALID_PARAMETER_VALUE",
                        f"Principal: {kind}({entry[key]}) does not exist",
                    )
                changes.append(((key, entry[key]), level))
            if replace:
                acl.clear()
            for principal, level in changes:
                acl.setdefault(principal, set()).add(level)
        return self.get_permissions(object_type, object_id)

    def _acl(self, object_type: str, object_id: str) -> dict:
        acl = self.acls.get((object_type, object_id))
        if acl is None:
            raise ApiError(
                404,
                "RESOURCE_DOES_NOT_EXIST",
                f"{_OBJECT_TYPES.get(object_type, object_type)} {object_id} not found",
            )
        return acl

    # Unity Catalog grants ---------------------------------------------------------------------

    def get_grants(self, securable: str, full_name: str) -> dict:
        with self.lock:
            grants = self._grants(securable, full_name)
            return {
                "privilege_assignments": [
                    {"principal": p, "privileges": sorted(v)}
                    for p, v in sorted(grants.items())
                    if v
                ]
            }

    def update_grants(self, securable: str, full_name: str, body: dict) -> dict:
        with self.lock:
            grants = self._grants(securable, full_name)
            for change in body.get("changes") or []:
                principal = change.get("principal")
                if not any(
                    principal in s for s in (self.users, self.groups, self.service_principals)
                ):
                    raise ApiError(
                        400,
                        "PRINCIPAL_DOES_NOT_EXIST",
                        f"Could not find principal with name {principal}",
                    )
                held = grants.setdefault(principal, set())
                held.update(change.get("add") or [])
                held.difference_update(change.get("remove") or [])
        return self.get_grants(securable, full_name)

    def _grants(self, securable: str, full_name: str) -> dict[str, set[str]]:
        if securable.lower() != "function":
            raise ApiError(
                400, "INVALID_PARAMETER_VALUE", f"Models are FUNCTION securables, not {securable}"
            )
        if full_name not in self.uc_models:
            raise ApiError(
                404, "RESOURCE_DOES_NOT_EXIST", f"Function '{full_name}' does not exist."
            )
        return self.grants.setdefault(full_name, {})


def _norm(path: str) -> str:
    return "/" + path.strip("/") if path.strip("/") else "/"


def _stable_id(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:32]


def _scim_equals(filter_: str | None, attribute: str) -> str | None:
    """The value of a ``<attribute> eq "value"`` filter (the only form the tool sends)."""
    if not filter_:
        return None
    prefix = f"{attribute} eq "
    if not filter_.startswith(prefix):
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Unsupported filter {filter_}")
    return json.loads(filter_[len(prefix) :])


def _render(obj: WorkspaceObject, source: bytes, fmt: str) -> tuple[bytes, str]:
    """The notebook in one export format (shapes, not Databricks' exact bytes)."""
    text = source.decode()
    if fmt == "SOURCE":
        return source, _FILE_TYPES[obj.language]
    if fmt == "HTML":
        return (
            f"<!DOCTYPE html><html><body><pre>{html.escape(text)}</pre></body></html>".encode(),
            "html",
        )
    cells = [c.strip("\n") for c in text.split("# COMMAND ----------")]
    if fmt == "JUPYTER":
        notebook = {
            "nbformat": 4,
            "nbformat_minor": 0,
            "metadata": {"language": obj.language},
            "cells": [
                {"cell_type": "code", "source": c, "metadata": {}, "outputs": []} for c in cells
            ],
        }
        return json.dumps(notebook).encode(), "ipynb"
    if fmt == "DBC":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            name = posixpath.basename(obj.path) + "." + _FILE_TYPES[obj.language]
            archive.writestr(
                name,
                json.dumps(
                    {
                        "name": posixpath.basename(obj.path),
                        "commands": [{"command": c} for c in cells],
                    }
                ),
            )
        return buffer.getvalue(), "dbc"
    raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Unknown export format {fmt}")
