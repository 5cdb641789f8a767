"""Option factories shared by the commands, so that one option has one name and one help text.

Boolean options take both spellings scripts written for mlflow-export-import use:
``--export-deleted-runs`` alone and ``--export-deleted-runs True``.
"""

from __future__ import annotations

import functools

import click

from ..transfer.engine import DEFAULT_WORKERS


class _Boolean(click.types.BoolParamType):
    """Click's boolean, with an error that lists the values a user would type (Click's own
    lists the empty string first: "Recognized values: , 0, 1, ...")."""

    def convert(self, value, param, ctx) -> bool:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            self.fail(
                f"{value!r} is not a valid boolean; use true or false (or 1/0, yes/no, on/off)",
                param,
                ctx,
            )


def bool_option(name: str, help: str, default: bool = False):
    return click.option(
        name,
        type=_Boolean(),
        is_flag=False,
        flag_value=True,
        default=default,
        show_default=True,
        help=help,
    )


def text_option(name: str, help: str, required: bool = False, default=None):
    # Click 8.3+ takes an explicit default=None as a value, which silently satisfies
    # required=True: pass a default only when there is one.
    extra = {} if default is None else {"default": default}
    return click.option(
        name, type=str, required=required, help=help, show_default=default is not None, **extra
    )


def input_dir_option(export_command: str):
    """``--input-dir`` of an import command, naming the export command that writes it."""
    return text_option(
        "--input-dir",
        required=True,
        help=f"Input directory (from {export_command}, or from mlflow-export-import).",
    )


def experiment_name_option(fn):
    """``--experiment-name`` of the commands that bring runs, models or traces into an
    experiment."""
    return text_option(
        "--experiment-name",
        required=True,
        help="Destination experiment name; created if it does not exist.",
    )(fn)


def tracking_uri_option(role: str = ""):
    """``--tracking-uri`` and ``--registry-uri`` of the server a command works on."""
    where = f" of the {role} server" if role else ""

    def decorate(fn):
        fn = click.option(
            "--registry-uri",
            envvar="MLFLOW_REGISTRY_URI",
            default=None,
            help=f"Model registry URI{where}. Default: $MLFLOW_REGISTRY_URI, else as MLflow "
            "derives it from the tracking URI.",
        )(fn)
        return click.option(
            "--tracking-uri",
            envvar="MLFLOW_TRACKING_URI",
            default=None,
            help=f"Tracking URI{where}. Default: $MLFLOW_TRACKING_URI, else MLflow's default "
            "(a local sqlite:///mlflow.db).",
        )(fn)

    return decorate


def notebook_formats_option(fn):
    return click.option(
        "--notebook-formats",
        type=str,
        default="",
        show_default=True,
        callback=_check_notebook_formats,
        help="Databricks notebook formats to export: SOURCE, HTML, JUPYTER or DBC "
        "(comma separated).",
    )(fn)


def _check_notebook_formats(ctx, param, value):
    """A misspelt format is a usage error at once, not after a long export."""
    if value:
        from ..databricks.notebooks import parse_formats
        from ..errors import UsageError

        try:
            parse_formats(split_list(value))
        except UsageError as exc:
            raise click.BadParameter(str(exc).removeprefix("--notebook-formats: ")) from None
    return value


def common_options(fn):
    """--workers and --verbose, on every command."""

    @click.option(
        "--workers",
        type=click.IntRange(1, 64),
        default=DEFAULT_WORKERS,
        show_default=True,
        envvar="MLFLOW_MIGRATE_WORKERS",
        help="Concurrent transfers (files, metric batches); experiment and model "
        "commands also move this many runs at a time. Also "
        "$MLFLOW_MIGRATE_WORKERS.",
    )
    @click.option(
        "--verbose",
        "-v",
        is_flag=True,
        default=False,
        envvar="MLFLOW_MIGRATE_VERBOSE",
        help="Show debug logging, and a traceback on error.",
    )
    @functools.wraps(fn)
    def wrapper(*args, verbose: bool, **kwargs):
        ctx = click.get_current_context()
        ctx.meta["mlflow_migrate.verbose"] = verbose
        if verbose:
            import logging

            logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
        return fn(*args, **kwargs)

    return wrapper


