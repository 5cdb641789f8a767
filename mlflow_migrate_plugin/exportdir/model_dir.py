"""Registered model exports: export-model's and export-model-version's directories.

export-model writes ``model.json`` (the registered model with every exported version) and, beside
it, each version's run as export-run writes it (``<run_id>/``); with --export-version-model each
version's own model files go under ``version_models/<version>/``. export-model-version writes
``model.json`` (the registered model), ``version.json``, ``experiment.json`` (the run's
experiment), the run in ``run/`` and the version's model files in ``version_model/``. A
LoggedModel a version points at that no exported run produced (one logged without a run) goes
under ``logged_models/<model_id>/artifacts/``, its record in the JSON that names the version.
The file that names the versions (``model.json``, ``version.json``) is written last: a directory
without it is an interrupted export.

The readers also take mlflow-export-import's files: registered model tags and aliases as lists of
key/value pairs, versions under ``versions`` or (older files) ``latest_versions``, the stage
``"None"`` for no stage, and no ``model_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ExportDirError, RecordError, UnsafePathError
from . import fields as f
from . import records
from .fields import Where
from .layout import (
    ARTIFACTS_DIR,
    EXPERIMENT_JSON,
    LOGGED_MODELS_DIR,
    MODEL_JSON,
    RUN_JSON,
    VERSION_JSON,
    existing_dir,
    is_own_format,
    read_json,
    write_json,
)
from .paths import ArtifactFile, manifest_from, manifest_of, safe_join, walk_files
from .record_types import ModelRecord, VersionRecord
from .reference_models import ExportedModel, assign, model_id_of, read_all

VERSION_RUN_DIR = "run"
VERSION_MODEL_DIR = "version_model"
VERSION_MODELS_DIR = "version_models"
# mlflow-export-import's first export-model-version wrote this name instead of version.json.
REFERENCE_VERSION_JSON = "model_version.json"

# Writers --------------------------------------------------------------------------------------


class _Writer:
    def __init__(self, path: str | Path, last_file: str):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._last = self.path / last_file
        if self._last.exists() or self._last.is_symlink():  # incomplete until finish()
            self._last.unlink()

    def _root(self, relative: str) -> Path:
        root = safe_join(self.path, relative)
        root.mkdir(parents=True, exist_ok=True)
        return root

    def logged_model_root(self, model_id: str) -> Path:
        return self._root(f"{LOGGED_MODELS_DIR}/{model_id}/{ARTIFACTS_DIR}")


class ModelDirWriter(_Writer):
    """Writes export-model's directory; :meth:`finish` writes ``model.json``."""

    def __init__(self, path: str | Path):
        super().__init__(path, MODEL_JSON)

    def run_dir(self, run_id: str) -> Path:
        return safe_join(self.path, run_id)

    def version_model_root(self, version: str) -> Path:
        return self._root(f"{VERSION_MODELS_DIR}/{version}")

    def finish(
        self,
        system: dict,
        model: dict,
        versions: list[dict],
        exported: dict[str, dict],
        skipped: list[dict],
        models: Models | None = None,
        extra_info: dict | None = None,
    ) -> None:
        """``exported`` maps each version to ``{"run_dir": run_id or None, "version_model":
        files or None, "run_missing": why or None}``; ``skipped`` lists versions not exported;
        ``models`` maps a LoggedModel id to its record and files."""
        info = {
            "num_exported_versions": len(versions),
            "num_skipped_versions": len(skipped),
            "versions": {v: _entry_info(e) for v, e in exported.items()},
            "skipped_versions": skipped,
            **_models_info(models),
            **(extra_info or {}),
        }
        write_json(
            self.path / MODEL_JSON,
            {
                "system": system,
                "info": info,
                "mlflow": {
                    "registered_model": {**model, "versions": versions},
                    **_models_mlflow(models),
                },
            },
        )


