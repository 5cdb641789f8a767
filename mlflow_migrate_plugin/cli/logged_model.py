"""export-logged-model and import-logged-model."""

from __future__ import annotations

import click

from .group import migrate
from .options import (
    bool_option,
    common_options,
    experiment_name_option,
    input_dir_option,
    text_option,
    tracking_uri_option,
)
from .progress import summarized


@migrate.command("export-logged-model")
@text_option("--model-id", required=True, help="LoggedModel ID (m-...).")
@text_option("--output-dir", required=True, help="Output directory.")
@tracking_uri_option("source")
@common_options
@summarized
def export_logged_model(model_id, output_dir, **common):
    """Export an MLflow 3 LoggedModel to a directory: logged_model.json (name, type, params,
    tags, status, metrics, source run) and artifacts/, with a manifest of every file's size
    and sha256."""
    from .. import api

    report = api.export_logged_model(
        model_id,
        output_dir,
        **common,
    )
    click.echo(f"Exported logged model {model_id} to {output_dir}")
    return report


@migrate.command("import-logged-model")
@input_dir_option("export-logged-model")
@experiment_name_option
@bool_option(
    "--mlmodel-fix",
    default=True,
    help="Rewrite the run and model ids (and the artifact_path) in the model's MLmodel files "
    "to the destination's.",
)
@tracking_uri_option("destination")
@common_options
@summarized
def import_logged_model(input_dir, experiment_name, mlmodel_fix, **common):
    """Import a LoggedModel from a directory under a new id, with its files. Its source run
    becomes its run if that run was imported into the experiment before (else the source run
    id is kept in tag mlflow_migrate.source.model_run_id). A rerun adds nothing."""
    from .. import api

    return api.import_logged_model(
        input_dir,
        experiment_name,
        mlmodel_fix=mlmodel_fix,
        **common,
    )
