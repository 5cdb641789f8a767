"""copy-run, copy-experiment, copy-model and copy-model-version: server to server in one
command (copy-all is with the whole-server commands)."""

from __future__ import annotations

import click

from .group import migrate
from .options import (
    IMPORT_SOURCE_TAGS_HELP,
    await_creation_option,
    bool_option,
    common_options,
    experiment_name_option,
    no_evaluation_datasets_option,
    no_traces_option,
    skip_unsupported_option,
    split_list,
    src_dst_uri_options,
    text_option,
    trace_window_options,
    wait_option,
)
from .progress import status_counts, summarized

_STREAMED = "by default nothing is exported: objects stream from source to destination"
_STAGED = (
    "by default the version's run streams from source to destination; a version that needs "
    "its own model files goes through a temporary directory, removed on success and failure"
)


def keep_export_dir_option(default: str):
    """``--keep-export-dir``; ``default`` says what the command does without it."""
    return text_option(
        "--keep-export-dir",
        help="Export into this directory, import from it, and leave it there for inspection "
        f"({default}).",
    )


@migrate.command("copy-run")
@text_option("--run-id", required=True, help="Source run ID.")
@experiment_name_option
@src_dst_uri_options()
@bool_option(
    "--import-source-tags",
    help="Also record the source run's info and provenance as 'mlflow_migrate.source.*' tags.",
)
@bool_option(
    "--use-src-user-id",
    help="Set the destination run's user to the source run's user (open-source MLflow only).",
)
@bool_option(
    "--mlmodel-fix",
    default=True,
    help="Rewrite the run and model ids (and a LoggedModel's artifact_path) in MLmodel files "
    "and in the mlflow.log-model.history tag to the destination's.",
)
@keep_export_dir_option(_STREAMED)
@skip_unsupported_option
@common_options
@summarized
def copy_run(
    run_id,
    experiment_name,
    import_source_tags,
    use_src_user_id,
    mlmodel_fix,
    keep_export_dir,
    skip_unsupported,
    **common,
):
    """Copy a run, within one tracking server or from one to another, streaming: metric pages
    are logged on the destination as they are read, and each artifact file is on local disk
    only between its download and its upload. Everything import-run keeps is kept; a rerun
    skips the run already copied; a failed copy leaves nothing."""
    from .. import api

    report = api.copy_run(
        run_id,
        experiment_name,
        import_source_tags=import_source_tags,
        use_src_user_id=use_src_user_id,
        mlmodel_fix=mlmodel_fix,
        keep_export_dir=keep_export_dir,
        skip_unsupported=skip_unsupported,
        **common,
    )
    for outcome in report.find("run"):
        if outcome.status in ("imported", "skipped"):
            verb = "Copied" if outcome.status == "imported" else "Skipped (already copied)"
            click.echo(
                f"{verb} run {run_id} to {outcome.destination_id} in experiment '{experiment_name}'"
            )
    return report


@migrate.command("copy-experiment")
@text_option("--experiment", required=True, help="Source experiment name or ID.")
@text_option(
    "--experiment-name",
    required=True,
    help="Destination experiment name. Created with the source's tags and description if it "
    "does not exist; else the runs are added to it and its own tags stay as they are.",
)
@src_dst_uri_options()
@text_option(
    "--run-ids",
    help="Copy only these runs (comma separated IDs). Default: every run of the experiment.",
)
@text_option(
    "--run-start-time",
    help="Only copy runs that started on or after this UTC date (inclusive). Format: YYYY-MM-DD.",
)
@bool_option(
    "--export-deleted-runs", help="Also copy deleted runs; they are deleted on the destination."
)
@bool_option(
    "--check-nested-runs",
    help="With --run-ids: also copy every run nested below a listed run (children, "
    "grandchildren, ...), found by their mlflow.parentRunId tag.",
)
@bool_option(
    "--import-source-tags",
    help="Also record the source experiment's and runs' info as 'mlflow_migrate.source.*' tags.",
)
@bool_option(
    "--use-src-user-id",
    help="Set each destination run's user to the source run's user (open-source MLflow only).",
)
@no_traces_option
@trace_window_options
@no_evaluation_datasets_option
@wait_option("experiment")
@skip_unsupported_option
@common_options
@summarized
def copy_experiment(
    experiment,
    experiment_name,
    run_ids,
    run_start_time,
    export_deleted_runs,
    check_nested_runs,
    import_source_tags,
    use_src_user_id,
    no_traces,
    trace_start_time,
    traces_until,
    no_evaluation_datasets,
    wait,
    skip_unsupported,
    **common,
):
    """Copy an experiment with its runs, its own LoggedModels, its traces and its evaluation
    datasets, within one tracking server or from one to another, streaming the runs: nothing
    is exported in between. Runs are chosen as export-experiment chooses them and imported as
    import-experiment imports them, parents first, --workers at a time. A rerun adds nothing;
    a run that fails leaves nothing, does not stop the others, and the command then exits 1."""
    from .. import api

    report = api.copy_experiment(
        experiment,
        experiment_name,
        run_ids=split_list(run_ids) or None,
        run_start_time=run_start_time,
        export_deleted_runs=export_deleted_runs,
        check_nested_runs=check_nested_runs,
        import_source_tags=import_source_tags,
        use_src_user_id=use_src_user_id,
        include_traces=not no_traces,
        include_evaluation_datasets=not no_evaluation_datasets,
        trace_start_time=trace_start_time,
        traces_until=traces_until,
        wait=wait,
        skip_unsupported=skip_unsupported,
        **common,
    )
    counts = status_counts(report, "run")
    click.echo(f"Copied experiment '{experiment}' to '{experiment_name}': runs {counts}")
    return report


