"""What every public function does before a handler runs: the checked endpoints, the one
transfer engine, and the :class:`~.context.Migration` that carries them to the handler."""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlflow.environment_variables import MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT

from .context import Migration
from .endpoint import Endpoint, redact, reserve_http_connections
from .errors import Interrupted, NotFoundError
from .report import NO_PROGRESS, Progress, Report
from .transfer.engine import Engine
from .transfer.resilience import bounded_requests

SUPPRESS_ENV = MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT.name


def endpoint(tracking_uri: str | None, registry_uri: str | None = None) -> Endpoint:
    """The side named by these URIs (else the environment, else MLflow's default), checked to
    answer."""
    side = Endpoint.resolve(tracking_uri, registry_uri)
    side.check_reachable()
    return side


def source(tracking_uri: str | None, registry_uri: str | None = None) -> Endpoint:
    """The side an export or copy reads: as :func:`endpoint`, and a ``sqlite:///`` store must
    exist already (MLflow would create a mistyped one, empty, and then find no run in it)."""
    side = endpoint(tracking_uri, registry_uri)
    for uri in dict.fromkeys((side.tracking_uri, side.registry_uri)):
        path = _sqlite_file(uri)
        if path is not None and not path.is_file():
            raise NotFoundError(
                f"{redact(uri)}: the source database {path.absolute()} does not exist; "
                "check the path"
            )
    return side


def _sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:///PATH`` URI (relative to the working directory, as
    SQLAlchemy takes it), None for an in-memory store or any other URI."""
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme.split("+", 1)[0] != "sqlite" or not rest.startswith("/"):
        return None
    path = urllib.parse.unquote(rest[1:].split("?", 1)[0])
    return Path(path) if path and path != ":memory:" else None


def tracking_of(registry_uri: str | None) -> str | None:
    """The tracking URI that goes with a registry URI given alone."""
    if registry_uri and registry_uri.startswith("databricks-uc"):
        return "databricks" + registry_uri[len("databricks-uc") :]
    return registry_uri


def copy_sides(
    src_mlflow_uri: str | None,
    dst_mlflow_uri: str | None,
    src_registry_uri: str | None,
    dst_registry_uri: str | None,
) -> tuple[Endpoint, Endpoint]:
    """The source and destination of a copy: each tracking URI left out is derived from its
    registry URI (:func:`tracking_of`); both checked, the source as :func:`source` checks it."""
    src = source(src_mlflow_uri or tracking_of(src_registry_uri), src_registry_uri)
    dst = endpoint(dst_mlflow_uri or tracking_of(dst_registry_uri), dst_registry_uri)
    return src, dst


def as_list(value: list[str] | str | None) -> list[str]:
    """A list option given as a list or as comma-separated text, blanks dropped."""
    if isinstance(value, str):
        value = value.split(",")
    return [str(v).strip() for v in value or [] if str(v).strip()]


@contextmanager
def engine(workers: int, report: Report | None = None, readers: int = 0) -> Iterator[Engine]:
    """The one transfer engine of a command, ``workers`` wide. On Ctrl-C, the caller learns
    what was done before it: :class:`~.errors.Interrupted` carries ``report``."""
    # Object workers (a run or a version each), the engine's transfer threads and a copy's
    # history readers can all be in a request at once; each needs a kept-alive connection.
    reserve_http_connections(2 * workers + readers + 1)
    try:
        with _no_run_links(), bounded_requests(), Engine(workers) as pool:
            yield pool
    except KeyboardInterrupt:
        if report is None:
            raise
        raise Interrupted(report) from None


@contextmanager
def migration(
    workers: int,
    *,
    src: Endpoint | None = None,
    dst: Endpoint | None = None,
    progress: Progress = NO_PROGRESS,
    options: dict[str, Any] | None = None,
    readers: int = 0,
) -> Iterator[Migration]:
    """One command's :class:`Migration`: its endpoints, a new report, the engine while it runs
    (``readers``: a copy's history readers beside it), and each object kind's options."""
    report = Report()
    with engine(workers, report, readers) as pool:
        yield Migration(pool, report, src=src, dst=dst, progress=progress, options=options or {})


@contextmanager
def _no_run_links() -> Iterator[None]:
    """While this library works, MLflow prints no "View run ... at" link when a run it imports
    ends (two stdout lines and one more request per run); the caller's setting is kept."""
    if SUPPRESS_ENV in os.environ:
        yield
        return
    os.environ[SUPPRESS_ENV] = "true"
    try:
        yield
    finally:
        os.environ.pop(SUPPRESS_ENV, None)


@contextmanager
def live(src: Endpoint, engine: Engine, script: str = "copy-run"):
    """``src`` as the live source of a copy, its files passing through a spool of one slot
    per transfer worker, removed when the copy ends."""
    from .handlers.run_source import LiveSource
    from .transfer.spool import Spool

    with Spool(engine.workers) as spool:
        yield LiveSource(src, engine, spool, script)


def part_options(
    include_traces: bool = True, start_time=None, until=None, include_datasets: bool = True
) -> dict:
    """The options of an experiment's parts, as their handlers read them: which traces move
    (``include_traces``, the window ``start_time`` to ``until``), and whether the evaluation
    datasets do."""
    from .handlers import evaluation_datasets, traces

    chosen_traces = traces.TraceOptions(include=include_traces, start_time=start_time, until=until)
    return {traces.KIND: chosen_traces, evaluation_datasets.KIND: include_datasets}
