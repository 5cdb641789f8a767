"""Incremental sync of registered models: bring a model imported before up to a newer export.

New versions are imported by the model import itself. This module updates, in place, what can
change on a model and its versions without a new version: the model's description and tags,
aliases (set or moved to the version that now holds them at the source), and each version
imported before: description, tags and stage. Registry objects are small, so each pass compares
them all (a few requests per model). Not propagated: tags and aliases removed at the source
(the destination may hold its own), versions deleted at the source, and a version's source or
run (fixed once it exists).
"""

from __future__ import annotations

import warnings

from .. import idmap
from ..endpoint import Endpoint
from ..exportdir.model_dir import ModelDir
from ..report import SKIPPED, Report
from . import model_version
from .run_sync import UPDATED


def sync_model(dst: Endpoint, input_dir, name: str, report: Report) -> list[str]:
    """Update destination model ``name`` and its versions imported before to the export in
    ``input_dir``; skipped version outcomes in ``report`` become ``updated``. Returns what
    changed on the model itself."""
    client = dst.client
    model_dir = ModelDir(input_dir)
    rec = model_dir.model
    current = client.get_registered_model(name)
    done: list[str] = []
    if (rec.get("description") or "") != (current.description or ""):
        client.update_registered_model(name, rec.get("description") or "")
        done.append("description")
    for key, value in _plain(rec.get("tags")).items():
        if (current.tags or {}).get(key) != value:
            client.set_registered_model_tag(name, key, value)
            done.append(f"tag {key}")
    by_key = {
        v.tags[idmap.SOURCE_MODEL_VERSION]: v
        for v in model_version.all_versions(client, name)
        if idmap.SOURCE_MODEL_VERSION in (v.tags or {})
    }
    skipped = {o.source_id: o for o in report.find("model_version", SKIPPED)}
    numbers: dict[str, str] = {}
    for entry in model_dir.versions:
        key = idmap.model_version_key(rec["name"], entry.version)
        found = by_key.get(key)
        if found is None:
            continue
        numbers[entry.version] = found.version
        changed = _sync_version(dst, name, found, entry.record)
        if changed and key in skipped:
            skipped[key].status, skipped[key].detail = UPDATED, ", ".join(changed)
    for alias, version in (rec.get("aliases") or {}).items():
        number = numbers.get(str(version))
        if number is not None and str((current.aliases or {}).get(alias)) != str(number):
            client.set_registered_model_alias(name, alias, number)
            done.append(f"alias {alias} -> {number}")
    return done


def _plain(tags) -> dict[str, str]:
    return {k: v for k, v in (tags or {}).items() if not k.startswith(idmap.PREFIX)}


def _sync_version(dst: Endpoint, name: str, found, rec: dict) -> list[str]:
    client, number = dst.client, found.version
    changed = []
    if (rec.get("description") or "") != (found.description or ""):
        client.update_model_version(name, number, rec.get("description") or "")
        changed.append("description")
    for key, value in _plain(rec.get("tags")).items():
        if (found.tags or {}).get(key) != value:
            client.set_model_version_tag(name, number, key, value)
            changed.append(f"tag {key}")
    stage = rec.get("current_stage") or model_version.STAGE_NONE
    if stage != (found.current_stage or model_version.STAGE_NONE) and not (
        dst.registry_is_unity_catalog
    ):
        with warnings.catch_warnings():  # stages are deprecated, and still what the source has
            warnings.simplefilter("ignore", FutureWarning)
            client.transition_model_version_stage(
                name, number, stage, archive_existing_versions=False
            )
        changed.append(f"stage {stage}")
    return changed
