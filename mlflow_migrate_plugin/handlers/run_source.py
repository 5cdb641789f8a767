"""Where a run import reads a run from: an export directory, or the source server itself.

The run import (:func:`.run.import_`) is one piece of code whatever it reads: a
:class:`RunSource` hands it the run's record (info, params, tags, inputs, outputs, LoggedModels,
in the normalized shape of :mod:`..exportdir.records`), its metric history in batches, and the
tasks that put its artifacts and its LoggedModels' artifacts on the destination.

- :class:`ExportedRun` reads a run export (``exportdir/run_dir.py``), checked before anything is
  created: import-run, import-experiment, the model imports.
- :class:`LiveRun` reads the run from the source server while the import writes it: the copy
  commands. Histories are read page by page a little ahead of the ``log_batch`` calls
  (:mod:`..transfer.metric_stream`); each artifact file goes through a slot of a small spool
  (:mod:`..transfer.spool`) from its download to its upload. Nothing else touches the disk.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.utils.validation import MAX_ENTITIES_PER_BATCH

from ..endpoint import Endpoint, redact
from ..errors import NotFoundError
from ..exportdir import records
from ..exportdir.fields import Where
from ..exportdir.layout import system_part
from ..exportdir.paths import ArtifactFile
from ..exportdir.record_types import RunRecord
from ..exportdir.run_dir import RunDir
from ..report import Phase
from ..transfer import artifacts
from ..transfer.artifacts import Rewriter
from ..transfer.engine import Engine, Task
from ..transfer.metric_stream import HistoryStream
from ..transfer.spool import Spool
from . import logged_model
from .run_checks import check_values
from .run_tags import INFO_FIELDS


class RunSource(ABC):
    """One run as the import reads it."""

    record: RunRecord
    # Provenance for --import-source-tags: mlflow_version, mlflow_tracking_uri, export_time.
    system: dict[str, Any]

    @property
    def source_run_id(self) -> str:
        return self.record["info"]["run_id"]

    @abstractmethod
    def metric_points(self) -> int | None:
        """How many points the history holds; None when not known before it is read."""

    @abstractmethod
    def metric_batches(self, size: int) -> Iterator[list[dict]]:
        """Every point of the history (``key``, ``value``, ``timestamp``, ``step``), in
        batches of at most ``size``."""

    @abstractmethod
    def artifact_bytes(self) -> int:
        """The size of the run's own artifacts, for the progress line."""

    @abstractmethod
    def artifact_tasks(
        self, repo, rewrite: Rewriter | None, phase: Phase | None = None
    ) -> Iterator[Task]:
        """Tasks that put the run's artifacts into destination repository ``repo``."""

    @abstractmethod
    def model_artifact_tasks(self, model_id: str, repo, rewrite: Rewriter | None) -> Iterator[Task]:
        """Tasks that put source LoggedModel ``model_id``'s artifacts into ``repo``."""

    def warnings(self) -> list[str]:
        """What the import should say about the source before it starts."""
        return []


class ExportedRun(RunSource):
    """A run export, read and checked by :func:`.run.read_and_verify`."""

    def __init__(self, run_dir: RunDir):
        self.run_dir = run_dir
        self.path: Path = run_dir.path
        self.record = run_dir.record
        self.system = run_dir.system

    def metric_points(self) -> int:
        return self.run_dir.metric_points()

    def metric_batches(self, size: int) -> Iterator[list[dict]]:
        return self.run_dir.iter_metric_batches(size)

    def artifact_bytes(self) -> int:
        return artifacts.total_bytes(self.run_dir.artifact_files())

    def artifact_tasks(self, repo, rewrite, phase=None) -> Iterator[Task]:
        run_dir = self.run_dir
        return artifacts.upload(
            repo, run_dir.artifacts_root(), run_dir.artifact_files(), rewrite, phase
        )

    def model_artifact_tasks(self, model_id, repo, rewrite) -> Iterator[Task]:
        run_dir = self.run_dir
        return artifacts.upload(
            repo, run_dir.logged_model_root(model_id), run_dir.logged_model_files(model_id), rewrite
        )

    def warnings(self) -> list[str]:
        return [
            f"{path}: not in the export's manifest (added after the export?); not imported"
            for path in self.run_dir.unlisted_files()
        ]


# Live source ----------------------------------------------------------------------------------


