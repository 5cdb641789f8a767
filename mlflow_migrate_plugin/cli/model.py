"""export-model, import-model, export-model-version and import-model-version."""

from __future__ import annotations

import click

from .group import migrate
from .options import (
    IMPORT_SOURCE_TAGS_HELP,
    await_creation_option,
    bool_option,
    common_options,
    input_dir_option,
    notebook_formats_option,
    skip_unsupported_option,
    split_list,
    text_option,
    tracking_uri_option,
    wait_option,
)
from .progress import summarized

_EXPORT_PERMISSIONS_HELP = (
    "Export the registered model's Databricks permissions (needs a Databricks source)."
)
_IMPORT_PERMISSIONS_HELP = (
    "Import the exported Databricks permissions onto the registered "
    "model (needs a Databricks destination)."
)
_EXPORT_VERSION_MODEL_HELP = (
    "Also export each version's own model files (from its download "
    "URI), so that a version whose run is gone can still be imported."
)


@migrate.command("export-model")
@text_option("--model", required=True, help="Registered model name.")
@text_option("--output-dir", required=True, help="Output directory.")
@text_option(
    "--stages",
    help="Stages to export (comma separated): Production, Staging, "
    "Archived, None. Default: all versions. Mutually exclusive with --versions.",
)
@text_option(
    "--versions",
    help="Version numbers to export (comma separated). Mutually exclusive with --stages.",
)
@bool_option(
    "--export-latest-versions",
    help="Export only the latest version of each stage "
    "(of the --stages given) instead of all versions.",
)
@bool_option("--export-version-model", help=_EXPORT_VERSION_MODEL_HELP)
@bool_option(
    "--export-deleted-runs",
    help="Also export versions whose run is deleted (with "
    "the run, marked deleted). Without it such versions are skipped and listed in "
    "model.json.",
)
@bool_option("--export-permissions", help=_EXPORT_PERMISSIONS_HELP)
@notebook_formats_option
@tracking_uri_option("source")
@common_options
@summarized
def export_model(
    model,
    output_dir,
    stages,
    versions,
    export_latest_versions,
    export_version_model,
    export_deleted_runs,
    export_permissions,
    notebook_formats,
    **common,
):
    """Export a registered model to a directory: model.json (description, tags, aliases and
    every selected version with its stage, aliases, tags, source and run) and each version's
    run beside it, with the run's LoggedModels, as export-run writes it."""
    from .. import api

    report = api.export_model(
        model,
        output_dir,
        stages=split_list(stages),
        versions=split_list(versions),
        export_latest_versions=export_latest_versions,
        export_version_model=export_version_model,
        export_deleted_runs=export_deleted_runs,
        export_permissions=export_permissions,
        notebook_formats=split_list(notebook_formats),
        **common,
    )
    exported = len(report.find("model_version", "exported"))
    click.echo(f"Exported model '{model}' ({exported} versions) to {output_dir}")
    return report


@migrate.command("import-model")
@input_dir_option("export-model")
@text_option("--model", help="Destination registered model name. Default: the name in the export.")
@text_option(
    "--experiment-name",
    required=True,
    help="Destination experiment of the versions' runs; created if it does not exist.",
)
@bool_option(
    "--delete-model",
    help="If the destination model exists, first delete it and all its versions (a clean replace).",
)
@bool_option("--import-source-tags", help=IMPORT_SOURCE_TAGS_HELP)
@await_creation_option
@bool_option("--import-permissions", help=_IMPORT_PERMISSIONS_HELP)
@wait_option("registered model")
@skip_unsupported_option
@tracking_uri_option("destination")
@common_options
@summarized
def import_model(
    input_dir,
    model,
    experiment_name,
    delete_model,
    import_source_tags,
    await_creation_for,
    import_permissions,
    wait,
    skip_unsupported,
    **common,
):
    """Import a registered model from a directory: the model with its description and tags if
    it does not exist, its versions' runs (with their LoggedModels, several at a time), and its
    versions in number order, each as soon as its run is in, with their numbers (gaps
    included), stages, aliases, tags and description, each pointing at the imported run or
    LoggedModel. Prints what it imports, version by version. A rerun adds nothing; a failed
    import leaves nothing behind."""
    from .. import api

    return api.import_model(
        input_dir,
        experiment_name,
        model=model,
        delete_model=delete_model,
        import_source_tags=import_source_tags,
        await_creation_for=await_creation_for,
        import_permissions=import_permissions,
        wait=wait,
        skip_unsupported=skip_unsupported,
        **common,
    )


@migrate.command("export-model-version")
@text_option("--model", required=True, help="Registered model name.")
@text_option("--version", required=True, help="Version number.")
@text_option("--output-dir", required=True, help="Output directory.")
@bool_option("--export-version-model", help=_EXPORT_VERSION_MODEL_HELP)
@bool_option("--export-permissions", help=_EXPORT_PERMISSIONS_HELP)
@notebook_formats_option
@tracking_uri_option("source")
@common_options
@summarized
def export_model_version(
    model, version, output_dir, export_version_model, export_permissions, notebook_formats, **common
):
    """Export one model version to a directory: version.json, model.json (the registered
    model), experiment.json (the run's experiment) and run/ (the version's run, deleted or
    not, with its LoggedModels)."""
    from .. import api

    report = api.export_model_version(
        model,
        version,
        output_dir,
        export_version_model=export_version_model,
        export_permissions=export_permissions,
        notebook_formats=split_list(notebook_formats),
        **common,
    )
    click.echo(f"Exported version {version} of model '{model}' to {output_dir}")
    return report


@migrate.command("import-model-version")
@text_option("--model", help="Destination registered model name. Default: the name in the export.")
@text_option(
    "--experiment-name",
    required=True,
    help="Destination experiment of the version's run; created if it does not exist.",
)
@input_dir_option("export-model-version")
@bool_option("--create-model", help="Create the registered model if it does not exist.")
@bool_option("--import-permissions", help=_IMPORT_PERMISSIONS_HELP)
@bool_option("--import-source-tags", help=IMPORT_SOURCE_TAGS_HELP)
@bool_option(
    "--import-stages-and-aliases", help="Set the version's stage and aliases as in the source."
)
@bool_option(
    "--import-metadata",
    help="Give a registered model and an experiment that this "
    "import creates their exported description and tags (existing ones are left "
    "as they are).",
)
@skip_unsupported_option
@tracking_uri_option("destination")
@common_options
@summarized
def import_model_version(
    model,
    experiment_name,
    input_dir,
    create_model,
    import_permissions,
    import_source_tags,
    import_stages_and_aliases,
    import_metadata,
    skip_unsupported,
    **common,
):
    """Import one model version from a directory: its run (with its LoggedModels), then the
    version, keeping its number where the model allows, with its description and tags and a
    source pointing at the imported run or LoggedModel. A rerun adds nothing; a failed import
    leaves nothing behind."""
    from .. import api

    return api.import_model_version(
        input_dir,
        experiment_name,
        model=model,
        create_model=create_model,
        import_source_tags=import_source_tags,
        import_stages_and_aliases=import_stages_and_aliases,
        import_metadata=import_metadata,
        import_permissions=import_permissions,
        skip_unsupported=skip_unsupported,
        **common,
    )
