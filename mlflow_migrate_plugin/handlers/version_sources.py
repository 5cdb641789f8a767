"""What model versions point at: their runs, their LoggedModels, or their own model files.

The versions' runs move through the run handler (:mod:`.run`), one run per object worker, with
all their files and metric batches on the one shared :class:`~..transfer.engine.Engine`; parents
before children, so a nested run links to its imported parent. A version's ``source`` is then
rewritten to what the destination made: ``models:/<new model id>`` for a LoggedModel, the same
path under the new run for a run artifact (``runs:/<new run id>/path`` or the run's artifact
URI), since the server requires a source to lie inside the run or model it names. A version whose
source cannot be followed is created from its own model files (--export-version-model), which
become a LoggedModel of the destination experiment.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from mlflow.entities import LoggedModelStatus
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from .. import idmap
from ..capabilities import LOGGED_MODELS
from ..endpoint import Endpoint
from ..exportdir.model_dir import Models, StandaloneModel, VersionEntry
from ..exportdir.paths import ArtifactFile
from ..exportdir.run_dir import RunDir
from ..report import FAILED, IMPORTED, NO_PROGRESS, Progress, Report, failure_reason
from ..transfer import artifacts, resilience
from ..transfer.engine import Engine
from ..transfer.mlmodel import MLmodelRewriter
from ..transfer.object_pool import run_parents_first
from . import logged_model
from . import run as run_handler
from .model_version import Target, VersionWriter, logged_model_id

RUNS_SCHEME = "runs:/"


# Export ---------------------------------------------------------------------------------------


def export_runs(
    src: Endpoint,
    run_dirs: dict[str, Path],
    engine: Engine,
    report: Report,
    workers: int,
    progress: Progress = NO_PROGRESS,
) -> dict[str, str]:
    """Export each run to its folder; return the runs that failed, with the reason."""
    failed: dict[str, str] = {}
    lock = threading.Lock()
    phase = progress.phase("version runs exported", len(run_dirs), "runs")

    def export_one(run_id: str) -> None:
        try:
            run_handler.export(src, run_id, run_dirs[run_id], engine, report)
        except Exception as exc:
            report.add("run", run_id, FAILED, None, failure_reason(exc))
            with lock:
                failed[run_id] = failure_reason(exc)
        finally:
            phase.advance()

    try:
        run_parents_first(run_dirs, lambda _: None, export_one, workers)
    finally:
        phase.close()
    return failed


def export_standalone_models(
    src: Endpoint,
    versions: list[tuple[dict, bool]],
    root_of: Callable[[str], Path],
    engine: Engine,
    report: Report,
) -> Models:
    """The LoggedModels versions point at that their exported run does not bring (a model
    logged without a run, or whose run is gone or not exported): record and files of each.
    ``versions`` holds each version's record and whether its run was exported."""
    client = src.client
    wanted: dict[str, Any] = {}
    if not src.supports(LOGGED_MODELS):  # MLflow 2.x: versions point at runs only
        return {}
    for rec, run_exported in versions:
        model_id = rec.get("model_id")
        if not model_id or model_id in wanted:
            continue
        try:
            model = client.get_logged_model(model_id)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            report.warn(f"version {rec['version']}: its LoggedModel {model_id} no longer exists")
            continue
        if not (run_exported and model.source_run_id == rec.get("run_id")):
            wanted[model_id] = model
    manifests: dict[str, list[ArtifactFile]] = {}
    tasks = []
    for model_id, model in wanted.items():
        tasks += logged_model.export_tasks(src, model, root_of(model_id), engine, manifests)
    engine.run(tasks)
    return {mid: (logged_model.record(m), manifests[mid]) for mid, m in wanted.items()}


def download_version_model(
    src: Endpoint, name: str, version: str, root: Path, engine: Engine
) -> list[ArtifactFile]:
    """The version's own model files, from its download URI, through MLflow's repositories."""
    uri = src.client.get_model_version_download_uri(name, version)
    repo = src.artifact_repo(uri)
    files = artifacts.list_tree(repo, engine)
    return engine.run(artifacts.download(repo, files, root, engine))


