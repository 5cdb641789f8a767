"""Whole servers: export-all, import-all, export-experiments, import-experiments, export-models
and import-models (mlflow-export-import's bulk commands, with its option names), and copy-all."""

from __future__ import annotations

import click

from .group import migrate
from .options import (
    bool_option,
    common_options,
    notebook_formats_option,
    skip_unsupported_option,
    split_list,
    src_dst_uri_options,
    text_option,
    tracking_uri_option,
)
from .progress import summarized

_OUTPUT_HELP = (
    "Output directory: experiments/<id>/ per experiment, models/<name>/ per registered "
    "model, and manifest.json, written last."
)
_INPUT_HELP = (
    "Input directory, from an export-all, export-experiments or export-models (ours or "
    "mlflow-export-import's)."
)


def _shard_option(fn):
    return text_option(
        "--shard",
        help="Only part K of N (K/N, K from 0) of the experiments and models, split by a "
        "stable hash; a model goes with the experiment of its runs. Run N of these side by "
        "side to spread a large server over machines (docs/bulk.md).",
    )(fn)


def _use_threads_option(fn):
    """mlflow-export-import's --use-threads: we always work in parallel (--workers)."""
    return bool_option(
        "--use-threads",
        help="Accepted for mlflow-export-import scripts: work is always parallel; "
        "False is the same as --workers 1.",
        default=True,
    )(fn)


def _export_options(fn):
    """The options every bulk export takes."""
    for decorate in reversed(
        (
            text_option("--output-dir", required=True, help=_OUTPUT_HELP),
            text_option(
                "--stages",
                help="Model versions to export by stage (comma separated: Production, "
                "Staging, Archived, None). Default: every version.",
            ),
            bool_option(
                "--export-latest-versions", help="Export only the latest version of each stage."
            ),
            text_option(
                "--run-start-time",
                help="Only runs that started on or after this UTC date (YYYY-MM-DD).",
            ),
            text_option(
                "--runs-until", help="Only runs that started before this UTC date (YYYY-MM-DD)."
            ),
            bool_option(
                "--export-deleted-runs",
                help="Also export deleted runs (and versions whose run is deleted).",
            ),
            bool_option(
                "--export-version-model",
                help="Also export each version's own model files (a version whose run is "
                "gone can then still be imported).",
            ),
            bool_option(
                "--export-permissions", help="Export Databricks permissions (Databricks only)."
            ),
            notebook_formats_option,
            _shard_option,
            _use_threads_option,
            tracking_uri_option("source"),
            common_options,
            summarized,
        )
    ):
        fn = decorate(fn)
    return fn


def _import_options(fn):
    """The options every bulk import takes."""
    for decorate in reversed(
        (
            text_option("--input-dir", required=True, help=_INPUT_HELP),
            bool_option(
                "--delete-model",
                help="Delete each destination model and its versions before importing it.",
            ),
            bool_option(
                "--import-permissions",
                help="Import Databricks permissions (Databricks destination only).",
            ),
            text_option(
                "--experiment-rename-file",
                help="File of 'old name,new name' lines: experiments to import under another name.",
            ),
            text_option(
                "--model-rename-file",
                help="File of 'old name,new name' lines: models to import under another name.",
            ),
            bool_option(
                "--import-source-tags",
                help="Also record the source objects' info as 'mlflow_migrate.source.*' tags.",
            ),
            bool_option(
                "--use-src-user-id",
                help="Set each destination run's user to the source run's user (open-source "
                "MLflow only).",
            ),
            skip_unsupported_option,
            _shard_option,
            _use_threads_option,
            tracking_uri_option("destination"),
            common_options,
            summarized,
        )
    ):
        fn = decorate(fn)
    return fn


def _export(kinds: dict, use_threads: bool, workers: int, notebook_formats: str, **given):
    from .. import api

    report = api.export_all(
        **kinds,
        **given,
        notebook_formats=split_list(notebook_formats),
        workers=workers if use_threads else 1,
    )
    click.echo(f"Exported to {given['output_dir']}:")
    return report


def _import(kinds: dict, use_threads: bool, workers: int, **given):
    from .. import api

    report = api.import_all(**kinds, **given, workers=workers if use_threads else 1)
    click.echo(f"Imported {given['input_dir']}:")
    return report


_ALL_MODELS = (
    "Registered models: 'all', comma separated names (shell patterns such as 'sklearn*' "
    "too), or a file with one name a line."
)
_ALL_EXPERIMENTS = "Experiments: 'all', comma separated names or ids, or a file with one a line."


