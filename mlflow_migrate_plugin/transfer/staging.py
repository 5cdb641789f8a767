"""Temporary export space for the copy commands: gone on success and on failure, unless kept."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def export_space(keep: str | Path | None = None) -> Iterator[Path]:
    """A directory to export into; ``keep`` names one that is left in place for inspection."""
    if keep is not None:
        path = Path(keep)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="mlflow-migrate-copy-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