class VersionDirWriter(_Writer):
    """Writes export-model-version's directory; :meth:`finish` writes ``version.json`` last."""

    def __init__(self, path: str | Path):
        super().__init__(path, VERSION_JSON)

    @property
    def run_dir(self) -> Path:
        return self.path / VERSION_RUN_DIR

    def version_model_root(self) -> Path:
        return self._root(VERSION_MODEL_DIR)

    def finish(
        self,
        system: dict,
        model: dict,
        version: dict,
        experiment: dict | None,
        entry: dict,
        models: Models | None = None,
    ) -> None:
        write_json(
            self.path / MODEL_JSON,
            {"system": system, "info": {}, "mlflow": {"registered_model": model}},
        )
        if experiment is not None:
            write_json(
                self.path / EXPERIMENT_JSON,
                {"system": system, "info": {}, "mlflow": {"experiment": experiment}},
            )
        write_json(
            self.path / VERSION_JSON,
            {
                "system": system,
                "info": {**_entry_info(entry), **_models_info(models)},
                "mlflow": {"model_version": version, **_models_mlflow(models)},
            },
        )


# LoggedModel id -> (its record, its files)
Models = dict[str, tuple[dict, list[ArtifactFile]]]


def _models_info(models: Models | None) -> dict:
    return (
        {"logged_models": {mid: manifest_of(files) for mid, (_, files) in models.items()}}
        if models
        else {}
    )


def _models_mlflow(models: Models | None) -> dict:
    return {"logged_models": [rec for rec, _ in models.values()]} if models else {}


def _entry_info(entry: dict) -> dict:
    files = entry.get("version_model")
    return {
        "run_dir": entry.get("run_dir"),
        "run_missing": entry.get("run_missing"),
        "version_model": manifest_of(files) if files is not None else None,
    }


# Readers --------------------------------------------------------------------------------------


# A LoggedModel exported for a version whose run did not bring it: record and files.
StandaloneModel = ExportedModel


@dataclass
class VersionEntry:
    """One version of an export: its record, its run's folder and its own model files."""

    record: VersionRecord
    run_path: Path | None
    version_model_root: Path | None
    version_model_files: list[ArtifactFile] | None
    # Why the export holds no run for it (mlflow-export-import says nothing: None).
    run_missing: str | None = None
    logged_model: StandaloneModel | None = None

    @property
    def version(self) -> str:
        return self.record["version"]

    @property
    def has_version_model(self) -> bool:
        return bool(self.version_model_files)

    @property
    def importable(self) -> bool:
        """The export holds something to create the version from."""
        return bool(self.run_path or self.has_version_model or self.logged_model)


class ModelDir:
    """Reads export-model's directory (ours or mlflow-export-import's)."""

    def __init__(self, path: str | Path):
        self.path = existing_dir(path)
        document = read_json(self.path / MODEL_JSON, "registered model")
        self.system: dict[str, Any] = document.get("system") or {}
        self.info: dict[str, Any] = document.get("info") or {}
        self.own_format = is_own_format(document)
        where = self.path / MODEL_JSON
        at = Where(where, "mlflow") / "registered_model"
        raw = f.obj(at, document["mlflow"].get("registered_model"))
        self.model: ModelRecord = records.model_record(at, raw)
        listed = "versions" if raw.get("versions") is not None else "latest_versions"
        versions = [
            records.version_record(at / listed / i, v, self.model)
            for i, v in enumerate(f.items(at / listed, raw.get(listed)))
        ]
        models = _standalone_models(self.path, document, where)
        try:
            self.versions = [self._entry(r) for r in versions]
            # mlflow-export-import: its LoggedModel folders beside the run folders.
            self.run_models: dict[str, list[ExportedModel]] = {}
            self.unclaimed_models: list[ExportedModel] = []
            if not self.own_format:
                models = self._reference_models(read_all(self.path))
            for entry in self.versions:
                entry.logged_model = models.get(
                    entry.record.get("model_id") or model_id_of(entry.record.get("source"))
                )
            self.skipped = list(self.info.get("skipped_versions") or [])
        except (UnsafePathError, RecordError):
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ExportDirError(f"{where}: malformed registered model record ({exc})") from None
        self.versions.sort(key=lambda e: int(e.version))

    def _reference_models(self, found: list[ExportedModel]) -> dict[str, ExportedModel]:
        """mlflow-export-import's LoggedModel folders, sorted (see ``reference_models.assign``);
        returns the versions' standalone models by id."""
        named = {
            entry.record.get("model_id") or model_id_of(entry.record.get("source"))
            for entry in self.versions
        }
        has_run = {m.source_run_id for m in found if _run_folder(self.path, m.source_run_id)}
        self.run_models, standalone, self.unclaimed_models = assign(found, has_run, named)
        return standalone

    def _entry(self, record: dict) -> VersionEntry:
        version = record["version"]
        if self.own_format:
            at = Where(self.path / MODEL_JSON, "info.versions")
            listed = f.obj(at, self.info.get("versions"), required=False)
            entry = records.version_entry(at / version, listed.get(version))
            run_path = safe_join(self.path, entry["run_dir"]) if entry.get("run_dir") else None
            root = safe_join(self.path, f"{VERSION_MODELS_DIR}/{version}")
            return VersionEntry(
                record,
                run_path,
                root,
                _own_files(entry.get("version_model")),
                entry.get("run_missing"),
            )
        run_path = _run_folder(self.path, record.get("run_id"))
        root = safe_join(self.path, f"{VERSION_MODELS_DIR}/{version}")
        return VersionEntry(record, run_path, root, _found_files(root))


