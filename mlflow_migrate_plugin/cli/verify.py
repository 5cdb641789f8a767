"""verify-run, verify-experiment, verify-model, verify-model-version, verify-prompt and
verify-all: after a migration, proof that the destination holds what the source held.

Exit code 0 when nothing required differs, 1 when something does (each difference is listed
with both values), 2 for a usage error.
"""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path

import click

from .group import migrate
from .options import bool_option, common_options, src_dst_uri_options, text_option
from .progress import CliProgress


def _report_options(fn):
    """--sizes-only, --output, --output-file and --show-info, then render and set the exit code."""

    @bool_option(
        "--sizes-only",
        help="Compare artifacts by size only (MLmodel files are still read): for very large "
        "artifact stores, where downloading every file to hash it costs too much.",
    )
    @click.option(
        "--output",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Report format on stdout: readable text grouped by object, or JSON.",
    )
    @text_option("--output-file", help="Also write the JSON report to this file.")
    @bool_option("--show-info", help="List what differs only because MLflow cannot set it (ids).")
    @functools.wraps(fn)
    def wrapper(*args, output, output_file, show_info, **kwargs):
        started = time.monotonic()
        result = fn(*args, progress=CliProgress(), **kwargs)
        if output_file:
            Path(output_file).write_text(result.to_json() + "\n", encoding="utf-8")
        if output == "json":
            click.echo(result.to_json())
        else:
            _print_text(result, show_info, started)
        if not result.ok:
            sys.exit(1)

    return wrapper


def _print_text(result, show_info: bool, started: float) -> None:
    from ..endpoint import redact_text

    click.echo(f"Source: {result.source}")
    click.echo(f"Destination: {result.destination}")
    for line in result.report_lines(show_info):
        click.echo(redact_text(line))
    for line in result.summary_lines():
        click.echo(line)
    click.echo(f"Done in {time.monotonic() - started:.1f}s.")


def _no_traces(fn):
    return bool_option(
        "--no-traces", help="Leave the experiment's traces out of the check (there may be many)."
    )(fn)


@migrate.command("verify-run")
@text_option("--run-id", required=True, help="Source run ID.")
@text_option(
    "--dst-experiment-name",
    help="Destination experiment the run was imported into. Default: the source run's "
    "experiment name.",
)
@src_dst_uri_options()
@_report_options
@common_options
def verify_run(run_id, dst_experiment_name, **common):
    """Check that the run imported from --run-id holds everything the source run holds: info,
    params, tags, every metric point, datasets, artifacts (size and sha256), its LoggedModels
    and its parent link. The counterpart is found by the source run id the import recorded."""
    from .. import api

    return api.verify_run(run_id, dst_experiment_name=dst_experiment_name, **common)


@migrate.command("verify-experiment")
@text_option("--experiment", required=True, help="Source experiment name or ID.")
@text_option("--dst-experiment-name", help="Destination experiment name. Default: the source name.")
@bool_option(
    "--include-deleted-runs",
    help="Also check the source's deleted runs (export-experiment --export-deleted-runs).",
)
@_no_traces
@src_dst_uri_options()
@_report_options
@common_options
def verify_experiment(experiment, dst_experiment_name, include_deleted_runs, no_traces, **common):
    """Check an experiment against its destination copy: name, tags, every run (as verify-run
    does), every LoggedModel, every trace (info, spans, assessments, links) and every
    evaluation dataset (name, tags, records by their inputs); a source object with no
    counterpart is missing, one imported twice is a duplicate."""
    from .. import api

    return api.verify_experiment(
        experiment,
        dst_experiment_name=dst_experiment_name,
        include_deleted_runs=include_deleted_runs,
        include_traces=not no_traces,
        **common,
    )


_STAGES_HELP = (
    "Compare stages and aliases (turn off after an import or copy made without "
    "--import-stages-and-aliases / --copy-stages-and-aliases)."
)