def split_list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def skip_unsupported_option(fn):
    """--skip-unsupported, on every command that writes to a destination."""
    return bool_option(
        "--skip-unsupported",
        help="When the destination lacks a feature the export uses (LoggedModels on an "
        "MLflow 2.x server, dataset inputs, aliases), import the rest and warn once for each "
        "object left out. Without it such an import is refused before anything is created.",
    )(fn)


IMPORT_SOURCE_TAGS_HELP = (
    "Also record what the destination cannot reproduce (creation "
    "times, the version's user and status, source ids and URIs) as "
    "'mlflow_migrate.source.*' tags on the model, versions and runs."
)


def await_creation_option(fn):
    """--await-creation-for, on the commands that create model versions from an export."""
    return click.option(
        "--await-creation-for",
        type=click.IntRange(0),
        default=None,
        help="Seconds to wait for each version to become READY. Default: MLflow's default (300).",
    )(fn)


def wait_option(what: str):
    """--wait, on the commands that take a lease on a destination ``what``."""
    return bool_option(
        "--wait",
        help=f"When another import or copy of the same {what} is in progress, wait for it to "
        "end (up to an hour) instead of refusing.",
    )


def no_traces_option(fn):
    """--no-traces, on the experiment commands."""
    return bool_option(
        "--no-traces", help="Leave the experiment's MLflow 3 traces out (they move by default)."
    )(fn)


def no_evaluation_datasets_option(fn):
    """--no-evaluation-datasets, on the experiment commands."""
    return bool_option(
        "--no-evaluation-datasets",
        help="Leave the experiment's evaluation datasets out (they move by default).",
    )(fn)


def trace_window_options(fn):
    """--trace-start-time and --traces-until: the traces an export takes, by request time."""
    fn = text_option(
        "--traces-until",
        help="Only export traces whose request time is before this UTC date (exclusive). "
        "Format: YYYY-MM-DD.",
    )(fn)
    return text_option(
        "--trace-start-time",
        help="Only export traces whose request time is on or after this UTC date (inclusive). "
        "Format: YYYY-MM-DD.",
    )(fn)


_CREDENTIALS_HELP = (
    "For two servers with different basic-auth users, put each one's credentials in its URI: "
    "http://user:password@host:port."
)


def src_dst_uri_options(registry: bool = False, registry_first: bool = False):
    """--src-mlflow-uri and --dst-mlflow-uri of the commands that work on two servers; with
    ``registry``, --src-registry-uri and --dst-registry-uri too (before the tracking URIs with
    ``registry_first``). A tracking URI given alone defaults from the registry URI."""
    if registry:
        src_help = (
            "Source tracking URI. Default: derived from --src-registry-uri (databricks-uc -> "
            f"databricks), else $MLFLOW_TRACKING_URI. {_CREDENTIALS_HELP}"
        )
        dst_help = "Destination tracking URI (default as above)."
    else:
        src_help = f"Source tracking URI (default: $MLFLOW_TRACKING_URI). {_CREDENTIALS_HELP}"
        dst_help = f"Destination tracking URI (default: $MLFLOW_TRACKING_URI). {_CREDENTIALS_HELP}"
    tracking = [
        text_option("--src-mlflow-uri", help=src_help),
        text_option("--dst-mlflow-uri", help=dst_help),
    ]
    registries = [
        text_option(
            "--src-registry-uri",
            help="Source model registry URI (default: $MLFLOW_REGISTRY_URI, else derived from "
            "the tracking URI).",
        ),
        text_option(
            "--dst-registry-uri", help="Destination model registry URI (default as above)."
        ),
    ]
    if not registry:
        options = tracking
    else:
        options = registries + tracking if registry_first else tracking + registries

    def decorate(fn):
        for option in reversed(options):  # the last applied comes first in --help
            fn = option(fn)
        return fn

    return decorate