def get_run(src: Endpoint, run_id: str):
    try:
        return src.client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise NotFoundError(f"run '{run_id}' not found on {src.display}") from None
        raise


def record(run) -> dict[str, Any]:
    """The export record of a run, from its public properties."""
    info = run.info
    inputs = run.inputs
    outputs = run.outputs
    return {
        "info": {field: getattr(info, field) for field in INFO_FIELDS},
        "params": dict(run.data.params),
        "tags": dict(run.data.tags),
        "inputs": {
            "dataset_inputs": [
                {
                    "dataset": {
                        "name": d.dataset.name,
                        "digest": d.dataset.digest,
                        "source_type": d.dataset.source_type,
                        "source": d.dataset.source,
                        "schema": d.dataset.schema,
                        "profile": d.dataset.profile,
                    },
                    "tags": [{"key": t.key, "value": t.value} for t in d.tags],
                }
                for d in (inputs.dataset_inputs if inputs else [])
            ],
            "model_inputs": [
                {"model_id": m.model_id} for m in (getattr(inputs, "model_inputs", None) or [])
            ],
        },
        "outputs": {
            "model_outputs": [
                {"model_id": o.model_id, "step": o.step}
                for o in (outputs.model_outputs if outputs else [])
            ]
        },
    }


class LiveSource:
    """A source server that runs are copied from, with what their copies share: the engine
    that lists their artifacts and the spool their files pass through."""

    def __init__(self, src: Endpoint, engine: Engine, spool: Spool, script: str = "copy-run"):
        self.src = src
        self.engine = engine
        self.spool = spool
        self.script = script
        # History reads in flight, all runs together: as many as transfer workers.
        self.reads = threading.BoundedSemaphore(engine.workers)

    def run(self, run_id: str) -> LiveRun:
        """Run ``run_id`` as the import reads it; its record checked as an export's would be."""
        return LiveRun(self, run_id)


class LiveRun(RunSource):
    """A run read from its server while the import writes it."""

    def __init__(self, source: LiveSource, run_id: str):
        src = source.src
        self._source = source
        # Read again even when a search found the run: a search leaves out its model inputs.
        run = get_run(src, run_id)
        models = logged_model.models_of_run(src, run)
        raw = record(run)
        raw["logged_models"] = [logged_model.record(m) for m in models]
        # The same checks an export's record passes on import, named by run and server.
        where = f"run {run_id} on {src.display}"
        self.record = records.run_record(Where(where, "mlflow"), raw)
        check_values(self.record, where)
        self.system = system_part(source.script, redact(src.tracking_uri))
        self._repo = src.artifact_repo(run.info.artifact_uri)
        self._files = artifacts.list_tree(self._repo, source.engine)
        self._model_repos = {m.model_id: src.artifact_repo(m.artifact_location) for m in models}
        self._model_files = {
            mid: artifacts.list_tree(repo, source.engine) for mid, repo in self._model_repos.items()
        }
        # About one reader for two writers: a page costs a server less to read than to write,
        # and each reader holds a page (up to MLflow's 25,000 points) while it waits.
        readers = max(1, source.engine.workers // 2)
        self._history = HistoryStream(
            src.client, run_id, sorted(run.data.metrics), readers, source.reads
        )
        self._points: int | None = None
        self._counted = False

    def metric_points(self) -> int | None:
        if not self._counted:
            # A small history read whole up front lets the import send it in one call with
            # the params and tags, as it does for an export.
            rec = self.record
            room = MAX_ENTITIES_PER_BATCH - len(rec["params"]) - len(rec["tags"])
            self._points = self._history.count_if_small(room)
            self._counted = True
        return self._points

    def metric_batches(self, size: int) -> Iterator[list[dict]]:
        return self._history.batches(size)

    def artifact_bytes(self) -> int:
        return artifacts.total_bytes(self._files)

    def artifact_tasks(self, repo, rewrite, phase=None) -> Iterator[Task]:
        return artifacts.copy(self._repo, repo, self._files, self._source.spool, rewrite, phase)

    def model_artifact_tasks(self, model_id, repo, rewrite) -> Iterator[Task]:
        files: list[ArtifactFile] = self._model_files[model_id]
        return artifacts.copy(self._model_repos[model_id], repo, files, self._source.spool, rewrite)
