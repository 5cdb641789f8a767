"""Whole-server exports: export-all's, export-experiments' and export-models' directories.

One root holds each experiment as export-experiment writes it and each registered model as
export-model writes it, and ``manifest.json``, written last, that lists them all with what
happened to each::

    <root>/manifest.json
    <root>/pass.jsonl         while a pass is under way: the objects it finished
    <root>/experiments/<source experiment id>/experiment.json, runs/<run id>/...
    <root>/models/<model folder>/model.json, <run id>/...

A model folder is the model's name when that is a safe file name, else the name made safe plus
a short hash (names may hold ``/`` or characters a file system refuses).

The reader also takes mlflow-export-import's bulk directories: ``experiments/experiments.json``
with ``experiments/<id>/`` and ``models/models.json`` with ``models/<name>/``, the root being
either export-all's or export-models' output, or export-experiments' (``experiments.json`` at
the root).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ExportDirError, UsageError
from .layout import EXPERIMENT_JSON, MODEL_JSON, is_own_format, read_json, write_json
from .paths import safe_join

MANIFEST_JSON = "manifest.json"
# The objects a pass under way has finished, one JSON line each (removed once it finishes).
PASS_JSONL = "pass.jsonl"
EXPERIMENTS_DIR = "experiments"
MODELS_DIR = "models"
# mlflow-export-import's lists of what its bulk export holds.
REFERENCE_EXPERIMENTS_JSON = "experiments.json"
REFERENCE_MODELS_JSON = "models.json"

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def model_folder(name: str) -> str:
    """The folder of registered model ``name`` under ``models/``: stable and safe."""
    if _SAFE_NAME.match(name):
        return name
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")[:80] or "model"
    return f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:10]}"


@dataclass
class BulkEntry:
    """One object of a bulk export: its kind, source identity, folder and what it needs."""

    kind: str  # "experiment" or "registered_model"
    source_id: str  # experiment id, or model name
    name: str  # experiment or model name on the source
    path: Path
    # A model's versions' runs live in this source experiment (None: no run, or not known).
    experiment_id: str | None = None
    experiment_name: str | None = None
    # The shard key: the same for a model as for the experiment of its runs.
    shard_key: str = ""


class BulkDirWriter:
    """Writes a bulk export's root; :meth:`finish` writes ``manifest.json`` last.

    An earlier export in the same root that finished (its manifest is there) is a previous
    pass: every object is exported again, into its folder, where the object handlers keep what
    has not changed since (the runs). While a pass is under way, ``pass.jsonl`` lists the
    objects it finished: an interrupted pass is resumed, and the objects it lists are not
    exported again (see :meth:`is_complete`). An interrupted first pass (or one written before
    that file existed) is resumed the same way, an object counting as finished when its own
    JSON (written last) is there.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        manifest = self.path / MANIFEST_JSON
        self._pass = self.path / PASS_JSONL
        # Folders (relative to the root) finished in this pass; None: judged by their JSON.
        self._done: set[str] | None = None
        self.previous = manifest.exists()
        if self.previous:
            self._pass.write_text("", encoding="utf-8")  # before the manifest goes
            manifest.unlink()
            self._done = set()
        elif self._pass.is_file():
            lines = self._pass.read_text(encoding="utf-8").splitlines()
            self._done = {json.loads(line)["dir"] for line in lines if line.strip()}

    def experiment_dir(self, experiment_id: str) -> Path:
        return safe_join(self.path, f"{EXPERIMENTS_DIR}/{experiment_id}")

    def model_dir(self, name: str) -> Path:
        return safe_join(self.path, f"{MODELS_DIR}/{model_folder(name)}")

    def is_complete(self, entry_path: Path, kind: str) -> bool:
        """Whether the pass under way, interrupted and now resumed, already finished this
        object."""
        if self._done is not None:
            return self._relative(entry_path) in self._done
        last = EXPERIMENT_JSON if kind == "experiment" else MODEL_JSON
        return (entry_path / last).is_file()

    def mark_complete(self, entry_path: Path) -> None:
        """Record that this pass finished the object in ``entry_path``."""
        if self._done is None:
            return
        line = json.dumps({"dir": self._relative(entry_path)}) + "\n"
        with open(self._pass, "a", encoding="utf-8") as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())

    def _relative(self, entry_path: Path) -> str:
        return entry_path.relative_to(self.path).as_posix()

    def finish(self, system: dict, info: dict, entries: list[dict]) -> None:
        """``entries`` holds one ``{"kind", "source_id", "name", "dir", "status", ...}`` per
        object selected, whatever became of it."""
        write_json(
            self.path / MANIFEST_JSON,
            {
                "system": system,
                "info": info,
                "mlflow": {
                    "experiments": [e for e in entries if e["kind"] == "experiment"],
                    "registered_models": [e for e in entries if e["kind"] == "registered_model"],
                },
            },
        )
        if self._pass.exists():  # the manifest now tells the pass is finished
            self._pass.unlink()


