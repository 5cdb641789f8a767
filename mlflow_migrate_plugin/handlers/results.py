"""What a handler's export or import of one object returns, the same for every object kind.

The :class:`~..report.Report` keeps every outcome for the user; these small values answer the
caller that needs the result of this one call (a version's run, a copy's new version) without
searching the report for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Exported:
    """Object ``source_id`` of ``kind`` written to ``path`` (None: nothing was written)."""

    kind: str
    source_id: str
    path: Path | None


@dataclass(frozen=True)
class Imported:
    """Object ``source_id`` of ``kind`` on the destination as ``destination_id``.

    ``status`` is the report's (``imported``, ``skipped`` when an earlier import had made it).
    ``related`` maps the source ids of the objects made with it to theirs on the destination
    (a run's LoggedModels).
    """

    kind: str
    source_id: str
    destination_id: str | None
    status: str
    related: dict[str, str] = field(default_factory=dict)
