"""The public functions that copy from one server to another, streaming: a run, an experiment,
a model version, a registered model."""

from __future__ import annotations

from pathlib import Path

from .api_setup import as_list as _as_list
from .api_setup import copy_sides as _copy_sides
from .api_setup import endpoint as _endpoint
from .api_setup import engine as _engine
from .api_setup import live as _live
from .api_setup import migration as _migration
from .api_setup import part_options as _part_options
from .api_setup import source as _source
from .handlers import model_version as version_handler
from .handlers import registered_model as model_handler
from .handlers import run as run_handler
from .handlers.run_selection import RunSelection
from .report import NO_PROGRESS, Progress, Report
from .transfer.engine import DEFAULT_WORKERS


def copy_run(
    run_id: str,
    experiment_name: str,
    *,
    src_mlflow_uri: str | None = None,
    dst_mlflow_uri: str | None = None,
    import_source_tags: bool = False,
    use_src_user_id: bool = False,
    mlmodel_fix: bool = True,
    keep_export_dir: str | Path | None = None,
    skip_unsupported: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Copy a run to ``experiment_name`` on the same or another server, in one call.

    The run streams from source to destination: the run import of import_run, reading the run
    from the source server instead of an export (metric pages logged as they are read, each
    artifact file on disk only between its download and its upload). ``keep_export_dir``
    exports into that directory and imports from it instead, leaving the export there.
    Credentials for two different servers go in each URI (``http://user:password@host``).
    """
    src = _source(src_mlflow_uri)
    dst = _endpoint(dst_mlflow_uri)
    options = run_handler.RunImportOptions(
        import_source_tags=import_source_tags,
        use_src_user_id=use_src_user_id,
        mlmodel_fix=mlmodel_fix,
        skip_unsupported=skip_unsupported,
    )
    kinds = {"run": options}
    with (
        _migration(
            workers, src=src, dst=dst, progress=progress, options=kinds, readers=workers
        ) as ctx,
        _live(src, ctx.engine) as source,
    ):
        if keep_export_dir is not None:
            run_handler.export_one(ctx, run_id, keep_export_dir)
        run_handler.import_one(
            ctx,
            keep_export_dir if keep_export_dir is not None else source.run(run_id),
            experiment_name,
        )
    return ctx.report


def copy_experiment(
    experiment: str,
    experiment_name: str,
    *,
    src_mlflow_uri: str | None = None,
    dst_mlflow_uri: str | None = None,
    run_ids: list[str] | str | None = None,
    run_start_time: str | None = None,
    export_deleted_runs: bool = False,
    check_nested_runs: bool = False,
    import_source_tags: bool = False,
    use_src_user_id: bool = False,
    include_traces: bool = True,
    include_evaluation_datasets: bool = True,
    trace_start_time: str | None = None,
    traces_until: str | None = None,
    wait: bool = False,
    skip_unsupported: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Copy source ``experiment`` (name or id) with its runs, its own LoggedModels, its traces
    and its evaluation datasets into ``experiment_name`` (created with the source's tags and
    description if missing).

    Runs are chosen as export_experiment chooses them (``run_ids``, ``check_nested_runs``,
    ``run_start_time``, ``export_deleted_runs``) and imported as import_experiment imports
    them, parents first, each streaming from source to destination with nothing exported in
    between; traces as export_experiment takes them (``include_traces``, ``trace_start_time``,
    ``traces_until``), evaluation datasets unless ``include_evaluation_datasets`` is False.
    Rerunning adds nothing; a run that fails is reported
    (``report.failed``) and removes what it created, and the others are copied. Another import
    or copy into the same experiment in progress is refused, or waited for with ``wait``.
    """
    from .handlers import experiment_copy

    src = _source(src_mlflow_uri)
    dst = _endpoint(dst_mlflow_uri)
    report = Report()
    selection = RunSelection(
        run_ids=_as_list(run_ids) or None,
        run_start_time=run_start_time or None,
        export_deleted_runs=export_deleted_runs,
        check_nested_runs=check_nested_runs,
    )
    options = run_handler.RunImportOptions(
        import_source_tags=import_source_tags,
        use_src_user_id=use_src_user_id,
        skip_unsupported=skip_unsupported,
    )
    with (
        _engine(workers, report, readers=workers) as engine,
        _live(src, engine, "copy-experiment") as source,
    ):
        experiment_copy.copy(
            source,
            dst,
            experiment,
            experiment_name,
            engine,
            report,
            selection,
            options,
            workers=workers,
            progress=progress,
            kind_options=_part_options(
                include_traces, trace_start_time, traces_until, include_evaluation_datasets
            ),
            wait=wait,
        )
    return report


def copy_model_version(
    src_model: str,
    src_version: str | int,
    dst_model: str,
    *,
    dst_experiment_name: str | None = None,
    src_registry_uri: str | None = None,
    dst_registry_uri: str | None = None,
    src_mlflow_uri: str | None = None,
    dst_mlflow_uri: str | None = None,
    copy_permissions: bool = False,
    copy_stages_and_aliases: bool = False,
    copy_lineage_tags: bool = False,
    keep_export_dir: str | Path | None = None,
    skip_unsupported: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Copy version ``src_version`` of ``src_model`` to a new version of ``dst_model``
    (created if missing).

    With ``dst_experiment_name`` the copy is deep: the version's run and LoggedModel are copied
    into that experiment and the new version points at the copies. Without it the copy is
    shallow: the new version points at the source version's run, which needs both sides on one
    tracking server (else :class:`~.errors.UsageError` before anything is created).
    ``copy_lineage_tags`` records the source model, version, run id, URIs (without credentials)
    and user as ``mlflow_migrate.lineage.*`` tags. A tracking URI left out is derived from the
    registry URI (``databricks-uc`` -> ``databricks``).
    """
    from .transfer.staging import export_space

    src, dst = _copy_sides(src_mlflow_uri, dst_mlflow_uri, src_registry_uri, dst_registry_uri)
    report = Report()
    with _engine(workers, report, readers=workers) as engine, _live(src, engine) as live:
        version_handler.copy(
            src,
            dst,
            src_model,
            str(src_version),
            dst_model,
            lambda: export_space(keep_export_dir),
            engine,
            report,
            live=live if keep_export_dir is None else None,
            experiment_name=dst_experiment_name,
            copy_stages_and_aliases=copy_stages_and_aliases,
            copy_lineage_tags=copy_lineage_tags,
            copy_permissions=copy_permissions,
            skip_unsupported=skip_unsupported,
            progress=progress,
        )
    return report


def copy_model(
    model: str,
    experiment_name: str,
    *,
    dst_model: str | None = None,
    src_registry_uri: str | None = None,
    dst_registry_uri: str | None = None,
    src_mlflow_uri: str | None = None,
    dst_mlflow_uri: str | None = None,
    stages: list[str] | str | None = None,
    versions: list[str] | str | None = None,
    export_latest_versions: bool = False,
    export_deleted_runs: bool = False,
    delete_model: bool = False,
    import_source_tags: bool = False,
    await_creation_for: int | None = None,
    wait: bool = False,
    skip_unsupported: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Copy registered model ``model`` (description, tags, versions with their stages,
    aliases and runs) to ``dst_model`` (default: the same name), the runs into
    ``experiment_name``.

    Versions are chosen as export_model chooses them (``stages`` or ``versions``,
    ``export_latest_versions``, ``export_deleted_runs``) and keep their numbers; each is
    streamed with its run where it can be (see copy_model_version). ``delete_model``,
    ``import_source_tags``, ``await_creation_for`` and ``wait`` are import_model's. Rerunning
    adds nothing.
    """
    from .handlers import model_copy
    from .transfer.staging import export_space

    selection = model_handler.ModelSelection(
        stages=_as_list(stages),
        versions=_as_list(versions),
        export_latest_versions=export_latest_versions,
        export_deleted_runs=export_deleted_runs,
    )
    src, dst = _copy_sides(src_mlflow_uri, dst_mlflow_uri, src_registry_uri, dst_registry_uri)
    report = Report()
    with (
        _engine(workers, report, readers=workers) as engine,
        _live(src, engine, "copy-model") as live,
    ):
        model_copy.copy(
            live,
            dst,
            model,
            experiment_name,
            export_space,
            engine,
            report,
            selection,
            dst_model=dst_model,
            delete_model=delete_model,
            import_source_tags=import_source_tags,
            await_creation_for=await_creation_for,
            wait=wait,
            skip_unsupported=skip_unsupported,
            progress=progress,
        )
    return report
