"""The interface every object kind implements, and the registry the containers iterate.

Two shapes of kind exist:

- an :class:`ExperimentPart` lives inside an experiment (traces, evaluation datasets): the
  experiment handler exports it into ``<experiment export>/<folder>/`` after the runs and
  LoggedModels, and imports it after them, so the id map already holds the destination runs
  and LoggedModels it links to;
- a :class:`ServerKind` stands on its own on the server (registered models, prompts): bulk
  export/import iterates every one of the source's objects of that kind.

Adding a kind is one handler module that defines a part or kind object, one record module in
``exportdir/``, its CLI lines, and its entry in the tuples below.
"""

from __future__ import annotations

import importlib
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ..context import Migration
from ..report import Report
from .results import Exported, Imported


class ExperimentPart(ABC):
    """Objects of one kind that belong to an experiment."""

    kind: str  # the report's kind, e.g. "trace"
    folder: str  # its folder in an experiment export, e.g. "traces"

    def wanted(self, ctx: Migration) -> bool:
        """Whether this command moves this kind (an option can leave it out)."""
        return True

    def supported(self, ctx: Migration) -> bool:
        """Whether the source (export) or destination (import) has this kind at all."""
        return True

    @abstractmethod
    def export_part(self, ctx: Migration, experiment, folder: Path) -> None:
        """Write every object of this kind in ``experiment`` (an MLflow Experiment) to
        ``folder``, recording each outcome in ``ctx.report``."""

    @abstractmethod
    def import_part(self, ctx: Migration, folder: Path, experiment_id: str) -> None:
        """Import what ``folder`` holds into destination experiment ``experiment_id``; rerun
        safe; each outcome in ``ctx.report``; source -> destination ids into ``ctx.ids``."""


class ServerKind(ABC):
    """Objects of one kind that stand on their own on a server."""

    kind: str
    folder: str  # its folder in a bulk export, e.g. "prompts"

    def supported(self, ctx: Migration) -> bool:
        return True

    @abstractmethod
    def names(self, ctx: Migration) -> list[str]:
        """Every object of this kind on ``ctx.src``, in a stable order."""

    @abstractmethod
    def export_one(self, ctx: Migration, name: str, folder: Path) -> Exported:
        """Write object ``name`` to ``folder``."""

    @abstractmethod
    def import_one(self, ctx: Migration, folder: Path) -> Imported:
        """Import the object ``folder`` holds; return what it became on the destination."""

    def link_experiments(self, ctx: Migration, destination_of: Callable[[str], str | None]) -> None:
        """After the experiments of a bulk import or copy: link this kind's objects that
        ``ctx.report`` holds to the destination experiments migrated from the source
        experiments they were linked to (``destination_of`` names the destination experiment
        of a source experiment id, None if it was not migrated). Most kinds have no such link."""
        return None

    def copy_one(self, ctx: Migration, name: str) -> Imported:
        """Copy object ``name`` from ``ctx.src`` to ``ctx.dst`` (copy-all); return what it
        became on the destination. By default through a temporary folder removed at once: the
        export half's outcomes stay out of ``ctx.report`` (the copy is one outcome, the
        import's), its warnings go in."""
        exported = Report()
        with tempfile.TemporaryDirectory(prefix="mlflow-migrate-kind-") as tmp:
            folder = Path(tmp) / self.folder
            self.export_one(replace(ctx, report=exported), name, folder)
            for message in exported.warnings:
                ctx.report.warn(message)
            return self.import_one(ctx, folder)


# "module:attribute" of each registered kind, in the order they are imported: an experiment's
# traces after its runs and LoggedModels (they link to both) and its evaluation datasets after
# them; prompts before experiments in a bulk import, so that traces find their prompt versions.
_EXPERIMENT_PARTS: tuple[str, ...] = (".traces:PART", ".evaluation_datasets:PART")
_SERVER_KINDS: tuple[str, ...] = (".prompts:SERVER_KIND",)


def _load(spec: str):
    module, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module, __package__), attribute)


def experiment_parts() -> list[ExperimentPart]:
    return [_load(spec) for spec in _EXPERIMENT_PARTS]


def server_kinds() -> list[ServerKind]:
    return [_load(spec) for spec in _SERVER_KINDS]
