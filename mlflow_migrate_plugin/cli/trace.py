"""export-trace, import-trace, export-traces and import-traces (MLflow 3 traces)."""

from __future__ import annotations

import click

from .group import migrate
from .options import (
    common_options,
    experiment_name_option,
    text_option,
    trace_window_options,
    tracking_uri_option,
)
from .progress import status_counts, summarized


@migrate.command("export-trace")
@text_option("--trace-id", required=True, help="The trace's ID (tr-...).")
@text_option(
    "--output-dir",
    required=True,
    help="Output directory; gets <trace_id>.json (info, spans, assessments, links).",
)
@tracking_uri_option("source")
@common_options
@summarized
def export_trace(trace_id, output_dir, progress, **common):
    """Export one MLflow 3 trace: its info, tags and metadata, every span, its assessments and
    the runs, LoggedModel and prompt versions it links to."""
    from .. import api

    del progress  # one trace: there is nothing to count
    report = api.export_trace(trace_id, output_dir, **common)
    click.echo(f"Exported trace {trace_id} to {output_dir}")
    return report


@migrate.command("import-trace")
@text_option("--input-file", required=True, help="A trace file written by export-trace.")
@experiment_name_option
@tracking_uri_option("destination")
@common_options
@summarized
def import_trace(input_file, experiment_name, progress, **common):
    """Import one exported trace. Its id is kept unless the destination has a trace with that
    id already (then the source id is kept in tag mlflow_migrate.source.trace_id); importing it
    again adds nothing."""
    from .. import api

    del progress  # one trace: there is nothing to count
    report = api.import_trace(input_file, experiment_name, **common)
    click.echo(f"Imported {input_file} into experiment '{experiment_name}'")
    return report


@migrate.command("export-traces")
@text_option("--experiment", required=True, help="Experiment name or ID.")
@text_option(
    "--output-dir", required=True, help="Output directory; gets one <trace_id>.json per trace."
)
@trace_window_options
@tracking_uri_option("source")
@common_options
@summarized
def export_traces(experiment, output_dir, **common):
    """Export the MLflow 3 traces of an experiment (not its runs), one file per trace, fetched
    --workers at a time. A trace that fails is named and the command exits 1."""
    from .. import api

    report = api.export_traces(experiment, output_dir, **common)
    click.echo(
        f"Exported traces of '{experiment}' to {output_dir}: "
        f"traces {status_counts(report, 'trace', ('exported', 'failed'))}"
    )
    return report


@migrate.command("import-traces")
@text_option(
    "--input-dir",
    required=True,
    help="Directory written by export-traces, or an experiment export (its traces/ folder).",
)
@experiment_name_option
@tracking_uri_option("destination")
@common_options
@summarized
def import_traces(input_dir, experiment_name, **common):
    """Import exported traces, --workers at a time. Every file is checked first: a corrupt one
    stops the command with one line before anything is created. Runs and LoggedModels already
    imported into the experiment are linked; traces imported before are skipped."""
    from .. import api

    report = api.import_traces(
        input_dir,
        experiment_name,
        **common,
    )
    click.echo(
        f"Imported {input_dir} into experiment '{experiment_name}': "
        f"traces {status_counts(report, 'trace')}"
    )
    return report
