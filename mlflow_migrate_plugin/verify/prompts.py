"""Verify a prompt: its description, tags and aliases, and every live version against the
destination version of the same number (the import keeps numbers), by the rules of
``handlers/prompts.py``.

Compared per version: template, type (text or chat), commit message, tags, model config,
response format and aliases. The tags that name source experiments and runs are compared
where the import moves them (``mlflow_migrate.source.prompt.*``); the import's other own tags
are left out. Not compared: times and the version's user, which MLflow sets itself.
"""

from __future__ import annotations

from mlflow.prompt.constants import (
    PROMPT_ASSOCIATED_RUN_IDS_TAG_KEY,
    PROMPT_EXPERIMENT_IDS_TAG_KEY,
)

from .. import idmap
from ..errors import NotFoundError
from ..handlers.prompt_versions import VERSION_KIND, all_versions, tags_to_set
from ..handlers.prompts import KIND
from .diff import diff
from .findings import MISSING, Finding
from .runs import Context

_ID_TAG_KEYS = (PROMPT_EXPERIMENT_IDS_TAG_KEY, PROMPT_ASSOCIATED_RUN_IDS_TAG_KEY)


def verify_prompt(ctx: Context, name: str, dst_name: str | None = None) -> None:
    """Compare source prompt ``name`` with destination prompt ``dst_name`` (default: the same
    name), version by version."""
    dst_name = dst_name or name
    src_prompt = ctx.src.client.get_prompt(name)
    if src_prompt is None:
        raise NotFoundError(f"prompt '{name}' not found on {ctx.src.display}")
    dst_prompt = ctx.dst.client.get_prompt(dst_name)
    result = ctx.result.add(KIND, name, dst_name if dst_prompt else None)
    if dst_prompt is None:
        result.findings.append(Finding(MISSING, note=f"no prompt '{dst_name}'"))
        return
    src_versions = _versions(ctx, ctx.src.client, name)
    dst_versions = _versions(ctx, ctx.dst.client, dst_name)
    expected = {
        "description": src_prompt.description,
        "tags": _tags(src_prompt.tags, source=True),
        "aliases": _aliases(src_versions),
    }
    actual = {
        "description": dst_prompt.description,
        "tags": _tags(dst_prompt.tags),
        "aliases": _aliases(dst_versions),
    }
    result.findings += diff(expected, actual)
    for number, version in src_versions.items():
        one = ctx.result.add(VERSION_KIND, f"{name}/{number}", None)
        copy = dst_versions.get(number)
        if copy is None:
            one.findings.append(Finding(MISSING, note=f"no version {number} of '{dst_name}'"))
            continue
        one.destination_id = f"{dst_name}/{number}"
        one.findings += diff(_version_view(version, source=True), _version_view(copy))
    extra = sorted(set(dst_versions) - set(src_versions), key=int)
    if extra:
        result.findings.append(
            Finding("changed", "versions", None, extra, "on the destination only")
        )


def _versions(ctx: Context, client, name: str) -> dict:
    """Every live version by number, each as its own answer (a search lists no aliases)."""
    listed = all_versions(client, name)
    found = ctx.engine.run(lambda v=v: client.get_prompt_version(name, v.version) for v in listed)
    return {str(v.version): v for v in found}


def _tags(tags: dict | None, source: bool = False) -> dict:
    """Tags as the destination should hold them: the source's as the import writes them, the
    destination's without the import's markers (the source-id tags it writes are kept)."""
    tags = dict(tags or {})
    if source:
        return tags_to_set(tags)
    # MLflow's own id tags hold the destination's ids (an import-all links a prompt to the
    # experiments it migrated); the source's are compared in the tags the import keeps aside.
    return {
        k: v
        for k, v in tags.items()
        if (not k.startswith(idmap.PREFIX) or k in _ID_TAGS) and k not in _ID_TAG_KEYS
    }


# Where the import moves the tags that name source experiments and runs.
_ID_TAGS = frozenset(tags_to_set({k: "x" for k in _ID_TAG_KEYS}))


def _aliases(versions: dict) -> dict:
    return {alias: number for number, v in versions.items() for alias in (v.aliases or [])}


def _version_view(pv, source: bool = False) -> dict:
    return {
        "template": pv.template,
        "type": "text" if pv.is_text_prompt else "chat",
        "commit_message": pv.commit_message,
        "tags": _tags(pv.tags, source),
        "model_config": pv.model_config,
        "response_format": pv.response_format,
        "aliases": sorted(pv.aliases or []),
    }
