"""The README's first command ends in ``examples/quickstart.py``: it must run as a user runs it.

The script runs in a subprocess from an empty folder (it writes ``./quickstart-work``), builds
its sample run in one sqlite store, moves it with ``mlflow migrate export-run`` / ``import-run``
and checks the destination itself; a FAIL line or a non-zero exit fails this test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"
CHECKS = (
    "start/end time",
    "user",
    "params",
    "metric history",
    "dataset input",
    "logged model",
    "artifacts",
)


@pytest.mark.slow
def test_quickstart_moves_its_sample_run_with_every_check_ok(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    result = subprocess.run(
        [sys.executable, str(SCRIPT)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [line.strip() for line in result.stdout.splitlines()]
    for check in CHECKS:
        assert f"ok   {check}" in lines, result.stdout
    assert not any(line.startswith("FAIL") for line in lines)
    assert (tmp_path / "quickstart-work" / "destination.db").is_file()
