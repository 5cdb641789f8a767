"""The public functions for MLflow 3's GenAI objects and LoggedModels: traces, prompts,
evaluation datasets, LoggedModels."""

from __future__ import annotations

from pathlib import Path

from .api_setup import as_list as _as_list
from .api_setup import endpoint as _endpoint
from .api_setup import migration as _migration
from .api_setup import part_options as _part_options
from .api_setup import source as _source
from .report import NO_PROGRESS, Progress, Report
from .transfer.engine import DEFAULT_WORKERS


def export_trace(
    trace_id: str,
    output_dir: str | Path,
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
) -> Report:
    """Export one MLflow 3 trace (spans, assessments, links) to ``output_dir``/<trace_id>.json."""
    from .handlers import traces

    with _migration(workers, src=_source(tracking_uri, registry_uri)) as ctx:
        traces.export_trace(ctx, trace_id, output_dir)
    return ctx.report


def import_trace(
    input_file: str | Path,
    experiment_name: str,
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
) -> Report:
    """Import one exported trace file into ``experiment_name`` (created if needed); rerun safe."""
    from .handlers import trace_commands

    with _migration(workers, dst=_endpoint(tracking_uri, registry_uri)) as ctx:
        trace_commands.import_trace_file(ctx, Path(input_file), experiment_name)
    return ctx.report


def export_traces(
    experiment: str,
    output_dir: str | Path,
    *,
    trace_start_time: str | None = None,
    traces_until: str | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Export the traces of ``experiment`` (name or id), one file each, to ``output_dir``;
    ``trace_start_time`` / ``traces_until`` (UTC dates) keep a window of request times."""
    from .handlers import trace_commands

    src = _source(tracking_uri, registry_uri)
    options = _part_options(True, trace_start_time, traces_until)
    with _migration(workers, src=src, progress=progress, options=options) as ctx:
        trace_commands.export_experiment_traces(ctx, experiment, Path(output_dir))
    return ctx.report


def import_traces(
    input_dir: str | Path,
    experiment_name: str,
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Import exported traces (export-traces' directory, or an experiment export's traces)
    into ``experiment_name``; every file is checked before anything is created; rerun safe."""
    from .handlers import trace_commands

    dst = _endpoint(tracking_uri, registry_uri)
    with _migration(workers, dst=dst, progress=progress) as ctx:
        trace_commands.import_experiment_traces(ctx, Path(input_dir), experiment_name)
    return ctx.report


def export_prompt(
    prompt_name: str,
    output_dir: str | Path,
    *,
    prompt_version: list[str] | str | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Export a prompt with every version (or the numbers in ``prompt_version``, a list or
    comma separated) to ``output_dir/prompt.json``: templates, commit messages, tags, model
    configs, response formats and aliases."""
    from .handlers import prompts

    versions = _as_list(prompt_version)
    with _migration(workers, src=_source(tracking_uri, registry_uri), progress=progress) as ctx:
        prompts.export(ctx.src, prompt_name, output_dir, ctx.report, versions, ctx.engine)
    return ctx.report


def import_prompt(
    input_dir: str | Path,
    *,
    prompt_name: str | None = None,
    delete_prompt: bool = False,
    import_source_tags: bool = False,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Import a prompt export (ours, or mlflow-export-import's) as ``prompt_name`` (default:
    its exported name), keeping version numbers. ``delete_prompt`` first deletes a prompt of
    that name; ``import_source_tags`` records the source's creation times and users as tags.
    A rerun adds nothing; a failed import leaves nothing behind."""
    from .handlers import prompts

    with _migration(workers, dst=_endpoint(tracking_uri, registry_uri), progress=progress) as ctx:
        prompts.import_(
            ctx.dst,
            input_dir,
            ctx.report,
            prompt_name,
            delete_prompt=delete_prompt,
            import_source_tags=import_source_tags,
            progress=progress,
        )
    return ctx.report


def export_evaluation_dataset(
    output_dir: str | Path,
    *,
    dataset_name: str | None = None,
    dataset_id: str | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Export an evaluation dataset (by id, or by a name only one dataset has) with every
    record to ``output_dir``: dataset.json and records.jsonl."""
    from .handlers import evaluation_datasets

    with _migration(workers, src=_source(tracking_uri, registry_uri), progress=progress) as ctx:
        evaluation_datasets.export(
            ctx.src, output_dir, ctx.report, dataset_id=dataset_id, dataset_name=dataset_name
        )
    return ctx.report


def import_evaluation_dataset(
    input_dir: str | Path,
    *,
    evaluation_dataset_name: str | None = None,
    delete_evaluation_dataset: bool = False,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Import an evaluation dataset export (ours, or mlflow-export-import's) as
    ``evaluation_dataset_name`` (default: its exported name), linked to the destination
    experiments that have its source experiments' names. A rerun adds no record;
    ``delete_evaluation_dataset`` first deletes the datasets of that name."""
    from .handlers import evaluation_datasets

    with _migration(workers, dst=_endpoint(tracking_uri, registry_uri), progress=progress) as ctx:
        evaluation_datasets.import_(
            ctx.dst,
            input_dir,
            ctx.report,
            evaluation_dataset_name,
            delete=delete_evaluation_dataset,
            progress=progress,
        )
    return ctx.report


def export_logged_model(
    model_id: str,
    output_dir: str | Path,
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Export an MLflow 3 LoggedModel (name, type, params, tags, status, metrics, files) to
    ``output_dir``: logged_model.json and artifacts/."""
    from .handlers import logged_model

    with _migration(workers, src=_source(tracking_uri, registry_uri), progress=progress) as ctx:
        logged_model.export_one(ctx.src, model_id, output_dir, ctx.engine, ctx.report)
    return ctx.report


def import_logged_model(
    input_dir: str | Path,
    experiment_name: str,
    *,
    mlmodel_fix: bool = True,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Import a LoggedModel export (ours, or mlflow-export-import's) into ``experiment_name``
    (created if missing), linked to its run if that was imported there before. ``mlmodel_fix``
    rewrites the ids in its MLmodel files. A rerun adds nothing."""
    from .handlers import logged_model

    with _migration(workers, dst=_endpoint(tracking_uri, registry_uri), progress=progress) as ctx:
        logged_model.import_dir(
            ctx.dst, input_dir, experiment_name, ctx.engine, ctx.report, mlmodel_fix
        )
    return ctx.report
