"""One side of a migration: its tracking and registry URIs and the clients built on them.

This is the only module that builds MLflow clients and artifact repositories. Every client gets
explicit URIs; MLflow's process-wide tracking URI is never read for work nor set.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from functools import cached_property

from . import capabilities
from .errors import UnreachableError

CONNECT_TIMEOUT_ENV = "MLFLOW_MIGRATE_CONNECT_TIMEOUT"
DEFAULT_CONNECT_TIMEOUT = 10.0


def default_tracking_uri() -> str:
    """The URI MLflow itself would use: $MLFLOW_TRACKING_URI, else its local default store."""
    import mlflow

    return mlflow.get_tracking_uri()


def default_registry_uri(tracking_uri: str) -> str:
    """$MLFLOW_REGISTRY_URI, else MLflow's documented default for the tracking URI."""
    env = os.environ.get("MLFLOW_REGISTRY_URI")
    if env:
        return env
    if tracking_uri == "databricks" or tracking_uri.startswith("databricks://"):
        return "databricks-uc" + tracking_uri[len("databricks") :]
    return tracking_uri


def redact(uri: str | None) -> str | None:
    """The URI without user:password, safe to print or write into an export."""
    if not uri:
        return uri
    parsed = urllib.parse.urlsplit(uri)
    if parsed.password is None and parsed.username is None:
        return uri
    host = parsed.hostname or ""
    if parsed.port:
        host = f"{host}:{parsed.port}"
    return urllib.parse.urlunsplit(parsed._replace(netloc=host))


_CREDENTIALS_IN_URL = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


def redact_text(text: str) -> str:
    """``text`` with any ``user:password@`` inside URLs removed (MLflow's errors quote URLs)."""
    return _CREDENTIALS_IN_URL.sub(r"\g<scheme>", text)


def connect_timeout() -> float:
    value = os.environ.get(CONNECT_TIMEOUT_ENV)
    return float(value) if value else DEFAULT_CONNECT_TIMEOUT


def reserve_http_connections(count: int) -> None:
    """Let MLflow's HTTP session keep ``count`` connections per server open, one for each
    thread that may be in a request at the same time.

    MLflow keeps at most ``MLFLOW_HTTP_POOL_MAXSIZE`` (default 10) connections per host; with
    more threads, each request beyond them opens a connection and drops it afterwards, and a
    fresh connection to an ``mlflow server`` waits longer for its first answer
    (docs/architecture.md, "Speed"). MLflow reads the variable when it builds its session, at
    the first request of the process, so this must run before that. A larger value set by the
    user is kept.
    """
    from mlflow.environment_variables import MLFLOW_HTTP_POOL_MAXSIZE

    if MLFLOW_HTTP_POOL_MAXSIZE.get() < count:
        os.environ[MLFLOW_HTTP_POOL_MAXSIZE.name] = str(count)


