"""The databricks-sdk client of one side, built the way MLflow builds its own for that URI.

``databricks`` uses the default configuration (DATABRICKS_HOST / DATABRICKS_TOKEN, or
DATABRICKS_CONFIG_PROFILE, or the DEFAULT profile); ``databricks://PROFILE`` and
``databricks-uc://PROFILE`` use that profile of ~/.databrickscfg. The URI goes through MLflow's
own credential resolution, and the client is MLflow's client for those credentials, so the SDK
and MLflow's REST store always talk to the same workspace with the same auth type (token, OAuth,
Azure CLI, basic, ...). Two sides with two profiles get two clients.

Only :class:`~mlflow_migrate_plugin.endpoint.Endpoint` calls :func:`client_for_uri`; everything
else takes an Endpoint.
"""

from __future__ import annotations

import configparser
import logging
import os
import posixpath
import urllib.parse
from typing import TYPE_CHECKING, Any

from ..errors import MigrateError, UsageError

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

    from ..endpoint import Endpoint

_log = logging.getLogger(__name__)

DATABRICKS_SCHEMES = ("databricks", "databricks-uc")


def is_databricks_uri(uri: str | None) -> bool:
    if not uri:
        return False
    scheme = urllib.parse.urlsplit(uri).scheme if "://" in uri else uri.split(":")[0]
    return scheme in DATABRICKS_SCHEMES


def profile_of(uri: str) -> str | None:
    """The profile named by ``databricks://PROFILE`` (None for plain ``databricks``)."""
    from mlflow.utils.uri import get_db_info_from_uri

    profile, _key_prefix = get_db_info_from_uri(uri) if "://" in uri else (None, None)
    return profile


def client_for_uri(uri: str) -> WorkspaceClient:
    """A WorkspaceClient for a ``databricks[-uc][://PROFILE]`` URI (MLflow's resolution)."""
    from mlflow.utils.databricks_utils import get_databricks_host_creds
    from mlflow.utils.rest_utils import get_workspace_client

    if not is_databricks_uri(uri):
        raise UsageError(f"'{uri}' is not a Databricks URI (databricks or databricks://PROFILE)")
    refuse_overridden_profile(uri)
    try:
        creds = get_databricks_host_creds(uri)
    except Exception as exc:  # MLflow raises several types for a missing or broken config
        raise MigrateError(
            f"{uri}: no usable Databricks credentials ({_first_line(exc)})"
        ) from None
    if creds.use_databricks_sdk:
        return get_workspace_client(
            creds.use_secret_scope_token, creds.host, creds.token, creds.databricks_auth_profile
        )
    # MLflow fell back to its own credential readers: hand what they found to the SDK.
    from databricks.sdk import WorkspaceClient

    if creds.token:
        return WorkspaceClient(host=creds.host, token=creds.token)
    return WorkspaceClient(host=creds.host, username=creds.username, password=creds.password)


def configured_host(uri: str) -> str | None:
    """The workspace URL a Databricks URI leads to, read as databricks-sdk reads it
    (DATABRICKS_HOST, else the profile's ``host``), so that an unreachable workspace can fail
    fast: the SDK retries it for minutes. None when only the SDK can tell (a secret-scope URI,
    or no configuration at all, which the SDK reports itself).

    Raises :class:`UsageError` for a profile URI that DATABRICKS_HOST would override.
    """
    from mlflow.utils.uri import get_db_info_from_uri

    refuse_overridden_profile(uri)
    if os.environ.get("DATABRICKS_HOST"):
        return os.environ["DATABRICKS_HOST"]
    profile, key_prefix = get_db_info_from_uri(uri) if "://" in uri else (None, None)
    if key_prefix is not None:
        return None
    profile = profile or os.environ.get("DATABRICKS_CONFIG_PROFILE") or "DEFAULT"
    return _config_file().get(profile, "host", fallback=None)


def _config_file() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(os.path.expanduser(os.environ.get("DATABRICKS_CONFIG_FILE", "~/.databrickscfg")))
    return parser


