"""Prompt versions: their export record, and their creation on a destination, numbers kept.

MLflow gives a new prompt version the highest number ever used plus one, deleted versions
included, so versions are created in order and a gap in the source (a deleted version) is
rebuilt with a placeholder created and deleted at once. Each version carries its source identity
(``mlflow_migrate.source.prompt_version``), so a rerun finds it. Against a server the create is
sent once, through the model-version create that looks for the version by that identity before
it retries (a retry of a create whose answer was lost would take, and burn, the next number).
"""

from __future__ import annotations

import json
import logging

from mlflow.entities.model_registry.prompt_version import PromptModelConfig
from mlflow.prompt.constants import (
    _STORE_PROMPT_SOURCE_PLACEHOLDER,
    IS_PROMPT_TAG_KEY,
    PROMPT_ASSOCIATED_RUN_IDS_TAG_KEY,
    PROMPT_EXPERIMENT_IDS_TAG_KEY,
    PROMPT_MODEL_CONFIG_TAG_KEY,
    PROMPT_TEXT_TAG_KEY,
    PROMPT_TYPE_CHAT,
    PROMPT_TYPE_TAG_KEY,
    PROMPT_TYPE_TEXT,
    RESPONSE_FORMAT_TAG_KEY,
)

from .. import capabilities, idmap, interrupts
from ..report import IMPORTED, SKIPPED
from .model_version import create as version_create

_log = logging.getLogger(__name__)

VERSION_KIND = "prompt_version"
SOURCE_PREFIX = idmap.PREFIX + "source.prompt."
# Tags whose values are source ids: kept under SOURCE_PREFIX + the name given here.
_ID_TAGS = {
    PROMPT_EXPERIMENT_IDS_TAG_KEY: "experiment_ids",
    PROMPT_ASSOCIATED_RUN_IDS_TAG_KEY: "associated_run_ids",
}
_OWN_TAGS = idmap.MARKER_TAGS | {idmap.SOURCE_PROMPT_VERSION}
# With --import-source-tags: what MLflow sets itself, recorded under these prefixes.
SOURCE_VERSION_PREFIX = idmap.SOURCE_PROMPT_VERSION + "."
_SOURCE_VERSION_FIELDS = ("user_id", "creation_timestamp", "last_updated_timestamp")
# The source a prompt version is created with: the server refuses any other (MLflow's own).
PROMPT_SOURCE = _STORE_PROMPT_SOURCE_PLACEHOLDER
PLACEHOLDER_TEMPLATE = "mlflow-migrate placeholder (deleted at once)"
PLACEHOLDER = "placeholder"


def all_versions(client, name: str) -> list:
    """Every live version of prompt ``name`` (all pages), by number."""
    found, token = [], None
    while True:
        page = client.search_prompt_versions(name, page_token=token)
        found += list(page)
        token = page.token
        if not token:
            return sorted(found, key=lambda v: int(v.version))


def version_record(pv) -> dict:
    """The export record of a prompt version, from its public properties."""
    return {
        "version": str(pv.version),
        "template": pv.template,
        "commit_message": pv.commit_message,
        "tags": dict(pv.tags or {}),
        "model_config": pv.model_config,
        "response_format": pv.response_format,
        "aliases": sorted(pv.aliases or []),
        "user_id": pv.user_id or None,
        "creation_timestamp": pv.creation_timestamp,
        "last_updated_timestamp": pv.last_updated_timestamp,
    }


def stored_tags(template, response_format: dict | None, model_config: dict | None) -> dict:
    """The tags MLflow keeps a prompt version's content in, as its own prompt-version create
    writes them (``AbstractStore.create_prompt_version``)."""
    chat = not isinstance(template, str)
    tags = {
        IS_PROMPT_TAG_KEY: "true",
        PROMPT_TEXT_TAG_KEY: json.dumps(template) if chat else template,
        PROMPT_TYPE_TAG_KEY: PROMPT_TYPE_CHAT if chat else PROMPT_TYPE_TEXT,
    }
    if response_format:
        tags[RESPONSE_FORMAT_TAG_KEY] = json.dumps(response_format)
    if model_config:
        config = PromptModelConfig.from_dict(model_config).to_dict()
        tags[PROMPT_MODEL_CONFIG_TAG_KEY] = json.dumps(config)
    return tags


