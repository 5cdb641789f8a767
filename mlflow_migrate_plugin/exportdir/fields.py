"""Checks of single values read from an export's JSON, each naming the file and the field.

Every record an import uses is checked field by field before anything is created on the
destination (see :mod:`.records`): a wrong type, an unknown status or a string Python cannot
encode as UTF-8 stops the import with one line such as
``.../run.json: mlflow.info.start_time: expected an integer (ms since epoch), got 'yesterday'``.
Nothing is coerced: a step of ``1.5`` is refused, not cut to 1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import RecordError

MS = " (ms since epoch)"


class Where:
    """A field's place: the file and the dotted path inside its JSON (``mlflow.info.status``)."""

    def __init__(self, file: Path | str, field: str = ""):
        self.file = file
        self.field = field

    def __truediv__(self, name: str | int) -> Where:
        if isinstance(name, int):
            return Where(self.file, f"{self.field}[{name}]")
        # A key is part of the message: one holding a lone surrogate is shown escaped, since
        # it could not be printed otherwise.
        name = name.encode("utf-8", "backslashreplace").decode("utf-8")
        return Where(self.file, f"{self.field}.{name}" if self.field else name)

    def fail(self, problem: str) -> RecordError:
        """The error to raise: ``problem`` at this file and field."""
        return RecordError(self.file, self.field or "(top level)", problem)


def shown(value: Any) -> str:
    """A value as the message quotes it, cut short: a damaged field may be megabytes long."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _expected(where: Where, what: str, value: Any) -> RecordError:
    got = "null" if value is None else f"{_kind(value)} {shown(value)}"
    return where.fail(f"expected {what}, got {got}")


def text(where: Where, value: Any, *, required: bool = False) -> str | None:
    """A string that is valid Unicode (a JSON ``\\ud800`` escape gives a lone surrogate, which
    no server can store)."""
    if value is None:
        if required:
            raise where.fail("missing")
        return None
    if not isinstance(value, str):
        raise _expected(where, "a string", value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise where.fail(
            f"holds a lone surrogate {value[exc.start]!r} at character {exc.start}; not valid UTF-8"
        ) from None
    return value


def identifier(where: Where, value: Any, *, required: bool = False) -> str | None:
    """An id MLflow shows as a string; an integer (old experiment ids) is taken as its digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    result = text(where, value, required=required)
    if required and not result:
        raise where.fail("is empty")
    return result


def integer(where: Where, value: Any, what: str = "", *, required: bool = False) -> int | None:
    """A JSON integer: not a float (``1.5`` or ``1.0``), not a string, not a boolean."""
    if value is None:
        if required:
            raise where.fail("missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _expected(where, f"an integer{what}", value)
    return value


def number(where: Where, value: Any) -> float:
    """A metric value: an integer or a float; NaN and infinities are numbers too (our writer
    writes them as JSON's ``NaN``/``Infinity``, as Python's json module does)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _expected(where, "a number", value)
    if isinstance(value, int) and not math.isfinite(float(value)):  # pragma: no cover
        raise where.fail("integer too large for a metric value")
    return float(value)


def choice(where: Where, value: Any, allowed: Iterable[str], default: str | None = None) -> str:
    """One of ``allowed`` (MLflow's names of a status or lifecycle stage)."""
    allowed = list(allowed)
    if value is None and default is not None:
        return default
    if not isinstance(value, str) or value not in allowed:
        raise where.fail(f"expected one of {', '.join(allowed)}; got {shown(value)}")
    return value


def obj(where: Where, value: Any, *, required: bool = True) -> dict[str, Any]:
    """A JSON object (absent or null gives an empty one unless ``required``)."""
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise _expected(where, "an object", value)
    return value


def items(where: Where, value: Any) -> list[Any]:
    """A JSON list; absent or null is an empty one."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _expected(where, "a list", value)
    return value


def string_map(
    where: Where, value: Any, key_name: str = "key", value_name: str = "value"
) -> dict[str, str]:
    """Params, tags or aliases: ``{key: value}``, or mlflow-export-import's list of
    ``{key, value}`` pairs. Values must be strings (null is taken as the empty string)."""
    if not value:
        return {}
    # (where the key is, the key, where the value is, the value)
    pairs: list[tuple[Where, Any, Where, Any]] = []
    if isinstance(value, dict):
        pairs = [(where / k, k, where / k, v) for k, v in value.items()]
    elif isinstance(value, list):
        for i, pair in enumerate(value):
            at = where / i
            pair = obj(at, pair)
            pairs.append(
                (at / key_name, required(at, pair, key_name), at / value_name, pair.get(value_name))
            )
    else:
        raise _expected(where, "an object or a list of key/value pairs", value)
    out: dict[str, str] = {}
    for key_at, key, value_at, val in pairs:
        key = text(key_at, key, required=True)
        out[key] = "" if val is None else text(value_at, val, required=True)
    return out


def required(where: Where, record: dict[str, Any], name: str) -> Any:
    """``record[name]``, refusing a record that lacks it."""
    if name not in record or record[name] is None:
        raise (where / name).fail("missing")
    return record[name]
