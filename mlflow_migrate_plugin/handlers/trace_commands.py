"""The trace commands' entry points: export-traces and import-traces (an experiment's traces
without its runs) and import-trace (one trace file)."""

from __future__ import annotations

from pathlib import Path

from ..context import Migration
from ..errors import ExportDirError
from ..exportdir.trace_dir import TRACES_DIR, read_trace
from . import trace_links
from .experiment_lookup import ensure, get
from .trace_export import export_traces
from .traces import checked_records, import_trace, import_traces, imported_before


def export_experiment_traces(ctx: Migration, experiment: str, output_dir: Path) -> int:
    """export-traces: the traces of ``experiment`` (name or id) into ``output_dir``."""
    exp = get(ctx.src, experiment)
    return export_traces(ctx, exp, Path(output_dir))


def import_experiment_traces(ctx: Migration, input_dir: Path, experiment_name: str) -> str:
    """import-traces: the trace files of ``input_dir`` (or of its ``traces/`` folder, an
    experiment export) into ``experiment_name``, created if needed. Every file is checked
    first: a bad one stops the command before anything is created."""
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
    record = read_trace(Path(path))
    experiment_id = ensure(ctx.dst, experiment_name, ctx.report)
    before = imported_before(ctx, experiment_id).get(record.trace_id)
    links = trace_links.Links(ctx, experiment_id)
    return import_trace(ctx, record, experiment_id, links, before)
