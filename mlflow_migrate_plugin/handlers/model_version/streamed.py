"""A deep copy-model-version streamed from server to server: the version's run read live.

The same steps as import-model-version, with the run read from the source server instead of an
export (:class:`..run_source.LiveRun`): the run is imported by the versions' run pool
(:func:`.runs.import_runs`), the registered model made as the import makes it, and the version
written by the same :class:`.writer.VersionWriter`, pointing at the copied run or LoggedModel
(:func:`.sources.target`). A version that needs more than its run (its run is gone, or its
source lies outside its run and the run's LoggedModels) is not streamed: :func:`copy` returns
None before anything is created, and the caller copies it through an export instead.
"""

from __future__ import annotations

from mlflow.exceptions import MlflowException

from ...endpoint import Endpoint
from ...errors import MigrateError
from ...exportdir import records
from ...exportdir.experiment_dir import experiment_record
from ...exportdir.fields import Where
from ...report import NO_PROGRESS, SKIPPED, Progress, Report
from ...transfer.engine import Engine
from .. import registered_model_lookup as registered_model
from .. import requirements
from .. import run as run_handler
from ..experiment_lookup import ensure as ensure_experiment
from ..run_source import LiveRun, LiveSource
from ..version_source_uri import logged_model_id
from . import runs, sources
from .writer import VersionOptions, VersionWriter, get, record


def copy(
    live: LiveSource,
    dst: Endpoint,
    src_model: str,
    src_version: str,
    dst_model: str,
    experiment_name: str,
    engine: Engine,
    report: Report,
    *,
    options: VersionOptions,
    skip_unsupported: bool = False,
    progress: Progress = NO_PROGRESS,
) -> str | None:
    """Copy the version and its run into ``experiment_name``; return the new version number,
    or None when the version cannot be streamed (nothing was created then)."""
    src = live.src
    mv = get(src, src_model, src_version)
    run = _run(src, mv.run_id)
    if run is None or requirements.lacks_something(dst):
        return None  # the export path knows version model files and feature checks
    where = f"version {mv.version} of '{src_model}' on {src.display}"
    model = records.model_record(
        Where(where, "model"), registered_model.record(src.client.get_registered_model(src_model))
    )
    aliases = [a for a, v in model["aliases"].items() if str(v) == str(mv.version)]
    rec = records.version_record(Where(where, "version"), record(mv, aliases), model)
    source_run = live.run(mv.run_id)
    if not _inside_its_run(rec, source_run):
        return None
    writer = VersionWriter(dst, dst_model, src_model, report, options, progress)
    found = writer.done(rec)
    if found is not None:
        report.add("model_version", writer.key(rec), SKIPPED, found.version, "already imported")
        return found.version
    experiment_id = _experiment(live, dst, run, experiment_name, report)
    imported: dict[str, runs.ImportedRun] = {}
    created_model = False
    try:
        runs.import_runs(
            dst,
            {mv.run_id: source_run},
            experiment_id,
            engine,
            report,
            run_handler.RunImportOptions(
                import_source_tags=options.import_source_tags, skip_unsupported=skip_unsupported
            ),
            1,
            imported,
            progress,
        )
        created_model = registered_model.ensure(
            dst, dst_model, model, report, metadata=True, source_tags=options.import_source_tags
        )
        target = sources.target(rec, source_run, imported.get(mv.run_id), dst)
        if target is None:
            raise MigrateError(f"{where}: its source {rec['source']} is not inside its run")
        return writer.write(rec, target)
    except BaseException:
        runs.undo(dst, dst_model, writer, created_model, [], imported)
        raise


def _run(src: Endpoint, run_id: str | None):
    if not run_id:
        return None
    try:
        return src.client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise


def _inside_its_run(rec: dict, run: LiveRun) -> bool:
    """Whether the version's source lies in its run or in a LoggedModel the run brings, so
    that the copied run (or its model) can hold it, as :func:`.sources.target` will find."""
    model_id = rec.get("model_id") or logged_model_id(rec.get("source") or "")
    if model_id:
        return any(m["model_id"] == model_id for m in run.record["logged_models"])
    root = (run.record["info"].get("artifact_uri") or "").rstrip("/")
    source = rec.get("source") or ""
    return (
        bool(root)
        and (source == root or source.startswith(root + "/"))
        or (source.startswith(f"runs:/{run.source_run_id}/"))
    )


def _experiment(live: LiveSource, dst: Endpoint, run, name: str, report: Report) -> str:
    """The destination experiment; made with the run's experiment's tags, as
    import-model-version with --import-metadata does."""
    if dst.client.get_experiment_by_name(name) is not None:
        return ensure_experiment(dst, name, report)
    exp = live.src.client.get_experiment(run.info.experiment_id)
    return ensure_experiment(dst, name, report, tags=experiment_record(exp)["tags"] or None)