@dataclass
class Endpoint:
    """A tracking server plus its model registry, as one side of a migration."""

    tracking_uri: str
    registry_uri: str
    # What the server answers (capabilities.FEATURES), probed when first asked.
    _features: dict[str, bool] = field(default_factory=dict, repr=False, compare=False)
    _probe_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def resolve(cls, tracking_uri: str | None = None, registry_uri: str | None = None) -> Endpoint:
        """Fill in missing URIs the way MLflow would, so that they can be shown to the user."""
        tracking = tracking_uri or default_tracking_uri()
        return cls(tracking, registry_uri or default_registry_uri(tracking))

    @cached_property
    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri)

    def artifact_repo(self, artifact_uri: str):
        """MLflow's artifact repository for ``artifact_uri``, bound to this side's servers."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        if artifact_uri.startswith("runs:/") and not self.supports(capabilities.LOGGED_MODELS):
            artifact_uri = self._run_artifact_location(artifact_uri)
        if self.is_databricks:
            from .databricks.workspace import run_artifact_repo

            repo = run_artifact_repo(artifact_uri, self.tracking_uri, self.registry_uri)
            if repo is not None:
                return repo
        return get_artifact_repository(
            artifact_uri, tracking_uri=self.tracking_uri, registry_uri=self.registry_uri
        )

    def _run_artifact_location(self, runs_uri: str) -> str:
        """Where a ``runs:/<run id>/<path>`` URI points in the run's artifacts. MLflow 3's
        repository for such a URI also searches the run's LoggedModels, which an MLflow 2
        server answers with 404."""
        from mlflow.store.artifact.runs_artifact_repo import RunsArtifactRepository

        run_id, path = RunsArtifactRepository.parse_runs_uri(runs_uri)
        root = self.client.get_run(run_id).info.artifact_uri.rstrip("/")
        return f"{root}/{path}" if path else root

    @cached_property
    def workspace(self):
        """databricks-sdk WorkspaceClient of the tracking side (a Databricks URI only)."""
        from .databricks.workspace import client_for_uri

        return client_for_uri(self.tracking_uri)

    @cached_property
    def registry_workspace(self):
        """databricks-sdk WorkspaceClient of the registry side (Unity Catalog grants)."""
        from .databricks.workspace import client_for_uri

        if self.registry_uri == self.tracking_uri:
            return self.workspace
        return client_for_uri(self.registry_uri)

    @property
    def is_databricks(self) -> bool:
        return _scheme(self.tracking_uri) == "databricks"

    @property
    def registry_is_unity_catalog(self) -> bool:
        return _scheme(self.registry_uri) == "databricks-uc"

    @property
    def display(self) -> str:
        """Tracking (and registry, if different) URI without credentials."""
        tracking = redact(self.tracking_uri)
        if self.registry_uri == self.tracking_uri:
            return tracking
        return f"{tracking} (registry {redact(self.registry_uri)})"

    def supports(self, feature: str) -> bool:
        """Whether this side answers ``feature`` (one of :data:`capabilities.FEATURES`).

        Asked of the server once, with one request that changes nothing, and remembered; a
        store this process opens itself does what the installed MLflow does, and Databricks
        what current MLflow does.
        """
        with self._probe_lock:
            if feature not in self._features:
                uri = self.tracking_uri
                if feature in capabilities.REGISTRY_FEATURES:
                    uri = self.registry_uri
                if _scheme(uri) in ("databricks", "databricks-uc"):
                    found = feature != capabilities.WORKSPACES
                elif capabilities.is_http(uri):
                    found = capabilities.server_has(uri, feature)
                else:
                    found = capabilities.local_store_has(feature, uri)
                self._features[feature] = found
            return self._features[feature]

    @cached_property
    def server_version(self) -> str | None:
        """The MLflow version of the tracking server (``/version``), of this process for a
        store it opens itself, None when the server does not say (Databricks)."""
        if capabilities.is_http(self.tracking_uri):
            return capabilities.server_version(self.tracking_uri)
        if self.is_databricks:
            return None
        return capabilities.installed_version()

    @property
    def described(self) -> str:
        """:attr:`display` with the server's MLflow version, for messages about what it lacks."""
        version = self.server_version
        return f"{self.display} (MLflow {version})" if version else self.display

    def same_server_as(self, other: Endpoint) -> bool:
        return redact(self.tracking_uri) == redact(other.tracking_uri)

    def answers(self, timeout: float = 5.0) -> bool:
        """Whether the servers still answer (:meth:`check_reachable`, as a yes or no)."""
        try:
            self.check_reachable(timeout=timeout)
        except UnreachableError:
            return False
        return True

    def check_reachable(self, timeout: float | None = None) -> None:
        """Fail fast, within about ``timeout`` seconds, when an HTTP server does not accept
        connections, or accepts them and does not answer.

        MLflow's client retries a refused connection with backoff for minutes, and waits two
        minutes for each answer; a TCP connect tells the user at once that the address is wrong
        or the server is down, and one request to an MLflow server's ``/health`` (any HTTP
        answer will do) that it is hung.
        """
        timeout = connect_timeout() if timeout is None else timeout
        for uri in {self.tracking_uri, self.registry_uri}:
            databricks = _scheme(uri) in ("databricks", "databricks-uc")
            if databricks:
                from .databricks.workspace import configured_host

                # The workspace's URL; also refuses a profile DATABRICKS_HOST would override.
                host = configured_host(uri)
                if host is None:
                    continue
                uri = host if "://" in host else "https://" + host
            parsed = urllib.parse.urlsplit(uri)
            if parsed.scheme not in ("http", "https"):
                continue
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            try:
                with socket.create_connection((parsed.hostname, port), timeout=timeout):
                    pass
            except OSError as exc:
                raise UnreachableError(
                    f"cannot reach {redact(uri)} within {timeout:g}s ({exc.strerror or exc}); "
                    f"is the server running? (set {CONNECT_TIMEOUT_ENV} to wait longer)"
                ) from None
            if not databricks:
                _check_answers(uri, timeout)


def _check_answers(uri: str, timeout: float) -> None:
    """One GET of ``/health`` through MLflow's HTTP helper, no retries: a server that accepted
    the connection must answer within ``timeout``. Any status counts as an answer (a proxy's
    404, an auth layer's 401, a TLS refusal the real calls will report); only silence fails."""
    from mlflow.exceptions import MlflowException
    from mlflow.utils.rest_utils import MlflowHostCreds, http_request

    started = time.monotonic()
    try:
        http_request(
            MlflowHostCreds(uri),
            "/health",
            "GET",
            max_retries=0,
            timeout=timeout,
            raise_on_status=False,
        )
    except MlflowException:
        # Without retries a read timeout reaches us as a ConnectionError; a failure that took
        # the whole timeout is the silence this check is for.
        if time.monotonic() - started >= 0.9 * timeout:
            raise UnreachableError(
                f"{redact(uri)} accepts connections but does not answer within {timeout:g}s; "
                f"is the server hung or overloaded? (set {CONNECT_TIMEOUT_ENV} to wait longer)"
            ) from None


def _scheme(uri: str) -> str:
    return urllib.parse.urlsplit(uri).scheme if "://" in uri else uri.split(":")[0]
