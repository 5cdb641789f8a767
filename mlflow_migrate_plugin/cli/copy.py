"""copy-run and copy-model-version: server to server in one command."""

from __future__ import annotations

import time

import click

from .group import migrate
from .options import bool_option, common_options, text_option
from .progress import CliProgress, print_summary

_URI_HELP = ("{side} tracking URI (default: $MLFLOW_TRACKING_URI). For two servers with "
             "different basic-auth users, put each one's credentials in its URI: "
             "http://user:password@host:port.")


def keep_export_dir_option(fn):
    return text_option(
        "--keep-export-dir",
        help="Export into this directory and leave it there for inspection (by default a "
             "temporary directory is used and removed, on success and on failure).",
    )(fn)


@migrate.command("copy-run")
@text_option("--run-id", required=True, help="Source run ID.")
@text_option("--experiment-name", required=True,
             help="Destination experiment name; created if it does not exist.")
@text_option("--src-mlflow-uri", help=_URI_HELP.format(side="Source"))
@text_option("--dst-mlflow-uri", help=_URI_HELP.format(side="Destination"))
@bool_option("--import-source-tags", help="Also record the source run's info and provenance as "
             "'mlflow_migrate.source.*' tags.")
@bool_option("--use-src-user-id", help="Set the destination run's user to the source run's "
             "user (open-source MLflow only).")
@bool_option("--mlmodel-fix", default=True, help="Rewrite run_id and model_id in MLmodel files "
             "to the destination's new ids.")
@keep_export_dir_option
@common_options
def copy_run(run_id, experiment_name, src_mlflow_uri, dst_mlflow_uri, import_source_tags,
             use_src_user_id, mlmodel_fix, keep_export_dir, workers):
    """Copy a run, within one tracking server or from one to another: the same export and import
    as export-run + import-run, through a temporary directory. Everything import-run keeps is
    kept; a rerun skips the run already copied."""
    from .. import api

    started = time.monotonic()
    report = api.copy_run(
        run_id, experiment_name, src_mlflow_uri=src_mlflow_uri, dst_mlflow_uri=dst_mlflow_uri,
        import_source_tags=import_source_tags, use_src_user_id=use_src_user_id,
        mlmodel_fix=mlmodel_fix, keep_export_dir=keep_export_dir, workers=workers,
        progress=CliProgress(),
    )
    for outcome in report.find("run"):
        if outcome.status in ("imported", "skipped"):
            verb = "Copied" if outcome.status == "imported" else "Skipped (already copied)"
            click.echo(f"{verb} run {run_id} to {outcome.destination_id} "
                       f"in experiment '{experiment_name}'")
    print_summary(report, started)
