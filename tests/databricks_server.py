"""A local stand-in for a Databricks workspace, in front of a real ``mlflow server``.

It answers, on a free loopback port, the documented REST endpoints the tool calls:
workspace export / import / mkdirs / get-status, the permissions API for experiments and
registered models, Unity Catalog grants (``/api/2.1/unity-catalog/permissions/function/...``),
SCIM lookups, ``/api/2.0/mlflow/databricks/registered-models/get``, and the artifact credential
API that MLflow's Databricks artifact repository uses (signed URLs served by this same server).
Everything else under ``/api/2.0/mlflow/`` goes to the real MLflow server behind it, with its
artifact locations shown as Databricks shows them (``dbfs:/databricks/mlflow-tracking/...``).

So the real databricks-sdk and MLflow's ``databricks`` tracking store run end to end against
``DATABRICKS_HOST=http://127.0.0.1:PORT``. What it adds on top of MLflow, as a workspace does:
a bearer token is required; runs belong to the token's user; experiment names are workspace
paths whose folder must exist; the ``mlflow.*`` tags a workspace refuses are refused.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import urllib3

from tests.databricks_state import ApiError, WorkspaceState

DBFS_ROOT = "dbfs:/databricks/mlflow-tracking/"
OSS_ROOT = "mlflow-artifacts:/"
# Tags a workspace refuses from clients (it sets them itself).
REFUSED_RUN_TAGS = {"mlflow.log-model.history", "mlflow.rootRunId"}
REFUSED_EXPERIMENT_TAGS = {"mlflow.experiment.sourceType", "mlflow.experiment.sourceId"}
_OSS_MODEL = re.compile(r"mlflow-artifacts:/(\d+)/models/(m-[0-9a-f]+)/artifacts")
_DBFS_MODEL = re.compile(r"dbfs:/databricks/mlflow-tracking/(\d+)/logged_models/(m-[0-9a-f]+)/")


def to_databricks(text: str) -> str:
    """MLflow's artifact locations as a workspace shows them."""
    text = _OSS_MODEL.sub(lambda m: f"{DBFS_ROOT}{m[1]}/logged_models/{m[2]}/artifacts", text)
    return text.replace(OSS_ROOT, DBFS_ROOT)


def to_mlflow(text: str) -> str:
    text = _DBFS_MODEL.sub(lambda m: f"{OSS_ROOT}{m[1]}/models/{m[2]}/", text)
    return text.replace(DBFS_ROOT, OSS_ROOT)


@dataclass
class FakeWorkspace:
    """A running stand-in; ``url`` is its DATABRICKS_HOST, ``token`` its DATABRICKS_TOKEN."""

    url: str
    token: str
    state: WorkspaceState
    backend: str
    server: ThreadingHTTPServer
    requests: list[tuple[str, str]] = field(default_factory=list)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def calls(self, prefix: str) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if p.startswith(prefix)]