@migrate.command("copy-model")
@text_option("--model", required=True, help="Source registered model name.")
@text_option("--dst-model", help="Destination registered model name. Default: the same name.")
@text_option(
    "--experiment-name",
    required=True,
    help="Destination experiment of the versions' runs; created if it does not exist.",
)
@src_dst_uri_options(registry=True, registry_first=True)
@text_option(
    "--stages",
    help="Stages to copy (comma separated): Production, Staging, "
    "Archived, None. Default: all versions. Mutually exclusive with --versions.",
)
@text_option(
    "--versions",
    help="Version numbers to copy (comma separated). Mutually exclusive with --stages.",
)
@bool_option(
    "--export-latest-versions",
    help="Copy only the latest version of each stage (of the --stages given).",
)
@bool_option(
    "--export-deleted-runs",
    help="Also copy versions whose run is deleted (with the run, marked deleted). Without it "
    "such versions are skipped with a warning.",
)
@bool_option(
    "--delete-model",
    help="If the destination model exists, first delete it and all its versions (a clean replace).",
)
@bool_option("--import-source-tags", help=IMPORT_SOURCE_TAGS_HELP)
@await_creation_option
@wait_option("registered model")
@skip_unsupported_option
@common_options
@summarized
def copy_model(
    model,
    dst_model,
    experiment_name,
    stages,
    versions,
    export_latest_versions,
    export_deleted_runs,
    delete_model,
    import_source_tags,
    await_creation_for,
    wait,
    skip_unsupported,
    **common,
):
    """Copy a registered model (description, tags, and its versions with their stages, aliases
    and runs) within one registry or between two, streaming each version's run as
    copy-model-version does. Versions keep their numbers; a rerun adds nothing."""
    from .. import api

    report = api.copy_model(
        model,
        experiment_name,
        dst_model=dst_model,
        stages=split_list(stages),
        versions=split_list(versions),
        export_latest_versions=export_latest_versions,
        export_deleted_runs=export_deleted_runs,
        delete_model=delete_model,
        import_source_tags=import_source_tags,
        await_creation_for=await_creation_for,
        wait=wait,
        skip_unsupported=skip_unsupported,
        **common,
    )
    counts = status_counts(report, "model_version")
    click.echo(f"Copied model '{model}' to '{dst_model or model}': versions {counts}")
    return report


@migrate.command("copy-model-version")
@text_option("--src-model", required=True, help="Source registered model name.")
@text_option("--src-version", required=True, help="Source version number.")
@text_option(
    "--dst-model",
    required=True,
    help="Destination registered model name; created "
    "(with the source model's description and tags) if it does not exist.",
)
@src_dst_uri_options(registry=True, registry_first=True)
@text_option(
    "--dst-experiment-name",
    help="Deep copy: copy the version's run (and "
    "LoggedModel) into this destination experiment and point the new version at the "
    "copy. Without it the copy is shallow: the new version points at the source run, "
    "which needs source and destination on one tracking server.",
)
@bool_option(
    "--copy-permissions",
    help="Copy the model's Databricks permissions (workspace "
    "ACL or Unity Catalog grants; Databricks on both sides).",
)
@bool_option(
    "--copy-stages-and-aliases", help="Give the new version the source version's stage and aliases."
)
@bool_option(
    "--copy-lineage-tags",
    help="Tag the new version with where it came from: "
    "'mlflow_migrate.lineage.source_model', '.source_version', '.source_run_id', "
    "'.source_tracking_uri', '.source_registry_uri' (without credentials) and "
    "'.source_user_id'.",
)
@keep_export_dir_option(_STAGED)
@skip_unsupported_option
@common_options
@summarized
def copy_model_version(
    src_model,
    src_version,
    dst_model,
    dst_experiment_name,
    copy_permissions,
    copy_stages_and_aliases,
    copy_lineage_tags,
    keep_export_dir,
    skip_unsupported,
    **common,
):
    """Copy a model version to a new version of another (or the same) registered model, within
    one registry or between two. Deep with --dst-experiment-name (the run and LoggedModel are
    copied, streaming, and the new version points at the copies), shallow without. The version
    number is kept where the destination model allows it; a rerun adds nothing; a failed copy
    leaves nothing."""
    from .. import api

    report = api.copy_model_version(
        src_model,
        src_version,
        dst_model,
        dst_experiment_name=dst_experiment_name,
        copy_permissions=copy_permissions,
        copy_stages_and_aliases=copy_stages_and_aliases,
        copy_lineage_tags=copy_lineage_tags,
        keep_export_dir=keep_export_dir,
        skip_unsupported=skip_unsupported,
        **common,
    )
    kind = "deep" if dst_experiment_name else "shallow"
    for outcome in report.find("model_version"):
        if outcome.status in ("imported", "skipped"):
            verb = "Copied" if outcome.status == "imported" else "Skipped (already copied)"
            click.echo(
                f"{verb} ({kind}) version {src_version} of '{src_model}' to version "
                f"{outcome.destination_id} of '{dst_model}'"
            )
    return report
