"""Verify an experiment's MLflow 3 traces: each source trace against the destination trace
imported from it (tag :data:`~..idmap.SOURCE_TRACE_ID`), by the rules of ``handlers/traces.py``.

Compared: the trace info the import keeps (request time, duration, state, previews, client
request id, tags, metadata), every span (by span id, attributes and events included) and every
assessment. The run and LoggedModel a trace names, its assessments' runs and the runs it was
linked to are followed back to the source ids they were imported from. Not compared: the tags
the destination sets itself, the import's own ``mlflow_migrate.*`` tags, and the trace and
assessment ids when the destination had to give new ones (reported as info), and the
``mlflow.trace.infoFinalized`` mark the destination's ``start_trace`` sets on every trace.
An attachment reference in a span is compared without the trace id it names (each side names its
own trace), and the attachment files of a trace whose spans refer to one are compared by name,
size and sha256 (by size alone with ``sizes_only``).

Source traces are read a search page at a time, with their spans in one request per page, so
an experiment of thousands of traces is never held whole.
"""

from __future__ import annotations

import base64

from mlflow.exceptions import MlflowException
from mlflow.store.tracking import SEARCH_TRACES_DEFAULT_MAX_RESULTS
from mlflow.tracing.constant import (
    AssessmentMetadataKey,
    SpanAttributeKey,
    SpansLocation,
    TraceMetadataKey,
    TraceTagKey,
)
from mlflow.tracing.utils.artifact_utils import get_artifact_uri_for_trace

from .. import idmap
from ..exportdir.trace_dir import (
    ATTACHMENT_SCHEME,
    has_attachment_refs,
    retarget_attachment_refs,
)
from ..handlers.trace_export import ATTACHMENTS, KIND
from ..handlers.trace_rewrite import SERVER_TAGS
from .diff import diff
from .findings import ABSENT, CHANGED, DUPLICATE, INFO, MISSING, Finding
from .pairing import all_runs
from .runs import Context

# Tags the destination sets itself: where it keeps the spans and the trace's artifacts.
_SERVER_TAGS = frozenset(SERVER_TAGS)
_IN_TABLE = SpansLocation.TRACKING_STORE
_PER_BATCH = 10  # traces per batch read, as the export reads them
_SOURCE_RUN, _MODEL_ID = TraceMetadataKey.SOURCE_RUN, TraceMetadataKey.MODEL_ID
_INFO_FIELDS = (
    "client_request_id",
    "request_time",
    "execution_duration",
    "state",
    "request_preview",
    "response_preview",
)


def verify_traces(ctx: Context, src_experiment_id: str, dst_experiment_id: str, experiment) -> dict:
    """Compare every trace of the source experiment with its destination counterpart (the
    destination's other traces are named on ``experiment``, the experiment's result); return
    destination trace id -> source trace id (evaluation dataset records name traces)."""
    counterparts, dst_infos, unpaired = _imported(ctx, dst_experiment_id)
    if unpaired:
        experiment.findings.append(
            Finding(INFO, "traces", None, unpaired, "on the destination only (not imported)")
        )
    to_source = {dst_id: src_id for src_id, ids in counterparts.items() for dst_id in ids}
    linked: tuple[dict, dict] | None = None
    phase = ctx.progress.phase("Verifying traces", None, "traces")
    try:
        for page in _pages(ctx.src.client, src_experiment_id):
            if linked is None:  # a search per run: only once the experiment has a trace
                linked = (
                    _linked_runs(ctx, ctx.src.client, src_experiment_id),
                    _linked_runs(ctx, ctx.dst.client, dst_experiment_id),
                )
            src_traces = _full(
                ctx, ctx.src.client, {t.info.trace_id: _in_table(t.info) for t in page}
            )
            wanted = [counterparts[t][0] for t in src_traces if t in counterparts]
            dst_traces = _full(ctx, ctx.dst.client, {i: dst_infos[i] for i in wanted})
            for source_id, trace in src_traces.items():
                found = counterparts.get(source_id, [])
                copy = dst_traces.get(found[0]) if found else None
                _compare(ctx, trace, copy, found, linked)
                phase.advance()
    finally:
        phase.close()
    return to_source


def _pages(client, experiment_id: str):
    token = None
    while True:
        page = client.search_traces(
            locations=[experiment_id],
            max_results=SEARCH_TRACES_DEFAULT_MAX_RESULTS,
            page_token=token,
            include_spans=False,
        )
        if len(page):
            yield page
        token = page.token
        if not token:
            return


