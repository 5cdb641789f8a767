"""Prompts of MLflow's prompt registry: export one with its versions, import it with nothing lost.

A prompt keeps its name, description, tags and aliases; each version its number, template (text
or chat messages), commit message, tags, model config and response format. Version numbers are
kept as registered models keep theirs (MLflow gives a new version the highest number ever used
plus one, so a version deleted on the source is rebuilt as a placeholder created and deleted at
once). Each imported version carries its source identity
(``mlflow_migrate.source.prompt_version``), so a rerun skips what is there, and a failed import
removes what it made: the prompt if it created it, else the versions it added.

Prompt tags that hold source ids (the experiments a prompt was used in, the runs a version was
linked to) would point at other objects on the destination; their values are kept under
``mlflow_migrate.source.prompt.*`` instead.
"""

from __future__ import annotations

import logging
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.prompt.constants import (
    PROMPT_ASSOCIATED_RUN_IDS_TAG_KEY,
    PROMPT_EXPERIMENT_IDS_TAG_KEY,
    PROMPT_NAME_RULE,
)

from .. import idmap, interrupts
from ..capabilities import PROMPTS
from ..context import Migration
from ..endpoint import Endpoint, redact
from ..errors import MigrateError, NotFoundError, UnsupportedError, UsageError
from ..exportdir import prompt_dir
from ..exportdir.layout import system_part
from ..report import EXPORTED, IMPORTED, NO_PROGRESS, SKIPPED, Progress, Report
from .kinds import ServerKind

_log = logging.getLogger(__name__)

KIND = "prompt"
VERSION_KIND = "prompt_version"
SOURCE_PREFIX = idmap.PREFIX + "source.prompt."
# Tags whose values are source ids: kept under SOURCE_PREFIX + the name given here.
_ID_TAGS = {
    PROMPT_EXPERIMENT_IDS_TAG_KEY: "experiment_ids",
    PROMPT_ASSOCIATED_RUN_IDS_TAG_KEY: "associated_run_ids",
}
_OWN_TAGS = idmap.MARKER_TAGS | {idmap.SOURCE_PROMPT_VERSION}
PLACEHOLDER_TEMPLATE = "mlflow-migrate placeholder (deleted at once)"
PLACEHOLDER = "placeholder"


def names(src: Endpoint) -> list[str]:
    """Every prompt on ``src`` (all pages), by name."""
    found, token = [], None
    while True:
        page = src.client.search_prompts(page_token=token)
        found += [p.name for p in page]
        token = page.token
        if not token:
            return sorted(found)


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


# Export ---------------------------------------------------------------------------------------


def export(
    src: Endpoint,
    name: str,
    output_dir: str | Path,
    report: Report,
    versions: list[str] | None = None,
) -> Path:
    """Write prompt ``name`` with every version (or the numbers in ``versions``) to
    ``output_dir/prompt.json``."""
    if not src.supports(PROMPTS):
        raise UnsupportedError(f"{src.described} has no prompt registry; no prompt to export")
    client = src.client
    prompt = client.get_prompt(name)
    if prompt is None:
        raise NotFoundError(f"prompt '{name}' not found on {src.display}")
    chosen = all_versions(client, name)
    if versions:
        by_number = {str(v.version): v for v in chosen}
        wanted = [str(int(v)) if str(v).isdigit() else str(v) for v in versions]
        missing = [v for v in wanted if v not in by_number]
        if missing:
            raise NotFoundError(f"prompt '{name}' has no version {', '.join(missing)} to export")
        chosen = [by_number[v] for v in sorted(set(wanted), key=int)]
    # A search lists no aliases; each version's own answer does.
    records = [version_record(client.get_prompt_version(name, v.version)) for v in chosen]
    aliases = {alias: rec["version"] for rec in records for alias in rec["aliases"]}
    prompt_dir.write(
        output_dir,
        system_part("export-prompt", redact(src.registry_uri)),
        {
            "name": prompt.name,
            "description": prompt.description,
            "tags": dict(prompt.tags or {}),
            "aliases": aliases,
            "creation_timestamp": prompt.creation_timestamp,
        },
        records,
    )
    for rec in records:
        report.add(VERSION_KIND, f"{name}/{rec['version']}", EXPORTED, str(output_dir))
    report.add(KIND, name, EXPORTED, str(output_dir), f"{len(records)} versions")
    return Path(output_dir)


# Import ---------------------------------------------------------------------------------------


def import_(
    dst: Endpoint,
    input_dir: str | Path,
    report: Report,
    name: str | None = None,
    *,
    delete_prompt: bool = False,
    progress: Progress = NO_PROGRESS,
) -> str:
    """Import a prompt export into prompt ``name`` (default: the exported name); return the
    destination name. The whole export is checked before anything is created."""
    rec = prompt_dir.read(input_dir)
    name = name or rec["name"]
    if not PROMPT_NAME_RULE.match(name):
        raise UsageError(f"--prompt-name {name!r}: a prompt name holds only letters, digits, _-.")
    if not dst.supports(PROMPTS):
        raise UnsupportedError(
            f"{dst.described} has no prompt registry, which prompt '{rec['name']}' needs; "
            "nothing imported"
        )
    client = dst.client
    if delete_prompt and client.get_prompt(name) is not None:
        client.delete_prompt(name)
        report.add(KIND, name, "deleted", name, "--delete-prompt")
    existing = client.get_prompt(name)
    if existing is None and _is_registered_model(client, name):
        raise MigrateError(
            f"'{name}' is a registered model on {dst.display}, not a prompt; "
            "import under another --prompt-name"
        )
    progress.note(f"Prompt '{rec['name']}' -> '{name}': {len(rec['versions'])} versions")
    writer = _VersionWriter(dst, name, rec["name"], report, progress, exists=existing is not None)
    created = False
    try:
        if existing is None:
            with interrupts.deferred():
                client.create_prompt(name, description=rec["description"], tags=_tags(rec["tags"]))
                created = True
        numbers = {v["version"]: writer.write(v) for v in rec["versions"]}
        changed = _set_aliases(client, name, rec["aliases"], numbers)
        if not created:
            changed += _sync_tags(client, name, existing.tags or {}, _tags(rec["tags"]))
    except BaseException:
        _undo(dst, name, created, writer)
        raise
    new = created or writer.created or changed
    detail = f"{len(writer.created)} versions imported" if new else "already imported"
    report.add(KIND, rec["name"], IMPORTED if new else SKIPPED, name, detail)
    return name


