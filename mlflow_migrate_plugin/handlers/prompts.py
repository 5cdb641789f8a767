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
from collections.abc import Callable
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.prompt.constants import PROMPT_EXPERIMENT_IDS_TAG_KEY, PROMPT_NAME_RULE

from .. import interrupts
from ..capabilities import PROMPTS
from ..context import Migration
from ..endpoint import Endpoint, redact
from ..errors import MigrateError, NotFoundError, UnsupportedError, UsageError
from ..exportdir import prompt_dir
from ..exportdir.layout import system_part
from ..report import EXPORTED, IMPORTED, NO_PROGRESS, SKIPPED, Progress, Report
from ..transfer.engine import Engine
from .kinds import ServerKind
from .prompt_versions import (
    SOURCE_PREFIX,
    VERSION_KIND,
    VersionWriter,
    all_versions,
    tags_to_set,
    version_record,
)
from .results import Exported, Imported

_log = logging.getLogger(__name__)

KIND = "prompt"


def names(src: Endpoint) -> list[str]:
    """Every prompt on ``src`` (all pages), by name."""
    found, token = [], None
    while True:
        page = src.client.search_prompts(page_token=token)
        found += [p.name for p in page]
        token = page.token
        if not token:
            return sorted(found)


# Export ---------------------------------------------------------------------------------------


def export(
    src: Endpoint,
    name: str,
    output_dir: str | Path,
    report: Report,
    versions: list[str] | None = None,
    engine: Engine | None = None,
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
    # A search lists no aliases; each version's own answer does (asked concurrently).
    if engine is None:
        found = [client.get_prompt_version(name, v.version) for v in chosen]
    else:
        found = engine.run(lambda v=v: client.get_prompt_version(name, v.version) for v in chosen)
    records = sorted((version_record(pv) for pv in found), key=lambda r: int(r["version"]))
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
    import_source_tags: bool = False,
    progress: Progress = NO_PROGRESS,
) -> Imported:
    """Import a prompt export into prompt ``name`` (default: the exported name); return what
    it became on the destination. The whole export is checked before anything is created.
    ``import_source_tags`` records the creation times and users MLflow sets itself as
    ``mlflow_migrate.source.prompt.*`` and ``mlflow_migrate.source.prompt_version.*`` tags."""
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
    writer = VersionWriter(dst, name, rec["name"], report, progress, exists=existing is not None)
    writer.source_tags = import_source_tags
    created = False
    try:
        if existing is None:
            tags = tags_to_set(rec["tags"])
            if import_source_tags and rec["creation_timestamp"] is not None:
                tags[SOURCE_PREFIX + "creation_timestamp"] = str(rec["creation_timestamp"])
            with interrupts.deferred():
                _create_prompt(client, name, rec["description"], tags)
                created = True
        numbers = {v["version"]: writer.write(v) for v in rec["versions"]}
        changed = _set_aliases(client, name, rec["aliases"], numbers)
        if not created:
            changed += _sync_tags(client, name, existing.tags or {}, tags_to_set(rec["tags"]))
    except BaseException:
        _undo(dst, name, created, writer)
        raise
    new = created or writer.created or changed
    detail = f"{len(writer.created)} versions imported" if new else "already imported"
    outcome = report.add(KIND, rec["name"], IMPORTED if new else SKIPPED, name, detail)
    return Imported(KIND, rec["name"], name, outcome.status)


def _create_prompt(client, name: str, description: str | None, tags: dict) -> None:
    try:
        client.create_prompt(name, description=description, tags=tags)
    except MlflowException as exc:
        # MLflow's client retried a create whose answer was lost: the first try made it.
        if exc.error_code != "RESOURCE_ALREADY_EXISTS" or client.get_prompt(name) is None:
            raise


def _is_registered_model(client, name: str) -> bool:
    try:
        client.get_registered_model(name)
    except MlflowException:
        return False  # none, or one that is a prompt (MLflow shows prompts as no model)
    return True


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


def link_experiments(
    dst: Endpoint, names: list[str], destination_of: Callable[[str], str | None]
) -> list[str]:
    """Put each of prompts ``names`` in the Prompts tab of the destination experiments migrated
    from the source experiments it was in: MLflow lists a prompt there by its tag
    ``_mlflow_experiment_ids`` (",1,7,"), which the import keeps aside as
    ``mlflow_migrate.source.prompt.experiment_ids`` because its ids are the source's.
    ``destination_of`` names the destination experiment of a source experiment id (None: not
    migrated; that id stays in the aside tag only). Ids already in the tag stay. Return the
    prompts whose tag changed."""
    changed = []
    for name in names:
        prompt = dst.client.get_prompt(name)
        if prompt is None:
            continue
        tags = prompt.tags or {}
        source_ids = _id_list(tags.get(SOURCE_PREFIX + "experiment_ids"))
        current = _id_list(tags.get(PROMPT_EXPERIMENT_IDS_TAG_KEY))
        linked = list(current)
        for source_id in source_ids:
            experiment_name = destination_of(source_id)
            found = dst.client.get_experiment_by_name(experiment_name) if experiment_name else None
            if found is not None and found.experiment_id not in linked:
                linked.append(found.experiment_id)
        if linked != current:
            value = f",{','.join(linked)},"  # MLflow's form: commas around every id
            dst.client.set_prompt_tag(name, PROMPT_EXPERIMENT_IDS_TAG_KEY, value)
            changed.append(name)
    return changed


def _id_list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _undo(dst: Endpoint, name: str, created: bool, writer: VersionWriter) -> None:
    """Remove what a failed import made: the prompt if it created it, else its new versions."""
    try:
        if created:
            dst.client.delete_prompt(name)
        else:
            writer.discard_created()
    except Exception:  # best effort; the original error is what the user needs
        _log.debug("could not remove what the import of prompt %s made", name, exc_info=True)


class PromptKind(ServerKind):
    """Prompts as a kind of bulk export-all/import-all."""

    kind = KIND
    folder = prompt_dir.PROMPTS_DIR

    def supported(self, ctx: Migration) -> bool:
        endpoint = ctx.src if ctx.src is not None else ctx.dst
        return endpoint.supports(PROMPTS)

    def names(self, ctx: Migration) -> list[str]:
        return names(ctx.src)

    def export_one(self, ctx: Migration, name: str, folder: Path) -> Exported:
        return Exported(KIND, name, export(ctx.src, name, folder, ctx.report, engine=ctx.engine))

    def import_one(self, ctx: Migration, folder: Path) -> Imported:
        return import_(ctx.dst, folder, ctx.report, progress=ctx.progress)

    def link_experiments(self, ctx: Migration, destination_of: Callable[[str], str | None]) -> None:
        moved = {o.destination_id for o in ctx.report.find(KIND) if o.status in (IMPORTED, SKIPPED)}
        linked = link_experiments(ctx.dst, sorted(n for n in moved if n), destination_of)
        if linked:
            ctx.progress.note(f"Linked {len(linked)} prompts to their migrated experiments")


SERVER_KIND = PromptKind()
