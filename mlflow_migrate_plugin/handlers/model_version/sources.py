"""What a model version points at: its run's files, a LoggedModel, or its own model files.

A version's ``source`` is rewritten to what the destination made (:mod:`..version_source_uri`):
``models:/<new model id>`` for a LoggedModel, the same path under the new run for a run artifact,
since the server requires a source to lie inside the run or model it names. A version whose
source cannot be followed is created from the LoggedModel exported without its run, else from
its own model files (--export-version-model), which become a LoggedModel of the destination
experiment.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlflow.entities import LoggedModelStatus
from mlflow.exceptions import MlflowException

from ... import idmap
from ...capabilities import LOGGED_MODELS
from ...endpoint import Endpoint
from ...exportdir.model_dir import Models, StandaloneModel, VersionEntry
from ...exportdir.paths import ArtifactFile
from ...exportdir.run_dir import RunDir
from ...report import FAILED, IMPORTED, NO_PROGRESS, Progress, Report
from ...transfer import artifacts
from ...transfer.engine import Engine
from ...transfer.mlmodel import MLmodelRewriter
from .. import logged_model
from .. import version_source_uri as source_uri
from ..version_source_uri import logged_model_id
from .runs import ImportedRun
from .writer import Target, VersionWriter

# Export ---------------------------------------------------------------------------------------


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
        moved = source_uri.model_source(
            source,
            src_model,
            source_uri.model_location(
                run_dir.record["logged_models"] if run_dir else [], src_model
            ),
            new_model,
            lambda: dst.client.get_logged_model(new_model).artifact_location,
        )
        if moved is not None:
            return Target(moved, new_run, new_model)
    if run is None or run_dir is None:
        return None
    moved = source_uri.run_source(
        source,
        run_dir.source_run_id,
        run_dir.record["info"].get("artifact_uri"),
        run.run_id,
        run.artifact_uri,
    )
    return Target(moved, new_run, None) if moved is not None else None


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
        name=source_uri.logged_model_name(rec.get("source")),
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
