"""The errors the library raises. The CLI prints any of them as one line and exits 1."""


class MigrateError(Exception):
    """Base class: a failure the user can act on, with a message that says what and where."""


class ExportDirError(MigrateError):
    """The export directory is missing, corrupt, incomplete, or of an unknown format."""


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


class UsageError(MigrateError):
    """The options given cannot work together (exit code 2 on the CLI)."""


class UnsupportedError(MigrateError):
    """The destination server lacks a feature the export needs (LoggedModels on MLflow 2.x)."""
