"""export-prompt and import-prompt."""

from __future__ import annotations

import click

from .group import migrate
from .options import (
    bool_option,
    common_options,
    input_dir_option,
    split_list,
    text_option,
    tracking_uri_option,
)
from .progress import summarized


@migrate.command("export-prompt")
@text_option("--prompt-name", required=True, help="Prompt name.")
@text_option(
    "--prompt-version",
    help="Version numbers to export (comma separated). Default: every version.",
)
@text_option("--output-dir", required=True, help="Output directory.")
@tracking_uri_option("source")
@common_options
@summarized
def export_prompt(prompt_name, prompt_version, output_dir, **common):
    """Export a prompt of the prompt registry to a directory: prompt.json, with the prompt's
    description, tags and aliases and every version's template (text or chat), commit message,
    tags, model config and response format."""
    from .. import api

    report = api.export_prompt(
        prompt_name,
        output_dir,
        prompt_version=split_list(prompt_version),
        **common,
    )
    exported = len(report.find("prompt_version", "exported"))
    click.echo(f"Exported prompt '{prompt_name}' ({exported} versions) to {output_dir}")
    return report


@migrate.command("import-prompt")
@input_dir_option("export-prompt")
@text_option("--prompt-name", help="Destination prompt name. Default: the name in the export.")
@bool_option(
    "--delete-prompt",
    help="If the destination prompt exists, first delete it and all its versions.",
)
@bool_option(
    "--import-source-tags",
    help="Also record what the destination sets itself (the source's creation times and "
    "version users) as 'mlflow_migrate.source.prompt.*' and "
    "'mlflow_migrate.source.prompt_version.*' tags.",
)
@tracking_uri_option("destination")
@common_options
@summarized
def import_prompt(input_dir, prompt_name, delete_prompt, import_source_tags, **common):
    """Import a prompt from a directory, keeping its version numbers (versions deleted on the
    source are rebuilt as gaps), templates, commit messages, tags, model configs, response
    formats and aliases. A rerun adds nothing; a failed import leaves nothing behind."""
    from .. import api

    return api.import_prompt(
        input_dir,
        prompt_name=prompt_name,
        delete_prompt=delete_prompt,
        import_source_tags=import_source_tags,
        **common,
    )
