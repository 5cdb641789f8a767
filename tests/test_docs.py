"""The CLI reference in docs/ is generated from --help and must not drift from it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_matches_help_output():
    result = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", "docs/cli-reference.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, (
        "docs/cli-reference.md is stale; regenerate it with `cog -r docs/cli-reference.md`\n"
        + result.stdout
        + result.stderr
    )


def test_cli_reference_documents_every_command():
    from mlflow_migrate_plugin.cli import migrate

    text = (ROOT / "docs" / "cli-reference.md").read_text()
    for name in migrate.commands:
        assert f"## mlflow migrate {name}\n" in text
