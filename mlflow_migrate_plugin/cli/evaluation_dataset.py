"""export-evaluation-dataset and import-evaluation-dataset."""

from __future__ import annotations

import click

from .group import migrate
from .options import bool_option, common_options, input_dir_option, text_option, tracking_uri_option
from .progress import summarized


@migrate.command("export-evaluation-dataset")
@text_option("--dataset-name", help="Name of the dataset (one dataset must have it).")
@text_option("--dataset-id", help="ID of the dataset (d-...). One of the two is needed.")
@text_option("--output-dir", required=True, help="Output directory.")
@tracking_uri_option("source")
@common_options
@summarized
def export_evaluation_dataset(dataset_name, dataset_id, output_dir, **common):
    """Export a GenAI evaluation dataset to a directory: dataset.json (name, tags, schema,
    profile, the experiments it belongs to) and records.jsonl (every record's inputs,
    expectations, outputs, tags and source)."""
    from .. import api

    if not (dataset_name or dataset_id):
        raise click.UsageError("give --dataset-name or --dataset-id")
    report = api.export_evaluation_dataset(
        output_dir,
        dataset_name=dataset_name,
        dataset_id=dataset_id,
        **common,
    )
    click.echo(f"Exported evaluation dataset {dataset_id or dataset_name} to {output_dir}")
    return report


@migrate.command("import-evaluation-dataset")
@input_dir_option("export-evaluation-dataset")
@text_option(
    "--evaluation-dataset-name",
    help="Destination dataset name. Default: the name in the export.",
)
@bool_option(
    "--delete-evaluation-dataset",
    help="First delete the destination's evaluation datasets of that name.",
)
@tracking_uri_option("destination")
@common_options
@summarized
def import_evaluation_dataset(
    input_dir, evaluation_dataset_name, delete_evaluation_dataset, **common
):
    """Import a GenAI evaluation dataset from a directory with every record, linked to the
    destination experiments that have the names of its source experiments. A rerun adds no
    record; a failed import leaves no dataset behind."""
    from .. import api

    return api.import_evaluation_dataset(
        input_dir,
        evaluation_dataset_name=evaluation_dataset_name,
        delete_evaluation_dataset=delete_evaluation_dataset,
        **common,
    )
