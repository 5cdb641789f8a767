"""A run's export directory: ``run.json``, ``metrics.jsonl``, ``artifacts/``, ``logged_models/``.

The writer streams the metric history to ``metrics.jsonl`` (one point a line) so that neither the
export nor the import holds a run's whole history in memory, and writes ``run.json`` last: a
directory without it is an interrupted export. The reader also accepts run directories written by
mlflow-export-import, whose ``run.json`` holds the metric history inline and has no manifest.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ExportDirError
from . import fields as f
from . import records
from .fields import Where
from .layout import (
    ARTIFACTS_DIR,
    LOGGED_MODELS_DIR,
    METRICS_FILE,
    RUN_JSON,
    existing_dir,
    is_own_format,
    read_json,
    write_json,
)
from .metric_lines import read_points
from .paths import (
    ArtifactFile,
    manifest_from,
    manifest_of,
    safe_join,
    sha256_of,
    walk_files,
)
from .record_types import RunRecord
from .reference_models import ExportedModel, read_all

_OWN_ENTRIES = (RUN_JSON, METRICS_FILE, ARTIFACTS_DIR, LOGGED_MODELS_DIR)
# run.json's ``info`` field holding the source fingerprint of the run as it was exported.
SOURCE_FINGERPRINT = "source_fingerprint"


def recorded_fingerprint(path: str | Path) -> str | None:
    """The source fingerprint a complete run export in ``path`` recorded, or None (no complete
    export there, an unreadable one, or one written without a fingerprint)."""
    try:
        document = read_json(Path(path) / RUN_JSON, "run")
    except (ExportDirError, OSError):
        return None
    value = (document.get("info") or {}).get(SOURCE_FINGERPRINT)
    return value if isinstance(value, str) else None


class MetricsWriter:
    """Appends metric points to ``metrics.jsonl``; safe to call from several threads."""

    def __init__(self, path: Path):
        self._file = open(path, "w", encoding="utf-8")
        self._lock = threading.Lock()
        self.points = 0
        self.keys: set[str] = set()

    def write(self, points: list[dict[str, Any]]) -> None:
        lines = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in points)
        with self._lock:
            self._file.write(lines)
            self.points += len(points)
            self.keys.update(p["key"] for p in points)

    def close(self) -> None:
        self._file.close()


class RunDirWriter:
    """Writes one run's export directory."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        for name in _OWN_ENTRIES:  # a previous export here must not leak into this one
            old = self.path / name
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old)
            elif old.exists() or old.is_symlink():
                old.unlink()
        self.artifacts_root = self.path / ARTIFACTS_DIR
        self.artifacts_root.mkdir()

    def logged_model_root(self, model_id: str) -> Path:
        root = self.path / LOGGED_MODELS_DIR / model_id / ARTIFACTS_DIR
        root.mkdir(parents=True, exist_ok=True)
        return root

    def open_metrics(self) -> MetricsWriter:
        return MetricsWriter(self.path / METRICS_FILE)

    def finish(
        self,
        system: dict,
        mlflow_part: dict,
        metrics: MetricsWriter,
        artifacts: list[ArtifactFile],
        model_artifacts: dict[str, list[ArtifactFile]],
        extra_info: dict | None = None,
        source_fingerprint: str | None = None,
    ) -> None:
        """Write ``run.json`` with the manifest; until it exists the export is incomplete."""
        metrics.close()
        info = {
            "metrics": {
                "file": METRICS_FILE,
                "points": metrics.points,
                "keys": len(metrics.keys),
                "bytes": (self.path / METRICS_FILE).stat().st_size,
                "sha256": sha256_of(self.path / METRICS_FILE),
            },
            "artifacts": manifest_of(artifacts),
            "logged_models": {mid: manifest_of(files) for mid, files in model_artifacts.items()},
            **({SOURCE_FINGERPRINT: source_fingerprint} if source_fingerprint else {}),
            **(extra_info or {}),
        }
        write_json(self.path / RUN_JSON, {"system": system, "info": info, "mlflow": mlflow_part})


