"""The Click group and its error handling; command modules register on :data:`migrate`."""

from __future__ import annotations

import os
import sys
import threading
import traceback

import click


def _first_line(message: str) -> str:
    lines = [line.strip() for line in str(message).strip().splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"


class MigrateGroup(click.Group):
    """Turns library errors into one readable line and an exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt as exc:
            if sys.stderr.isatty():
                sys.stderr.write("\r\033[K")
            report = getattr(exc, "report", None)
            for line in report.summary_lines() + report.leftover_lines() if report else []:
                click.echo(line, err=True)
            stuck = _stuck_workers()
            click.echo(_interrupted(ctx.invoked_subcommand or "", len(stuck)), err=True)
            if stuck:  # each waits for a server that does not answer: do not wait for them
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(130)
            sys.exit(130)
        except Exception as exc:
            from ..errors import UsageError

            if isinstance(exc, UsageError):
                raise click.UsageError(str(exc), ctx) from None
            verbose = ctx.meta.get("mlflow_migrate.verbose") or os.environ.get(
                "MLFLOW_MIGRATE_VERBOSE", ""
            ).lower() in ("1", "true", "yes")
            if sys.stderr.isatty():  # start below a live progress line, not after it
                sys.stderr.write("\r\033[K")
            from ..endpoint import redact_text

            if verbose:  # MLflow's messages quote request URLs, credentials included
                sys.stderr.write(redact_text(traceback.format_exc()))
            click.echo(f"Error: {redact_text(_describe(exc))}", err=True)
            sys.exit(1)


def _stuck_workers() -> list[threading.Thread]:
    """The worker threads still in a request after Ctrl-C (their server hangs)."""
    return [
        t
        for t in threading.enumerate()
        if t.name.startswith("mlflow-migrate") and not t.daemon and t.is_alive()
    ]


def _interrupted(command: str, stuck: int = 0) -> str:
    """What Ctrl-C left behind, by kind of command."""
    if stuck and not command.startswith("export-"):
        return (
            f"Interrupted; {stuck} workers still waiting for a server that does not answer "
            "were abandoned, so what they were making may be left unfinished on the "
            "destination (marked as such): running the same command again once the server "
            "answers discards it and completes the work without duplicates."
        )
    if command.startswith("export-"):
        return (
            "Interrupted; the export directory is unfinished (its JSON file is written last, "
            "so imports refuse it): run the export again."
        )
    if command.startswith("copy-"):
        return "Interrupted; nothing half copied is left on the destination."
    return (
        "Interrupted; nothing half imported is left, and running the same command again "
        "completes the import without duplicates."
    )


def _describe(exc: BaseException) -> str:
    from mlflow.exceptions import MlflowException

    from ..errors import MigrateError, missing_store_hint

    if isinstance(exc, MigrateError):
        return _first_line(str(exc))
    if isinstance(exc, MlflowException):
        return missing_store_hint(exc) or f"MLflow: {_first_line(exc.message)}"
    if isinstance(exc, OSError):
        return _first_line(str(exc))
    return f"{type(exc).__name__}: {_first_line(str(exc))} (run with --verbose for the traceback)"


@click.group(name="migrate", cls=MigrateGroup, context_settings={"max_content_width": 100})
def migrate() -> None:
    """Move MLflow runs, experiments, registered models and model versions, traces, prompts,
    evaluation datasets and LoggedModels between tracking servers (open-source MLflow,
    Databricks, Unity Catalog) with nothing lost.

    Export commands write a directory (run.json, experiment.json, model.json, artifacts/);
    import commands read one, including directories written by mlflow-export-import; copy
    commands stream from one server to the other without a staging directory. The source or
    destination server is --tracking-uri, else $MLFLOW_TRACKING_URI. Imports and copies can be
    rerun: what was imported before is skipped, never duplicated. Verify commands compare a
    source object with its migrated copy field by field and exit 1 when anything differs.
    """
