"""The errors the library raises. The CLI prints any of them as one line and exits 1."""

from __future__ import annotations

import re


class MigrateError(Exception):
    """Base class: a failure the user can act on, with a message that says what and where."""


class ExportDirError(MigrateError):
    """The export directory is missing, corrupt, incomplete, or of an unknown format."""


class RecordError(ExportDirError):
    """A field of an export record has the wrong type or an impossible value; ``file`` and
    ``field`` (a dotted path in the JSON, such as ``mlflow.info.status``) say where."""

    def __init__(self, file: object, field: str, problem: str):
        self.file = file
        self.field = field
        self.problem = problem
        super().__init__(f"{file}: {field}: {problem}")


class UnsafePathError(ExportDirError):
    """A path from an export directory escapes it, or is a symlink."""


class IntegrityError(ExportDirError):
    """An artifact does not match the size or sha256 recorded at export."""


class NotFoundError(MigrateError):
    """The object named on the source or destination does not exist."""


class UnreachableError(MigrateError):
    """A tracking or registry server did not answer within the allowed time."""


class ValueTooLongError(MigrateError):
    """A param or tag is longer than the destination keeps; MLflow would truncate it silently."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with the :class:`~.report.Report` of what was done before it."""

    def __init__(self, report):
        super().__init__()
        self.report = report


class UsageError(MigrateError):
    """The options given cannot work together (exit code 2 on the CLI)."""


# How MLflow words a store URI whose scheme no installed store serves (tracking and registry).
_UNSUPPORTED_URI = re.compile(r"got unsupported URI '(?P<uri>[^']*)'")


def missing_store_hint(exc: BaseException) -> str | None:
    """What to install when MLflow cannot open a database store, else None.

    mlflow-skinny has no SQLAlchemy, so MLflow registers no ``sqlite:`` (or other database)
    store and says only that the URI is unsupported, for the model registry.
    """
    from mlflow.store.db.db_types import DATABASE_ENGINES

    found = _UNSUPPORTED_URI.search(str(getattr(exc, "message", None) or exc))
    if not found:
        return None
    uri = found["uri"]
    if uri.split(":", 1)[0].split("+", 1)[0] not in DATABASE_ENGINES:
        return None
    return (
        f"this installation cannot open '{uri}': database stores need the full mlflow "
        "package, not mlflow-skinny alone; install mlflow-migrate with its 'local' extra "
        "(pip install 'mlflow-migrate[local]'), or mlflow itself"
    )


class UnsupportedError(MigrateError):
    """The destination server lacks a feature the export needs (LoggedModels on MLflow 2.x)."""
