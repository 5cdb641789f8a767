"""What every benchmark shares: its command line, two local servers, measured subprocesses, and
the result files.

The servers are the tests' (``tests/servers.py``): ``mlflow server`` with a sqlite backend and
proxied artifacts on a free loopback port, here in a temporary folder of the benchmark's own.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
from mlflow import MlflowClient

from tests.servers import ServerProcess, start_server

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"


def parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """The command line of ``python -m benchmarks.<module>``, its docstring as the help."""
    return argparse.ArgumentParser(
        prog=f"python -m benchmarks.{module}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def parse_args(
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    tool_python_help: str = "Python that runs the tool (default: this one); see README.md",
) -> argparse.Namespace:
    """The benchmark's own options, then ``--server-workers``, ``--tool-python`` and ``--keep``,
    which every benchmark takes, read from ``argv``."""
    parser.add_argument(
        "--server-workers",
        type=int,
        default=MLFLOW_DEFAULT_SERVER_WORKERS,
        help="worker processes of each mlflow server (default 4, as `mlflow "
        "server` starts; the tests use 1)",
    )
    parser.add_argument("--tool-python", default=None, help=tool_python_help)
    parser.add_argument("--keep", action="store_true", help="keep the servers' folder")
    return parser.parse_args(argv)


def options_record(args: argparse.Namespace) -> dict:
    """The common options a result's workload records: the servers' and the tool's Python."""
    return {
        "server_workers": args.server_workers,
        "tool_python": args.tool_python or "this interpreter",
    }


def quiet_mlflow() -> None:
    """No "View run at" lines from MLflow on stdout between the benchmark's own lines."""
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")


@contextlib.contextmanager
def workdir(keep: bool = False) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="mlflow-migrate-bench-"))
    try:
        yield root
    finally:
        if keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


# What `mlflow server` starts when --workers is not given (see `mlflow server --help`).
MLFLOW_DEFAULT_SERVER_WORKERS = 4


@contextlib.contextmanager
def two_servers(
    root: Path, server_workers: int = MLFLOW_DEFAULT_SERVER_WORKERS
) -> Iterator[tuple[Server, Server]]:
    """Servers A (source) and B (destination).

    MLflow's job runner is switched off: it starts about eight extra processes per server that
    a migration never uses, and on a small machine their start-up load would blur the figures.
    """
    # tests/servers.py passes --workers 1; a later --workers overrides it.
    extra = ["--workers", str(server_workers)] if server_workers != 1 else []
    env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    started: list[ServerProcess] = []
    try:
        for name in ("server-a", "server-b"):
            started.append(start_server(root / name, extra_args=extra, env=env, test_db_pool=False))
        yield Server(started[0]), Server(started[1])
    finally:
        for server in started:
            server.stop()


@contextlib.contextmanager
def servers_for(args: argparse.Namespace) -> Iterator[tuple[Path, Server, Server]]:
    """The benchmark's folder and servers A and B in it, as its common options ask."""
    quiet_mlflow()
    with workdir(args.keep) as root, two_servers(root, args.server_workers) as (a, b):
        yield root, a, b


def client(uri: str) -> MlflowClient:
    """A client of one server, for its runs and its registry alike."""
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def timed(build: Callable[..., object], *args, **kwargs) -> tuple:
    """``build(*args, **kwargs)`` and the seconds it took: (result, seconds)."""
    started = time.perf_counter()
    result = build(*args, **kwargs)
    return result, time.perf_counter() - started


class Server:
    """A running server: its URI and the CPU time its processes have used so far."""

    def __init__(self, process: ServerProcess):
        self.url = process.url
        self._root = psutil.Process(process.process.pid)

    def cpu_seconds(self) -> float:
        """User + system CPU of the server and every process under it (uvicorn workers)."""
        total = 0.0
        for proc in [self._root, *self._root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = proc.cpu_times()
                total += times.user + times.system
        return total


@dataclass
class Measured:
    """One measured job: its own wall time (imports excluded), the process's wall time from
    start to exit, its peak resident memory, and CPU seconds spent by it and by each server.

    On a shared machine wall times vary with the load; CPU seconds vary much less, so they
    show where the work goes even when the wall time is noisy.
    """

    label: str
    seconds: float
    process_seconds: float
    peak_rss_mb: float
    import_rss_mb: float
    cpu: dict[str, float]
    detail: dict | None = None

    def row(self) -> dict:
        return {
            "label": self.label,
            "seconds": round(self.seconds, 2),
            "process_seconds": round(self.process_seconds, 2),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "import_rss_mb": round(self.import_rss_mb, 1),
            "cpu_seconds": {k: round(v, 2) for k, v in self.cpu.items()},
            "detail": self.detail,
        }


def measure(
    label: str,
    job: str,
    args: list[str],
    root: Path,
    servers: dict[str, Server],
    python: str | None = None,
    env: dict | None = None,
) -> Measured:
    """Run ``python -m benchmarks.measure`` for ``job`` in a fresh process and read its result.

    A job that fails stops the benchmark with its output: a fast wrong result must not pass.
    """
    result_file = root / f"measure-{time.monotonic_ns()}.json"
    log_file = root / f"measure-{time.monotonic_ns()}.log"
    proc_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    proc_env.pop("MLFLOW_TRACKING_URI", None)
    proc_env.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    cpu_before = {name: server.cpu_seconds() for name, server in servers.items()}
    started = time.perf_counter()
    with open(log_file, "w") as log:
        done = subprocess.run(
            [python or sys.executable, "-m", "benchmarks.measure", str(result_file), job, *args],
            cwd=REPO,
            env=proc_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    process_seconds = time.perf_counter() - started
    cpu = {name: server.cpu_seconds() - cpu_before[name] for name, server in servers.items()}
    output = log_file.read_text(errors="replace")
    if done.returncode != 0 or not result_file.exists():
        raise RuntimeError(f"{label}: exit {done.returncode}\n{output[-4000:]}")
    result = json.loads(result_file.read_text())
    cpu["client"] = result["cpu_seconds"]
    return Measured(
        label,
        result["seconds"],
        process_seconds,
        result["peak_rss_mb"],
        result["import_rss_mb"],
        cpu,
        result.get("detail"),
    )


def step(label: str, *args, **kwargs) -> Measured:
    """:func:`measure` (same arguments), then one line with the step's time and peak RSS."""
    m = measure(label, *args, **kwargs)
    print(f"  {label}: {m.seconds:.2f}s, peak RSS {m.peak_rss_mb:.0f} MB", flush=True)
    return m


def machine() -> dict:
    """Where and under what load the figures were taken."""
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in load],
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def heading(what: str, server_workers: int, machine: dict) -> str:
    """The line above a result table: what was copied, the servers, and the machine's load."""
    return (
        f"{what}; servers with {server_workers} worker process(es); "
        f"{machine['cpus']} CPUs, load {machine['load_average']}"
    )


def markdown_table(rows: list[list], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name: str, data: dict, table: str) -> Path:
    """``benchmarks/results/<name>-<time>.json`` and ``.md``; returns the JSON path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = RESULTS / f"{name}-{stamp}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    path.with_suffix(".md").write_text(table + "\n")
    return path


def publish(name: str, data: dict, table: str) -> None:
    """Write the results (see :func:`write_results`) and print the table and where it went."""
    path = write_results(name, data, table)
    print()
    print(table)
    print(f"\nwritten {path} (and .md)")
