"""What a verification found, grouped by object, as text for people and JSON for programs.

A finding is one of: ``missing`` (the source object has no counterpart on the destination),
``changed`` (a field differs; both values are kept), ``duplicate`` (a second counterpart), or
``info`` (a difference MLflow's API cannot avoid, such as a new run id). Only ``info`` findings
leave a verification successful.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

MISSING = "missing"
CHANGED = "changed"
DUPLICATE = "duplicate"
INFO = "info"

# Shown for a value that one side does not have at all (a deleted tag, an absent file).
ABSENT = "(absent)"
_TEXT_LIMIT = 160


@dataclass
class Finding:
    """One difference of one object: its kind, the field, and both sides' values."""

    kind: str
    field: str | None = None
    source: Any = None
    destination: Any = None
    note: str | None = None

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "field": self.field,
            "source": self.source,
            "destination": self.destination,
            "note": self.note,
        }

    def line(self) -> str:
        """One readable line (long values shortened; the JSON report keeps them whole)."""
        label = f"{self.kind:<9} {self.field or ''}".rstrip()
        if self.kind == CHANGED:
            text = f"{label}: {_short(self.source)} -> {_short(self.destination)}"
        elif self.kind == INFO and self.field:
            text = f"{label}: {_short(self.source)} -> {_short(self.destination)}"
        else:
            text = label
        return f"{text} ({self.note})" if self.note else text


@dataclass
class ObjectResult:
    """One source object (run, logged_model, experiment, registered_model, model_version) and
    what was found about its destination counterpart."""

    kind: str
    source_id: str
    destination_id: str | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.kind == INFO for f in self.findings)

    @property
    def status(self) -> str:
        kinds = {f.kind for f in self.findings}
        for kind in (MISSING, DUPLICATE, CHANGED):
            if kind in kinds:
                return kind
        return "ok"

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "source_id": self.source_id,
            "destination_id": self.destination_id,
            "status": self.status,
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass
class Verification:
    """Everything one verify call compared and found; ``ok`` when nothing required differs."""

    source: str = ""
    destination: str = ""
    objects: list[ObjectResult] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, source_id: str, destination_id: str | None) -> ObjectResult:
        result = ObjectResult(kind, source_id, destination_id)
        with self._lock:
            self.objects.append(result)
        return result

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.objects)

    def find(self, kind: str | None = None, source_id: str | None = None) -> list[ObjectResult]:
        return [
            o
            for o in self.objects
            if (kind is None or o.kind == kind) and (source_id is None or o.source_id == source_id)
        ]

    def findings(self, kind: str | None = None) -> list[tuple[ObjectResult, Finding]]:
        """Every (object, finding) pair, of one finding kind if given."""
        return [(o, f) for o in self.objects for f in o.findings if kind in (None, f.kind)]

    def counts(self) -> dict[str, Counter]:
        by_kind: dict[str, Counter] = {}
        for o in self.objects:
            by_kind.setdefault(o.kind, Counter())[o.status] += 1
        return by_kind

    def summary_lines(self) -> list[str]:
        lines = []
        for kind, counter in self.counts().items():
            parts = ", ".join(f"{n} {status}" for status, n in sorted(counter.items()))
            lines.append(f"{kind.replace('_', ' ')}s: {parts}")
        lines.append("Verified: nothing required differs." if self.ok else "Differences found.")
        return lines

    def report_lines(self, show_info: bool = False) -> list[str]:
        """The readable report: each object with a finding, then its findings indented."""
        lines = []
        for o in sorted(self.objects, key=lambda o: (o.kind, o.source_id)):
            shown = [f for f in o.findings if show_info or f.kind != INFO]
            if not shown:
                continue
            target = f" -> {o.destination_id}" if o.destination_id else ""
            lines.append(f"{o.kind.replace('_', ' ')} {o.source_id}{target}: {o.status}")
            lines.extend("  " + f.line() for f in shown)
        return lines

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "source": self.source,
            "destination": self.destination,
            "summary": {k: dict(c) for k, c in self.counts().items()},
            "objects": [o.to_dict() for o in self.objects],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=_jsonable, ensure_ascii=False)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _short(value: Any) -> str:
    text = ABSENT if value is None else repr(value)
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 3] + "..."
