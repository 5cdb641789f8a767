"""Model versions: their export record, and their creation on a destination with nothing lost.

A version keeps its number: MLflow gives a new version the highest number ever used plus one,
deleted versions included, so a gap in the source (a deleted version) is rebuilt by creating a
placeholder version and deleting it again. Each version created here carries its source identity
(``mlflow_migrate.source.model_version``) and an import state, so a rerun skips what is done and
completes what an interrupted import left half made. Stage, aliases, tags and description are
set as in the source; what MLflow does not let one set (creation times, the version's user, a
status other than READY) is recorded under ``mlflow_migrate.source.version.*`` on request.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from typing import Any

from mlflow.entities.model_registry.model_version_status import ModelVersionStatus
from mlflow.exceptions import MlflowException
from mlflow.tracking._model_registry import DEFAULT_AWAIT_MAX_SLEEP_SECONDS

from ... import idmap, interrupts
from ...databricks import unity_catalog
from ...endpoint import Endpoint
from ...errors import MigrateError, NotFoundError
from ...report import IMPORTED, NO_PROGRESS, SKIPPED, Progress, Report
from ..version_source_uri import logged_model_id
from . import create as version_create

_log = logging.getLogger(__name__)

STAGE_NONE = "None"
READY = ModelVersionStatus.to_string(ModelVersionStatus.READY)
PENDING = ModelVersionStatus.to_string(ModelVersionStatus.PENDING_REGISTRATION)
AWAIT_INTERVAL = 1.0
SOURCE_VERSION_PREFIX = idmap.PREFIX + "source.version."
# Recorded as tags with --import-source-tags: the fields the destination cannot reproduce.
SOURCE_FIELDS = (
    "name",
    "version",
    "source",
    "run_id",
    "model_id",
    "user_id",
    "status",
    "status_message",
    "run_link",
    "creation_timestamp",
    "last_updated_timestamp",
)
# The path a placeholder version names inside its run; the version is deleted at once.
PLACEHOLDER_PATH = "mlflow-migrate-placeholder"
_OWN_TAGS = idmap.MARKER_TAGS | {idmap.SOURCE_MODEL_VERSION}


def record(mv, aliases: list[str]) -> dict[str, Any]:
    """The export record of a version, from its public properties.

    Open-source servers do not return ``model_id``; a ``models:/<model_id>`` source names it.
    ``aliases`` come from the registered model, which lists them all.
    """
    return {
        "name": mv.name,
        "version": str(mv.version),
        "description": mv.description or "",
        "tags": dict(mv.tags or {}),
        "current_stage": mv.current_stage or STAGE_NONE,
        "aliases": sorted(aliases),
        "status": mv.status,
        "status_message": mv.status_message,
        "source": mv.source,
        "run_id": mv.run_id or None,
        "model_id": getattr(mv, "model_id", None) or logged_model_id(mv.source),
        "user_id": mv.user_id,
        "run_link": mv.run_link,
        "creation_timestamp": mv.creation_timestamp,
        "last_updated_timestamp": mv.last_updated_timestamp,
    }


def all_versions(client, name: str) -> list:
    """Every live version of registered model ``name`` (all pages), by number."""
    found, token = [], None
    while True:
        page = client.search_model_versions(idmap.equals("name", name), page_token=token)
        found += [v for v in page if v.name == name]
        token = page.token
        if not token:
            return sorted(found, key=lambda v: int(v.version))


def get(src: Endpoint, name: str, version: str):
    try:
        return src.client.get_model_version(name, str(version))
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise NotFoundError(
                f"version {version} of registered model '{name}' not found on {src.display}"
            ) from None
        raise


@dataclass
class Target:
    """What a new version is created from on the destination."""

    source: str
    run_id: str | None
    model_id: str | None


@dataclass
class VersionOptions:
    import_source_tags: bool = False
    # Seconds to wait for each version to be READY (None: MLflow's default, 300).
    await_creation_for: int | None = None
    stages_and_aliases: bool = True


class VersionWriter:
    """Creates versions of one destination model, in number order, keeping the numbers."""

    def __init__(
        self,
        dst: Endpoint,
        name: str,
        source_model: str,
        report: Report,
        options: VersionOptions,
        progress: Progress = NO_PROGRESS,
    ):
        self.dst, self.name, self.source_model = dst, name, source_model
        self.client = dst.client
        self.report, self.options, self.progress = report, options, progress
        self.created: list[str] = []
        self._by_key: dict[str, Any] = {}
        self._next = 1
        self.refresh()

    def refresh(self) -> None:
        """Learn what the destination model holds (it may have been created or emptied)."""
        try:
            versions = all_versions(self.client, self.name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            versions = []
        self._by_key = {
            v.tags[idmap.SOURCE_MODEL_VERSION]: v
            for v in versions
            if idmap.SOURCE_MODEL_VERSION in (v.tags or {})
        }
        # Deleted versions are not listed, so this is a lower bound the placeholders correct.
        self._next = max([int(v.version) for v in versions], default=0) + 1

    def key(self, rec: dict) -> str:
        return idmap.model_version_key(self.source_model, rec["version"])

    def done(self, rec: dict):
        """The destination version fully imported from ``rec`` before, else None."""
        found = self._by_key.get(self.key(rec))
        if found is not None and found.tags.get(idmap.STATE) == idmap.STATE_COMPLETE:
            return found
        return None

    def write(self, rec: dict, target: Target) -> str:
        """Create (or complete) the destination version of ``rec``; return its number."""
        found = self._by_key.get(self.key(rec))
        if found is not None:
            if found.tags.get(idmap.STATE) == idmap.STATE_COMPLETE:
                self.report.add(
                    "model_version", self.key(rec), SKIPPED, found.version, "already imported"
                )
                return found.version
            self.progress.note(f"  version {rec['version']}: completing an interrupted import")
            self._finish(found.version, rec, pending=True, resumed=True)
            self.report.add("model_version", self.key(rec), IMPORTED, found.version, "completed")
            return found.version
        number = int(rec["version"])
        self._fill_gap(number, target)
        # A version with no stage or alias to set is whole once created: mark it complete at
        # once (one call less per version); otherwise only once they are set.
        pending = self.options.stages_and_aliases and bool(
            (rec.get("current_stage") or STAGE_NONE) != STAGE_NONE or rec.get("aliases")
        )
        try:
            with interrupts.deferred():  # the cleanup must know the version before Ctrl-C
                mv = self._create(
                    target, self._tags(rec, complete=not pending), rec.get("description") or ""
                )
                self.created.append(mv.version)
        except MlflowException as exc:  # Unity Catalog's refusal names no version: name it
            refusal = unity_catalog.signature_refusal(exc, self.source_model, rec["version"])
            if refusal is not None:
                raise refusal from None
            raise
        self._await_ready(mv)
        self._next = int(mv.version) + 1
        if int(mv.version) != number:
            self.report.warn(
                f"version {number} of '{self.source_model}' became version {mv.version} of "
                f"'{self.name}': the destination model had already used the numbers up to "
                f"{int(mv.version) - 1}"
            )
        self._finish(mv.version, rec, pending)
        self.report.add("model_version", self.key(rec), IMPORTED, mv.version)
        return mv.version

    def _fill_gap(self, number: int, target: Target) -> None:
        """Create and delete placeholders until the next number MLflow hands out is ``number``."""
        if self._next >= number:
            return
        if self.dst.registry_is_unity_catalog:
            self.report.warn(
                f"version {number}: Unity Catalog cannot rebuild the gap before it; "
                "its number will differ"
            )
            return
        placeholder = target
        if target.run_id:  # a runs:/ source leaves the run's LoggedModels' tags alone
            placeholder = Target(f"runs:/{target.run_id}/{PLACEHOLDER_PATH}", target.run_id, None)
        while self._next < number:
            with interrupts.deferred():  # a placeholder is never left standing
                mv = self._create(placeholder, {idmap.STATE: "placeholder"}, None)
                self.client.delete_model_version(self.name, mv.version)
            self._next = int(mv.version) + 1
            self.progress.note(
                f"  version {mv.version}: a gap in the source, rebuilt "
                "(placeholder created and deleted)"
            )

    def _create(self, target: Target, tags: dict, description: str | None):
        # Waiting is ours (_await_ready): MLflow's own wait logs a line for every version.
        return version_create.create(
            self.dst, self.name, target.source, target.run_id, tags, description, target.model_id
        )

    def _await_ready(self, mv) -> None:
        """Wait until the version leaves PENDING_REGISTRATION; fail unless it is READY."""
        seconds = self.options.await_creation_for
        seconds = DEFAULT_AWAIT_MAX_SLEEP_SECONDS if seconds is None else seconds
        deadline = time.monotonic() + seconds
        while mv.status == PENDING:
            if time.monotonic() >= deadline:
                raise MigrateError(
                    f"version {mv.version} of '{self.name}' is still {PENDING} "
                    f"after {seconds}s (--await-creation-for)"
                )
            time.sleep(AWAIT_INTERVAL)
            mv = self.client.get_model_version(self.name, mv.version)
        if mv.status != READY:
            raise MigrateError(
                f"version {mv.version} of '{self.name}' failed to register: "
                f"{mv.status} {mv.status_message or ''}".strip()
            )

    def _tags(self, rec: dict, complete: bool = False) -> dict[str, str]:
        tags = {k: v for k, v in (rec.get("tags") or {}).items() if k not in _OWN_TAGS}
        if self.options.import_source_tags:
            for field in SOURCE_FIELDS:
                if rec.get(field) not in (None, ""):
                    tags[SOURCE_VERSION_PREFIX + field] = str(rec[field])
        tags[idmap.SOURCE_MODEL_VERSION] = self.key(rec)
        tags[idmap.STATE] = idmap.STATE_COMPLETE if complete else idmap.STATE_STARTED
        return tags

    def _finish(self, version: str, rec: dict, pending: bool, resumed: bool = False) -> None:
        """Stage and aliases, then the completion mark (if the version was made without it)."""
        client = self.client
        if resumed:
            client.update_model_version(self.name, version, rec.get("description") or "")
            for key, value in self._tags(rec).items():
                client.set_model_version_tag(self.name, version, key, value)
        if self.options.stages_and_aliases:
            self._stage(version, rec.get("current_stage") or STAGE_NONE)
            for alias in rec.get("aliases") or []:
                client.set_registered_model_alias(self.name, alias, version)
        status = rec.get("status") or READY
        if status != READY:
            self.report.warn(
                f"version {rec['version']}: status {status} cannot be set; the "
                f"destination version is {READY}"
            )
        if pending:
            client.set_model_version_tag(self.name, version, idmap.STATE, idmap.STATE_COMPLETE)

    def _stage(self, version: str, stage: str) -> None:
        if stage == STAGE_NONE:
            return
        if self.dst.registry_is_unity_catalog:
            self.report.warn(
                f"version {version}: Unity Catalog has no stages; stage '{stage}' is not set"
            )
            return
        with warnings.catch_warnings():  # stages are deprecated, and still what the source has
            warnings.simplefilter("ignore", FutureWarning)
            self.client.transition_model_version_stage(
                self.name, version, stage, archive_existing_versions=False
            )

    def discard_created(self) -> None:
        """Delete the versions this writer created (a failed import leaves none behind)."""
        for version in self.created:
            try:
                self.client.delete_model_version(self.name, version)
            except Exception:  # best effort; the original error is what the user needs
                _log.debug("could not delete version %s of %s", version, self.name, exc_info=True)
        self.created = []