def _imported(ctx: Context, experiment_id: str) -> tuple[dict, dict[str, bool], list[str]]:
    """Source trace id -> the destination traces imported from it (complete ones first),
    whether each such trace's spans are in the span table, and the traces no import made."""
    found: dict[str, list[tuple]] = {}
    infos, unpaired = {}, []
    for page in _pages(ctx.dst.client, experiment_id):
        for t in page:
            source = t.info.tags.get(idmap.SOURCE_TRACE_ID)
            if source:
                complete = t.info.tags.get(idmap.STATE) == idmap.STATE_COMPLETE
                found.setdefault(source, []).append((not complete, t.info.trace_id))
                infos[t.info.trace_id] = _in_table(t.info)
            else:
                unpaired.append(t.info.trace_id)
    return {source: [i for _, i in sorted(ids)] for source, ids in found.items()}, infos, unpaired


def _in_table(info) -> bool:
    return info.tags.get(TraceTagKey.SPANS_LOCATION) == _IN_TABLE


def _full(ctx: Context, client, infos: dict[str, bool]) -> dict:
    """The traces ``infos`` names (id -> whether its spans are in the span table) with their
    spans, by id: those in the span table ten to a request (on the engine), the others, and
    any a batch leaves out, one by one."""
    batched = [trace_id for trace_id, in_table in infos.items() if in_table]
    store = client._tracing_client.store

    def batch(ids: list[str]):
        def task():
            try:
                return list(store.batch_get_traces(ids))
            except (MlflowException, NotImplementedError):
                return []

        return task

    chunks = [batched[i : i + _PER_BATCH] for i in range(0, len(batched), _PER_BATCH)]
    found = {t.info.trace_id: t for got in ctx.engine.run(batch(c) for c in chunks) for t in got}
    rest = [trace_id for trace_id in infos if trace_id not in found]
    found.update(ctx.engine.run(lambda i=i: (i, client.get_trace(i)) for i in rest))
    return found


def _linked_runs(ctx: Context, client, experiment_id: str) -> dict[str, list[str]]:
    """Trace id -> the runs of the experiment it was linked to with ``link_traces_to_run``
    (the run a trace names in ``mlflow.sourceRun`` is not a separate link)."""

    def traces_of(run_id: str):
        def task():
            token, found = None, []
            while True:
                page = client.search_traces(
                    locations=[experiment_id], run_id=run_id, page_token=token, include_spans=False
                )
                found += [
                    t.info.trace_id
                    for t in page
                    if t.info.trace_metadata.get(TraceMetadataKey.SOURCE_RUN) != run_id
                ]
                token = page.token
                if not token:
                    return run_id, found

        return task

    runs = [r.info.run_id for r in all_runs(client, experiment_id)]
    links: dict[str, list[str]] = {}
    for run_id, trace_ids in ctx.engine.run(traces_of(r) for r in runs):
        for trace_id in trace_ids:
            links.setdefault(trace_id, []).append(run_id)
    return links


def _compare(ctx: Context, trace, copy, found: list[str], linked: tuple[dict, dict]) -> None:
    source_id = trace.info.trace_id
    result = ctx.result.add(KIND, source_id, copy.info.trace_id if copy else None)
    if copy is None:
        result.findings.append(Finding(MISSING, note="no destination trace imported from it"))
        return
    if len(found) > 1:
        result.findings.append(
            Finding(DUPLICATE, "trace_id", source_id, found[1:], "imported more than once")
        )
    same_id = copy.info.trace_id == source_id
    if not same_id:
        result.findings.append(
            Finding(INFO, "trace_id", source_id, copy.info.trace_id, "the destination had it")
        )
    if copy.info.tags.get(idmap.STATE) != idmap.STATE_COMPLETE:
        result.findings.append(
            Finding(CHANGED, "import_state", idmap.STATE_COMPLETE,
                    copy.info.tags.get(idmap.STATE), "the import did not finish")
        )  # fmt: skip
    expected = _view(trace, linked[0].get(source_id, []), same_id, lambda i: i)
    actual = _view(copy, linked[1].get(copy.info.trace_id, []), same_id, ctx.ids.run, ctx)
    result.findings += diff(expected, actual)
    result.findings += _attachment_findings(ctx, trace, copy, expected["spans"], actual["spans"])


