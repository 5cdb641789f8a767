"""What ``--export-permissions``, ``--notebook-formats``, ``--import-permissions`` /
``--copy-permissions`` and ``--dst-notebook-dir`` add to an experiment or a model.

The experiment and model handlers call these once their objects are written or created. Asked
of a server that is not Databricks, an option does nothing and says so once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..endpoint import Endpoint
from ..exportdir import notebook_dir
from ..exportdir import permissions as permissions_part
from ..report import Report
from . import notebooks, permissions
from .tags import warn_once


def export_experiment_extras(
    src: Endpoint,
    experiment_id: str,
    run_dirs: dict[str, Path],
    report: Report,
    *,
    export_permissions: bool,
    notebook_formats: list[str] | None,
) -> dict[str, Any]:
    """Notebooks into each exported run's folder; the experiment's ACL as the entry to merge
    into ``experiment.json``'s ``mlflow`` part (empty when not asked or not Databricks)."""
    export_run_notebooks(src, run_dirs, notebook_formats, report)
    if not export_permissions:
        return {}
    if not src.is_databricks:
        warn_once(
            report,
            "--export-permissions: permissions are exported from a Databricks "
            "source only; none exported",
        )
        return {}
    return permissions_part.experiment_entry(permissions.export_experiment_acl(src, experiment_id))


def import_experiment_extras(
    dst: Endpoint,
    export_dir: str | Path,
    experiment_id: str,
    run_dirs: dict[str, Path],
    run_ids: dict[str, str],
    report: Report,
    *,
    import_permissions: bool,
    dst_notebook_dir: str | None,
) -> None:
    """The exported ACL onto the destination experiment; each run's notebook into
    ``<dst_notebook_dir>/<destination run id>/``.

    ``run_dirs`` maps source run ids to their folders in the export, ``run_ids`` to the
    destination runs (imported now or before).
    """
    if dst_notebook_dir:
        for source_id, dest_id in run_ids.items():
            folder = run_dirs.get(source_id)
            if folder is not None and notebook_dir.read_manifest(folder) is not None:
                notebooks.import_run_notebook(dst, folder, dest_id, dst_notebook_dir, report)
    if not import_permissions:
        return
    if not dst.is_databricks:
        warn_once(
            report,
            "--import-permissions: permissions are imported into a Databricks "
            "destination only; skipped",
        )
        return
    acl = permissions_part.read_experiment_permissions(export_dir)
    if acl is None:
        report.warn(
            f"{export_dir}: exported without --export-permissions; no experiment "
            "permissions to import"
        )
        return
    permissions.import_experiment_acl(dst, experiment_id, acl, report)


def export_run_notebooks(
    src: Endpoint, run_dirs: dict[str, Path], notebook_formats: list[str] | None, report: Report
) -> None:
    """Each exported run's notebook revision into its folder (``run id -> folder``)."""
    if not notebook_formats:
        return
    for run_id, folder in run_dirs.items():
        notebooks.export_run_notebook(src, run_id, folder, notebook_formats, report)


def export_model_permissions(
    src: Endpoint, model_name: str, export_dir: str | Path, report: Report
) -> None:
    """The registered model's ACL (workspace registry) or grants (Unity Catalog) into the
    export's ``model.json``."""
    if not (src.is_databricks or src.registry_is_unity_catalog):
        warn_once(
            report,
            "--export-permissions: permissions are exported from a Databricks "
            "source only; none exported",
        )
        return
    permissions_part.add_model_permissions(
        export_dir, permissions.export_model_permissions(src, model_name)
    )


def import_model_permissions(
    dst: Endpoint, model_name: str | None, export_dir: str | Path, report: Report
) -> None:
    """The exported permissions onto ``model_name`` (default: the model's exported name)."""
    if not (dst.is_databricks or dst.registry_is_unity_catalog):
        warn_once(
            report,
            "--import-permissions: permissions are imported into a Databricks "
            "destination only; skipped",
        )
        return
    exported_name, exported = permissions_part.read_model_permissions(export_dir)
    if exported is None:
        report.warn(
            f"{export_dir}: exported without --export-permissions; no model permissions to import"
        )
        return
    permissions.import_model_permissions(dst, model_name or exported_name, exported, report)
