"""The traces of an experiment export: ``<experiment export>/traces/<trace_id>.json``.

One file per trace, so that an experiment of thousands of traces is written and read one trace at
a time. Each file is the usual envelope: ``mlflow.trace_info`` is the trace's info as MLflow
serialises it (``TraceInfo.to_dict``: id, request time, duration, state, previews, tags, trace
metadata and assessments), ``mlflow.spans`` every span as ``Span.to_dict`` gives it (ids, parent,
name, times, attributes with span type, inputs and outputs, status, events), and
``mlflow.linked_run_ids`` the runs the trace was linked to with ``link_traces_to_run``.

A trace whose spans hold attachments (``mlflow.tracing.attachments.Attachment``: an image, audio,
a PDF; the span data keeps an ``mlflow-attachment://<id>?...`` reference) has their bytes beside
it, ``<trace_id>.attachments/<attachment id>``, and ``mlflow.attachments`` lists them with their
sizes (an export without the field, or an older one, has none). The files are written before the
trace file, so a trace file names only attachments that are all there.

A file is checked field by field before its trace is imported; an error names the file and the
field (``.../traces/tr-1.json: mlflow.spans[2].start_time_unix_nano: expected an integer``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mlflow.entities import Span, TraceInfo
from mlflow.entities.trace_state import TraceState

from .fields import Where, identifier, integer, items, obj, string_map, text
from .layout import read_json, write_json

TRACES_DIR = "traces"
SUFFIX = ".json"
ATTACHMENTS_SUFFIX = ".attachments"
_ATTACHMENT_ID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
# How span data refers to an attachment (``Attachment.ref``): ``mlflow-attachment://<id>?...``.
ATTACHMENT_SCHEME = "mlflow-attachment://"
_REF_ID = re.compile(rf"{re.escape(ATTACHMENT_SCHEME)}({_ATTACHMENT_ID.pattern})")


@dataclass
class TraceRecord:
    """One exported trace, checked: its info as MLflow's entity, its spans as the dicts MLflow
    reads (each checked with ``Span.from_dict``), so that an import can give them a new trace id
    where the destination has the old one already."""

    path: Path
    info: TraceInfo
    spans: list[dict]
    linked_run_ids: list[str]
    attachments: dict[str, Path] = field(default_factory=dict)  # attachment id -> its file

    @property
    def trace_id(self) -> str:
        return self.info.trace_id


def has_attachment_refs(span_dicts: Iterable[dict]) -> bool:
    """Whether any span of ``span_dicts`` refers to an attachment (in its inputs, outputs or
    another attribute): only then has the trace attachment files to look for."""
    return any(
        ATTACHMENT_SCHEME in value
        for span in span_dicts
        for value in (span.get("attributes") or {}).values()
        if isinstance(value, str)
    )


def referenced_attachments(span_dicts: Iterable[dict]) -> set[str]:
    """The attachment ids the ``mlflow-attachment://`` references of ``span_dicts`` name."""
    return {
        match.group(1)
        for span in span_dicts
        for value in (span.get("attributes") or {}).values()
        if isinstance(value, str) and ATTACHMENT_SCHEME in value
        for match in _REF_ID.finditer(value)
    }


def retarget_attachment_refs(text: str, old_id: str, trace_id: str) -> str:
    """``text`` with every ``mlflow-attachment://`` reference to trace ``old_id`` naming
    ``trace_id`` instead (``Attachment.ref``'s query: ``trace_id`` among its parameters)."""
    pattern = re.compile(
        rf"({re.escape(ATTACHMENT_SCHEME)}[^?\s\"\\]+\?(?:[^\s\"\\]*?&)?trace_id=)"
        rf"{re.escape(old_id)}(?=[&\s\"\\]|$)"
    )
    return pattern.sub(lambda m: m.group(1) + trace_id, text)


def attachments_dir(folder: Path, trace_id: str) -> Path:
    """Where the attachment files of trace ``trace_id`` are written in ``folder``."""
    return Path(folder) / f"{trace_id}{ATTACHMENTS_SUFFIX}"


def trace_file(folder: Path, trace_id: str) -> Path:
    """Where trace ``trace_id`` is written in ``folder``."""
    return Path(folder) / f"{trace_id}{SUFFIX}"


def write_trace(
    folder: Path,
    system: dict,
    trace,
    linked_run_ids: list[str],
    attachments: dict[str, int] | None = None,
) -> Path:
    """Write ``trace`` (an MLflow Trace with its spans) into ``folder``; atomically, so an
    interrupted export leaves the whole file or none. ``attachments`` (id -> size) are the
    files already written in :func:`attachments_dir`."""
    spans = [span.to_dict() for span in trace.data.spans]
    path = trace_file(folder, trace.info.trace_id)
    write_json(
        path,
        {
            "system": system,
            "info": {"span_count": len(spans)},
            "mlflow": {
                "trace_info": trace.info.to_dict(),
                "spans": spans,
                "linked_run_ids": sorted(linked_run_ids),
                "attachments": [
                    {"id": key, "size": size} for key, size in sorted((attachments or {}).items())
                ],
            },
        },
    )
    return path


