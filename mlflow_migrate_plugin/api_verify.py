"""The public verify functions: compare what an import made with its source, side by side.

Re-exported by :mod:`.api` (``from mlflow_migrate_plugin import verify_run``, ...); each returns a
:class:`~.verify.Verification` of what differs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .api_setup import as_list, endpoint, engine, tracking_of
from .report import NO_PROGRESS, Progress
from .transfer.engine import DEFAULT_WORKERS
from .transfer.resilience import one_line_when_gone


def _verified(
    check: Callable[[Any], None],
    uris: tuple[str | None, str | None, str | None, str | None],
    workers: int,
    sizes_only: bool,
    progress: Progress,
):
    """Run ``check`` on a verify context (see :mod:`.verify`) over both endpoints, checked, and a
    bounded pool; return the :class:`~.verify.Verification` it filled. ``uris``: source and
    destination tracking URIs, then source and destination registry URIs."""
    from .verify import Verification
    from .verify.runs import Context

    src_mlflow_uri, dst_mlflow_uri, src_registry_uri, dst_registry_uri = uris

    src = endpoint(src_mlflow_uri or tracking_of(src_registry_uri), src_registry_uri)
    dst = endpoint(dst_mlflow_uri or tracking_of(dst_registry_uri), dst_registry_uri)
    result = Verification(src.display, dst.display)
    with engine(workers) as pool:
        phase = progress.phase("Comparing artifacts", None, "bytes")
        with one_line_when_gone((src, dst)):  # a server gone mid-way
            check(Context(src, dst, pool, result, sizes_only, progress, phase))
        phase.close()
    return result


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

    def check(ctx):
        verify_single_run(ctx, run_id, dst_experiment_name)

    uris = (src_mlflow_uri, dst_mlflow_uri, None, None)
    return _verified(check, uris, workers, sizes_only, progress)


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

    def check(ctx):
        verify(
            ctx,
            experiment,
            dst_experiment_name,
            include_deleted_runs=include_deleted_runs,
            traces=include_traces,
            workers=workers,
        )

    uris = (src_mlflow_uri, dst_mlflow_uri, None, None)
    return _verified(check, uris, workers, sizes_only, progress)


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

    def check(ctx):
        verify_registered_model(
            ctx, model, dst_model, stages_and_aliases=check_stages_and_aliases, workers=workers
        )

    uris = (src_mlflow_uri, dst_mlflow_uri, src_registry_uri, dst_registry_uri)
    return _verified(check, uris, workers, sizes_only, progress)


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

    def check(ctx):
        verify_single_version(
            ctx,
            model,
            str(version),
            dst_model,
            None if dst_version is None else str(dst_version),
            stages_and_aliases=check_stages_and_aliases,
        )

    uris = (src_mlflow_uri, dst_mlflow_uri, src_registry_uri, dst_registry_uri)
    return _verified(check, uris, workers, sizes_only, progress)


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

    def check(ctx):
        verify(ctx, prompt_name, dst_prompt_name)

    uris = (src_mlflow_uri, dst_mlflow_uri, src_registry_uri, dst_registry_uri)
    return _verified(check, uris, workers, False, progress)


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

    def check(ctx):
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

    uris = (src_mlflow_uri, dst_mlflow_uri, src_registry_uri, dst_registry_uri)
    return _verified(check, uris, workers, sizes_only, progress)
