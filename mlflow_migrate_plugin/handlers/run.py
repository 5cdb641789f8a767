"""Runs: exported with their full history, artifacts and LoggedModels; imported with nothing lost.

Import order matters (docs/architecture.md, "MLflow facts"): the run is created with its start
time, name, user and parent; LoggedModels are created before the metrics that link to them;
params, tags, metrics and artifacts then move concurrently; inputs and outputs follow; the run is
terminated with its status and end time, and deleted last, because a deleted run refuses writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow.utils.mlflow_tags import MLFLOW_LOGGED_MODELS

from .. import idmap, interrupts
from ..capabilities import LOGGED_MODELS
from ..context import Migration
from ..endpoint import Endpoint, redact
from ..exportdir.layout import system_part
from ..exportdir.paths import ArtifactFile
from ..exportdir.run_dir import RunDir, RunDirWriter
from ..report import EXPORTED, IMPORTED, NO_PROGRESS, SKIPPED, Progress, Report
from ..transfer import artifacts, metrics, resilience
from ..transfer.engine import Engine, Task
from ..transfer.metric_values import ValueCheck
from ..transfer.mlmodel import MLmodelRewriter, rewrite_history
from . import duplicates, logged_model, requirements, run_links, run_reuse, run_tags, run_writes
from .experiment_lookup import ensure as ensure_experiment
from .results import Exported, Imported
from .run_checks import check_values, export_warnings
from .run_cleanup import discard
from .run_cleanup import quietly as _quietly
from .run_source import ExportedRun, RunSource, get_run, record

# The tags an import writes, also named here for callers of the run handler.
from .run_tags import INFO_FIELDS, SOURCE_EXPORT_PREFIX, SOURCE_INFO_PREFIX, SOURCE_USER  # noqa: F401


@dataclass
class RunImportOptions:
    """How import-run treats what the export holds (the CLI options of the same names)."""

    import_source_tags: bool = False
    use_src_user_id: bool = False
    mlmodel_fix: bool = True
    # Import again even when the run was imported before (a second copy).
    fresh: bool = False
    # Import what the destination can take, leaving out (with a warning each) what needs a
    # feature it lacks, instead of refusing the import (handlers/requirements.py).
    skip_unsupported: bool = False
    # Databricks: the workspace folder that receives the run's notebook (--dst-notebook-dir).
    notebook_dir: str | None = None


@dataclass
class ImportContext:
    """What a caller importing many runs into one experiment already knows, so that each run's
    import skips the searches that would find it out again."""

    # Source run id -> destination run id of the runs finished so far (parents among them).
    imported: dict[str, str]
    # Source ids of the parents that runs already on the destination wait for.
    awaited_parents: set[str]
    # What one search of the experiment found before the runs started (source run id -> its
    # runs there), so that each run's import need not search again; None: not searched.
    previous: dict[str, list] | None = None

    def take_previous(self, source_run_id: str) -> list | None:
        """The runs found for ``source_run_id``, once: a retried import searches again."""
        if self.previous is None or source_run_id in self._taken:
            return None
        self._taken.add(source_run_id)
        return self.previous.get(source_run_id, [])

    def __post_init__(self) -> None:
        self._taken: set[str] = set()


# One run, as export-run, import-run and copy-run move it ------------------------------------------


def export_one(
    ctx: Migration,
    run_id: str,
    output_dir: str | Path,
    *,
    notebook_formats: list[str] | None = None,
) -> Exported:
    """Export run ``run_id`` to ``output_dir`` (:func:`export`), then on a Databricks source its
    notebook revision in ``notebook_formats`` into the same folder."""
    result = export(ctx.src, run_id, output_dir, ctx.engine, ctx.report, ctx.progress)
    if notebook_formats:
        from ..databricks import notebooks

        notebooks.export_run_notebook(ctx.src, run_id, output_dir, notebook_formats, ctx.report)
    return result


def import_one(ctx: Migration, input_dir: str | Path, experiment_name: str) -> Imported:
    """Import the run export ``input_dir`` into ``experiment_name`` (:func:`import_`, with the
    :class:`RunImportOptions` of ``ctx``), then on Databricks its notebook."""
    options = ctx.options_of("run") or RunImportOptions()
    result = import_(
        ctx.dst,
        input_dir,
        ctx.engine,
        ctx.report,
        experiment_name=experiment_name,
        options=options,
        progress=ctx.progress,
    )
    if options.notebook_dir:
        from ..databricks import notebooks

        notebooks.import_run_notebook(
            ctx.dst, input_dir, result.destination_id, options.notebook_dir, ctx.report
        )
    return result


# Export ---------------------------------------------------------------------------------------


def export(
    src: Endpoint,
    run_id: str,
    output_dir: str | Path,
    engine: Engine,
    report: Report,
    progress: Progress = NO_PROGRESS,
    extra_info: dict | None = None,
) -> Exported:
    """Write the run, its metric history, artifacts and LoggedModels to ``output_dir``."""
    run = get_run(src, run_id)
    client = src.client
    writer = RunDirWriter(output_dir)
    models = logged_model.models_of_run(src, run)
    repo = src.artifact_repo(run.info.artifact_uri)
    run_files = artifacts.list_tree(repo, engine)
    model_tasks: list[Task] = []
    model_manifests: dict[str, list[ArtifactFile]] = {}
    for model in models:
        model_tasks += logged_model.export_tasks(
            src, model, writer.logged_model_root(model.model_id), engine, model_manifests
        )
    metric_writer = writer.open_metrics()
    points = progress.phase(f"run {run_id}: metric history", None, "points")
    data = progress.phase(f"run {run_id}: artifacts", artifacts.total_bytes(run_files), "bytes")
    downloaded: list[ArtifactFile] = []
    # Phases are closed only when they complete: a closed phase reports its work as done, and
    # after a failure the error is the one thing to show.
    engine.run(
        metrics.export_tasks(client, run_id, sorted(run.data.metrics), metric_writer, points),
        _collecting(
            artifacts.download(repo, run_files, writer.artifacts_root, engine, data), downloaded
        ),
        model_tasks,
    )
    points.close()
    data.close()
    mlflow_part = record(run)
    for line in export_warnings(mlflow_part, run_id):
        report.warn(line)
    mlflow_part["logged_models"] = [logged_model.record(m) for m in models]
    writer.finish(
        system_part("export-run", redact(src.tracking_uri)),
        mlflow_part,
        metric_writer,
        downloaded,
        model_manifests,
        extra_info,
        source_fingerprint=run_reuse.fingerprint(run),
    )
    report.add(
        "run",
        run_id,
        EXPORTED,
        str(output_dir),
        f"{metric_writer.points} metric points, {len(downloaded)} artifacts, "
        f"{len(models)} logged models",
    )
    return Exported("run", run_id, Path(output_dir))


def _collecting(tasks, sink: list):
    for task in tasks:
        yield (lambda t=task: sink.append(t()))


# Import ---------------------------------------------------------------------------------------


def read_and_verify(input_dir: str | Path, engine: Engine, models: list | None = None) -> RunDir:
    """Open a run export and check all of it (JSON, history file, every artifact) up front.

    ``models``: the run's LoggedModel folders that its export keeps outside the run's folder.
    """
    run_dir = RunDir(input_dir, models)
    check_values(run_dir.record, run_dir.path / "run.json")
    run_dir.check_metrics_file()
    checks = [artifacts.verify_tasks(run_dir.artifacts_root(), run_dir.artifact_files())]
    for model in run_dir.record["logged_models"]:
        mid = model["model_id"]
        checks.append(
            artifacts.verify_tasks(run_dir.logged_model_root(mid), run_dir.logged_model_files(mid))
        )
    engine.run(*checks)
    return run_dir


def import_(
    dst: Endpoint,
    source: RunSource | RunDir | str | Path,
    engine: Engine,
    report: Report,
    experiment_name: str | None = None,
    experiment_id: str | None = None,
    options: RunImportOptions | None = None,
    progress: Progress = NO_PROGRESS,
    run_dir: RunDir | None = None,
    context: ImportContext | None = None,
) -> Imported:
    """Import one run into ``dst``; return the destination run (with its LoggedModels).

    ``source`` is a run export's directory, the export read and checked already
    (:func:`read_and_verify`; also as ``run_dir``), or a :class:`~.run_source.RunSource`,
    such as a run read live from another server. A run imported before (same source id,
    import complete) is skipped; one whose import was interrupted is discarded and imported
    again. On any failure, what this call created is removed before the error propagates.
    """
    options = options or RunImportOptions()
    source = run_dir or source
    if isinstance(source, RunDir):
        source = ExportedRun(source)
    elif not isinstance(source, RunSource):
        source = ExportedRun(read_and_verify(source, engine))
    rec = source.record
    src_id = source.source_run_id
    lacks = requirements.run_lacks(dst, rec)
    requirements.refuse(dst, lacks, options.skip_unsupported)  # before anything is created
    if experiment_id is None:
        experiment_id = ensure_experiment(dst, experiment_name, report)
    client = dst.client

    # One search answers both questions: imported before, and interrupted imports to discard.
    previous = context.take_previous(src_id) if context else None
    if previous is None:
        previous = idmap.find_runs(client, experiment_id, src_id)
    # Interrupted imports go first, also when a complete copy exists: a crash or a retried
    # create may have left them beside it.
    for stale in previous:
        if stale.data.tags.get(idmap.STATE) != idmap.STATE_COMPLETE:
            # The interrupted import may have created LoggedModels too: they go with it.
            stale_models = []
            if dst.supports(LOGGED_MODELS):
                stale_models = list(idmap.model_id_map_of_run(client, stale).values())
            discard(dst, stale.info.run_id, stale_models, report)
    if not options.fresh:
        done = next(
            (r for r in previous if r.data.tags.get(idmap.STATE) == idmap.STATE_COMPLETE), None
        )
        if done is not None:
            run_writes.complete_finish(client, done, rec["info"])
            report.add("run", src_id, SKIPPED, done.info.run_id, "already imported")
            return Imported("run", src_id, done.info.run_id, SKIPPED)
    requirements.drop_from_run(dst, rec, lacks, report)

    info = rec["info"]
    first_tags, later_tags = run_tags.destination_tags(
        dst,
        rec,
        source,
        experiment_id,
        report,
        use_src_user_id=options.use_src_user_id,
        import_source_tags=options.import_source_tags,
        known_runs=context.imported if context else None,
    )
    run_id = None
    created_models: dict[str, Any] = {}
    attempt = idmap.new_attempt()
    first_tags[idmap.STATE] = idmap.started(attempt)
    if options.fresh:  # a second copy asked for, which a rerun's repair must leave alone
        first_tags[idmap.FRESH_COPY] = "true"
    try:
        with interrupts.deferred():  # the new id is known to the cleanup below before Ctrl-C
            run = client.create_run(
                experiment_id,
                start_time=info.get("start_time"),
                tags=first_tags,
                run_name=info.get("run_name"),
            )
            run_id = run.info.run_id
        duplicates.drop_run_copies(dst, experiment_id, attempt, run_id, report)
        _create_models(dst, rec, src_id, run_id, experiment_id, created_models)
        model_ids = {old: new.model_id for old, new in created_models.items()}
        repo = dst.artifact_repo(run.info.artifact_uri)
        rewrite = MLmodelRewriter({src_id: run_id}, model_ids) if options.mlmodel_fix else None
        locations = {m["model_id"]: m.get("artifact_location") for m in rec["logged_models"]}
        history = later_tags.get(MLFLOW_LOGGED_MODELS)
        if rewrite and history:  # names the run and its models, as MLmodel files do
            history = rewrite_history(history, {src_id: run_id}, model_ids) or history
            later_tags = {**later_tags, MLFLOW_LOGGED_MODELS: history}
        for line in source.warnings():
            report.warn(line)
        check = ValueCheck.for_destination(dst.tracking_uri)
        points = progress.phase(f"run {src_id}: metric history", source.metric_points(), "points")
        data = progress.phase(f"run {src_id}: artifacts", source.artifact_bytes(), "bytes")
        engine.run(  # phases closed only on success, as in export()
            *run_writes.data_tasks(
                client,
                run_id,
                source,
                rec["params"],
                later_tags,
                run_links.model_link(rec, src_id, model_ids, report),
                points,
                check,
            ),
            source.artifact_tasks(repo, rewrite, data),
            *[
                source.model_artifact_tasks(
                    old,
                    dst.artifact_repo(new.artifact_location),
                    rewrite.into(locations.get(old), new.artifact_location) if rewrite else None,
                )
                for old, new in created_models.items()
            ],
        )
        points.close()
        data.close()
        for line in check.warnings(src_id) if check else []:
            report.warn(line)
        run_links.log_inputs_and_outputs(dst, rec, run_id, experiment_id, model_ids, report)
        for model in rec["logged_models"]:
            logged_model.finalize(dst, model, model_ids[model["model_id"]])
        if context is None or src_id in context.awaited_parents:
            run_links.adopt_waiting_children(dst, experiment_id, src_id, run_id)
        client.set_tag(run_id, idmap.STATE, idmap.STATE_COMPLETE)
        run_writes.finish(client, run_id, info)
    except BaseException as exc:
        resilience.trip_if_gone(dst, exc)  # a server gone: the cleanup below tries once each
        if run_id is not None:
            discard(dst, run_id, [m.model_id for m in created_models.values()], report)
        else:  # a create whose answer never came may have committed
            _quietly(duplicates.drop_run_copies, dst, experiment_id, attempt, None, report)
        raise
    for old, new in model_ids.items():
        report.add("logged_model", old, IMPORTED, new)
    report.add("run", src_id, IMPORTED, run_id)
    return Imported("run", src_id, run_id, IMPORTED, model_ids)


def _create_models(
    dst: Endpoint, rec: dict, src_id: str, run_id: str, experiment_id: str, created: dict[str, Any]
) -> None:
    """Create the run's LoggedModels; ``created`` maps each source id to the new model."""
    for model in rec["logged_models"]:
        source_run = run_id if model.get("source_run_id") in (src_id, None) else None
        with interrupts.deferred():
            created[model["model_id"]] = logged_model.create(dst, model, experiment_id, source_run)
