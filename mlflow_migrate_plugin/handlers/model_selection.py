"""Which versions of a registered model an export takes (stages, numbers, latest per stage)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from mlflow.entities.model_registry.model_version_stages import ALL_STAGES, get_canonical_stage

from ..errors import NotFoundError, UsageError
from .model_version.writer import all_versions


@dataclass
class ModelSelection:
    """Which versions export-model writes (the CLI options of the same names)."""

    stages: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    export_latest_versions: bool = False
    export_deleted_runs: bool = False
    export_version_model: bool = False

    def __post_init__(self) -> None:
        if self.stages and self.versions:
            raise UsageError("--stages and --versions are mutually exclusive: give one of them")
        canonical = {s.lower(): s for s in ALL_STAGES}
        unknown = [s for s in self.stages if s.lower() not in canonical]
        if unknown:
            raise UsageError(
                f"unknown stage(s) {', '.join(unknown)}; stages are {', '.join(ALL_STAGES)}"
            )
        self.stages = [get_canonical_stage(s) for s in self.stages]
        self.versions = [str(int(v)) if str(v).isdigit() else str(v) for v in self.versions]


def select(client, name: str, selection: ModelSelection) -> list:
    """The versions of model ``name`` that ``selection`` takes, by number."""
    if selection.export_latest_versions:
        with warnings.catch_warnings():  # deprecated with stages, and still what was asked
            warnings.simplefilter("ignore", FutureWarning)
            versions = client.get_latest_versions(name, selection.stages or None)
    else:
        versions = all_versions(client, name)
    if selection.stages:
        versions = [v for v in versions if v.current_stage in selection.stages]
    if selection.versions:
        by_number = {str(v.version): v for v in versions}
        missing = [v for v in selection.versions if v not in by_number]
        if missing:
            raise NotFoundError(
                f"registered model '{name}' has no version {', '.join(missing)} to export"
            )
        versions = [by_number[v] for v in selection.versions]
    return sorted(versions, key=lambda v: int(v.version))