def trace_files(folder: Path) -> Iterator[Path]:
    """The trace files of ``folder``, in a stable order (names only: nothing read yet)."""
    folder = Path(folder)
    if not folder.is_dir():
        return iter(())
    return iter(sorted(p for p in folder.iterdir() if p.suffix == SUFFIX and p.is_file()))


def read_trace(path: Path) -> TraceRecord:
    """The trace ``path`` holds, checked field by field (a :class:`RecordError` names the
    file and the field that is wrong)."""
    document = read_json(path, "trace")
    top = Where(path, "mlflow")
    record = document["mlflow"]
    info_at = top / "trace_info"
    info_dict = obj(info_at, record.get("trace_info"))
    _check_info(info_at, info_dict)
    try:
        info = TraceInfo.from_dict(info_dict)
    except Exception as exc:
        raise info_at.fail(f"not a trace info MLflow reads ({exc})") from None
    spans_at = top / "spans"
    spans = [_span(spans_at / i, value) for i, value in enumerate(items(spans_at, record["spans"]))]
    if not spans:
        raise spans_at.fail("a trace has at least one span")
    if not any(span.get("parent_span_id") is None for span in spans):
        raise spans_at.fail("no root span (a span without parent_span_id)")
    runs_at = top / "linked_run_ids"
    linked = [
        identifier(runs_at / i, value, required=True)
        for i, value in enumerate(items(runs_at, record.get("linked_run_ids")))
    ]
    attachments = _attachments(top / "attachments", record.get("attachments"), path, info)
    return TraceRecord(Path(path), info, spans, linked, attachments)


def _attachments(at: Where, value, path: Path, info: TraceInfo) -> dict[str, Path]:
    """Attachment id -> its file beside the trace file, each there with the size recorded."""
    folder = attachments_dir(Path(path).parent, info.trace_id)
    found = {}
    for i, entry in enumerate(items(at, value)):
        entry = obj(at / i, entry)
        attachment_id = identifier(at / i / "id", entry.get("id"), required=True)
        if not _ATTACHMENT_ID.fullmatch(attachment_id):
            raise (at / i / "id").fail(f"not an attachment id (a UUID): {attachment_id!r:.60}")
        size = integer(at / i / "size", entry.get("size"), " (bytes)", required=True)
        file = folder / attachment_id
        if not file.is_file() or file.is_symlink():
            raise (at / i).fail(f"attachment file {file} is missing")
        if file.stat().st_size != size:
            raise (at / i / "size").fail(f"{file} has {file.stat().st_size} bytes, not {size}")
        found[attachment_id] = file
    return found


def _check_info(at: Where, info: dict) -> None:
    identifier(at / "trace_id", info.get("trace_id"), required=True)
    location = obj(at / "trace_location", info.get("trace_location"))
    text(at / "trace_location" / "type", location.get("type"), required=True)
    text(at / "request_time", info.get("request_time"), required=True)
    state = info.get("state")
    if state not in {s.value for s in TraceState}:
        raise (at / "state").fail(
            f"expected one of {', '.join(s.value for s in TraceState)}; got {state!r:.60}"
        )
    for name in ("request_preview", "response_preview", "client_request_id"):
        text(at / name, info.get(name))
    string_map(at / "tags", info.get("tags"))
    string_map(at / "trace_metadata", info.get("trace_metadata"))
    for i, assessment in enumerate(items(at / "assessments", info.get("assessments"))):
        where = at / "assessments" / i
        assessment = obj(where, assessment)
        text(where / "assessment_name", assessment.get("assessment_name"), required=True)
        obj(where / "source", assessment.get("source"))
        if "feedback" not in assessment and "expectation" not in assessment:
            if "issue" not in assessment:
                raise where.fail("has no feedback, expectation or issue")


def _span(at: Where, value) -> dict:
    span = obj(at, value)
    identifier(at / "span_id", span.get("span_id"), required=True)
    identifier(at / "trace_id", span.get("trace_id"), required=True)
    text(at / "parent_span_id", span.get("parent_span_id"))
    text(at / "name", span.get("name"), required=True)
    for name in ("start_time_unix_nano", "end_time_unix_nano"):
        integer(at / name, span.get(name), " (ns since epoch)", required=True)
    string_map(at / "attributes", span.get("attributes"))
    for i, event in enumerate(items(at / "events", span.get("events"))):
        event = obj(at / "events" / i, event)
        text(at / "events" / i / "name", event.get("name"), required=True)
    try:
        Span.from_dict(span)
    except Exception as exc:
        raise at.fail(f"not a span MLflow reads ({exc})") from None
    return span
