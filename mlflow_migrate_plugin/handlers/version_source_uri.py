"""A model version's ``source`` URI, followed to what the destination made of it.

The server requires a version's source to lie inside the run or LoggedModel it names, so the
source moves with them: ``models:/<model id>`` to the new model's id, a path under a LoggedModel's
artifact location to the same path under the new one, ``runs:/<run id>/path`` to the new run, and
a path under the run's artifact root (``file``, ``s3``, ``dbfs``, ...) to the same path under the
new run's root. Nothing here talks to a server: the caller passes what it found.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from pathlib import PurePosixPath

RUNS_SCHEME = "runs:/"
MODELS_SCHEME = "models:/"
_FILE_SCHEME = "file://"


def logged_model_id(source: str | None) -> str | None:
    """The LoggedModel id of a ``models:/<model_id>`` source, else None (a registered model's
    ``models:/name/1`` or ``models:/name@alias`` names no LoggedModel)."""
    if not source:
        return None
    parsed = urllib.parse.urlparse(source)
    if parsed.scheme != "models" or parsed.netloc:
        return None
    parts = parsed.path.strip("/").split("/")
    if len(parts) != 1 or not parts[0] or "@" in parts[0]:
        return None
    return parts[0]


def model_source(
    source: str,
    old_model_id: str,
    old_location: str | None,
    new_model_id: str,
    new_location: Callable[[], str],
) -> str | None:
    """``source`` moved from LoggedModel ``old_model_id`` (artifacts at ``old_location``) to
    ``new_model_id``; None if the source is not inside the old model.

    ``new_location`` gives the new model's artifact location; it is asked only for a source
    that is a path under the old one (it costs the caller a request).
    """
    if logged_model_id(source) == old_model_id:
        return MODELS_SCHEME + new_model_id
    relative = relative_to(source, old_location)
    if relative is None:
        return None
    return join(new_location(), relative)


def run_source(
    source: str,
    old_run_id: str,
    old_artifact_uri: str | None,
    new_run_id: str,
    new_artifact_uri: str,
) -> str | None:
    """``source`` moved from run ``old_run_id`` (artifact root ``old_artifact_uri``) to
    ``new_run_id`` (root ``new_artifact_uri``); None if the source is not inside the old run.

    A source under another root than the run's recorded one (a store moved since) is followed
    by mlflow-export-import's rule: the path after ``<run id>/artifacts``.
    """
    if source.startswith(RUNS_SCHEME):
        run_part, _, path = source[len(RUNS_SCHEME) :].partition("/")
        if run_part == old_run_id:
            return f"{RUNS_SCHEME}{new_run_id}/{path}".rstrip("/")
        return None
    relative = relative_to(source, old_artifact_uri)
    if relative is None:
        relative = after_run_artifacts(source, old_run_id)
    if relative is None:
        return None
    return join(new_artifact_uri, relative)


def model_location(logged_models: list[dict], model_id: str) -> str | None:
    """The artifact location of ``model_id`` among a run record's ``logged_models``."""
    for model in logged_models:
        if model["model_id"] == model_id:
            return model.get("artifact_location")
    return None


def strip_file_scheme(uri: str) -> str:
    """A ``file://`` URI as the plain path MLflow also records for local stores."""
    return uri[len(_FILE_SCHEME) :] if uri.startswith(_FILE_SCHEME) else uri


def relative_to(source: str, root: str | None) -> str | None:
    """``source`` relative to ``root`` ("" for the root itself), or None if outside it."""
    if not root:
        return None
    source, root = strip_file_scheme(source).rstrip("/"), strip_file_scheme(root).rstrip("/")
    if source == root:
        return ""
    if source.startswith(root + "/"):
        return source[len(root) + 1 :]
    return None


def after_run_artifacts(source: str, run_id: str) -> str | None:
    """mlflow-export-import's rule, for sources under another root: the path after
    ``<run_id>/artifacts``."""
    marker = f"/{run_id}/artifacts"
    at = source.find(marker)
    if at < 0:
        return None
    rest = source[at + len(marker) :]
    if rest and not rest.startswith("/"):
        return None
    return rest.strip("/")


def join(root: str, relative: str) -> str:
    """``relative`` under ``root`` (the root itself for "")."""
    return f"{root.rstrip('/')}/{relative}" if relative else root.rstrip("/")


def logged_model_name(source: str | None) -> str:
    """A LoggedModel name from the last part of the version's source ("model" if none fits)."""
    if logged_model_id(source):
        return "model"
    last = PurePosixPath(str(source or "").rstrip("/")).name
    name = re.sub(r"[^\w.-]+", "_", last).strip("._")
    return name or "model"
