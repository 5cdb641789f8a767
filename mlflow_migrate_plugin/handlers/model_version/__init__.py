"""Model versions: the one handler that exports, imports and copies a version.

:func:`export` and :func:`import_` move one version with its run (export-model-version,
import-model-version), :func:`copy` copies one between registries (copy-model-version); the
registered-model handler creates a model's versions with the same :class:`VersionWriter`.

- ``writer``: a version's export record, and its creation with its number, stage and aliases
- ``create``: the create call that keeps its number when its answer is lost
- ``sources``: what a version points at (its run's files, a LoggedModel, its own model files)
- ``runs``: the versions' runs, exported beside them and imported before them; undoing an import
- ``single``, ``copy_version``: the commands' entries
"""

from ..version_source_uri import logged_model_id
from .copy_version import copy
from .single import VersionImportOptions, export, import_
from .writer import (
    PENDING,
    READY,
    SOURCE_FIELDS,
    SOURCE_VERSION_PREFIX,
    STAGE_NONE,
    Target,
    VersionOptions,
    VersionWriter,
    all_versions,
    get,
    record,
)

__all__ = [
    "PENDING",
    "READY",
    "SOURCE_FIELDS",
    "SOURCE_VERSION_PREFIX",
    "STAGE_NONE",
    "Target",
    "VersionImportOptions",
    "VersionOptions",
    "VersionWriter",
    "all_versions",
    "copy",
    "export",
    "get",
    "import_",
    "logged_model_id",
    "record",
]
