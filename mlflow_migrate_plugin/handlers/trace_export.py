"""Export of MLflow 3 traces: an experiment's traces a page at a time, or one trace.

Trace infos are searched a page at a time (in the options' window of request times) and each
trace is fetched with its spans and assessments on the engine, so memory holds a page, not the
experiment. The runs a trace was linked to with ``link_traces_to_run`` are not part of the
trace; they are found by searching the experiment's traces run by run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mlflow.entities import ViewType
from mlflow.store.tracking import SEARCH_TRACES_DEFAULT_MAX_RESULTS
from mlflow.tracing.constant import SpansLocation, TraceMetadataKey, TraceTagKey
from mlflow.tracing.utils.artifact_utils import get_artifact_uri_for_trace

from ..context import Migration
from ..endpoint import redact
from ..errors import UsageError
from ..exportdir.layout import system_part
from ..exportdir.trace_dir import attachments_dir, referenced_attachments, write_trace
from ..report import EXPORTED, FAILED, failure_reason

KIND = "trace"
# The folder of a trace's artifact location that holds its attachments (MLflow's
# ``ArtifactRepository.upload_attachment`` writes there).
ATTACHMENTS = "attachments"
# Traces per batch request, as MLflow's own search asks for them (the server's limit).
BATCH_GET_TRACES = 10


@dataclass
class TraceOptions:
    """The options of the trace kind: leave traces out, or take those of a time window."""

    include: bool = True
    start_time: str | None = None  # UTC date YYYY-MM-DD, inclusive
    until: str | None = None  # UTC date YYYY-MM-DD, exclusive

    def __post_init__(self) -> None:
        window_filter(self)  # a mistyped date stops the command before anything is done


def _day_millis(option: str, day: str) -> int:
    try:
        parsed = dt.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise UsageError(f"{option} {day!r}: expected a UTC date as YYYY-MM-DD") from None
    return int(parsed.timestamp() * 1000)


def window_filter(options: TraceOptions) -> str | None:
    """The search filter of the options' time window (on the trace's request time)."""
    clauses = []
    if options.start_time:
        clauses.append(
            f"trace.timestamp_ms >= {_day_millis('--trace-start-time', options.start_time)}"
        )
    if options.until:
        clauses.append(f"trace.timestamp_ms < {_day_millis('--traces-until', options.until)}")
    return " AND ".join(clauses) or None


def export_traces(ctx: Migration, experiment, folder: Path) -> int:
    """Write every trace of ``experiment`` (in the options' window) into ``folder``, one file
    each; return how many were written. Infos are searched a page at a time and the traces
    fetched with their spans on the engine, ten to a request, so memory holds a page, not the
    experiment."""
    options = ctx.options_of(KIND) or TraceOptions()
    client = ctx.src.client
    experiment_id = experiment.experiment_id
    linked = None  # looked for once there is a trace to export (a search per run)
    system = system_part("export-traces", redact(ctx.src.tracking_uri))
    phase = ctx.progress.phase(f"exporting traces of '{experiment.name}'", None, "traces")
    written = 0
    token = None
    try:
        while True:
            page = client.search_traces(
                locations=[experiment_id],
                filter_string=window_filter(options),
                max_results=SEARCH_TRACES_DEFAULT_MAX_RESULTS,
                order_by=["timestamp_ms ASC"],
                page_token=token,
                include_spans=False,
            )
            if linked is None and len(page):
                linked = _run_links(ctx, experiment_id)
            results = ctx.engine.run(
                _export_task(ctx, chunk, folder, system, linked, phase)
                for chunk in _chunks(page, BATCH_GET_TRACES)
            )
            written += sum(results)
            token = page.token
            if not token:
                return written
    finally:
        phase.close()


def _chunks(page, size: int):
    """The page's trace ids, those whose spans are in the span table in chunks of ``size``
    (one batch request each), the others one by one."""
    batched, alone = [], []
    for trace in page:
        in_table = trace.info.tags.get(TraceTagKey.SPANS_LOCATION) == SpansLocation.TRACKING_STORE
        (batched if in_table else alone).append(trace.info.trace_id)
    yield from (batched[i : i + size] for i in range(0, len(batched), size))
    yield from ([trace_id] for trace_id in alone)


def _export_task(ctx, trace_ids, folder, system, linked, phase):
    def task() -> int:
        fetched = {}
        if len(trace_ids) > 1:
            try:
                store = ctx.src.client._tracing_client.store
                fetched = {t.info.trace_id: t for t in store.batch_get_traces(trace_ids)}
            except Exception:  # each trace is then fetched, and fails, on its own
                fetched = {}
        done = 0
        for trace_id in trace_ids:
            try:
                export_trace(
                    ctx, trace_id, folder, system, linked.get(trace_id, []), fetched.get(trace_id)
                )
                done += 1
            except Exception as exc:
                ctx.report.add(KIND, trace_id, FAILED, None, failure_reason(exc))
            finally:
                phase.advance()
        return done

    return task


def export_trace(
    ctx: Migration,
    trace_id: str,
    folder: Path,
    system: dict | None = None,
    linked_runs=None,
    trace=None,
) -> Path:
    """Write trace ``trace_id`` (``trace`` if already fetched) with its spans and assessments to
    ``folder``/<trace_id>.json."""
    trace = trace or ctx.src.client.get_trace(trace_id)
    if linked_runs is None:
        experiment_id = trace.info.experiment_id
        linked_runs = _run_links(ctx, experiment_id, only=trace_id).get(trace_id, [])
    system = system or system_part("export-trace", redact(ctx.src.tracking_uri))
    attachments = export_attachments(ctx, trace, folder)
    path = write_trace(folder, system, trace, linked_runs, attachments)
    ctx.report.add(KIND, trace_id, EXPORTED, str(path))
    return path


def export_attachments(ctx: Migration, trace, folder: Path) -> dict[str, int]:
    """Download the attachment files of ``trace`` beside its trace file; return id -> size.
    Only a trace whose spans refer to an attachment is listed (one request); a reference
    without its file on the source is a warning (the copy's reference leads nowhere either)."""
    referenced = referenced_attachments([span.to_dict() for span in trace.data.spans])
    if not referenced:
        return {}
    repo = ctx.src.artifact_repo(get_artifact_uri_for_trace(trace.info))
    files = [f for f in repo.list_artifacts(ATTACHMENTS) if not f.is_dir]
    for missing in sorted(referenced - {PurePosixPath(f.path).name for f in files}):
        ctx.report.warn(
            f"trace {trace.info.trace_id}: attachment {missing} its spans refer to is not in "
            "its artifacts on the source"
        )
    if not files:
        return {}
    target = attachments_dir(folder, trace.info.trace_id)
    target.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for entry in files:
        attachment_id = PurePosixPath(entry.path).name
        local = target / attachment_id
        repo.download_trace_attachment_to_file(attachment_id, local)
        sizes[attachment_id] = local.stat().st_size
    return sizes


def _run_links(ctx: Migration, experiment_id: str, only: str | None = None) -> dict[str, list]:
    """Trace id -> the runs of the experiment it was linked to with ``link_traces_to_run``
    (a run named by the trace's own ``mlflow.sourceRun`` is not a separate link)."""

    client = ctx.src.client
    run_ids, token = [], None
    while True:
        page = client.search_runs(
            [experiment_id], run_view_type=ViewType.ALL, max_results=1000, page_token=token
        )
        run_ids += [r.info.run_id for r in page]
        token = page.token
        if not token:
            break
    links: dict[str, list] = {}

    def traces_of(run_id: str):
        def task():
            token, found = None, []
            while True:
                page = client.search_traces(
                    locations=[experiment_id], run_id=run_id, page_token=token, include_spans=False
                )
                for t in page:
                    if t.info.trace_metadata.get(TraceMetadataKey.SOURCE_RUN) != run_id:
                        found.append(t.info.trace_id)
                token = page.token
                if not token:
                    return run_id, found

        return task

    for run_id, trace_ids in ctx.engine.run(traces_of(r) for r in run_ids):
        for trace_id in trace_ids:
            if only is None or trace_id == only:
                links.setdefault(trace_id, []).append(run_id)
    return links
