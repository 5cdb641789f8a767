"""A fresh virtual environment, ``pip install`` of the project, and the three ways to run it.

The install is real: a new venv, the package and its runtime dependencies (mlflow-skinny, not the
MLflow server) from the package index, then ``mlflow migrate``, ``mlflow-migrate`` and
``python -m mlflow_migrate_plugin`` in subprocesses, and MLflow's own commands still listed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RUN_COMMANDS = ("export-run", "import-run")
# A few of the commands MLflow 3 registers itself; the plugin must not hide any of them.
MLFLOW_OWN_COMMANDS = ("server", "runs", "experiments", "artifacts", "gc")


def _run(cwd: Path, *args, timeout: int = 120) -> subprocess.CompletedProcess:
    """Run outside the repository, so that ``python -m`` cannot import the source tree."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MLFLOW_TRACKING_URI", "PYTHONPATH", "VIRTUAL_ENV")
    }
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd
    )
    assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stderr[-3000:]}"
    return result


def _commands_listed(help_text: str) -> set[str]:
    """Command names from the 'Commands:' section of a Click --help page."""
    section = help_text.split("Commands:", 1)[1]
    return {
        line.split()[0]
        for line in section.splitlines()
        if line.startswith("  ") and not line.startswith("   ") and line.strip()
    }


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_fresh_venv_pip_install_gives_mlflow_migrate(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git",
            "__pycache__",
            "*.egg-info",
            ".pytest_cache",
            ".ruff_cache",
            "build",
            "dist",
            ".venv",
        ),
    )
    venv = tmp_path / "venv"
    bin_dir = venv / "bin"

    _run(tmp_path, sys.executable, "-m", "venv", venv)
    _run(tmp_path, bin_dir / "python", "-m", "pip", "install", "--quiet", source, timeout=600)
    via_mlflow = _run(tmp_path, bin_dir / "mlflow", "migrate", "--help")
    via_script = _run(tmp_path, bin_dir / "mlflow-migrate", "--help")
    via_module = _run(tmp_path, bin_dir / "python", "-m", "mlflow_migrate_plugin", "--help")
    mlflow_help = _run(tmp_path, bin_dir / "mlflow", "--help")
    import_run_help = _run(tmp_path, bin_dir / "mlflow", "migrate", "import-run", "--help")

    for result in (via_mlflow, via_script, via_module):
        assert set(RUN_COMMANDS) <= _commands_listed(result.stdout)
        assert result.stderr == ""
    assert _commands_listed(via_script.stdout) == _commands_listed(via_mlflow.stdout)
    assert "Usage: mlflow migrate" in via_mlflow.stdout
    listed = _commands_listed(mlflow_help.stdout)
    assert "migrate" in listed
    assert set(MLFLOW_OWN_COMMANDS) <= listed
    for option in (
        "--input-dir",
        "--experiment-name",
        "--import-source-tags",
        "--use-src-user-id",
        "--mlmodel-fix",
        "--dst-notebook-dir",
    ):
        assert option in import_run_help.stdout
    installed = _run(tmp_path, bin_dir / "python", "-m", "pip", "list", "--format=freeze").stdout
    names = {line.split("==")[0].lower() for line in installed.splitlines()}
    assert {"mlflow-migrate", "mlflow-skinny"} <= names
    assert "mlflow" not in names  # the runtime needs mlflow-skinny only, not the server
