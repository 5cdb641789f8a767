"""Field-by-field difference of two views (nested dicts of plain values).

Both views are in the source's terms: the destination's ids are mapped back to the source ids
they were imported from before comparing, so an equal view means an equal object.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .findings import CHANGED, Finding


def diff(expected: dict, actual: dict, prefix: str = "") -> list[Finding]:
    """A ``changed`` finding per differing field, named ``info.status``, ``tags[key]``,
    ``artifacts[path].sha256``; lists are compared as multisets and report only the items
    on one side."""
    findings: list[Finding] = []
    _diff_dict(expected, actual, prefix, findings, depth=0)
    return findings


ONE_SIDE_NOTE = "items only on the source -> only on the destination"
# Sections keyed by names users chose (a tag key, a file path): shown as ``tags[key]``.
KEYED_SECTIONS = frozenset(
    {"tags", "params", "metrics", "artifacts", "aliases", "spans", "assessments", "records"}
)


def _name(prefix: str, key: Any, depth: int) -> str:
    if depth == 0:
        return f"{prefix}.{key}" if prefix else str(key)
    if depth == 1 and prefix in KEYED_SECTIONS:
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}"


def _diff_dict(expected: dict, actual: dict, prefix: str, out: list[Finding], depth: int):
    for key in sorted(set(expected) | set(actual), key=str):
        name = _name(prefix, key, depth)
        if key not in actual:
            out.append(Finding(CHANGED, name, expected[key], None, "not on the destination"))
        elif key not in expected:
            out.append(Finding(CHANGED, name, None, actual[key], "only on the destination"))
        else:
            _diff_value(expected[key], actual[key], name, out, depth + 1)


def _diff_value(expected: Any, actual: Any, name: str, out: list[Finding], depth: int):
    if expected == actual:
        return
    if isinstance(expected, dict) and isinstance(actual, dict):
        _diff_dict(expected, actual, name, out, depth)
    elif isinstance(expected, list) and isinstance(actual, list):
        only_src, only_dst = _multiset_difference(expected, actual)
        if only_src or only_dst:
            out.append(Finding(CHANGED, name, only_src, only_dst, ONE_SIDE_NOTE))
        else:  # the same items in another order: lists here are sorted, so order matters
            out.append(Finding(CHANGED, name, expected, actual, "order differs"))
    else:
        out.append(Finding(CHANGED, name, expected, actual))


def _multiset_difference(a: list, b: list) -> tuple[list, list]:
    try:
        ca, cb = Counter(map(_hashable, a)), Counter(map(_hashable, b))
    except TypeError:
        return [x for x in a if x not in b], [x for x in b if x not in a]
    only_a = list((ca - cb).elements())
    only_b = list((cb - ca).elements())
    return [_plain(x) for x in only_a], [_plain(x) for x in only_b]


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
