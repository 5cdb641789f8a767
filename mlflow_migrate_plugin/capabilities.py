"""What a tracking server can do: its MLflow version and which features it answers.

An MLflow 2.x server has no LoggedModels (MLflow 3), one before 2.4 no dataset inputs, one before
2.3 no model aliases; a source without a feature simply has nothing of that kind to export, and a
destination without one cannot take it. Each feature is probed once, when a handler first asks,
with one cheap request that changes nothing (a search for one result, or a write refused for a
missing argument): a route the server does not have answers 404 without an MLflow error code.
:class:`~.endpoint.Endpoint` caches the answers; this module only knows how to ask.
"""

from __future__ import annotations

import logging
import urllib.parse

_log = logging.getLogger(__name__)

LOGGED_MODELS = "LoggedModels"
DATASET_INPUTS = "dataset inputs"
MODEL_ALIASES = "registered model aliases"
TRACES = "traces"
PROMPTS = "prompts"
EVALUATION_DATASETS = "evaluation datasets"
WORKSPACES = "workspaces"
FEATURES = (
    LOGGED_MODELS,
    DATASET_INPUTS,
    MODEL_ALIASES,
    TRACES,
    PROMPTS,
    EVALUATION_DATASETS,
    WORKSPACES,
)
# Features asked of the registry server; the others of the tracking server.
REGISTRY_FEATURES = frozenset({MODEL_ALIASES, PROMPTS})

# Method, path and body of the request that tells whether a feature is there. None of them
# writes: the searches ask for one result, and log-inputs without a run id is refused.
_PROBES: dict[str, tuple[str, str, dict]] = {
    LOGGED_MODELS: (
        "POST",
        "/api/2.0/mlflow/logged-models/search",
        {"experiment_ids": ["0"], "max_results": 1},
    ),
    DATASET_INPUTS: ("POST", "/api/2.0/mlflow/runs/log-inputs", {}),
    MODEL_ALIASES: ("GET", "/api/2.0/mlflow/registered-models/alias", {}),
    TRACES: ("GET", "/api/2.0/mlflow/traces", {"experiment_ids": "0", "max_results": 1}),
    # Prompts live in the model registry; the route that links them to traces came with them.
    PROMPTS: ("POST", "/api/2.0/mlflow/traces/link-prompts", {}),
    EVALUATION_DATASETS: ("POST", "/api/3.0/mlflow/datasets/search", {"max_results": 1}),
}
_SERVER_INFO = "/api/3.0/mlflow/server-info"
PROBE_TIMEOUT = 10.0
# What Databricks and the REST APIs of other MLflow hosts say for a route they do not have.
_NO_SUCH_ROUTE_CODES = frozenset({"ENDPOINT_NOT_FOUND", "NOT_IMPLEMENTED"})


def is_http(uri: str) -> bool:
    return urllib.parse.urlsplit(uri).scheme in ("http", "https")


def installed_version() -> str:
    import mlflow

    return mlflow.__version__


def local_store_has(feature: str, uri: str) -> bool:
    """A store this process opens itself (sqlite://, file://, a database) does what the
    installed MLflow (3.x, which this package requires) does; workspaces need a server."""
    return feature != WORKSPACES


def _host_creds(uri: str):
    """Credentials as MLflow's own REST store takes them: from the URI (user:password@host)
    and from MLflow's environment variables."""
    from mlflow.environment_variables import (
        MLFLOW_TRACKING_INSECURE_TLS,
        MLFLOW_TRACKING_PASSWORD,
        MLFLOW_TRACKING_TOKEN,
        MLFLOW_TRACKING_USERNAME,
    )
    from mlflow.utils.rest_utils import MlflowHostCreds

    return MlflowHostCreds(
        uri,
        username=MLFLOW_TRACKING_USERNAME.get(),
        password=MLFLOW_TRACKING_PASSWORD.get(),
        token=MLFLOW_TRACKING_TOKEN.get(),
        ignore_tls_verification=MLFLOW_TRACKING_INSECURE_TLS.get(),
    )


def _request(uri: str, method: str, path: str, body: dict | None = None):
    from mlflow.utils.rest_utils import http_request

    kwargs = {}
    if body is not None:
        kwargs = {"json": body} if method == "POST" else {"params": body}
    return http_request(
        _host_creds(uri),
        path,
        method,
        max_retries=0,
        timeout=PROBE_TIMEOUT,
        raise_on_status=False,
        **kwargs,
    )


def _route_missing(response) -> bool:
    if response.status_code not in (404, 501):
        return False
    try:
        code = response.json().get("error_code")
    except (ValueError, AttributeError):
        return True  # a plain "Not Found" page: no such route
    # An MLflow error with another code (RESOURCE_DOES_NOT_EXIST) came from the feature itself.
    return code is None or code in _NO_SUCH_ROUTE_CODES


def server_version(uri: str) -> str | None:
    """The MLflow version an ``mlflow server`` reports at ``/version``, else None."""
    try:
        response = _request(uri, "GET", "/version")
    except Exception:  # the version is shown when known; the real calls report real errors
        _log.debug("no /version from %s", uri, exc_info=True)
        return None
    text = response.text.strip() if response.status_code == 200 else ""
    return text if text[:1].isdigit() and len(text) < 40 else None


def server_has(uri: str, feature: str) -> bool:
    """Whether the HTTP server at ``uri`` answers ``feature`` (one request)."""
    if feature == WORKSPACES:
        response = _request(uri, "GET", _SERVER_INFO)
        if response.status_code != 200:
            return False
        try:
            return bool(response.json().get("workspaces_enabled"))
        except ValueError:
            return False
    method, path, body = _PROBES[feature]
    response = _request(uri, method, path, body)
    missing = _route_missing(response)
    _log.debug("probe %s %s: %s -> %s", method, path, response.status_code, not missing)
    return not missing
