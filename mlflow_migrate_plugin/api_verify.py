"""The public verify functions: compare what an import made with its source, side by side.

Re-exported by :mod:`.api` (``from mlflow_migrate_plugin import verify_run``, ...); each returns a
:class:`~.verify.Verification` of what differs.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from .api_setup import as_list, endpoint, engine, tracking_of
from .report import NO_PROGRESS, Progress
from .transfer.engine import DEFAULT_WORKERS
from .transfer.resilience import one_line_when_gone


@contextmanager
def _verification(
    src_mlflow_uri: str | None,
    dst_mlflow_uri: str | None,
    src_registry_uri: str | None,
    dst_registry_uri: str | None,
    workers: int,
    sizes_only: bool,
    progress: Progress,
):
    """Both endpoints, checked, and a verify context on a bounded pool (see :mod:`.verify`)."""
    from .verify import Verification
    from .verify.runs import Context

    src = endpoint(src_mlflow_uri or tracking_of(src_registry_uri), src_registry_uri)
    dst = endpoint(dst_mlflow_uri or tracking_of(dst_registry_uri), dst_registry_uri)
    result = Verification(src.display, dst.display)
    with engine(workers) as pool:
        phase = progress.phase("Comparing artifacts", None, "bytes")
        with one_line_when_gone((src, dst)):  # a server gone mid-way
            yield Context(src, dst, pool, result, sizes_only, progress, phase)
        phase.close()


def verify_run(
    run_id: str,
    *,
    dst_experiment_name: str | None = None,
    src_mlflow_uri: str | None = None,
    dst_mlflow_uri: str | None = None,
    sizes_only: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
):
    """Check that the run imported from ``run_id`` into ``dst_experiment_name`` (default: the
    source run's experiment name) holds everything the source run holds, with its LoggedModels.

    Returns a :class:`~.verify.Verification`: ``ok`` when nothing required differs; each
    difference is a finding with both values. ``sizes_only`` compares artifacts by size alone
    (no download but MLmodel files).
    """
    from .verify.runs import verify_single_run

    with _verification(
        src_mlflow_uri, dst_mlflow_uri, None, None, workers, sizes_only, progress
    ) as ctx:
        verify_single_run(ctx, run_id, dst_experiment_name)
    return ctx.result


def verify_experiment(
    experiment: str,
    *,
    dst_experiment_name: str | None = None,
    include_deleted_runs: bool = False,
    include_traces: bool = True,
    src_mlflow_uri: str | None = None,
    dst_mlflow_uri: str | None = None,
    sizes_only: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
):
    """Check an experiment (name or id) against its destination copy (same name, or
    ``dst_experiment_name``): tags, every run, LoggedModel, trace (unless ``include_traces``
    is false) and evaluation dataset. Deleted source runs are checked only with
    ``include_deleted_runs``. ``workers`` runs are compared at a time."""
    from .verify.experiments import verify_experiment as verify

    with _verification(
        src_mlflow_uri, dst_mlflow_uri, None, None, workers, sizes_only, progress
    ) as ctx:
        verify(
            ctx,
            experiment,
            dst_experiment_name,
            include_deleted_runs=include_deleted_runs,
            traces=include_traces,
            workers=workers,
        )
    return ctx.result


def verify_model(
    model: str,
    *,
    dst_model: str | None = None,
    check_stages_and_aliases: bool = True,
    src_mlflow_uri: str | None = None,
    dst_mlflow_uri: str | None = None,
    src_registry_uri: str | None = None,
    dst_registry_uri: str | None = None,
    sizes_only: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
):
    """Check registered model ``model`` against ``dst_model`` (default: the same name): its
    description, tags and aliases, every live version, and each version's run and LoggedModel."""
    from .verify.models import verify_registered_model

    with _verification(
        src_mlflow_uri,
        dst_mlflow_uri,
        src_registry_uri,
        dst_registry_uri,
        workers,
        sizes_only,
        progress,
    ) as ctx:
        verify_registered_model(
            ctx, model, dst_model, stages_and_aliases=check_stages_and_aliases, workers=workers
        )
    return ctx.result


def verify_model_version(
    model: str,
    version: str | int,
    *,
    dst_model: str | None = None,
    dst_version: str | int | None = None,
    check_stages_and_aliases: bool = True,
    src_mlflow_uri: str | None = None,
    dst_mlflow_uri: str | None = None,
    src_registry_uri: str | None = None,
    dst_registry_uri: str | None = None,
    sizes_only: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
):
    """Check one model version against its counterpart in ``dst_model`` (default: the same
    name): ``dst_version`` if given, else the version the import recorded as coming from it;
    with its run and LoggedModel."""
    from .verify.models import verify_single_version

    with _verification(
        src_mlflow_uri,
        dst_mlflow_uri,
        src_registry_uri,
        dst_registry_uri,
        workers,
        sizes_only,
        progress,
    ) as ctx:
        verify_single_version(
            ctx,
            model,
            str(version),
            dst_model,
            None if dst_version is None else str(dst_version),
            stages_and_aliases=check_stages_and_aliases,
        )
    return ctx.result


def verify_prompt(
    prompt_name: str,
    *,
    dst_prompt_name: str | None = None,
    src_mlflow_uri: str | None = None,
    dst_mlflow_uri: str | None = None,
    src_registry_uri: str | None = None,
    dst_registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
):
    """Check prompt ``prompt_name`` against ``dst_prompt_name`` (default: the same name): its
    tags and aliases, and every version (template, type, commit message, tags, model config,
    response format, aliases) against the destination version of the same number."""
    from .verify.prompts import verify_prompt as verify

    with _verification(
        src_mlflow_uri, dst_mlflow_uri, src_registry_uri, dst_registry_uri, workers, False, progress
    ) as ctx:
        verify(ctx, prompt_name, dst_prompt_name)
    return ctx.result


def verify_all(
    *,
    experiments: list[str] | str | None = None,
    models: list[str] | str | None = None,
    include_experiments: bool = True,
    include_models: bool = True,
    include_prompts: bool = True,
    include_traces: bool = True,
    experiment_rename_file: str | Path | None = None,
    model_rename_file: str | Path | None = None,
    include_deleted_runs: bool = False,
    check_stages_and_aliases: bool = True,
    src_mlflow_uri: str | None = None,
    dst_mlflow_uri: str | None = None,
    src_registry_uri: str | None = None,
    dst_registry_uri: str | None = None,
    sizes_only: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
):
    """Check every active experiment (with its traces and evaluation datasets), every
    registered model and every prompt of the source (or the experiments and models named in
    ``experiments`` and ``models``, as export-all chooses them) against the destination, where
    they have the names import-all gave them (its rename files, ``old,new`` lines)."""
    from .exportdir.bulk_dir import read_rename_file
    from .verify.whole_server import verify_all as verify

    with _verification(
        src_mlflow_uri,
        dst_mlflow_uri,
        src_registry_uri,
        dst_registry_uri,
        workers,
        sizes_only,
        progress,
    ) as ctx:
        verify(
            ctx,
            experiments=None if experiments in (None, "all") else as_list(experiments),
            models=None if models in (None, "all") else as_list(models),
            experiment_renames=read_rename_file(experiment_rename_file),
            model_renames=read_rename_file(model_rename_file),
            include_experiments=include_experiments,
            include_models=include_models,
            include_prompts=include_prompts,
            traces=include_traces,
            include_deleted_runs=include_deleted_runs,
            stages_and_aliases=check_stages_and_aliases,
            workers=workers,
        )
    return ctx.result