def _attachment_findings(ctx: Context, trace, copy, src_spans: dict, dst_spans: dict) -> list:
    """The attachment files of both traces compared, when either one's spans refer to one
    (a listing each; a trace without attachments costs nothing)."""
    if not (has_attachment_refs(src_spans.values()) or has_attachment_refs(dst_spans.values())):
        return []
    expected = _attachment_files(ctx, ctx.src, trace.info)
    actual = _attachment_files(ctx, ctx.dst, copy.info)
    findings = []
    for name in sorted(expected.keys() | actual.keys()):
        field = f"{ATTACHMENTS}/{name}"
        if name not in actual:
            findings.append(Finding(MISSING, field, expected[name], ABSENT, "attachment file"))
        elif expected.get(name) != actual[name]:
            findings.append(Finding(CHANGED, field, expected.get(name, ABSENT), actual[name]))
    return findings


def _attachment_files(ctx: Context, endpoint, info) -> dict:
    """Attachment id -> size and digest of the files in the trace's ``attachments/``."""
    root = get_artifact_uri_for_trace(info).rstrip("/")
    return ctx.artifacts(endpoint.artifact_repo(f"{root}/{ATTACHMENTS}"))


def _view(trace, linked_runs: list[str], same_id: bool, run_of, ctx: Context | None = None):
    """The trace as plain values in the source's terms (``run_of`` maps a run id back)."""
    info = trace.info
    view = {name: _plain(getattr(info, name, None)) for name in _INFO_FIELDS}
    view["tags"] = {
        k: v
        for k, v in info.tags.items()
        if k not in _SERVER_TAGS and not k.startswith(idmap.PREFIX)
    }
    metadata = dict(info.trace_metadata)
    # The tracking store's start_trace sets it on every trace it creates, so on every import.
    metadata.pop(TraceMetadataKey.TRACE_INFO_FINALIZED, None)
    if ctx is not None:
        for key, back in ((_SOURCE_RUN, ctx.ids.run), (_MODEL_ID, ctx.ids.model)):
            if metadata.get(key):
                metadata[key] = back(metadata[key])
    view["metadata"] = metadata
    view["linked_runs"] = sorted(run_of(r) for r in linked_runs)
    view["assessments"] = _assessments(info.assessments or [], same_id, run_of)
    view["spans"] = _spans(trace)
    return view


def _assessments(assessments, same_id: bool, run_of) -> dict:
    """Assessments by id, or, where the trace got new ones, by name and creation time."""
    out = {}
    for a in assessments:
        body = a.to_dictionary()
        body.pop("trace_id", None)
        assessment_id = body.pop("assessment_id", None)
        metadata = body.get("metadata") or {}
        if metadata.get(AssessmentMetadataKey.SOURCE_RUN_ID):  # where MLflow keeps its run
            metadata[AssessmentMetadataKey.SOURCE_RUN_ID] = run_of(
                metadata[AssessmentMetadataKey.SOURCE_RUN_ID]
            )
        if same_id:
            key = assessment_id
        else:
            body.pop("overrides", None)  # names an assessment id the destination renamed
            key = f"{a.name}@{body.get('create_time')}"
        out[key] = body
    return out


def _spans(trace) -> dict:
    """Spans by span id (hex, as MLflow shows it); the trace id they carry is compared as the
    trace's own. Read as dicts: a span the store hands over lazily is not rebuilt."""
    out = {}
    for body in trace.data.to_dict()["spans"] if trace.data else []:
        body = dict(body)
        body.pop("trace_id", None)
        attributes = dict(body.get("attributes") or {})
        attributes.pop(SpanAttributeKey.REQUEST_ID, None)
        for key, value in attributes.items():
            if isinstance(value, str) and ATTACHMENT_SCHEME in value:
                # Each side's references name its own trace.
                attributes[key] = retarget_attachment_refs(value, trace.info.trace_id, "(own)")
        body["attributes"] = attributes
        out[_hex_id(body.get("span_id"))] = body
    return out


def _hex_id(span_id):
    """The OTel span id of a span dict (base64) as the hex MLflow shows."""
    try:
        return base64.b64decode(span_id, validate=True).hex()
    except (ValueError, TypeError):
        return span_id


def _plain(value):
    return getattr(value, "value", value) if value is not None else None