class BulkDir:
    """Reads a bulk export (ours or mlflow-export-import's) into the list of its objects."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise ExportDirError(f"{self.path}: does not exist")
        if not self.path.is_dir():
            raise ExportDirError(f"{self.path}: not a directory")
        manifest = self.path / MANIFEST_JSON
        self.info: dict[str, Any] = {}
        if manifest.is_file():
            document = read_json(manifest, "bulk")
            if is_own_format(document):
                self.info = document.get("info") or {}
                self.entries = self._own_entries(document["mlflow"])
                return
        self.entries = self._reference_entries()
        if not self.entries:
            raise ExportDirError(
                f"{self.path}: holds no {MANIFEST_JSON}, {EXPERIMENTS_DIR}/ or {MODELS_DIR}/; "
                "not a bulk export (or the export was interrupted before writing anything)"
            )

    @property
    def experiments(self) -> list[BulkEntry]:
        return [e for e in self.entries if e.kind == "experiment"]

    @property
    def models(self) -> list[BulkEntry]:
        return [e for e in self.entries if e.kind == "registered_model"]

    def _own_entries(self, part: dict) -> list[BulkEntry]:
        entries = []
        for item in (part.get("experiments") or []) + (part.get("registered_models") or []):
            if item.get("status") == "failed" or not item.get("dir"):
                continue  # reported at export; its folder is not a complete export
            entries.append(
                BulkEntry(
                    item["kind"],
                    str(item["source_id"]),
                    item["name"],
                    safe_join(self.path, item["dir"]),
                    item.get("experiment_id"),
                    item.get("experiment_name"),
                    item.get("shard_key") or str(item["source_id"]),
                )
            )
        return entries

    def _reference_entries(self) -> list[BulkEntry]:
        experiments_root = self.path / EXPERIMENTS_DIR
        if (self.path / REFERENCE_EXPERIMENTS_JSON).is_file():
            experiments_root = self.path  # export-experiments' output
        entries = []
        listed = _reference_list(experiments_root / REFERENCE_EXPERIMENTS_JSON, "experiments")
        for item in listed or []:
            exp_id = str(item.get("id") if isinstance(item, dict) else item)
            name = item.get("name", exp_id) if isinstance(item, dict) else exp_id
            path = safe_join(experiments_root, exp_id)
            entries.append(BulkEntry("experiment", exp_id, name, path, shard_key=exp_id))
        models_root = self.path / MODELS_DIR
        for name in _reference_list(models_root / REFERENCE_MODELS_JSON, "models") or []:
            path = safe_join(models_root, str(name))
            entries.append(BulkEntry("registered_model", name, name, path, shard_key=name))
        return entries


def _reference_list(path: Path, key: str) -> list | None:
    if not path.is_file():
        return None
    return read_json(path, "bulk").get("mlflow", {}).get(key) or []


def read_rename_file(path: str | Path | None) -> dict[str, str]:
    """mlflow-export-import's rename file: one ``old,new`` pair a line (``#`` starts a
    comment)."""
    if not path:
        return {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"rename file {path}: {exc.strerror or exc}") from None
    renames: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        old, sep, new = line.partition(",")
        if not sep or not old.strip() or not new.strip():
            raise UsageError(f"rename file {path}, line {number}: expected 'old name,new name'")
        renames[old.strip()] = new.strip()
    return renames


def read_name_list(value: str) -> list[str]:
    """``--experiments``/``--models``: comma separated, or a file with one a line."""
    candidate = Path(value)
    if candidate.is_file():
        lines = candidate.read_text(encoding="utf-8").splitlines()
        return [x.strip() for x in lines if x.strip() and not x.strip().startswith("#")]
    return [x.strip() for x in value.split(",") if x.strip()]