class VersionDir:
    """Reads export-model-version's directory (ours or mlflow-export-import's)."""

    def __init__(self, path: str | Path):
        self.path = existing_dir(path)
        version_json = self.path / VERSION_JSON
        if not version_json.exists() and (self.path / REFERENCE_VERSION_JSON).is_file():
            version_json = self.path / REFERENCE_VERSION_JSON
        document = read_json(version_json, "model version")
        self.system: dict[str, Any] = document.get("system") or {}
        info = document.get("info") or {}
        own = is_own_format(document)
        if own:
            records.version_entry(Where(version_json, "info"), info)
        self.model = self._model()
        at = Where(version_json, "mlflow")
        record = records.version_record(
            at / "model_version", f.required(at, document["mlflow"], "model_version"), self.model
        )
        self.experiment = self._experiment()
        models = _standalone_models(self.path, document, version_json)
        run_path = self.path / VERSION_RUN_DIR
        run_path = run_path if (run_path / RUN_JSON).is_file() else None
        root = self.path / VERSION_MODEL_DIR
        files = _own_files(info.get("version_model")) if own else _found_files(root)
        self.entry = VersionEntry(
            record,
            run_path,
            root,
            files,
            info.get("run_missing"),
            models.get(record.get("model_id")),
        )

    def _model(self) -> dict[str, Any]:
        path = self.path / MODEL_JSON
        at = Where(path, "mlflow")
        if not path.exists():  # early mlflow-export-import wrote no model.json here
            return records.model_record(at, {})
        document = read_json(path, "registered model")["mlflow"]
        return records.model_record(
            at / "registered_model", f.required(at, document, "registered_model")
        )

    def _experiment(self) -> dict[str, Any] | None:
        path = self.path / EXPERIMENT_JSON
        if not path.exists():
            return None
        at = Where(path, "mlflow")
        document = read_json(path, "experiment")["mlflow"]
        experiment = records.experiment_record(
            at / "experiment", f.required(at, document, "experiment")
        )
        return {"name": experiment["name"], "tags": experiment["tags"]}


def _standalone_models(root: Path, document: dict, file: Path) -> dict[str, StandaloneModel]:
    at = Where(file, "info.logged_models")
    manifests = f.obj(at, (document.get("info") or {}).get("logged_models"), required=False)
    for mid, manifest in manifests.items():
        records.manifest(at / mid, manifest)
    at = Where(file, "mlflow.logged_models")
    models = {}
    for i, raw in enumerate(f.items(at, document["mlflow"].get("logged_models"))):
        rec = records.logged_model_record(at / i, raw)
        mid = rec["model_id"]
        models[mid] = StandaloneModel(
            rec,
            safe_join(root, f"{LOGGED_MODELS_DIR}/{mid}/{ARTIFACTS_DIR}"),
            manifest_from((manifests.get(mid) or {}).get("files") or []),
        )
    return models


def _run_folder(root: Path, run_id: str | None) -> Path | None:
    if not run_id:
        return None
    path = safe_join(root, run_id)
    return path if (path / RUN_JSON).is_file() else None


def _own_files(entry: dict | None) -> list[ArtifactFile] | None:
    if entry is None:
        return None
    return manifest_from(entry.get("files") or [])


def _found_files(root: Path) -> list[ArtifactFile] | None:
    if not root.is_dir():
        return None
    return walk_files(root) or None