def tags_to_set(tags: dict[str, str]) -> dict[str, str]:
    """The tags to set on the destination: our markers left out, source ids recorded apart."""
    out = {k: v for k, v in tags.items() if k not in _OWN_TAGS and k not in _ID_TAGS}
    for key, field in _ID_TAGS.items():
        if tags.get(key):
            out[SOURCE_PREFIX + field] = tags[key]
    return out


class VersionWriter:
    """Creates the versions of one destination prompt in number order, keeping the numbers."""

    def __init__(self, dst, name: str, source_name: str, report, progress, exists: bool):
        self.dst, self.client, self.name, self.source_name = dst, dst.client, name, source_name
        self.report, self.progress = report, progress
        versions = all_versions(self.client, name) if exists else []
        self.by_key = {
            v.tags[idmap.SOURCE_PROMPT_VERSION]: v
            for v in versions
            if idmap.SOURCE_PROMPT_VERSION in (v.tags or {})
        }
        # Deleted versions are not listed: a lower bound, which the created number corrects.
        self.next = max((int(v.version) for v in versions), default=0) + 1
        self.created: list[str] = []
        self.source_tags = False

    def write(self, rec: dict) -> str:
        """Create the destination version of ``rec`` unless it is there; return its number."""
        key = f"{self.source_name}/{rec['version']}"
        found = self.by_key.get(key)
        if found is not None:
            self.report.add(VERSION_KIND, key, SKIPPED, str(found.version), "already imported")
            return str(found.version)
        number = int(rec["version"])
        self._fill_gap(number)
        tags = {**tags_to_set(rec["tags"]), idmap.SOURCE_PROMPT_VERSION: key}
        if self.source_tags:
            for field in _SOURCE_VERSION_FIELDS:
                if rec[field] is not None:
                    tags[SOURCE_VERSION_PREFIX + field] = str(rec[field])
        pv = self._create(rec["template"], rec["commit_message"], tags, rec)
        self.next = int(pv.version) + 1
        if int(pv.version) != number:
            self.report.warn(
                f"version {number} of prompt '{self.source_name}' became version {pv.version} "
                f"of '{self.name}': the destination prompt had already used the numbers up to "
                f"{int(pv.version) - 1}"
            )
        self.report.add(VERSION_KIND, key, IMPORTED, str(pv.version))
        return str(pv.version)

    def _create(self, template, message, tags: dict, rec: dict | None = None):
        rec = rec or {}
        with interrupts.deferred():  # the cleanup must know the version before Ctrl-C
            if capabilities.is_http(self.dst.registry_uri):
                # MLflow's client would retry a create whose answer was lost and burn a number:
                # the version is sent once, and looked for by its identity before a retry.
                stored = stored_tags(template, rec.get("response_format"), rec.get("model_config"))
                full = {**tags, **stored}  # a tag of the export never overrides the content
                pv = version_create.create(
                    self.dst, self.name, PROMPT_SOURCE, None, full, message, None,
                    identity_key=idmap.SOURCE_PROMPT_VERSION,
                )  # fmt: skip
            else:
                pv = self.client.create_prompt_version(
                    self.name,
                    template,
                    description=message,
                    tags=tags,
                    response_format=rec.get("response_format"),
                    model_config=rec.get("model_config"),
                )
            self.created.append(str(pv.version))
        return pv

    def _fill_gap(self, number: int) -> None:
        """Create and delete placeholders until the next number MLflow hands out is ``number``."""
        filled = False
        while self.next < number:
            pv = self._create(PLACEHOLDER_TEMPLATE, None, {idmap.STATE: PLACEHOLDER})
            self.client.delete_prompt_version(self.name, str(pv.version))
            self.created.remove(str(pv.version))
            self.next = int(pv.version) + 1
            filled = True
            self.progress.note(
                f"  version {pv.version}: a gap in the source, rebuilt "
                "(placeholder created and deleted)"
            )
        if filled:  # a retried create may have made a second placeholder: none may stay
            for pv in all_versions(self.client, self.name):
                if (pv.tags or {}).get(idmap.STATE) == PLACEHOLDER:
                    self.client.delete_prompt_version(self.name, str(pv.version))

    def discard_created(self) -> None:
        for version in self.created:
            try:
                self.client.delete_prompt_version(self.name, version)
            except Exception:  # best effort; the original error is what the user needs
                _log.debug("could not delete version %s of %s", version, self.name, exc_info=True)
        self.created = []
