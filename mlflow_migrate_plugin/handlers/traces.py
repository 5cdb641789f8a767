"""MLflow 3 traces: the experiment part, the import of an experiment's traces and of one trace,
and the trace commands' entry points (the export is in :mod:`.trace_export`).

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
"""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path

from mlflow.entities import Span, TraceData, TraceLocation
from mlflow.exceptions import MlflowException
from mlflow.store.tracking import SEARCH_TRACES_DEFAULT_MAX_RESULTS
from mlflow.tracing.constant import SpanAttributeKey, TraceTagKey

from .. import capabilities, idmap
from ..context import Migration
from ..errors import ExportDirError
from ..exportdir.trace_dir import TRACES_DIR, TraceRecord, read_trace, trace_files
from ..report import FAILED, IMPORTED, SKIPPED, failure_reason
from . import trace_links
from .kinds import ExperimentPart
from .trace_export import KIND, TraceOptions, export_trace, export_traces

__all__ = ["KIND", "PART", "TraceOptions", "export_trace", "export_traces"]

# Tags the destination sets itself: where it keeps the spans and the trace's artifacts.
_SERVER_TAGS = (TraceTagKey.SPANS_LOCATION, "mlflow.artifactLocation")


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
    """Import the traces of ``folder`` (or ``paths``, already checked) into ``experiment_id``."""
    paths = checked_records(folder, ctx.report) if paths is None else paths
    before = imported_before(ctx, experiment_id)
    links = trace_links.Links(ctx, experiment_id)
    phase = ctx.progress.phase("importing traces", len(paths), "traces")

    def task(path: Path):
        def run() -> None:
            try:
                record = read_trace(path)
                import_trace(ctx, record, experiment_id, links, before.get(record.trace_id))
            except Exception as exc:
                ctx.report.add(KIND, path.stem, FAILED, None, failure_reason(exc))
            finally:
                phase.advance()

        return run

    try:
        ctx.engine.run(task(p) for p in paths)
    finally:
        phase.close()


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


def import_trace(
    ctx: Migration,
    record: TraceRecord,
    experiment_id: str,
    links: trace_links.Links,
    before: tuple[str, str | None] | None = None,
) -> str:
    """Create ``record``'s trace in ``experiment_id``; return its destination id. Nothing is
    left half made: a trace that fails after its creation is deleted again."""
    source_id = record.trace_id
    client = ctx.dst.client
    if before is not None:
        if before[1] == idmap.STATE_COMPLETE:
            ctx.report.add(KIND, source_id, SKIPPED, before[0], "already imported")
            ctx.ids.put(KIND, source_id, before[0])
            return before[0]
        client.delete_traces(experiment_id, trace_ids=[before[0]])  # an interrupted import's
    trace_id = source_id if _free(ctx, source_id) else _new_trace_id()
    warnings: list[str] = []
    info, spans = _for_destination(record, trace_id, experiment_id)
    trace_links.follow_metadata(info, links, warnings.append)
    prompts = trace_links.prompts_for(info, links, warnings.append)
    tracing = client._tracing_client
    tracing.start_trace(info)
    try:
        in_span_table = _log_spans(tracing, experiment_id, info, spans)
        trace_links.link_prompts(ctx, trace_id, prompts)
        trace_links.link_runs(ctx, trace_id, record.linked_run_ids, links, warnings.append)
        if in_span_table:
            # Spans logged after the trace widen its request time and duration to the spans'
            # (rounded to ms); the trace info sent again sets them back, and marks it complete.
            info.tags[idmap.STATE] = idmap.STATE_COMPLETE
            tracing.start_trace(info)
        else:
            client.set_trace_tag(trace_id, idmap.STATE, idmap.STATE_COMPLETE)
    except BaseException:
        client.delete_traces(experiment_id, trace_ids=[trace_id])
        raise
    for line in warnings:
        ctx.report.warn(f"trace {source_id}: {line}")
    detail = None if trace_id == source_id else "new id (the destination has the source's)"
    ctx.report.add(KIND, source_id, IMPORTED, trace_id, detail)
    ctx.ids.put(KIND, source_id, trace_id)
    return trace_id


def _free(ctx: Migration, trace_id: str) -> bool:
    try:
        ctx.dst.client._tracing_client.get_trace_info(trace_id)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return True
        raise
    return False


def _new_trace_id() -> str:
    return f"tr-{random.getrandbits(128):032x}"


