"""An experiment's export directory: ``experiment.json``, a folder per run, ``logged_models/``.

Our export writes each run where export-run would (``runs/<run_id>/``) and the experiment's own
LoggedModels (those no run produced) under ``logged_models/<model_id>/artifacts/``, with their
records and manifests in ``experiment.json``. That file is written last: a directory without it
is an interrupted export.

The reader also takes mlflow-export-import's directories: runs in ``<dir>/<run_id>/`` or
``<dir>/runs/<run_id>/``, the run list in ``mlflow.runs``, ``info.ok_runs`` or (oldest files)
``export_info.ok_runs``, and experiment tags as a mapping or as a list of key/value pairs.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
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
    RUN_JSON,
    RUNS_DIR,
    existing_dir,
    is_own_format,
    read_json,
    write_json,
)
from .paths import ArtifactFile, manifest_from, manifest_of, safe_join
from .record_types import ExperimentRecord
from .reference_models import ExportedModel, is_model_dir, model_dirs_in, read_model_dir

_EXPERIMENT_FIELDS = records.EXPERIMENT_FIELDS


def experiment_record(experiment) -> dict[str, Any]:
    """The export record of an experiment, from its public properties."""
    record = {field: getattr(experiment, field, None) for field in _EXPERIMENT_FIELDS}
    record["tags"] = dict(sorted((experiment.tags or {}).items()))
    return record


@dataclass
class RunEntry:
    """One run listed in an experiment export: its source id, folder and (if known) parent."""

    run_id: str
    path: Path | None
    parent_run_id: str | None = None
    # False when the listing does not say (mlflow-export-import): read run.json to learn it.
    parent_known: bool = False
    # The run's LoggedModels that the export keeps outside the run's folder (mlflow-export-import
    # puts them all under the experiment's logged_models/).
    logged_models: list[ExportedModel] = field(default_factory=list)


class ExperimentDirWriter:
    """Writes an experiment's export directory; :meth:`finish` writes ``experiment.json``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        old = self.path / EXPERIMENT_JSON
        if old.exists() or old.is_symlink():  # until finish() the directory reads as incomplete
            old.unlink()

    def run_dir(self, run_id: str) -> Path:
        return safe_join(self.path, f"{RUNS_DIR}/{run_id}")

    def logged_model_root(self, model_id: str) -> Path:
        root = safe_join(self.path, f"{LOGGED_MODELS_DIR}/{model_id}/{ARTIFACTS_DIR}")
        root.mkdir(parents=True, exist_ok=True)
        return root

    def remove_runs_except(self, run_ids: set[str]) -> None:
        """Remove the run folders of an earlier export here whose run is not in ``run_ids``,
        so that the directory holds only what ``experiment.json`` lists."""
        base = self.path / RUNS_DIR
        if not base.is_dir() or base.is_symlink():
            return
        for folder in base.iterdir():
            if folder.name in run_ids:
                continue
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder)
            else:
                folder.unlink()

    def finish(
        self,
        system: dict,
        experiment: dict,
        runs: list[dict],
        failed: list[dict],
        models: list[dict],
        model_artifacts: dict[str, list[ArtifactFile]],
        extra_mlflow: dict | None = None,
        extra_info: dict | None = None,
    ) -> None:
        """Write ``experiment.json``.

        ``runs`` holds one ``{"run_id", "parent_run_id", "lifecycle_stage", "status",
        "start_time", "source_fingerprint"}`` per exported run, ``failed`` one ``{"run_id",
        "reason"}`` per run that could not be exported.
        """
        listed = [{**r, "dir": f"{RUNS_DIR}/{r['run_id']}"} for r in runs]
        info = {
            "num_total_runs": len(runs) + len(failed),
            "num_ok_runs": len(runs),
            "num_failed_runs": len(failed),
            "ok_runs": [r["run_id"] for r in runs],
            "failed_runs": failed,
            "runs": listed,
            "num_logged_models": len(models),
            "logged_models": {
                mid: {"dir": f"{LOGGED_MODELS_DIR}/{mid}", "artifacts": manifest_of(files)}
                for mid, files in model_artifacts.items()
            },
            **(extra_info or {}),
        }
        mlflow_part = {
            "experiment": experiment,
            "runs": [r["run_id"] for r in runs],
            "logged_models": models,
            **(extra_mlflow or {}),
        }
        write_json(
            self.path / EXPERIMENT_JSON, {"system": system, "info": info, "mlflow": mlflow_part}
        )


