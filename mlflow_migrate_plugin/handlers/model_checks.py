"""What import-model checks in a model export around making the versions: which versions can
be imported at all (their run, or their model files, are in the export), and which aliases
cannot be set because their version is not there."""

from __future__ import annotations

from .. import idmap
from ..errors import ExportDirError
from ..exportdir.model_dir import ModelDir, VersionEntry
from ..report import FAILED, Report


def importable_versions(model_dir: ModelDir, report: Report) -> list[VersionEntry]:
    """The versions that can be imported; the others are reported, and if no version can be,
    nothing is created."""
    for item in model_dir.skipped:
        report.warn(f"version {item.get('version')} was not exported: {item.get('reason')}")
    for model in model_dir.unclaimed_models:
        why = "no version names it and its run is not in the export"
        report.warn(f"logged model {model.model_id} ({model.root.parent}): {why}; not imported")
        report.add("logged_model", model.model_id, FAILED, None, why)
    ok, missing = [], []
    for entry in model_dir.versions:
        (ok if entry.importable else missing).append(entry)
    if missing and not ok:
        raise ExportDirError(
            f"{model_dir.path}: none of the {len(missing)} versions can be imported: the export "
            f"holds neither their runs ({', '.join(e.record['run_id'] or '-' for e in missing)}) "
            "nor their model files (export with --export-version-model)"
        )
    for entry in missing:
        why = entry.run_missing or f"run {entry.record['run_id']} is not in the export"
        report.warn(
            f"version {entry.version}: {why}, and the export holds no model files "
            "for it (--export-version-model); not imported"
        )
        report.add(
            "model_version",
            idmap.model_version_key(model_dir.model["name"], entry.version),
            FAILED,
            None,
            why,
        )
    return ok


def warn_unset_aliases(model_dir: ModelDir, report: Report) -> None:
    """A warning for each alias whose version is not in the export: it is not set."""
    exported = {e.version for e in model_dir.versions}
    for alias, version in model_dir.model["aliases"].items():
        if str(version) not in exported:
            report.warn(
                f"alias '{alias}' points at version {version}, which is not in the "
                "export; it is not set"
            )
