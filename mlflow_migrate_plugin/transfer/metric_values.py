"""Metric points a destination's SQL store changes or drops, found on the way so they are named.

MLflow's SQL store (``SqlAlchemyStore.sanitize_metric_value`` and the ``metric_pk`` key) keeps
NaN, but stores ``inf``/``-inf`` as the largest finite doubles, and a point equal to another in
key, step, timestamp and value is kept once; a sqlite database also gives ``-0.0`` back as
``0.0`` (whether a server's database does is not known from here, so it is named too). A file
store (a source allowed with ``MLFLOW_ALLOW_FILE_STORE``) keeps all of them, so such an export
can hold them; the import says which points the destination did not take as they are.
"""

from __future__ import annotations

import math
import sys
import threading
import urllib.parse
from collections.abc import Iterable, Iterator

# What the SQL store writes instead of an infinite value.
LARGEST = sys.float_info.max
# Points named per metric key in one warning; the rest are counted.
EXAMPLES = 5


def stored_value(value: float) -> float:
    """The value MLflow's SQL store gives back for ``value``."""
    if math.isinf(value):
        return LARGEST if value > 0 else -LARGEST
    if value == 0.0:
        return 0.0  # -0.0 loses its sign
    return value


def _changed(value: float) -> bool:
    return math.isinf(value) or (value == 0.0 and math.copysign(1.0, value) < 0)


class ValueCheck:
    """Watches a run's metric batches on their way to a SQL-backed destination."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # The SQL store's identity of a point, hashed: memory stays small for long histories.
        self._seen: set[int] = set()
        self._changed: dict[str, list[tuple[int, float]]] = {}
        self._duplicates: dict[str, list[tuple[int, int, float]]] = {}

    @classmethod
    def for_destination(cls, tracking_uri: str) -> ValueCheck | None:
        """A check for a destination that changes values; None for a file store, which keeps
        every value and point as it is."""
        if urllib.parse.urlparse(tracking_uri).scheme in ("", "file"):
            return None
        return cls()

    def watch(self, batches: Iterable[list[dict]]) -> Iterator[list[dict]]:
        """The same batches, each point looked at as it passes."""
        for batch in batches:
            self._look(batch)
            yield batch

    def _look(self, batch: list[dict]) -> None:
        with self._lock:
            for p in batch:
                key, value = p["key"], float(p["value"])
                step, timestamp = int(p["step"]), int(p["timestamp"])
                nan = math.isnan(value)
                identity = hash((key, timestamp, step, 0.0 if nan else stored_value(value), nan))
                if identity in self._seen:
                    self._duplicates.setdefault(key, []).append((step, timestamp, value))
                else:
                    self._seen.add(identity)
                if _changed(value):
                    self._changed.setdefault(key, []).append((step, value))

    def warnings(self, run: str) -> list[str]:
        """One line per metric key with changed values, one per key with collapsed points."""
        lines = []
        for key, points in sorted(self._changed.items()):
            named = ", ".join(
                f"step {step}: {value!r} stored as {stored_value(value)!r}"
                + ("" if math.isinf(value) else " by sqlite")
                for step, value in points[:EXAMPLES]
            )
            lines.append(
                f"run {run}: metric {key!r} has {len(points)} value(s) the destination's SQL "
                f"store cannot hold and changes ({named}{_more(points)})"
            )
        for key, points in sorted(self._duplicates.items()):
            named = ", ".join(
                f"step {step}, timestamp {timestamp}, value {value!r}"
                for step, timestamp, value in points[:EXAMPLES]
            )
            lines.append(
                f"run {run}: metric {key!r} has {len(points)} point(s) equal to another in "
                f"step, timestamp and value; the destination keeps each once ({named}"
                f"{_more(points)})"
            )
        return lines


def _more(points: list) -> str:
    return f", and {len(points) - EXAMPLES} more" if len(points) > EXAMPLES else ""