class ExperimentDir:
    """Reads an experiment export directory, in either format."""

    def __init__(self, path: str | Path):
        self.path = existing_dir(path)
        document = read_json(self.path / EXPERIMENT_JSON, "experiment")
        self.system: dict[str, Any] = document.get("system") or {}
        self.info: dict[str, Any] = document.get("info") or {}
        self.own_format = is_own_format(document)
        self._mlflow = document["mlflow"]
        where = self.path / EXPERIMENT_JSON
        at = Where(where, "mlflow")
        self.experiment: ExperimentRecord = records.experiment_record(
            at / "experiment", f.required(at, self._mlflow, "experiment")
        )
        if self.own_format:
            for mid, entry in f.obj(
                Where(where, "info.logged_models"), self.info.get("logged_models"), required=False
            ).items():
                at_model = Where(where, "info.logged_models") / mid
                records.manifest(at_model / "artifacts", f.obj(at_model, entry).get("artifacts"))
        try:
            self.runs = self._run_entries(document)
            self.failed_at_export = _failed_runs(self.info)
            # Traces mlflow-export-import exported with the experiment (ids); not imported.
            self.traces = [str(t) for t in self._mlflow.get("traces") or []]
            # LoggedModels the export lists but does not hold, or that cannot be read: (id, why).
            self.missing_models: list[tuple[str, str]] = [
                (_model_id(item), "failed at export (mlflow-export-import)")
                for item in self.info.get("failed_logged_models") or []
            ]
            self._reference_models: dict[str, ExportedModel] = {}
            if self.own_format:
                self.logged_models: list[dict[str, Any]] = [
                    records.logged_model_record(at / "logged_models" / i, m)
                    for i, m in enumerate(
                        f.items(at / "logged_models", self._mlflow.get("logged_models"))
                    )
                ]
            else:
                self.logged_models = self._reference_logged_models()
        except (UnsafePathError, RecordError):
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ExportDirError(f"{where}: malformed experiment record ({exc})") from None

    # Runs -------------------------------------------------------------------------------------

    def _run_entries(self, document: dict) -> list[RunEntry]:
        if self.own_format:
            at = Where(self.path / EXPERIMENT_JSON, "info.runs")
            listed = [
                records.listed_run(at / i, r)
                for i, r in enumerate(f.items(at, self.info.get("runs")))
            ]
            return [
                RunEntry(r["run_id"], safe_join(self.path, r["dir"]), r["parent_run_id"], True)
                for r in listed
            ]
        ids = self._mlflow.get("runs")
        if ids is None:
            ids = self.info.get("ok_runs")
        if ids is None:
            ids = (document.get("export_info") or {}).get("ok_runs")
        if ids is None:
            return [RunEntry(p.name, p) for p in self._scan_run_dirs()]
        return [RunEntry(str(i), self._find_run_dir(str(i))) for i in ids]

    def _find_run_dir(self, run_id: str) -> Path | None:
        """``<dir>/<run_id>/`` or ``<dir>/runs/<run_id>/``: the one holding run.json."""
        for candidate in (run_id, f"{RUNS_DIR}/{run_id}"):
            path = safe_join(self.path, candidate)
            if (path / RUN_JSON).is_file():
                return path
        return None

    def _scan_run_dirs(self) -> list[Path]:
        found = []
        for base in (self.path, self.path / RUNS_DIR):
            if base.is_dir() and not base.is_symlink():
                found += sorted(
                    p
                    for p in base.iterdir()
                    if p.is_dir() and not p.is_symlink() and (p / RUN_JSON).is_file()
                )
        return found

    # Experiment-level LoggedModels ------------------------------------------------------------

    def _reference_logged_models(self) -> list[dict[str, Any]]:
        """mlflow-export-import's ``logged_models/<model_id>/`` folders: a run's models go with
        its entry (they are created with the run), the others are the experiment's own."""
        base = self.path / LOGGED_MODELS_DIR
        listed = [str(i) for i in self._mlflow.get("logged_models") or []]
        folders = {p.name: p for p in model_dirs_in(base)}
        for model_id in listed:
            if model_id not in folders:
                folder = safe_join(base, model_id)
                if is_model_dir(folder):
                    folders[model_id] = folder
                else:
                    why = f"listed in {EXPERIMENT_JSON} but {folder} holds no logged_model.json"
                    self.missing_models.append((model_id, why))
        runs = {entry.run_id: entry for entry in self.runs if entry.path is not None}
        own = []
        for model_id, folder in folders.items():
            try:
                model = read_model_dir(folder)
            except ExportDirError as exc:  # as a run that cannot be read: it alone fails
                self.missing_models.append((model_id, str(exc)))
                continue
            entry = runs.get(model.source_run_id or "")
            if entry is not None:
                entry.logged_models.append(model)
            else:
                self._reference_models[model.model_id] = model
                own.append(model.record)
        return own

    def logged_model_root(self, model_id: str) -> Path:
        if model_id in self._reference_models:
            return self._reference_models[model_id].root
        return safe_join(self.path, f"{LOGGED_MODELS_DIR}/{model_id}/{ARTIFACTS_DIR}")

    def logged_model_files(self, model_id: str) -> list[ArtifactFile]:
        if model_id in self._reference_models:
            return self._reference_models[model_id].files
        entry = (self.info.get("logged_models") or {}).get(model_id) or {}
        return manifest_from((entry.get("artifacts") or {}).get("files") or [])


def _model_id(item: Any) -> str:
    """A model id from mlflow-export-import's list of models that failed at export."""
    if isinstance(item, dict):
        return str(item.get("model_id") or item.get("id"))
    return str(item)


def _failed_runs(info: dict[str, Any]) -> list[dict[str, str | None]]:
    """Runs the export could not write: ours record a reason, mlflow-export-import only ids."""
    out = []
    for item in info.get("failed_runs") or []:
        if isinstance(item, dict):
            out.append({"run_id": str(item.get("run_id")), "reason": item.get("reason")})
        else:
            out.append({"run_id": str(item), "reason": None})
    return out
