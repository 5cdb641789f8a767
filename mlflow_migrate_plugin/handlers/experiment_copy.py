"""copy-experiment: an experiment with its runs and its own LoggedModels, server to server.

The steps of export-experiment and import-experiment, with nothing written in between: the runs
are chosen as the export chooses them (:mod:`.run_selection`), the destination experiment is
found or made as the import makes it (:func:`.experiment.destination`), the experiment's own
LoggedModels go first, then the runs, parents before children, each through the run import
reading the run live from the source (:class:`.run_source.LiveRun`). Reruns, interrupted and
failed runs behave as in import-experiment, because it is the same code.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from mlflow.entities import LifecycleStage
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from ..capabilities import LOGGED_MODELS
from ..context import Migration
from ..endpoint import Endpoint
from ..exportdir import records
from ..exportdir.experiment_dir import experiment_record
from ..exportdir.fields import Where
from ..report import FAILED, NO_PROGRESS, Progress, Report
from ..transfer import resilience
from ..transfer.engine import Engine
from . import experiment as experiment_handler
from . import experiment_models, experiment_runs, kinds, logged_model
from . import run as run_handler
from .run_selection import RunSelection, select
from .run_source import LiveSource


def copy(
    live: LiveSource,
    dst: Endpoint,
    experiment: str,
    experiment_name: str,
    engine: Engine,
    report: Report,
    selection: RunSelection | None = None,
    options: run_handler.RunImportOptions | None = None,
    *,
    workers: int = 1,
    progress: Progress = NO_PROGRESS,
    kind_options: dict[str, Any] | None = None,
    wait: bool = False,
) -> str:
    """Copy source ``experiment`` (name or id) and its selected runs into ``experiment_name``
    on ``dst``; return the destination experiment's id. A run that fails is reported with its
    reason and the others are copied. Another import or copy into the same experiment in
    progress makes this one refuse, or with ``wait`` wait for it to end (:mod:`.lease`)."""
    src = live.src
    selection = selection or RunSelection()
    options = options or run_handler.RunImportOptions()
    exp = experiment_handler.get(src, experiment)
    if exp.lifecycle_stage == LifecycleStage.DELETED and not selection.export_deleted_runs:
        report.warn(
            f"experiment '{exp.name}' is deleted, and so are its runs; add "
            "--export-deleted-runs to copy them"
        )
    chosen = select(src.client, exp, selection, engine, report)
    for item in chosen.failed:
        report.add("run", item["run_id"], FAILED, None, item["reason"])
    runs = {run.info.run_id: run for run in chosen.runs}
    models = []
    if src.supports(LOGGED_MODELS):
        models = experiment_models.unproduced(src.client, exp.experiment_id, chosen.runs)
        # One search instead of one per run, for the many experiments without any.
        if not src.client.search_logged_models([exp.experiment_id], max_results=1):
            live.without_models.add(exp.experiment_id)

    where = f"experiment '{exp.name}' on {src.display}"
    source = records.experiment_record(Where(where, "experiment"), experiment_record(exp))
    experiment_id, delete_after = experiment_handler.destination(
        dst, source, where, experiment_name, options, report
    )
    held = experiment_handler.take_lease(
        dst, experiment_id, experiment_name, delete_after, report, wait, progress
    )
    try:
        with resilience.one_line_when_gone((src, dst)):  # either server gone mid-way
            model_ids = experiment_models.copy_all(
                src, dst, models, experiment_id, engine, live.spool, report
            )
            run_ids = experiment_runs.import_runs(
                dst,
                {run_id: run.data.tags.get(MLFLOW_PARENT_RUN_ID) for run_id, run in runs.items()},
                live.run,
                experiment_id,
                engine,
                report,
                options,
                workers,
                progress,
                {},  # the runs copied before are looked up by the run pool itself
                live_src=src,
            )
            if resilience.gone(src):  # what follows reads the source too: stop here
                raise resilience.ServerGoneError(
                    f"{src.display} stopped answering; run the same command again once it "
                    "answers: it completes the copy"
                )
            records_of_models = [logged_model.record(m) for m in models]
            experiment_models.relink_metrics(dst, records_of_models, model_ids, run_ids, report)
            ids = {"run": run_ids, "logged_model": model_ids}
            _copy_parts(live, dst, exp, experiment_id, ids, engine, report, progress, kind_options)
    finally:
        held.release()
        if delete_after:
            experiment_handler.delete_as_source(dst, experiment_id, experiment_name, report)
    return experiment_id


def _copy_parts(live, dst, exp, experiment_id, ids, engine, report, progress, kind_options) -> None:
    """The experiment's other kinds (traces, evaluation datasets), after the runs and models
    they link to (``ids``: kind -> source id -> destination id). Their handlers read and write
    folders, so each part goes through a temporary folder of its own, removed at once."""
    options = kind_options or {}
    out = Migration(engine, report, src=live.src, progress=progress, options=options)
    into = Migration(engine, report, dst=dst, progress=progress, options=options)
    for kind, pairs in ids.items():
        into.ids.update(kind, pairs)
    for part in kinds.experiment_parts():
        if not (part.wanted(out) and part.supported(out)):
            continue
        with tempfile.TemporaryDirectory(prefix="mlflow-migrate-part-") as tmp:
            folder = Path(tmp) / part.folder
            part.export_part(out, exp, folder)
            if folder.is_dir():
                part.import_part(into, folder, experiment_id)