def _for_destination(record: TraceRecord, trace_id: str, experiment_id: str):
    """A copy of the record's info and spans for the destination trace ``trace_id``."""
    info = type(record.info).from_dict(record.info.to_dict())
    info.trace_location = TraceLocation.from_experiment_id(experiment_id)
    for tag in _SERVER_TAGS:
        info.tags.pop(tag, None)
    info.tags[idmap.SOURCE_TRACE_ID] = record.trace_id
    info.tags[idmap.STATE] = idmap.STATE_STARTED
    span_dicts = record.spans
    if trace_id != record.trace_id:
        info.trace_id = trace_id
        _new_assessment_ids(info)
        otel_id = base64.b64encode(bytes.fromhex(trace_id[3:])).decode()
        span_dicts = [_respan(span, otel_id, trace_id) for span in span_dicts]
    for assessment in info.assessments:
        assessment.trace_id = trace_id
    return info, [Span.from_dict(span) for span in span_dicts]


def _respan(span: dict, otel_id: str, trace_id: str) -> dict:
    attributes = dict(span.get("attributes") or {})
    attributes[SpanAttributeKey.REQUEST_ID] = json.dumps(trace_id)
    return {**span, "trace_id": otel_id, "attributes": attributes}


def _new_assessment_ids(info) -> None:
    """Assessment ids are unique per server: a trace with a new id gets new ones too, and an
    assessment that overrides another follows the other's new id."""
    from mlflow.tracing.utils import generate_assessment_id

    renamed = {a.assessment_id: generate_assessment_id() for a in info.assessments}
    for assessment in info.assessments:
        assessment.assessment_id = renamed[assessment.assessment_id]
        if assessment.overrides:
            assessment.overrides = renamed.get(assessment.overrides, assessment.overrides)


def _log_spans(tracing, experiment_id: str, info, spans: list[Span]) -> bool:
    """Spans go into the destination's span table (OTLP); a store without one (a file store,
    a server before 3.4) gets them as the trace's ``traces.json`` artifact, as MLflow does.
    True if they went into the span table."""
    try:
        tracing.log_spans(experiment_id, spans)
        return True
    except NotImplementedError:
        pass
    except MlflowException as exc:
        # A file store behind a server refuses OTLP with a plain HTTP error, told by its text.
        if "span logging is not supported" not in str(exc):
            raise
    tracing._upload_trace_data(info, TraceData(spans=spans))
    return False


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
        export_traces(ctx, experiment, folder)

    def import_part(self, ctx: Migration, folder: Path, experiment_id: str) -> None:
        if not ctx.dst.supports(capabilities.TRACES):
            for path in trace_files(folder):
                ctx.report.add(KIND, path.stem, FAILED, None, "the destination has no traces")
            return
        import_traces(ctx, folder, experiment_id)


PART = TracesPart()


# Commands of their own: one trace, or an experiment's traces without its runs -----------------


def export_experiment_traces(ctx: Migration, experiment: str, output_dir: Path) -> int:
    """export-traces: the traces of ``experiment`` (name or id) into ``output_dir``."""
    from .experiment import get

    exp = get(ctx.src, experiment)
    return export_traces(ctx, exp, Path(output_dir))


def import_experiment_traces(ctx: Migration, input_dir: Path, experiment_name: str) -> str:
    """import-traces: the trace files of ``input_dir`` (or of its ``traces/`` folder, an
    experiment export) into ``experiment_name``, created if needed. Every file is checked
    first: a bad one stops the command before anything is created."""
    from .experiment import ensure

    folder = Path(input_dir)
    if (folder / TRACES_DIR).is_dir():
        folder = folder / TRACES_DIR
    if not folder.is_dir():
        raise ExportDirError(f"{folder}: not a directory of exported traces")
    paths = checked_records(folder)
    experiment_id = ensure(ctx.dst, experiment_name, ctx.report)
    import_traces(ctx, folder, experiment_id, paths)
    return experiment_id


def import_trace_file(ctx: Migration, path: Path, experiment_name: str) -> str:
    """import-trace: the trace file ``path`` into ``experiment_name``; its destination id."""
    from .experiment import ensure

    record = read_trace(Path(path))
    experiment_id = ensure(ctx.dst, experiment_name, ctx.report)
    before = imported_before(ctx, experiment_id).get(record.trace_id)
    links = trace_links.Links(ctx, experiment_id)
    return import_trace(ctx, record, experiment_id, links, before)
