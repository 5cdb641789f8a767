"""Real MLflow servers for the tests: ``mlflow server`` processes on free loopback ports.

A server that does not come up is a test failure with its log attached, never a skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

STARTUP_TIMEOUT = 90
# A server process lets about 15 requests into its database pool (log_batch holds two
# connections; README "Known limits"); the tests' concurrent imports must not meet that limit
# by chance. Benchmarks keep MLflow's defaults.
TEST_DB_POOL = {
    "MLFLOW_SQLALCHEMYSTORE_POOL_SIZE": "20",
    "MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW": "20",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mlflow_executable() -> str:
    exe = Path(sys.executable).with_name("mlflow")
    return str(exe) if exe.exists() else shutil.which("mlflow") or "mlflow"


@dataclass
class ServerProcess:
    """One running ``mlflow server``; ``url`` is its tracking URI."""

    url: str
    root: Path
    process: subprocess.Popen
    log_path: Path
    env: dict = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def start_server(
    root: Path,
    *,
    artifacts: str | None = None,
    extra_args: list[str] = (),
    env: dict | None = None,
    app_name: str | None = None,
    test_db_pool: bool = True,
    port: int | None = None,
    executable: str | None = None,
) -> ServerProcess:
    """Start ``mlflow server`` with a sqlite backend under ``root`` and proxied artifacts
    (``--artifacts-destination``, default a folder under ``root``), and wait for /health.
    ``port`` restarts a stopped server at its address (same ``root``, same data);
    ``executable`` is another venv's ``mlflow`` (an older release, tests/old_servers.py)."""
    root.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    args = [
        executable or mlflow_executable(),
        "server",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    if artifacts is None:
        args += ["--artifacts-destination", str(root / "artifacts")]
    else:
        args += (
            list(artifacts.split())
            if artifacts.startswith("--")
            else ["--artifacts-destination", artifacts]
        )
    if app_name:
        args += ["--app-name", app_name]
    args += list(extra_args)
    log_path = root / "server.log"
    # The server's background job runner (GenAI jobs) is not needed here and costs two processes.
    proc_env = {
        **os.environ,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        **(TEST_DB_POOL if test_db_pool else {}),
        **(env or {}),
    }
    proc_env.pop("MLFLOW_TRACKING_URI", None)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
            env=proc_env,
            start_new_session=True,
        )
    server = ServerProcess(f"http://127.0.0.1:{port}", root, process, log_path, env or {})
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {process.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(server.url + "/health", timeout=2) as r:
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"mlflow server did not answer within {STARTUP_TIMEOUT}s:\n{server.log()}")