def refuse_overridden_profile(uri: str) -> None:
    """databricks-sdk reads DATABRICKS_HOST before the profile, so a profile URI would quietly
    reach the workspace of the environment; copying between two profiles would then read and
    write one workspace. Refuse that instead of guessing."""
    profile = profile_of(uri)
    env_host = os.environ.get("DATABRICKS_HOST")
    if not profile or not env_host:
        return
    profile_host = _config_file().get(profile, "host", fallback=None)
    if profile_host is None or _same_host(profile_host, env_host):
        return
    raise UsageError(
        f"{uri}: DATABRICKS_HOST ({env_host}) is set and databricks-sdk would use it instead of "
        f"profile '{profile}' ({profile_host}); unset DATABRICKS_HOST and DATABRICKS_TOKEN to "
        "use profiles"
    )


def _same_host(a: str, b: str) -> bool:
    def norm(h: str) -> str:
        h = h.strip().rstrip("/")
        return h if "://" in h else "https://" + h

    return norm(a) == norm(b)


def call(
    endpoint_client: WorkspaceClient,
    method: str,
    path: str,
    what: str,
    query: dict | None = None,
    body: dict | None = None,
) -> Any:
    """One REST call through the SDK (its auth, retries and error parsing), as plain JSON.

    Responses stay plain dicts: the typed SDK wrappers drop enum values they do not know
    (a permission level or privilege added later), and an export must keep everything.
    """
    from databricks.sdk.errors import DatabricksError

    try:
        return endpoint_client.api_client.do(method, path, query=query, body=body) or {}
    except DatabricksError as exc:
        raise DatabricksCallError(what, exc) from None


class DatabricksCallError(MigrateError):
    """A Databricks REST call failed; ``error_code`` is the service's code."""

    def __init__(self, what: str, exc: Exception):
        self.error_code = getattr(exc, "error_code", None) or type(exc).__name__
        self.status = getattr(exc, "status_code", None)
        self.cause = exc
        super().__init__(f"{what}: {self.error_code}: {_first_line(exc)}")


def ensure_folder(endpoint: Endpoint, folder: str) -> None:
    """Create workspace folder ``folder`` and its parents (mkdirs: nothing if it exists)."""
    if folder in ("", "/"):
        return
    call(
        endpoint.workspace,
        "POST",
        "/api/2.0/workspace/mkdirs",
        f"cannot create workspace folder '{folder}' on {endpoint.display}",
        body={"path": folder},
    )


def ensure_experiment_parent(endpoint: Endpoint, experiment_name: str) -> None:
    """Databricks experiment names are workspace paths; their folder must exist before
    create_experiment, so create it (the reference tool did the same)."""
    if not experiment_name.startswith("/"):
        raise UsageError(
            f"experiment name '{experiment_name}': on Databricks an experiment name is an "
            "absolute workspace path, e.g. /Users/me@example.com/my-experiment"
        )
    ensure_folder(endpoint, posixpath.dirname(experiment_name.rstrip("/")))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run_artifact_repo(artifact_uri: str, tracking_uri: str, registry_uri: str):
    """The artifact repository for a Databricks-tracked run or LoggedModel, bound to this side.

    MLflow resolves ``dbfs:/databricks/mlflow-tracking/...`` through the process-wide tracking
    URI unless the URI names the profile, so the profile is added as MLflow's own client does.
    MLflow's default repository for these URIs first tries a databricks-sdk client built from
    the default configuration, which ignores the profile: with two profiles it would reach the
    wrong workspace. The credentials-API repository honours the profile in the URI, so it is
    used directly. Returns None for any other artifact URI.
    """
    from mlflow.store.artifact.databricks_artifact_repo import DatabricksArtifactRepository
    from mlflow.utils.uri import (
        add_databricks_profile_info_to_artifact_uri,
        is_databricks_acled_artifacts_uri,
    )

    if not is_databricks_acled_artifacts_uri(artifact_uri):
        return None
    uri = add_databricks_profile_info_to_artifact_uri(artifact_uri, tracking_uri)
    return DatabricksArtifactRepository(
        uri.rstrip("/"), tracking_uri=tracking_uri, registry_uri=registry_uri
    )
