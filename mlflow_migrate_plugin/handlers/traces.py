"""MLflow 3 traces: the experiment part, and the import of an experiment's traces and of one
trace (the export is in :mod:`.trace_export`, the commands' entry points in
:mod:`.trace_commands`).

What the destination keeps (measured on MLflow 3.17.2): ``StartTraceV3`` (the tracking store's
``start_trace``) stores the trace id, request time, execution duration, state, previews, tags,
metadata and the assessments it is given as they are (assessment ids, times and sources too),
and the OTLP span endpoint (``log_spans``) stores every span as it is. So the trace id is kept
unless the destination already has a trace with that id (a copy within one server): then, since
``start_trace`` with an existing id would move that trace into the destination experiment, the
trace gets a new id (and new assessment ids) and its source id stays in tag
:data:`~..idmap.SOURCE_TRACE_ID`, which every imported trace carries. A trace is created with
:data:`~..idmap.STATE` ``started`` and marked ``complete`` last; a rerun skips complete ones and
replaces one an interrupted import left half made.

A trace's attachment files go to ``attachments/<id>`` in the destination trace's artifact
location before it is marked complete; where the trace got a new id, the ``trace_id=`` of each
``mlflow-attachment://`` reference in its spans names the new id, since the server resolves a
reference through the trace it names (its ``get-trace-artifact`` endpoint).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlflow.entities import Span, TraceData, TraceInfo
from mlflow.entities.trace_state import TraceState
from mlflow.exceptions import MlflowException
from mlflow.store.tracking import SEARCH_TRACES_DEFAULT_MAX_RESULTS
from mlflow.tracing.utils.artifact_utils import get_artifact_uri_for_trace

from .. import capabilities, idmap
from ..context import Migration
from ..errors import ExportDirError
from ..exportdir.trace_dir import (
    TRACES_DIR,
    TraceRecord,
    read_trace,
    trace_files,
)
from ..report import FAILED, IMPORTED, SKIPPED, failure_reason
from . import trace_links, trace_rewrite
from .kinds import ExperimentPart
from .trace_export import ATTACHMENTS, KIND, TraceOptions, export_trace, export_traces

# Traces per chunk of an import: created one by one, their spans sent in one request.
TRACES_PER_CHUNK = 10

__all__ = ["KIND", "PART", "TraceOptions", "export_trace", "export_traces"]


def checked_records(folder: Path, report=None) -> list[Path]:
    """The trace files of ``folder`` that pass their checks. With a ``report`` each file that
    does not is reported failed with its one line; without one the first such file raises."""
    good = []
    for path in trace_files(folder):
        try:
            read_trace(path)
            good.append(path)
        except ExportDirError as exc:
            if report is None:
                raise
            report.add(KIND, path.stem, FAILED, None, failure_reason(exc))
    return good


def import_traces(ctx: Migration, folder: Path, experiment_id: str, paths=None) -> None:
    """Import the traces of ``folder`` (or ``paths``, already checked) into ``experiment_id``:
    a page of 100 files at a time (one request asks which of their ids the destination has),
    each chunk of ten on the engine with its spans sent in one request."""
    paths = checked_records(folder, ctx.report) if paths is None else paths
    before = imported_before(ctx, experiment_id)
    links = trace_links.Links(ctx, experiment_id)
    phase = ctx.progress.phase("importing traces", len(paths), "traces")

    def task(chunk: list[Path], taken: set[str] | None):
        def run() -> None:
            items = []
            for path in chunk:
                try:
                    record = read_trace(path)
                except Exception as exc:
                    ctx.report.add(KIND, path.stem, FAILED, None, failure_reason(exc))
                    phase.advance()
                    continue
                free = None
                if taken is not None and record.trace_id == path.stem:
                    free = record.trace_id not in taken
                items.append((record, before.get(record.trace_id), free))
            try:
                _import_chunk(ctx, items, experiment_id, links)
            finally:
                phase.advance(len(items))

        return run

    try:
        for start in range(0, len(paths), SEARCH_TRACES_DEFAULT_MAX_RESULTS):
            page = paths[start : start + SEARCH_TRACES_DEFAULT_MAX_RESULTS]
            taken = _taken(ctx, [p.stem for p in page])
            chunks = (page[i : i + TRACES_PER_CHUNK] for i in range(0, len(page), TRACES_PER_CHUNK))
            ctx.engine.run(task(chunk, taken) for chunk in chunks)
    finally:
        phase.close()


def _taken(ctx: Migration, trace_ids: list[str]) -> set[str] | None:
    """Which of ``trace_ids`` the destination has, in any experiment; None where the store
    cannot tell in one request (then each trace asks for itself)."""
    try:
        infos = ctx.dst.client._tracing_client.store.batch_get_trace_infos(trace_ids)
    except (MlflowException, NotImplementedError):
        return None
    return {info.trace_id for info in infos}


def imported_before(ctx: Migration, experiment_id: str) -> dict[str, tuple[str, str | None]]:
    """Source trace id -> (destination trace id, import state) of the traces an import put in
    the destination experiment before (one paged search)."""
    client = ctx.dst.client
    found, token = {}, None
    while True:
        page = client.search_traces(
            locations=[experiment_id],
            filter_string=f"tag.`{idmap.SOURCE_TRACE_ID}` != ''",
            max_results=SEARCH_TRACES_DEFAULT_MAX_RESULTS,
            page_token=token,
            include_spans=False,
        )
        for t in page:
            source = t.info.tags.get(idmap.SOURCE_TRACE_ID)
            if source:
                found[source] = (t.info.trace_id, t.info.tags.get(idmap.STATE))
        token = page.token
        if not token:
            return found


@dataclass
class _Started:
    """A trace created on the destination (state ``started``) whose spans and links follow."""

    record: TraceRecord
    trace_id: str
    info: TraceInfo
    spans: list[Span]
    prompts: list
    warnings: list[str]
    otlp_keeps_id: bool  # the OTLP endpoint files the spans under this trace id
    created: TraceInfo | None = None  # as the destination answered (with its artifact location)


def import_trace(
    ctx: Migration,
    record: TraceRecord,
    experiment_id: str,
    links: trace_links.Links,
    before: tuple[str, str | None] | None = None,
    free: bool | None = None,
) -> str:
    """Create ``record``'s trace in ``experiment_id``; return its destination id. ``before``
    is what an earlier import left (destination id and state), ``free`` whether the destination
    lacks the source's trace id (None: it is asked). Nothing is left half made: a trace that
    fails after its creation is deleted again."""
    started = _start(ctx, record, experiment_id, links, before, free)
    if isinstance(started, str):
        return started
    try:
        in_span_table = _log_spans(ctx, experiment_id, [started])
        return _finish(ctx, started, experiment_id, links, started.trace_id in in_span_table)
    except BaseException:
        ctx.dst.client.delete_traces(experiment_id, trace_ids=[started.trace_id])
        raise


def _import_chunk(ctx: Migration, items: list, experiment_id: str, links) -> None:
    """Import ``items`` (record, before, free), each outcome in the report: the traces are
    created one by one, their spans sent together, then each is linked and marked complete."""
    started: list[_Started] = []
    for record, before, free in items:
        try:
            result = _start(ctx, record, experiment_id, links, before, free)
            if not isinstance(result, str):
                started.append(result)
        except Exception as exc:
            ctx.report.add(KIND, record.trace_id, FAILED, None, failure_reason(exc))
    if not started:
        return
    try:
        in_span_table = _log_spans(ctx, experiment_id, started)
    except BaseException as exc:
        ctx.dst.client.delete_traces(experiment_id, trace_ids=[s.trace_id for s in started])
        for item in started:
            ctx.report.add(KIND, item.record.trace_id, FAILED, None, failure_reason(exc))
        if not isinstance(exc, Exception):
            raise
        return
    for item in started:
        try:
            _finish(ctx, item, experiment_id, links, item.trace_id in in_span_table)
        except BaseException as exc:
            ctx.dst.client.delete_traces(experiment_id, trace_ids=[item.trace_id])
            ctx.report.add(KIND, item.record.trace_id, FAILED, None, failure_reason(exc))
            if not isinstance(exc, Exception):
                raise


def _start(ctx, record: TraceRecord, experiment_id: str, links, before, free) -> _Started | str:
    """Create the trace (state ``started``), or return the destination id of a complete
    import of it (reported skipped). A copy an interrupted import left is deleted first."""
    source_id = record.trace_id
    client = ctx.dst.client
    if before is not None:
        if before[1] == idmap.STATE_COMPLETE:
            ctx.report.add(KIND, source_id, SKIPPED, before[0], "already imported")
            ctx.ids.put(KIND, source_id, before[0])
            return before[0]
        client.delete_traces(experiment_id, trace_ids=[before[0]])
        if before[0] == source_id:
            free = True
    if free is None:
        free = _free(ctx, source_id)
    trace_id = source_id if free else trace_rewrite.new_trace_id()
    warnings: list[str] = []
    info, span_dicts = trace_rewrite.for_destination(record, trace_id, experiment_id)
    spans = [Span.from_dict(span) for span in span_dicts]
    otlp_keeps_id = all(trace_rewrite.otlp_trace_id(span) == trace_id for span in span_dicts)
    trace_links.follow_metadata(info, links, warnings.append)
    prompts = trace_links.prompts_for(info, links, warnings.append)
    created = client._tracing_client.start_trace(info)
    return _Started(record, trace_id, info, spans, prompts, warnings, otlp_keeps_id, created)


def _finish(ctx, item: _Started, experiment_id: str, links, in_span_table: bool) -> str:
    """Link the trace to its prompt versions and runs, mark it complete, report it."""
    client, info = ctx.dst.client, item.info
    _upload_attachments(ctx, item)
    trace_links.link_prompts(ctx, item.trace_id, item.prompts)
    trace_links.link_runs(
        ctx, item.trace_id, item.record.linked_run_ids, links, item.warnings.append
    )
    if in_span_table and _changed_by_spans(info, item.spans):
        # Spans logged after the trace widen its request time and duration to the spans'
        # (in whole ms); the trace info sent again sets them back, and marks it complete.
        info.tags[idmap.STATE] = idmap.STATE_COMPLETE
        client._tracing_client.start_trace(info)
    else:
        client.set_trace_tag(item.trace_id, idmap.STATE, idmap.STATE_COMPLETE)
    source_id = item.record.trace_id
    for line in item.warnings:
        ctx.report.warn(f"trace {source_id}: {line}")
    detail = None if item.trace_id == source_id else "new id (the destination has the source's)"
    ctx.report.add(KIND, source_id, IMPORTED, item.trace_id, detail)
    ctx.ids.put(KIND, source_id, item.trace_id)
    return item.trace_id


def _upload_attachments(ctx: Migration, item: _Started) -> None:
    """The record's attachment files into ``attachments/`` of the destination trace's artifact
    location (a rerun writes the same names again: nothing is added twice)."""
    if not item.record.attachments:
        return
    repo = ctx.dst.artifact_repo(get_artifact_uri_for_trace(item.created))
    for path in item.record.attachments.values():
        repo.log_artifact(str(path), ATTACHMENTS)


def _changed_by_spans(info, spans: list[Span]) -> bool:
    """Whether logging ``spans`` changes the trace's request time, duration or state: the span
    table widens them to the spans' first start and last end in ms, and takes the root span's
    state for a trace still in progress (the tracking store's ``log_spans``)."""
    if info.state in (TraceState.IN_PROGRESS, TraceState.STATE_UNSPECIFIED):
        return True
    first = min(span.start_time_ns for span in spans) // 1_000_000
    ends = [span.end_time_ns for span in spans if span.end_time_ns]
    if first < info.request_time:
        return True
    if not ends:
        return False
    if info.execution_duration is None:
        return True
    return max(ends) // 1_000_000 > info.request_time + info.execution_duration


def _free(ctx: Migration, trace_id: str) -> bool:
    try:
        ctx.dst.client._tracing_client.get_trace_info(trace_id)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return True
        raise
    return False


def _log_spans(ctx: Migration, experiment_id: str, started: list[_Started]) -> set[str]:
    """The spans of ``started`` go into the destination's span table in one OTLP request, and
    the ids of those traces are returned. The OTLP endpoint files a span under ``tr-`` + its
    OTel trace id, so a trace whose id is another (an MLflow 2 request id), and every trace of
    a store without a span table (a file store, a server before 3.4), gets its spans as its
    ``traces.json`` artifact instead, as MLflow's exporter does."""
    tracing = ctx.dst.client._tracing_client
    otlp = [item for item in started if item.otlp_keeps_id]
    in_table: set[str] = set()
    if otlp:
        try:
            tracing.log_spans(experiment_id, [span for item in otlp for span in item.spans])
            in_table = {item.trace_id for item in otlp}
        except NotImplementedError:
            pass
        except MlflowException as exc:
            # A file store behind a server refuses OTLP with a plain HTTP error, told by its text.
            if "span logging is not supported" not in str(exc):
                raise
    for item in started:
        if item.trace_id not in in_table:
            tracing._upload_trace_data(item.created, TraceData(spans=item.spans))
    return in_table


# The experiment part --------------------------------------------------------------------------


class TracesPart(ExperimentPart):
    """An experiment's traces, exported after its runs and LoggedModels and imported after
    them, so that the id map holds the runs and models the traces link to."""

    kind = KIND
    folder = TRACES_DIR

    def wanted(self, ctx: Migration) -> bool:
        return (ctx.options_of(KIND) or TraceOptions()).include

    def supported(self, ctx: Migration) -> bool:
        side = ctx.src if ctx.src is not None else ctx.dst
        return side.supports(capabilities.TRACES)

    def export_part(self, ctx: Migration, experiment, folder: Path) -> None:
        try:
            export_traces(ctx, experiment, folder)
        except Exception as exc:  # the runs are exported; the summary names what is missing
            what = f"(traces of experiment {experiment.experiment_id})"
            ctx.report.add(KIND, what, FAILED, None, failure_reason(exc))

    def import_part(self, ctx: Migration, folder: Path, experiment_id: str) -> None:
        if not ctx.dst.supports(capabilities.TRACES):
            for path in trace_files(folder):
                ctx.report.add(KIND, path.stem, FAILED, None, "the destination has no traces")
            return
        import_traces(ctx, folder, experiment_id)


PART = TracesPart()