def start_workspace(backend_url: str, user: str = "migrator@example.com") -> FakeWorkspace:
    """Serve a workspace stand-in on a free loopback port, in a thread, in front of
    ``backend_url`` (a real ``mlflow server`` with proxied artifacts)."""
    state = WorkspaceState(user=user)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    host, port = server.server_address
    fake = FakeWorkspace(
        f"http://{host}:{port}",
        "dapi" + secrets.token_hex(16),
        state,
        backend_url.rstrip("/"),
        server,
    )
    server.fake = fake  # type: ignore[attr-defined]
    server.pool = urllib3.PoolManager(maxsize=16)  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True, name=f"fake-dbx-{port}").start()
    return fake


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # the tests read requests from FakeWorkspace.requests
        pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = lambda self: self._serve()

    @property
    def fake(self) -> FakeWorkspace:
        return self.server.fake  # type: ignore[attr-defined]

    # Dispatch ---------------------------------------------------------------------------------

    def _serve(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path
        query = dict(urllib.parse.parse_qsl(parsed.query))
        body = self._body()
        self.fake.requests.append((self.command, path))
        try:
            if path == "/.well-known/databricks-config":
                return self._json(200, {"workspace_id": "1234567890"})
            if path.startswith("/_signed/"):
                return self._forward(
                    f"/api/2.0/mlflow-artifacts/artifacts/{path[9:]}", body, rewrite=False
                )
            if self.headers.get("Authorization") != f"Bearer {self.fake.token}":
                raise ApiError(401, "UNAUTHENTICATED", "Invalid access token.")
            answer = self._route(path, query, body)
            if answer is not None:
                self._json(200, answer)
        except ApiError as err:
            self._json(err.status, {"error_code": err.code, "message": err.message})
        except Exception as exc:  # a bug here must reach the test as an answer, not a hang
            self._json(500, {"error_code": "INTERNAL_ERROR", "message": repr(exc)})

    def _route(self, path: str, query: dict, body: bytes):
        state, method = self.fake.state, self.command
        data = _json_body(body) if method in ("POST", "PATCH", "PUT") else {}
        if path == "/api/2.0/workspace/get-status":
            return state.get_status(query["path"])
        if path == "/api/2.0/workspace/export":
            return state.export_notebook(query)
        if path == "/api/2.0/workspace/import":
            state.import_notebook(data)
            return {}
        if path == "/api/2.0/workspace/mkdirs":
            state.mkdirs(data["path"])
            return {}
        if m := re.fullmatch(r"/api/2\.0/preview/scim/v2/(Users|Groups|ServicePrincipals)", path):
            return state.scim_list(m[1], query.get("filter"))
        if m := re.fullmatch(
            r"/api/2\.0/permissions/(experiments|registered-models)/([^/]+)"
            r"(/permissionLevels)?",
            path,
        ):
            if m[3]:
                return state.permission_levels(m[1])
            if method == "GET":
                return state.get_permissions(m[1], m[2])
            return state.update_permissions(m[1], m[2], data, replace=method == "PUT")
        if m := re.fullmatch(r"/api/2\.1/unity-catalog/permissions/([^/]+)/(.+)", path):
            name = urllib.parse.unquote(m[2])
            if method == "GET":
                return state.get_grants(m[1], name)
            return state.update_grants(m[1], name, data)
        if path == "/api/2.0/mlflow/databricks/registered-models/get":
            return self._databricks_model(query["name"])
        if path.startswith("/api/2.0/mlflow/") and "/credentials-for-" in path:
            return self._credentials(path, data)
        if path.startswith(("/api/2.0/mlflow/", "/api/2.0/mlflow-artifacts/")):
            self._check_tracking_call(path, data)
            if path.endswith("/experiments/create"):
                status, _, answer = self._pass_on(self.path, body, rewrite=True)
                if status != 200:
                    error = json.loads(answer)
                    raise ApiError(status, error.get("error_code"), error.get("message"))
                created = json.loads(answer)
                state.register_experiment(data["name"], created["experiment_id"])
                return created
            return self._forward(self.path, body, rewrite=True)
        raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")

    # What a workspace adds to MLflow ------------------------------------------------------------

    def _check_tracking_call(self, path: str, data: dict) -> None:
        """Refuse what a workspace refuses; runs belong to the token's user."""
        state = self.fake.state
        if path.endswith("/experiments/create"):
            state.check_experiment_name(data.get("name", ""))
            _refuse(data.get("tags"), REFUSED_EXPERIMENT_TAGS)
        elif path.endswith("/experiments/set-experiment-tag"):
            _refuse([data], REFUSED_EXPERIMENT_TAGS)
        elif path.endswith("/runs/create"):
            _refuse(data.get("tags"), REFUSED_RUN_TAGS)
            data["user_id"] = state.user
            data["tags"] = [t for t in data.get("tags") or [] if t["key"] != "mlflow.user"]
            data["tags"].append({"key": "mlflow.user", "value": state.user})
            self._replaced_body = json.dumps(data).encode()
        elif path.endswith(("/runs/set-tag", "/runs/log-batch")):
            tags = data.get("tags") if path.endswith("log-batch") else [data]
            _refuse(tags, REFUSED_RUN_TAGS | {"mlflow.user"})

    def _databricks_model(self, name: str) -> dict:
        answer = self._backend(
            "GET", "/api/2.0/mlflow/registered-models/get?" + urllib.parse.urlencode({"name": name})
        )
        model = answer["registered_model"]
        return {
            "registered_model_databricks": {
                "name": model["name"],
                "id": self.fake.state.model_id(model["name"]),
                "creation_timestamp": model.get("creation_timestamp"),
                "permission_level": "CAN_MANAGE",
                "user_id": self.fake.state.user,
            }
        }

    def _credentials(self, path: str, data: dict) -> dict:
        """Signed URLs (type AWS_PRESIGNED_URL) that this server answers under /_signed/."""
        if m := re.fullmatch(
            r"/api/2\.0/mlflow/logged-models/([^/]+)/artifacts/"
            r"credentials-for-(upload|download)",
            path,
        ):
            model = self._backend("GET", f"/api/2.0/mlflow/logged-models/{m[1]}")["model"]
            root = model["info"]["artifact_uri"]
            return {
                "credentials": [
                    {"model_id": m[1], "credential_info": self._signed(root, p, run_id=None)}
                    for p in data.get("paths") or []
                ]
            }
        run = self._backend("GET", f"/api/2.0/mlflow/runs/get?run_id={data['run_id']}")["run"]
        root = run["info"]["artifact_uri"]
        return {
            "credential_infos": [
                self._signed(root, p, run_id=data["run_id"]) for p in data.get("path") or []
            ]
        }

    def _signed(self, root: str, relative: str, run_id: str | None) -> dict:
        if not root.startswith(OSS_ROOT):
            raise ApiError(500, "INTERNAL_ERROR", f"unexpected artifact root {root}")
        location = root[len(OSS_ROOT) :].strip("/") + "/" + relative.lstrip("/")
        info = {
            "path": relative,
            "type": "AWS_PRESIGNED_URL",
            "headers": [],
            "signed_uri": f"{self.fake.url}/_signed/{urllib.parse.quote(location)}",
        }
        if run_id:
            info["run_id"] = run_id
        return info

    # HTTP plumbing ------------------------------------------------------------------------------

    def _body(self) -> bytes:
        self._replaced_body = None
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while (size := int(self.rfile.readline().strip() or b"0", 16)) > 0:
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _backend(self, method: str, path: str) -> dict:
        response = self.server.pool.request(method, self.fake.backend + path)  # type: ignore
        answer = json.loads(response.data or b"{}")
        if response.status != 200:
            raise ApiError(
                response.status,
                answer.get("error_code", "INTERNAL_ERROR"),
                answer.get("message", ""),
            )
        return answer

    def _forward(self, path_and_query: str, body: bytes, rewrite: bool) -> None:
        status, ctype, data = self._pass_on(path_and_query, body, rewrite)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _pass_on(self, path_and_query: str, body: bytes, rewrite: bool):
        """Send the request to the MLflow server; its answer, with locations rewritten."""
        if rewrite:
            body = self._replaced_body or body
            body = to_mlflow(body.decode()).encode() if body else body
            path_and_query = _mlflow_path(path_and_query)
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept")}
        response = self.server.pool.request(  # type: ignore[attr-defined]
            self.command,
            self.fake.backend + path_and_query,
            body=body or None,
            headers=headers,
            redirect=False,
            preload_content=True,
        )
        data = response.data
        ctype = response.headers.get("Content-Type", "application/octet-stream")
        if rewrite and "json" in ctype:
            data = to_databricks(data.decode()).encode()
        return response.status, ctype, data

    def _json(self, status: int, answer: dict) -> None:
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _json_body(body: bytes) -> dict:
    try:
        data = json.loads(body) if body else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}  # a file upload (the Files API MLflow tries first), not a JSON call
    return data if isinstance(data, dict) else {}


def _mlflow_path(path_and_query: str) -> str:
    """The request path with any Databricks artifact location in its query mapped back."""
    parsed = urllib.parse.urlsplit(path_and_query)
    if DBFS_ROOT not in urllib.parse.unquote(parsed.query):
        return path_and_query
    query = [(k, to_mlflow(v)) for k, v in urllib.parse.parse_qsl(parsed.query)]
    return parsed._replace(query=urllib.parse.urlencode(query)).geturl()


def _refuse(tags, refused: set[str]) -> None:
    for tag in tags or []:
        if tag.get("key") in refused:
            raise ApiError(
                400, "INVALID_PARAMETER_VALUE", f"Tag '{tag['key']}' is reserved and cannot be set"
            )
