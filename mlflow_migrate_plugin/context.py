"""One migration's shared state, passed explicitly to every handler.

A :class:`Migration` holds what a command's handlers all need: the two endpoints, the one
transfer engine, the report, the progress hook, the options each object kind was given, and the
map of source ids to destination ids that later objects need from earlier ones (a trace's run, a
version's LoggedModel, a prompt version a trace links to).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from .endpoint import Endpoint
from .report import NO_PROGRESS, Progress, Report
from .transfer.engine import Engine


class IdMap:
    """Source id -> destination id, per object kind; filled as objects land, thread-safe."""

    def __init__(self) -> None:
        self._ids: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def put(self, kind: str, source_id: str, destination_id: str) -> None:
        with self._lock:
            self._ids.setdefault(kind, {})[source_id] = destination_id

    def update(self, kind: str, pairs: dict[str, str]) -> None:
        with self._lock:
            self._ids.setdefault(kind, {}).update(pairs)

    def get(self, kind: str, source_id: str) -> str | None:
        with self._lock:
            return self._ids.get(kind, {}).get(source_id)

    def of(self, kind: str) -> dict[str, str]:
        """A copy of every pair of ``kind``."""
        with self._lock:
            return dict(self._ids.get(kind, {}))


@dataclass
class Migration:
    """Everything one command's handlers share.

    ``src`` is None on an import (the export directory is the source) and ``dst`` None on an
    export. ``options`` maps an object kind (``"trace"``, ``"prompt"``...) to that kind's own
    options object; a kind reads its entry with :meth:`options_of`.
    """

    engine: Engine
    report: Report
    src: Endpoint | None = None
    dst: Endpoint | None = None
    progress: Progress = NO_PROGRESS
    options: dict[str, Any] = field(default_factory=dict)
    ids: IdMap = field(default_factory=IdMap)

    @property
    def workers(self) -> int:
        return self.engine.workers

    def options_of(self, kind: str, default: Any = None) -> Any:
        return self.options.get(kind, default)
