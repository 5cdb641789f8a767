"""``metrics.jsonl`` read line by line with a bound, every point checked.

A point is one short line (a key of at most 250 characters, a value, a step and a timestamp:
well under a kilobyte). A line longer than :data:`MAX_LINE_BYTES` is refused as soon as the
limit is passed, without reading the rest of it, so a damaged or crafted file cannot make an
import hold hundreds of megabytes. The limit can be raised with the environment variable
``MLFLOW_MIGRATE_MAX_METRICS_LINE_BYTES``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlflow.utils.validation import MAX_ENTITY_KEY_LENGTH

from ..errors import ExportDirError
from .fields import Where
from .layout import limit_from_env
from .records import metric_point

MAX_LINE_ENV = "MLFLOW_MIGRATE_MAX_METRICS_LINE_BYTES"
MAX_LINE_BYTES = 1 << 20


def max_line_bytes() -> int:
    """The longest ``metrics.jsonl`` line read: 1 MiB, or the environment's setting."""
    return limit_from_env(MAX_LINE_ENV, MAX_LINE_BYTES)


def read_points(path: Path) -> Iterator[dict[str, Any]]:
    """The points of ``path``, each checked (see :func:`.records.metric_point`)."""
    limit = max_line_bytes()
    with open(path, "rb") as stream:
        lineno = 0
        while line := stream.readline(limit + 1):
            lineno += 1
            if len(line) > limit and not line.endswith(b"\n"):
                raise ExportDirError(
                    f"{path}:{lineno}: line longer than {limit} bytes; not a metric point "
                    f"(the limit is set by {MAX_LINE_ENV})"
                )
            yield _point(path, lineno, line)


def _point(path: Path, lineno: int, line: bytes) -> dict[str, Any]:
    try:
        raw = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportDirError(f"{path}:{lineno}: not a metric point ({exc})") from None
    # The common case, checked inline: the full check below costs several times more, and a
    # history can hold millions of points.
    if (
        type(raw) is dict
        and type(raw.get("key")) is str
        and type(raw.get("value")) in (float, int)
        and type(raw.get("step")) is int
        and type(raw.get("timestamp")) is int
        and raw["timestamp"] >= 0
        and raw["key"].isascii()
        and len(raw["key"]) <= MAX_ENTITY_KEY_LENGTH
    ):
        return raw
    return metric_point(Where(f"{path}:{lineno}"), raw)
