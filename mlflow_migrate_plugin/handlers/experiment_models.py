"""An experiment's own MLflow 3 LoggedModels: those no exported run produced.

A run's models travel with the run (:mod:`.run`). The others (created with no source run, for
example registered from outside a training run) are exported with the experiment and recreated
before its runs, so that runs which used them as inputs link to the new ids. Metrics that runs
logged against such a model are linked again once those runs are on the destination.

While a model is being imported it carries ``mlflow_migrate.import_state = started``; a model
found with that tag was interrupted and is replaced, one without it is complete and skipped.
"""

from __future__ import annotations

import shutil

from ..capabilities import LOGGED_MODELS
from ..endpoint import Endpoint
from ..exportdir.experiment_dir import ExperimentDir, ExperimentDirWriter
from ..report import EXPORTED, FAILED, Report, failure_reason
from ..transfer import artifacts
from ..transfer.engine import Engine
from ..transfer.spool import Spool
from . import logged_model, requirements


def unproduced(client, experiment_id: str, exported_runs: list) -> list:
    """LoggedModels of the experiment with no source run and not an output of an exported run."""
    outputs = {
        o.model_id
        for run in exported_runs
        for o in (run.outputs.model_outputs if run.outputs else [])
    }
    models, token = [], None
    while True:
        page = client.search_logged_models([experiment_id], page_token=token)
        models += [m for m in page if not m.source_run_id and m.model_id not in outputs]
        token = page.token
        if not token:
            return models


def export_all(
    src: Endpoint,
    experiment_id: str,
    exported_runs: list,
    writer: ExperimentDirWriter,
    engine: Engine,
    report: Report,
):
    """Write the experiment's own models; return them and their artifact manifests.

    A model that fails is reported, its folder removed, and left out of the export.
    """
    exported, manifests = [], {}
    if not src.supports(LOGGED_MODELS):  # MLflow 2.x: there are none to export
        return exported, manifests
    for model in unproduced(src.client, experiment_id, exported_runs):
        root = writer.logged_model_root(model.model_id)
        try:
            engine.run(logged_model.export_tasks(src, model, root, engine, manifests))
        except Exception as exc:
            manifests.pop(model.model_id, None)
            shutil.rmtree(root.parent, ignore_errors=True)
            report.add("logged_model", model.model_id, FAILED, None, failure_reason(exc))
            continue
        exported.append(model)
        report.add("logged_model", model.model_id, EXPORTED, str(writer.path), "experiment-level")
    return exported, manifests


def import_all(
    dst: Endpoint, exp_dir: ExperimentDir, experiment_id: str, engine: Engine, report: Report
) -> dict[str, str]:
    """Recreate the experiment's own models; return source id -> destination id.

    A model that fails is reported and left out; the others, and the runs, still import.
    """
    created: dict[str, str] = {}
    lacks = requirements.experiment_model_lacks(dst, exp_dir.logged_models)
    if lacks:  # refused before the import began, unless told to import the rest
        requirements.warn_dropped(dst, lacks, report)
        return created
    for rec in exp_dir.logged_models:
        source_id = rec["model_id"]
        root = exp_dir.logged_model_root(source_id)
        files = exp_dir.logged_model_files(source_id)

        def upload(repo, rewrite, root=root, files=files):
            return artifacts.upload(repo, root, files, rewrite)

        try:
            root = exp_dir.logged_model_root(source_id)
            files = exp_dir.logged_model_files(source_id)
            created[source_id] = logged_model.import_standalone(
                dst, rec, root, files, experiment_id, engine, report
            )
        except Exception as exc:
            report.add("logged_model", source_id, FAILED, None, failure_reason(exc))
    return created


def copy_all(
    src: Endpoint,
    dst: Endpoint,
    models: list,
    experiment_id: str,
    engine: Engine,
    spool: Spool,
    report: Report,
) -> dict[str, str]:
    """Copy the experiment's own ``models`` (MLflow LoggedModels of the source, see
    :func:`unproduced`) straight from ``src``; return source id -> destination id. A model
    that fails is reported and left out, as on import."""
    created: dict[str, str] = {}
    records = [logged_model.record(m) for m in models]
    lacks = requirements.experiment_model_lacks(dst, records)
    if lacks:
        requirements.warn_dropped(dst, lacks, report)
        return created
    for model, rec in zip(models, records, strict=True):
        try:
            repo = src.artifact_repo(model.artifact_location)
            files = artifacts.list_tree(repo, engine)

            def copy(dst_repo, rewrite, repo=repo, files=files):
                return artifacts.copy(repo, dst_repo, files, spool, rewrite)

            created[model.model_id] = logged_model.import_standalone(
                dst, rec, None, None, experiment_id, engine, report, transfer=copy
            )
        except Exception as exc:
            report.add("logged_model", model.model_id, FAILED, None, failure_reason(exc))
    return created


def relink_metrics(
    dst: Endpoint,
    models: list[dict],
    model_ids: dict[str, str],
    run_ids: dict[str, str],
    report: Report,
) -> None:
    """Link the metrics of the experiment's own ``models`` (their records) to the imported
    runs that logged them (idempotent)."""
    for rec in models:
        new_id = model_ids.get(rec["model_id"])
        if new_id:
            logged_model.link_metrics(dst, rec, new_id, run_ids, report)
