"""The other kinds standing on their own (prompts...) in a whole-server migration: which objects
export-all and copy-all take (one shard key for both), their export and import beside the
experiments and models, and their links to the migrated experiments afterwards."""

from __future__ import annotations

from pathlib import Path

from ..context import Migration
from ..endpoint import Endpoint
from ..exportdir.bulk_dir import model_folder
from ..exportdir.paths import safe_join
from ..report import FAILED, Progress, Report, failure_reason
from ..transfer.engine import Engine
from . import kinds
from .bulk_selection import Shard


def export_server_kinds(
    src: Endpoint, root: Path, engine: Engine, report: Report, shard: Shard, progress: Progress
) -> None:
    """Every object of each registered :class:`~.kinds.ServerKind` the source has, each into
    ``<root>/<kind folder>/<name>/``; a failure is reported and the others go on."""
    ctx = Migration(engine, report, src=src, progress=progress)
    for kind, name in server_kind_objects(ctx, shard):
        try:
            kind.export_one(ctx, name, safe_join(root, f"{kind.folder}/{model_folder(name)}"))
        except Exception as exc:
            report.add(kind.kind, name, FAILED, None, failure_reason(exc))


def server_kind_objects(ctx: Migration, shard: Shard) -> list[tuple[kinds.ServerKind, str]]:
    """(kind, name) of every object of each registered kind on ``ctx.src`` that ``shard``
    owns; export-all and copy-all choose alike, so a shard of one is the shard of the other."""
    chosen = []
    for kind in kinds.server_kinds():
        if kind.supported(ctx):
            names = kind.names(ctx)
            chosen += [(kind, n) for n in names if shard.owns(f"{kind.kind}:{model_folder(n)}")]
    return chosen


def import_server_kinds(
    dst: Endpoint, root: Path, engine: Engine, report: Report, shard: Shard, progress: Progress
) -> None:
    """Import every object folder :func:`export_server_kinds` wrote; rerun safe."""
    ctx = Migration(engine, report, dst=dst, progress=progress)
    for kind in kinds.server_kinds():
        base = root / kind.folder
        if not base.is_dir():
            continue
        for folder in sorted(p for p in base.iterdir() if p.is_dir() and not p.is_symlink()):
            if not shard.owns(f"{kind.kind}:{folder.name}"):
                continue
            try:
                kind.import_one(ctx, folder)
            except Exception as exc:
                report.add(kind.kind, folder.name, FAILED, None, failure_reason(exc))


def link_server_kinds(ctx: Migration, destination_of) -> None:
    """After the experiments: each server kind's links to them (a prompt's Prompts tab)."""
    for kind in kinds.server_kinds():
        try:
            kind.link_experiments(ctx, destination_of)
        except Exception as exc:  # the objects are there; a missing link is reported
            ctx.report.warn(f"could not link the {kind.kind}s to their experiments: {exc}")