class RunDir:
    """Reads one run's export directory, in either format, into one normalized record.

    mlflow-export-import writes a run's LoggedModels into ``<model_id>/`` folders beside
    ``run.json``; an experiment or model export keeps them beside the run folders instead, and
    its reader passes them in as ``models``. Either way they join ``record["logged_models"]``.
    """

    def __init__(self, path: str | Path, models: list[ExportedModel] | None = None):
        self.path = existing_dir(path)
        document = read_json(self.path / RUN_JSON, "run")
        self.system: dict[str, Any] = document.get("system") or {}
        self.info: dict[str, Any] = document.get("info") or {}
        self.own_format = is_own_format(document)
        where = Where(self.path / RUN_JSON, "mlflow")
        self.record: RunRecord = records.run_record(where, document["mlflow"])
        # mlflow-export-import keeps the history inline: check every point now, before
        # anything is created, rather than fail halfway through an import.
        self._inline_metrics = (
            None
            if self.own_format
            else records.inline_metrics(where / "metrics", document["mlflow"].get("metrics"))
        )
        self._metrics_info = self._own_metrics_info() if self.own_format else {}
        if self.own_format:
            at = Where(self.path / RUN_JSON, "info")
            records.manifest(at / "artifacts", self.info.get("artifacts"))
            models = f.obj(at / "logged_models", self.info.get("logged_models"), required=False)
            for model_id, entry in models.items():
                records.manifest(at / "logged_models" / model_id, entry)
        self._reference_models: dict[str, ExportedModel] = {}
        if not self.own_format:
            for model in [*read_all(self.path), *(models or [])]:
                if model.model_id not in self._reference_models:
                    self._reference_models[model.model_id] = model
                    self.record["logged_models"].append(model.record)

    @property
    def source_run_id(self) -> str:
        return self.record["info"]["run_id"]

    # Metric history ---------------------------------------------------------------------------

    def _own_metrics_info(self) -> dict[str, Any]:
        where = Where(self.path / RUN_JSON, "info.metrics")
        info = f.obj(where, self.info.get("metrics"), required=False)
        f.integer(where / "points", info.get("points"))
        f.integer(where / "bytes", info.get("bytes"))
        f.text(where / "sha256", info.get("sha256"))
        return info

    def metric_points(self) -> int:
        if self.own_format:
            return self._metrics_info.get("points") or 0
        return sum(len(v) for v in self._inline_metrics.values())

    def iter_metric_batches(self, size: int) -> Iterator[list[dict[str, Any]]]:
        """Metric points in batches of ``size``; streams our own format from disk."""
        if not self.own_format:
            batch: list[dict[str, Any]] = []
            for key, points in self._inline_metrics.items():
                for p in points:
                    batch.append({"key": key, **p})
                    if len(batch) >= size:
                        yield batch
                        batch = []
            if batch:
                yield batch
            return
        path = self.path / METRICS_FILE
        if self.metric_points() == 0 and not path.exists():
            return
        batch = []
        for point in self._points(path):
            batch.append(point)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    def check_metrics_file(self) -> None:
        """Check before anything is created: the history file is there, whole and unchanged,
        and every point in it is one MLflow takes as it is (a step of 1.5 is refused here, not
        cut to 1 on the destination)."""
        if not self.own_format or self.metric_points() == 0:
            return
        path = self.path / METRICS_FILE
        if path.is_symlink() or not path.is_file():
            raise ExportDirError(f"{path}: missing; the export is incomplete")
        expected_bytes = self._metrics_info.get("bytes")
        if expected_bytes is not None and path.stat().st_size != expected_bytes:
            raise ExportDirError(f"{path}: size differs from the export's record; corrupt")
        # A changed digit keeps the size and the JSON valid: only the hash shows it.
        expected_sha = self._metrics_info.get("sha256")
        if expected_sha and sha256_of(path) != expected_sha:
            raise ExportDirError(
                f"{path}: content does not match the sha256 recorded at export; corrupt"
            )
        for _ in self._points(path):
            pass

    def _points(self, path: Path) -> Iterator[dict[str, Any]]:
        """Every point of ``metrics.jsonl``, checked; a line is never held whole past the
        limit (see :func:`.metric_lines.read_points`)."""
        if path.is_symlink() or not path.is_file():
            raise ExportDirError(f"{path}: missing; the export is incomplete")
        expected = self.metric_points()
        seen = 0
        for point in read_points(path):
            seen += 1
            yield point
        if seen != expected:
            raise ExportDirError(
                f"{path}: holds {seen} metric points, run.json recorded {expected}; corrupt"
            )

    # Artifacts --------------------------------------------------------------------------------

    def artifact_files(self) -> list[ArtifactFile]:
        return self._files(self.path / ARTIFACTS_DIR, (self.info.get("artifacts") or {}))

    def logged_model_files(self, model_id: str) -> list[ArtifactFile]:
        if model_id in self._reference_models:
            return self._reference_models[model_id].files
        root = self.logged_model_root(model_id)
        manifests = self.info.get("logged_models") or {}
        return self._files(root, manifests.get(model_id) or {})

    def listed_artifact_files(self) -> list[ArtifactFile]:
        """The artifact files as the manifest lists them, without walking the folder (our
        format; mlflow-export-import's has no manifest, so its folder is walked)."""
        if not self.own_format:
            return self.artifact_files()
        return manifest_from((self.info.get("artifacts") or {}).get("files") or [])

    def artifacts_root(self) -> Path:
        return self.path / ARTIFACTS_DIR

    def logged_model_root(self, model_id: str) -> Path:
        if model_id in self._reference_models:
            return self._reference_models[model_id].root
        return safe_join(self.path, f"{LOGGED_MODELS_DIR}/{model_id}/{ARTIFACTS_DIR}")

    def _files(self, root: Path, manifest: dict) -> list[ArtifactFile]:
        # Walked in both formats: a symlink anywhere below root, or root itself being one, is
        # refused even when the manifest does not list it.
        found = walk_files(root)
        if self.own_format:
            return manifest_from(manifest.get("files") or [])
        return found

    def unlisted_files(self) -> list[str]:
        """Files under the export's artifact folders that its manifest does not list (added
        after the export): they are not imported, and the import says so."""
        if not self.own_format:
            return []
        manifests = [(self.artifacts_root(), self.info.get("artifacts") or {})]
        manifests += [
            (self.logged_model_root(mid), manifest or {})
            for mid, manifest in (self.info.get("logged_models") or {}).items()
        ]
        unlisted = []
        for root, manifest in manifests:
            names = {f.path for f in manifest_from(manifest.get("files") or [])}
            unlisted += [str(root / f.path) for f in walk_files(root) if f.path not in names]
        return unlisted