@migrate.command("export-all")
@_export_options
def export_all(**given):
    """Export a whole server: every active experiment with its runs and LoggedModels, and every
    registered model with its versions and their runs. One object failing does not stop the
    others; the summary counts each kind, and the command exits 1 if anything failed. Run
    again into the same directory, an interrupted export keeps what it had finished, and a
    finished one is brought up to date: runs unchanged since are kept without reading them
    again (docs/bulk.md, "Incremental sync")."""
    return _export({}, **given)


@migrate.command("import-all")
@_import_options
def import_all(**given):
    """Import an export-all directory: experiments under their names, then models, each
    version linked to the run its experiment's import made (no run is imported twice). Rerun
    it at will: what is already there is skipped, so an interrupted import completes and a
    new export of a changed source adds only what is new."""
    return _import({}, **given)


@migrate.command("export-experiments")
@text_option("--experiments", required=True, help=_ALL_EXPERIMENTS)
@_export_options
def export_experiments(experiments, **given):
    """Export several experiments (or all) with their runs, as export-all does."""
    return _export({"experiments": name_choice(experiments), "include_models": False}, **given)


@migrate.command("import-experiments")
@_import_options
def import_experiments(**given):
    """Import the experiments of a bulk export (models are left out)."""
    return _import({"include_models": False}, **given)


@migrate.command("export-models")
@text_option("--models", required=True, help=_ALL_MODELS)
@bool_option(
    "--export-all-runs",
    help="Also export the whole experiments the versions' runs belong to (else only the "
    "versions' runs, inside each model's folder).",
)
@_export_options
def export_models(models, export_all_runs, **given):
    """Export several registered models (or all) with their versions and their runs."""
    kinds = {"models": name_choice(models), "include_experiments": False}
    return _export({**kinds, "export_all_runs": export_all_runs}, **given)


@migrate.command("import-models")
@_import_options
def import_models(**given):
    """Import the models of a bulk export, with the experiments it holds (export-models
    --export-all-runs) first."""
    return _import({}, **given)


def name_choice(value: str):
    """None for 'all' (every object), else the names or ids listed, or read from a file."""
    if value.strip().lower() == "all":
        return None
    from ..exportdir.bulk_dir import read_name_list

    return read_name_list(value)


@migrate.command("copy-all")
@src_dst_uri_options(registry=True)
@text_option(
    "--experiments",
    help="Experiments to copy (comma separated names or IDs). Default: every active one.",
)
@text_option(
    "--models",
    help="Registered models to copy (comma separated names; shell patterns such as 'sk*' "
    "allowed). Default: every one.",
)
@text_option(
    "--run-start-time",
    help="Only copy runs that started on or after this UTC date (inclusive). Format: YYYY-MM-DD.",
)
@bool_option(
    "--export-deleted-runs",
    help="Also copy deleted runs, and versions whose run is deleted; they stay deleted.",
)
@text_option(
    "--stages",
    help="Model versions to copy by stage (comma separated: Production, Staging, Archived, "
    "None). Default: every version.",
)
@bool_option(
    "--export-latest-versions",
    help="Copy only the latest version of each stage (of the --stages given).",
)
@bool_option(
    "--use-src-user-id",
    help="Set each destination run's user to the source run's user (open-source MLflow only).",
)
@text_option(
    "--shard",
    help="Only part K of N (K/N, K from 0) of the experiments and models, split by the same "
    "stable hash as export-all; a model goes with the experiment of its runs.",
)
@skip_unsupported_option
@common_options
@summarized
def copy_all(
    experiments,
    models,
    run_start_time,
    export_deleted_runs,
    stages,
    export_latest_versions,
    use_src_user_id,
    shard,
    skip_unsupported,
    **common,
):
    """Copy a whole server, streaming: every prompt with its versions, every active experiment
    with its runs, LoggedModels, traces and evaluation datasets (under its name), then every
    registered model with its versions and their runs. Each object is copied as
    copy-experiment, copy-model and export-prompt/import-prompt copy it; one failure stops
    nothing else (the command then exits 1), and a rerun adds only what is missing. With
    --experiments, prompts are left out, as export-all leaves them out."""
    from .. import api

    return api.copy_all(
        experiments=split_list(experiments) or None,
        models=split_list(models) or None,
        run_start_time=run_start_time,
        export_deleted_runs=export_deleted_runs,
        stages=split_list(stages),
        export_latest_versions=export_latest_versions,
        use_src_user_id=use_src_user_id,
        skip_unsupported=skip_unsupported,
        shard=shard,
        **common,
    )