@migrate.command("verify-model")
@text_option("--model", required=True, help="Source registered model name.")
@text_option("--dst-model", help="Destination registered model name. Default: the source name.")
@bool_option("--check-stages-and-aliases", default=True, help=_STAGES_HELP)
@src_dst_uri_options(registry=True)
@_report_options
@common_options
def verify_model(model, dst_model, check_stages_and_aliases, **common):
    """Check a registered model against its destination copy: description, tags, aliases, and
    every version (number, source, stage, aliases, tags, description, status) with the run and
    LoggedModel it points at."""
    from .. import api

    return api.verify_model(
        model,
        dst_model=dst_model,
        check_stages_and_aliases=check_stages_and_aliases,
        **common,
    )


@migrate.command("verify-model-version")
@text_option("--model", required=True, help="Source registered model name.")
@text_option("--version", required=True, help="Source version number.")
@text_option("--dst-model", help="Destination registered model name. Default: the source name.")
@text_option(
    "--dst-version",
    help="Destination version number. Default: the version the import or copy recorded as "
    "coming from the source version.",
)
@bool_option("--check-stages-and-aliases", default=True, help=_STAGES_HELP)
@src_dst_uri_options(registry=True)
@_report_options
@common_options
def verify_model_version(
    model, version, dst_model, dst_version, check_stages_and_aliases, **common
):
    """Check one model version against its destination counterpart, with its run and
    LoggedModel."""
    from .. import api

    return api.verify_model_version(
        model,
        version,
        dst_model=dst_model,
        dst_version=dst_version,
        check_stages_and_aliases=check_stages_and_aliases,
        **common,
    )


@migrate.command("verify-all")
@text_option(
    "--experiments",
    default="all",
    help="Experiments: 'all', comma separated names or ids, or a file with one a line.",
)
@text_option(
    "--models",
    default="all",
    help="Registered models: 'all', comma separated names (shell patterns too), or a file with "
    "one a line.",
)
@bool_option("--verify-experiments", default=True, help="Check experiments (off: models only).")
@bool_option(
    "--verify-models", default=True, help="Check registered models (off: experiments only)."
)
@text_option(
    "--experiment-rename-file",
    help="The rename file given to import-all ('old name,new name' lines), if any.",
)
@text_option("--model-rename-file", help="The model rename file given to import-all, if any.")
@bool_option(
    "--include-deleted-runs",
    help="Also check the source's deleted runs (export-all --export-deleted-runs).",
)
@bool_option("--check-stages-and-aliases", default=True, help=_STAGES_HELP)
@bool_option("--verify-prompts", default=True, help="Check prompts (off: leave them out).")
@_no_traces
@src_dst_uri_options(registry=True)
@_report_options
@common_options
def verify_all(
    experiments,
    models,
    verify_experiments,
    verify_models,
    experiment_rename_file,
    model_rename_file,
    include_deleted_runs,
    check_stages_and_aliases,
    verify_prompts,
    no_traces,
    **common,
):
    """Check a whole server after export-all/import-all: every active experiment (tags, every
    run, LoggedModel, trace and evaluation dataset), every registered model (every version with
    its run and LoggedModel) and every prompt, each found on the destination under the name
    import-all gave it."""
    from .. import api
    from .bulk import name_choice

    return api.verify_all(
        experiments=name_choice(experiments),
        models=name_choice(models),
        include_experiments=verify_experiments,
        include_models=verify_models,
        include_prompts=verify_prompts,
        include_traces=not no_traces,
        experiment_rename_file=experiment_rename_file,
        model_rename_file=model_rename_file,
        include_deleted_runs=include_deleted_runs,
        check_stages_and_aliases=check_stages_and_aliases,
        **common,
    )


@migrate.command("verify-prompt")
@text_option("--prompt-name", required=True, help="Source prompt name.")
@text_option("--dst-prompt-name", help="Destination prompt name. Default: the source name.")
@src_dst_uri_options(registry=True)
@_report_options
@common_options
def verify_prompt(prompt_name, dst_prompt_name, sizes_only, **common):
    """Check a prompt against its destination copy: tags, aliases, and every version
    (template, type, commit message, tags, model config, response format, aliases) against
    the destination version of the same number."""
    from .. import api

    del sizes_only  # a prompt has no artifacts to compare
    return api.verify_prompt(prompt_name, dst_prompt_name=dst_prompt_name, **common)
