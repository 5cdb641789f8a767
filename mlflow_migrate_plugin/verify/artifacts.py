"""Artifact trees as comparable digests: each file's size and sha256, MLmodel files parsed.

Files are streamed through a temporary file on the engine's pool, hashed and removed, so memory
and disk stay bounded whatever the size of the store. With ``sizes_only`` nothing but MLmodel
files (small, and holding ids to check) is downloaded.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ..exportdir.paths import ArtifactFile, sha256_of
from ..report import NO_PROGRESS, Phase
from ..transfer.artifacts import list_tree
from ..transfer.engine import Engine, Task
from ..transfer.mlmodel import is_mlmodel


def digest_tree(
    repo, engine: Engine, sizes_only: bool = False, phase: Phase | None = None
) -> dict[str, Any]:
    """Artifact path -> ``{"size", "sha256"}`` (``{"size"}`` with ``sizes_only``), or for an
    MLmodel file its parsed YAML document."""
    phase = phase or NO_PROGRESS.phase("", None)
    files = list_tree(repo, engine)
    tasks = (_digest_task(repo, entry, sizes_only, phase) for entry in files)
    return dict(engine.run(tasks))


def _digest_task(repo, entry: ArtifactFile, sizes_only: bool, phase: Phase) -> Task:
    def task() -> tuple[str, Any]:
        mlmodel = is_mlmodel(entry.path)
        if sizes_only and not mlmodel:
            phase.advance(entry.size)
            return entry.path, {"size": entry.size}
        with tempfile.TemporaryDirectory(prefix="mlflow-migrate-verify-") as tmp:
            local = Path(tmp, "file")
            # The single-file hook every MLflow artifact repository implements (as in
            # transfer/artifacts.py): the public download would list the path first.
            repo._download_file(entry.path, str(local))
            size = os.path.getsize(local)
            phase.advance(size)
            if mlmodel:
                doc = parse_mlmodel(local.read_bytes())
                if doc is not None:
                    return entry.path, doc
            return entry.path, {"size": size, "sha256": sha256_of(local)}

    return task


def parse_mlmodel(content: bytes) -> dict | None:
    """An MLmodel file's YAML as a dict, or None when it is not one (then it compares by hash)."""
    try:
        doc = yaml.safe_load(content)
    except yaml.YAMLError:
        return None
    return doc if isinstance(doc, dict) else None