# Import: runs ---------------------------------------------------------------------------------


@dataclass
class ImportedRun:
    """A version's run on the destination: its id, artifact root, and its LoggedModels' ids."""

    run_id: str
    artifact_uri: str
    model_ids: dict[str, str] = field(default_factory=dict)
    # True when this import created it (and so removes it if the import fails).
    created: bool = False


def verify_runs(
    paths: dict[str, Path], engine: Engine, models: dict[str, list] | None = None
) -> dict[str, RunDir]:
    """Open and check every run export before anything is created. ``models`` holds each run's
    LoggedModel folders that the export keeps outside the run's folder."""
    models = models or {}
    return {
        run_id: run_handler.read_and_verify(path, engine, models.get(run_id))
        for run_id, path in paths.items()
    }


def import_runs(
    dst: Endpoint,
    run_dirs: dict[str, RunDir],
    experiment_id: str,
    engine: Engine,
    report: Report,
    options: run_handler.RunImportOptions,
    workers: int,
    imported: dict[str, ImportedRun],
    progress: Progress = NO_PROGRESS,
    *,
    on_imported: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Import the runs, parents first, filling ``imported`` (source run id -> destination) and
    calling ``on_imported(source run id)`` as each one is done.

    The first failure stops the import and propagates once the runs in flight finish (a failed
    run removes itself); ``imported`` then holds the others, for :func:`discard_runs`. Setting
    ``stop`` starts no more runs.
    """
    lock = threading.Lock()
    client = dst.client
    phase = progress.phase("version runs imported", len(run_dirs), "runs")

    def import_one(src_id: str) -> None:
        own = Report()
        try:
            with resilience.limiter(dst, workers).admit():  # fewer at a time if it is busy
                new_id = run_handler.import_(
                    dst,
                    run_dirs[src_id].path,
                    engine,
                    own,
                    experiment_id=experiment_id,
                    options=options,
                    run_dir=run_dirs[src_id],
                )
            created = bool(own.find("run", IMPORTED))
            entry = ImportedRun(
                new_id,
                "",
                {o.source_id: o.destination_id for o in own.find("logged_model", IMPORTED)},
                created,
            )
            with lock:
                imported[src_id] = entry
            run = client.get_run(new_id)
            entry.artifact_uri = run.info.artifact_uri
            if not created and dst.supports(LOGGED_MODELS):
                entry.model_ids = idmap.model_id_map_of_run(client, run)
            if on_imported is not None:
                on_imported(src_id)
        finally:
            report.merge(own)
            phase.advance()

    def parent_of(src_id: str) -> str | None:
        return run_dirs[src_id].record["tags"].get(MLFLOW_PARENT_RUN_ID)

    try:
        run_parents_first(run_dirs, parent_of, import_one, workers, stop)
    finally:
        phase.close()


def discard_runs(dst: Endpoint, imported: dict[str, ImportedRun]) -> None:
    """Remove the runs (and their LoggedModels) that this import created."""
    for run in imported.values():
        if run.created:
            run_handler.discard(dst, run.run_id, list(run.model_ids.values()))


# Import: a version's source -------------------------------------------------------------------


def target(
    rec: dict, run_dir: RunDir | None, run: ImportedRun | None, dst: Endpoint
) -> Target | None:
    """Where the destination version points, following the source; None if it cannot be said."""
    source = rec.get("source") or ""
    new_run = run.run_id if run else None
    src_model = rec.get("model_id") or logged_model_id(source)
    if src_model and run and src_model in run.model_ids:
        new_model = run.model_ids[src_model]
        if logged_model_id(source) == src_model:
            return Target(f"models:/{new_model}", new_run, new_model)
        old_root = _model_location(run_dir, src_model)
        relative = _relative(source, old_root) if old_root else None
        if relative is not None:
            new_root = dst.client.get_logged_model(new_model).artifact_location
            return Target(_join(new_root, relative), new_run, new_model)
    if run is None or run_dir is None:
        return None
    if source.startswith(RUNS_SCHEME):
        run_part, _, path = source[len(RUNS_SCHEME) :].partition("/")
        if run_part == run_dir.source_run_id:
            return Target(f"{RUNS_SCHEME}{new_run}/{path}".rstrip("/"), new_run, None)
        return None
    relative = _relative(source, run_dir.record["info"].get("artifact_uri"))
    if relative is None:
        relative = _after_run_artifacts(source, run_dir.source_run_id)
    if relative is None:
        return None
    return Target(_join(run.artifact_uri, relative), new_run, None)


def _model_location(run_dir: RunDir | None, model_id: str) -> str | None:
    for model in run_dir.record["logged_models"] if run_dir else []:
        if model["model_id"] == model_id:
            return model.get("artifact_location")
    return None


def _strip_file_scheme(uri: str) -> str:
    return uri[len("file://") :] if uri.startswith("file://") else uri


def _relative(source: str, root: str | None) -> str | None:
    """``source`` relative to ``root`` ("" for the root itself), or None if outside it."""
    if not root:
        return None
    source, root = _strip_file_scheme(source).rstrip("/"), _strip_file_scheme(root).rstrip("/")
    if source == root:
        return ""
    if source.startswith(root + "/"):
        return source[len(root) + 1 :]
    return None


def _after_run_artifacts(source: str, run_id: str) -> str | None:
    """mlflow-export-import's rule, for sources under another root: the path after
    ``<run_id>/artifacts``."""
    marker = f"/{run_id}/artifacts"
    at = source.find(marker)
    if at < 0:
        return None
    rest = source[at + len(marker) :]
    if rest and not rest.startswith("/"):
        return None
    return rest.strip("/")


def _join(root: str, relative: str) -> str:
    return f"{root.rstrip('/')}/{relative}" if relative else root.rstrip("/")


# Import: a version's own model files ----------------------------------------------------------


def import_version_model(
    dst: Endpoint,
    entry: VersionEntry,
    key: str,
    experiment_id: str,
    run: ImportedRun | None,
    source_run_id: str | None,
    engine: Engine,
) -> Target:
    """Make a LoggedModel of the version's own model files; the version points at it.

    A model an interrupted import left for the same version is discarded first.
    """
    client = dst.client
    for stale in client.search_logged_models(
        [experiment_id], filter_string=idmap.equals(f"tags.`{idmap.SOURCE_MODEL_VERSION}`", key)
    ):
        if (stale.tags or {}).get(idmap.SOURCE_MODEL_VERSION) == key:
            logged_model.discard(dst, stale.model_id)
    rec = entry.record
    model = client.create_logged_model(
        experiment_id,
        name=_model_name(rec.get("source")),
        source_run_id=run.run_id if run else None,
        tags={idmap.SOURCE_MODEL_VERSION: key},
    )
    try:
        run_ids = {source_run_id: run.run_id} if run and source_run_id else {}
        model_ids = {rec["model_id"]: model.model_id} if rec.get("model_id") else {}
        engine.run(
            artifacts.upload(
                dst.artifact_repo(model.artifact_location),
                entry.version_model_root,
                entry.version_model_files,
                MLmodelRewriter(run_ids, model_ids).into(None, model.artifact_location),
            )
        )
        client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    except BaseException:
        logged_model.discard(dst, model.model_id)
        raise
    return Target(f"models:/{model.model_id}", run.run_id if run else None, model.model_id)


def verify_version_files(entry: VersionEntry, engine: Engine) -> None:
    """Check the version's own model files and its run-less LoggedModel's, if exported."""
    if entry.has_version_model:
        engine.run(artifacts.verify_tasks(entry.version_model_root, entry.version_model_files))
    if entry.logged_model is not None:
        engine.run(artifacts.verify_tasks(entry.logged_model.root, entry.logged_model.files))


def import_standalone_model(
    dst: Endpoint,
    model: StandaloneModel,
    experiment_id: str,
    engine: Engine,
    report: Report,
    made_models: list[str],
) -> Target:
    """Recreate a LoggedModel that came without its run (or reuse its earlier import)."""
    client = dst.client
    rec = model.record
    source_id = rec["model_id"]
    found = idmap.find_logged_models(client, experiment_id, source_id)
    for existing in found:
        if (existing.tags or {}).get(idmap.STATE) != idmap.STATE_STARTED:
            return Target(f"models:/{existing.model_id}", None, existing.model_id)
    for stale in found:  # an interrupted import left it half made
        logged_model.discard(dst, stale.model_id)
    marked = {**rec, "tags": {**(rec.get("tags") or {}), idmap.STATE: idmap.STATE_STARTED}}
    new = logged_model.create(dst, marked, experiment_id, None)
    made_models.append(new.model_id)
    engine.run(
        artifacts.upload(
            dst.artifact_repo(new.artifact_location),
            model.root,
            model.files,
            MLmodelRewriter({}, {source_id: new.model_id}).into(
                rec.get("artifact_location"), new.artifact_location
            ),
        )
    )
    logged_model.finalize(dst, rec, new.model_id)
    client.delete_logged_model_tag(new.model_id, idmap.STATE)
    if rec.get("metrics"):
        report.warn(
            f"logged model {source_id}: its {len(rec['metrics'])} metrics were logged "
            "by a run that is not in the export; they are not recreated"
        )
    report.add("logged_model", source_id, IMPORTED, new.model_id)
    return Target(f"models:/{new.model_id}", None, new.model_id)


def _model_name(source: str | None) -> str:
    """A LoggedModel name from the last part of the version's source ("model" if none fits)."""
    if logged_model_id(source):
        return "model"
    last = PurePosixPath(str(source or "").rstrip("/")).name
    name = re.sub(r"[^\w.-]+", "_", last).strip("._")
    return name or "model"


# Import: the version itself -------------------------------------------------------------------


def create_version(
    dst: Endpoint,
    writer: VersionWriter,
    entry: VersionEntry,
    run_dir: RunDir | None,
    run: ImportedRun | None,
    experiment_id: str,
    engine: Engine,
    made_models: list[str],
    progress: Progress = NO_PROGRESS,
) -> str | None:
    """Create the destination version of ``entry``, following its source to the imported run
    or LoggedModel, else to the LoggedModel exported without its run, else to its own model
    files; return its number (None: reported, not made).
    ``made_models`` receives the LoggedModels made from model files, for the caller's undo."""
    rec = entry.record
    report = writer.report
    found = target(rec, run_dir, run, dst)
    if found is None and entry.logged_model is not None:
        found = import_standalone_model(
            dst, entry.logged_model, experiment_id, engine, report, made_models
        )
    if found is None and entry.has_version_model:
        found = import_version_model(
            dst,
            entry,
            writer.key(rec),
            experiment_id,
            run,
            run_dir.source_run_id if run_dir else rec.get("run_id"),
            engine,
        )
        made_models.append(found.model_id)
    if found is None:
        why = (
            f"its source {rec['source']} is not inside its run or LoggedModel, and the "
            "export holds no model files for it (--export-version-model)"
        )
        report.warn(f"version {rec['version']}: {why}; not imported")
        report.add("model_version", writer.key(rec), FAILED, None, why)
        return None
    number = writer.write(rec, found)
    aliases = f", aliases {', '.join(rec['aliases'])}" if rec.get("aliases") else ""
    progress.note(
        f"  version {rec['version']} -> {number} (stage {rec['current_stage']}"
        f"{aliases}): run {rec.get('run_id') or '-'} -> {found.run_id or '-'}, "
        f"source {found.source}"
    )
    return number