def _is_registered_model(client, name: str) -> bool:
    try:
        client.get_registered_model(name)
    except MlflowException:
        return False  # none, or one that is a prompt (MLflow shows prompts as no model)
    return True


def _tags(tags: dict[str, str]) -> dict[str, str]:
    """The tags to set on the destination: our markers left out, source ids recorded apart."""
    out = {k: v for k, v in tags.items() if k not in _OWN_TAGS and k not in _ID_TAGS}
    for key, field in _ID_TAGS.items():
        if tags.get(key):
            out[SOURCE_PREFIX + field] = tags[key]
    return out


def _set_aliases(client, name: str, aliases: dict[str, str], numbers: dict[str, str]) -> list:
    """Point each alias at the imported version; return the aliases that changed."""
    changed = []
    for alias, version in sorted(aliases.items()):
        target = numbers[version]
        try:
            current = client.get_prompt_version_by_alias(name, alias)
        except MlflowException:
            current = None
        if current is None or str(current.version) != str(target):
            client.set_prompt_alias(name, alias, int(target))
            changed.append(f"alias {alias}")
    return changed


def _sync_tags(client, name: str, current: dict, wanted: dict) -> list:
    """Tags new or changed at the source; tags only the destination has stay."""
    changed = []
    for key, value in wanted.items():
        if current.get(key) != value:
            client.set_prompt_tag(name, key, value)
            changed.append(f"tag {key}")
    return changed


def _undo(dst: Endpoint, name: str, created: bool, writer: _VersionWriter) -> None:
    """Remove what a failed import made: the prompt if it created it, else its new versions."""
    try:
        if created:
            dst.client.delete_prompt(name)
        else:
            writer.discard_created()
    except Exception:  # best effort; the original error is what the user needs
        _log.debug("could not remove what the import of prompt %s made", name, exc_info=True)


class _VersionWriter:
    """Creates the versions of one destination prompt in number order, keeping the numbers."""

    def __init__(self, dst, name: str, source_name: str, report, progress, exists: bool):
        self.client, self.name, self.source_name = dst.client, name, source_name
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

    def write(self, rec: dict) -> str:
        """Create the destination version of ``rec`` unless it is there; return its number."""
        key = f"{self.source_name}/{rec['version']}"
        found = self.by_key.get(key)
        if found is not None:
            self.report.add(VERSION_KIND, key, SKIPPED, str(found.version), "already imported")
            return str(found.version)
        number = int(rec["version"])
        self._fill_gap(number)
        tags = {**_tags(rec["tags"]), idmap.SOURCE_PROMPT_VERSION: key}
        pv = self._create(rec["template"], rec["commit_message"], tags, rec)
        if int(pv.version) > self.next:  # a retried create whose first try had committed
            pv = self._keep_first(key, pv)
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
        with interrupts.deferred():  # the cleanup must know the version before Ctrl-C
            pv = self.client.create_prompt_version(
                self.name,
                template,
                description=message,
                tags=tags,
                response_format=(rec or {}).get("response_format"),
                model_config=(rec or {}).get("model_config"),
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

    def _keep_first(self, key: str, pv):
        """Of the versions carrying ``key`` (a retry made more than one), keep the lowest."""
        copies = [
            v
            for v in all_versions(self.client, self.name)
            if (v.tags or {}).get(idmap.SOURCE_PROMPT_VERSION) == key
        ]
        if not copies:
            return pv
        for extra in copies[1:]:
            self.client.delete_prompt_version(self.name, str(extra.version))
            if str(extra.version) in self.created:
                self.created.remove(str(extra.version))
        if str(copies[0].version) not in self.created:
            self.created.append(str(copies[0].version))
        return copies[0]

    def discard_created(self) -> None:
        for version in self.created:
            try:
                self.client.delete_prompt_version(self.name, version)
            except Exception:  # best effort; the original error is what the user needs
                _log.debug("could not delete version %s of %s", version, self.name, exc_info=True)
        self.created = []


class PromptKind(ServerKind):
    """Prompts as a kind of bulk export-all/import-all."""

    kind = KIND
    folder = prompt_dir.PROMPTS_DIR

    def supported(self, ctx: Migration) -> bool:
        endpoint = ctx.src if ctx.src is not None else ctx.dst
        return endpoint.supports(PROMPTS)

    def names(self, ctx: Migration) -> list[str]:
        return names(ctx.src)

    def export_one(self, ctx: Migration, name: str, folder: Path) -> None:
        export(ctx.src, name, folder, ctx.report)

    def import_one(self, ctx: Migration, folder: Path) -> str:
        return import_(ctx.dst, folder, ctx.report, progress=ctx.progress)


SERVER_KIND = PromptKind()
