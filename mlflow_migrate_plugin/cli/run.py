"""export-run and import-run."""

from __future__ import annotations

import click

from .group import migrate
from .options import (
    bool_option,
    common_options,
    experiment_name_option,
    input_dir_option,
    notebook_formats_option,
    skip_unsupported_option,
    split_list,
    text_option,
    tracking_uri_option,
)
from .progress import summarized


@migrate.command("export-run")
@text_option("--run-id", required=True, help="Run ID.")
@text_option("--output-dir", required=True, help="Output directory.")
@notebook_formats_option
@tracking_uri_option("source")
@common_options
@summarized
def export_run(run_id, output_dir, notebook_formats, **common):
    """Export a run to a directory: run.json (info, params, tags, inputs, outputs, LoggedModels),
    metrics.jsonl (the full metric history) and artifacts/, with a manifest of every file's size
    and sha256. A deleted run exports too, marked deleted."""
    from .. import api

    report = api.export_run(
        run_id,
        output_dir,
        notebook_formats=split_list(notebook_formats),
        **common,
    )
    click.echo(f"Exported run {run_id} to {output_dir}")
    return report


@migrate.command("import-run")
@input_dir_option("export-run")
@experiment_name_option
@bool_option(
    "--import-source-tags",
    help="Also record the source run's info (ids, times, "
    "user, artifact URI) and export provenance as 'mlflow_migrate.source.*' tags.",
)
@bool_option(
    "--use-src-user-id",
    help="Set the destination run's user to the source run's "
    "user. Only open-source MLflow honours it; Databricks takes the user from the "
    "access token. Without it the importing user owns the run and the source user is "
    "kept in tag 'mlflow_migrate.source.user_id'.",
)
@text_option(
    "--dst-notebook-dir",
    help="Databricks workspace folder to import the run's "
    "notebook into (in a subfolder named by the new run ID).",
)
@bool_option(
    "--mlmodel-fix",
    default=True,
    help="Rewrite the run and model ids (and a LoggedModel's artifact_path) in MLmodel files "
    "and in the mlflow.log-model.history tag to the destination's.",
)
@click.option(
    "--fresh",
    is_flag=True,
    default=False,
    help="Import a second copy even if this run was imported into the experiment before.",
)
@skip_unsupported_option
@tracking_uri_option("destination")
@common_options
@summarized
def import_run(
    input_dir,
    experiment_name,
    import_source_tags,
    use_src_user_id,
    dst_notebook_dir,
    mlmodel_fix,
    fresh,
    skip_unsupported,
    **common,
):
    """Import a run from a directory into an experiment, with start and end time, status, name,
    user, params, tags, the full metric history, dataset inputs, LoggedModels and artifacts.
    A run imported before is skipped; a failed import leaves nothing behind."""
    from .. import api

    report = api.import_run(
        input_dir,
        experiment_name,
        import_source_tags=import_source_tags,
        use_src_user_id=use_src_user_id,
        mlmodel_fix=mlmodel_fix,
        dst_notebook_dir=dst_notebook_dir,
        fresh=fresh,
        skip_unsupported=skip_unsupported,
        **common,
    )
    for outcome in report.find("run"):
        verb = "Imported" if outcome.status == "imported" else "Skipped (already imported)"
        click.echo(
            f"{verb} run {outcome.source_id} as {outcome.destination_id} "
            f"in experiment '{experiment_name}'"
        )
    return report
