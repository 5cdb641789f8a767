"""export-experiment and import-experiment."""

from __future__ import annotations

import click

from .group import migrate
from .options import (
    bool_option,
    common_options,
    no_evaluation_datasets_option,
    no_traces_option,
    notebook_formats_option,
    skip_unsupported_option,
    split_list,
    text_option,
    trace_window_options,
    tracking_uri_option,
    wait_option,
)
from .progress import status_counts, summarized


@migrate.command("export-experiment")
@text_option("--experiment", required=True, help="Experiment name or ID.")
@text_option(
    "--output-dir",
    required=True,
    help="Output directory. Gets experiment.json, a "
    "folder runs/<run_id>/ per run and logged_models/ for the experiment's own "
    "LoggedModels.",
)
@text_option(
    "--run-ids",
    help="Export only these runs (comma separated IDs). Default: every run of the experiment.",
)
@bool_option(
    "--export-permissions",
    help="Export the experiment's Databricks permissions (Databricks source only).",
)
@text_option(
    "--run-start-time",
    help="Only export runs that started on or after this UTC date (inclusive). Format: YYYY-MM-DD.",
)
@bool_option(
    "--export-deleted-runs", help="Also export deleted runs; they are deleted again on import."
)
@bool_option(
    "--check-nested-runs",
    help="With --run-ids: also export every run nested below a "
    "listed run (children, grandchildren, ...), found by their mlflow.parentRunId "
    "tag.",
)
@notebook_formats_option
@no_traces_option
@trace_window_options
@no_evaluation_datasets_option
@tracking_uri_option("source")
@common_options
@summarized
def export_experiment(
    experiment,
    output_dir,
    run_ids,
    export_permissions,
    run_start_time,
    export_deleted_runs,
    check_nested_runs,
    notebook_formats,
    no_traces,
    trace_start_time,
    traces_until,
    no_evaluation_datasets,
    **common,
):
    """Export an experiment to a directory: experiment.json (the experiment with its tags and
    description, the runs with their parents, runs that failed with the reason) and each run
    as export-run writes it. Runs are exported --workers at a time; a run that fails does not
    stop the others, and the command then exits 1."""
    from .. import api

    report = api.export_experiment(
        experiment,
        output_dir,
        run_ids=split_list(run_ids) or None,
        run_start_time=run_start_time,
        export_deleted_runs=export_deleted_runs,
        check_nested_runs=check_nested_runs,
        export_permissions=export_permissions,
        notebook_formats=split_list(notebook_formats),
        include_traces=not no_traces,
        include_evaluation_datasets=not no_evaluation_datasets,
        trace_start_time=trace_start_time,
        traces_until=traces_until,
        **common,
    )
    click.echo(
        f"Exported experiment '{experiment}' to {output_dir}: "
        f"runs {status_counts(report, 'run', ('exported', 'skipped', 'failed'))}"
    )
    return report


@migrate.command("import-experiment")
@text_option(
    "--experiment-name",
    required=True,
    help="Destination experiment name. Created "
    "with the source's tags and description if it does not exist; else the runs are "
    "added to it and its own tags stay as they are.",
)
@text_option(
    "--input-dir",
    required=True,
    help="Input directory (from export-experiment, or "
    "from mlflow-export-import, with runs in <dir>/<run_id>/ or <dir>/runs/<run_id>/).",
)
@bool_option(
    "--import-permissions",
    help="Import the experiment's Databricks permissions (Databricks destination only).",
)
@bool_option(
    "--import-source-tags",
    help="Also record the source experiment's and runs' info "
    "(ids, times, users, artifact locations) as 'mlflow_migrate.source.*' tags.",
)
@bool_option(
    "--use-src-user-id",
    help="Set each destination run's user to the source run's "
    "user. Only open-source MLflow honours it; Databricks takes the user from the "
    "access token. Without it the importing user owns the runs and the source user is "
    "kept in tag 'mlflow_migrate.source.user_id'.",
)
@text_option(
    "--dst-notebook-dir",
    help="Databricks workspace folder to import the runs' "
    "notebooks into (a folder per run ID is added).",
)
@wait_option("experiment")
@skip_unsupported_option
@no_traces_option
@no_evaluation_datasets_option
@tracking_uri_option("destination")
@common_options
@summarized
def import_experiment(
    experiment_name,
    input_dir,
    import_permissions,
    import_source_tags,
    use_src_user_id,
    dst_notebook_dir,
    wait,
    skip_unsupported,
    no_traces,
    no_evaluation_datasets,
    **common,
):
    """Import an experiment from a directory, parents before their nested runs, --workers runs
    at a time. Runs imported before are skipped, and an interrupted import completes when run
    again, without duplicates; two imports into the same experiment never run at once (the
    second refuses, or waits with --wait). A run that fails does not stop the others; the
    command ends with the count of runs imported, skipped and failed, and exits 1 if any
    failed."""
    from .. import api

    report = api.import_experiment(
        input_dir,
        experiment_name,
        import_source_tags=import_source_tags,
        use_src_user_id=use_src_user_id,
        import_permissions=import_permissions,
        dst_notebook_dir=dst_notebook_dir,
        skip_unsupported=skip_unsupported,
        include_traces=not no_traces,
        include_evaluation_datasets=not no_evaluation_datasets,
        wait=wait,
        **common,
    )
    click.echo(
        f"Imported {input_dir} into experiment '{experiment_name}': "
        f"runs {status_counts(report, 'run')}"
    )
    return report
