"""The public functions that move registered models and model versions: export and import."""

from __future__ import annotations

from pathlib import Path

from .api_setup import as_list as _as_list
from .api_setup import endpoint as _endpoint
from .api_setup import migration as _migration
from .api_setup import source as _source
from .handlers import model_version as version_handler
from .handlers import registered_model as model_handler
from .handlers import run as run_handler
from .report import NO_PROGRESS, Progress, Report
from .transfer.engine import DEFAULT_WORKERS


def export_model(
    model: str,
    output_dir: str | Path,
    *,
    stages: list[str] | str | None = None,
    versions: list[str] | str | None = None,
    export_latest_versions: bool = False,
    export_version_model: bool = False,
    export_deleted_runs: bool = False,
    export_permissions: bool = False,
    notebook_formats: list[str] | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Export registered model ``model`` with its versions and each version's run.

    All versions by default; ``stages`` (Production, Staging, Archived, None) or ``versions``
    (numbers; not both: :class:`~.errors.UsageError`) select some, ``export_latest_versions``
    the latest of each stage. A version whose run is deleted is exported only with
    ``export_deleted_runs``. ``export_version_model`` also writes each version's own model
    files, from which a version whose run is gone can still be imported. ``workers`` runs are
    exported at a time, sharing one pool of as many transfers.
    """
    from .databricks.notebooks import parse_formats

    notebook_formats = parse_formats(notebook_formats)  # a bad format fails before any work
    selection = model_handler.ModelSelection(
        stages=_as_list(stages),
        versions=_as_list(versions),
        export_latest_versions=export_latest_versions,
        export_deleted_runs=export_deleted_runs,
        export_version_model=export_version_model,
    )
    src = _source(tracking_uri, registry_uri)
    with _migration(workers, src=src, progress=progress) as ctx:
        model_handler.export(
            ctx,
            model,
            output_dir,
            selection,
            export_permissions=export_permissions,
            notebook_formats=notebook_formats,
        )
    return ctx.report


def import_model(
    input_dir: str | Path,
    experiment_name: str,
    *,
    model: str | None = None,
    delete_model: bool = False,
    import_source_tags: bool = False,
    await_creation_for: int | None = None,
    import_permissions: bool = False,
    wait: bool = False,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    skip_unsupported: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Import an export-model directory as registered model ``model`` (default: its name in
    the export), the versions' runs going to ``experiment_name``.

    Versions keep their numbers, gaps included, with stage, aliases, tags, description, and a
    source that follows the imported run or LoggedModel. ``delete_model`` deletes the
    destination model and its versions first; ``await_creation_for`` is how many seconds to
    wait for each version to be READY. Rerunning adds nothing; a failed import removes what it
    created. Another import of the same model in progress is refused, or waited for with
    ``wait``. :meth:`Progress.note` tells what is imported, version by version.
    """
    dst = _endpoint(tracking_uri, registry_uri)
    options = model_handler.ModelImportOptions(
        delete_model=delete_model,
        import_source_tags=import_source_tags,
        await_creation_for=await_creation_for,
        run_options=run_handler.RunImportOptions(
            import_source_tags=import_source_tags, skip_unsupported=skip_unsupported
        ),
        wait=wait,
    )
    with _migration(
        workers, dst=dst, progress=progress, options={"registered_model": options}
    ) as ctx:
        model_handler.import_(
            ctx, input_dir, experiment_name, model, import_permissions=import_permissions
        )
    return ctx.report


def export_model_version(
    model: str,
    version: str | int,
    output_dir: str | Path,
    *,
    export_version_model: bool = False,
    export_permissions: bool = False,
    notebook_formats: list[str] | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Export one version of registered model ``model`` with its run (deleted or not), the
    registered model's and the run's experiment's metadata, and with ``export_version_model``
    the version's own model files."""
    from .databricks.notebooks import parse_formats

    notebook_formats = parse_formats(notebook_formats)  # a bad format fails before any work
    src = _source(tracking_uri, registry_uri)
    with _migration(workers, src=src, progress=progress) as ctx:
        version_handler.export(
            ctx,
            model,
            str(version),
            output_dir,
            export_version_model=export_version_model,
            export_permissions=export_permissions,
            notebook_formats=notebook_formats,
        )
    return ctx.report


def import_model_version(
    input_dir: str | Path,
    experiment_name: str,
    *,
    model: str | None = None,
    create_model: bool = False,
    import_source_tags: bool = False,
    import_stages_and_aliases: bool = False,
    import_metadata: bool = False,
    import_permissions: bool = False,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    skip_unsupported: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = NO_PROGRESS,
) -> Report:
    """Import an export-model-version directory as a version of ``model`` (default: its name
    in the export), its run going to ``experiment_name``.

    ``create_model`` creates the registered model if missing; ``import_metadata`` gives a model
    and an experiment the import creates their exported description and tags;
    ``import_stages_and_aliases`` sets the version's stage and aliases. The version keeps its
    number where the destination model allows it. Rerunning adds nothing; a failed import
    removes what it created.
    """
    dst = _endpoint(tracking_uri, registry_uri)
    options = version_handler.VersionImportOptions(
        create_model=create_model,
        import_source_tags=import_source_tags,
        import_stages_and_aliases=import_stages_and_aliases,
        import_metadata=import_metadata,
        import_permissions=import_permissions,
        skip_unsupported=skip_unsupported,
    )
    with _migration(workers, dst=dst, progress=progress, options={"model_version": options}) as ctx:
        version_handler.import_(ctx, input_dir, experiment_name, model)
    return ctx.report
