"""What ties an imported run to other objects: metric points shared with its LoggedModels,
dataset and model inputs, model outputs, and children that were imported before it."""

from __future__ import annotations

import time

from mlflow.entities import Dataset, DatasetInput, InputTag, LoggedModelInput, LoggedModelOutput
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from .. import idmap
from ..endpoint import Endpoint
from ..report import FAILED, Report


def model_link(rec: dict, src_id: str, model_ids: dict[str, str], report: Report):
    """Which history points also belong to a LoggedModel (so they are logged with its new id)."""
    links: dict[tuple, tuple] = {}
    for model in rec["logged_models"]:
        new_id = model_ids[model["model_id"]]
        for m in model.get("metrics") or []:
            if m.get("run_id") not in (src_id, None):
                report.warn(
                    f"logged model {model['model_id']}: metric {m['key']!r} was logged "
                    f"by run {m['run_id']}, not this run; it is not linked"
                )
                continue
            key = (m["key"], int(m["timestamp"]), int(m["step"]), float(m["value"]))
            links[key] = (new_id, m.get("dataset_name"), m.get("dataset_digest"))
    if not links:
        return None

    def link(point: dict):
        return links.get(
            (point["key"], int(point["timestamp"]), int(point["step"]), float(point["value"]))
        )

    return link


def log_inputs_and_outputs(
    dst: Endpoint,
    rec: dict,
    run_id: str,
    experiment_id: str,
    model_ids: dict[str, str],
    report: Report,
) -> None:
    client = dst.client
    datasets = [
        DatasetInput(
            Dataset(
                d["dataset"]["name"],
                d["dataset"]["digest"],
                d["dataset"]["source_type"],
                d["dataset"]["source"],
                d["dataset"].get("schema"),
                d["dataset"].get("profile"),
            ),
            [InputTag(t["key"], t["value"]) for t in d.get("tags") or []],
        )
        for d in rec["inputs"]["dataset_inputs"]
    ]
    models_in = []
    for m in rec["inputs"]["model_inputs"]:
        new = model_ids.get(m["model_id"]) or imported_model(client, experiment_id, m["model_id"])
        if new:
            models_in.append(LoggedModelInput(new))
        else:
            report.warn(
                f"run {rec['info']['run_id']}: input model {m['model_id']} is not on the "
                "destination; the input link is not recreated"
            )
    if datasets or models_in:
        _log_inputs(client, run_id, datasets, models_in)
    outputs = []
    for o in rec["outputs"]["model_outputs"]:
        new = model_ids.get(o["model_id"]) or imported_model(client, experiment_id, o["model_id"])
        if new:
            outputs.append(LoggedModelOutput(new, int(o.get("step") or 0)))
        else:  # the model did not come with the export: say so, and fail it
            why = f"output of run {rec['info']['run_id']}, but not in the export"
            report.warn(f"logged model {o['model_id']}: {why}; not imported")
            report.add("logged_model", o["model_id"], FAILED, None, why)
    if outputs:
        client.log_outputs(run_id, outputs)


INPUT_TRIES = 3


def _log_inputs(client, run_id: str, datasets: list, models_in: list) -> None:
    """``log_inputs``, through the server's unique-key errors. The server looks a dataset (and
    a run's link to it) up, then inserts it: two runs of one experiment imported at once can
    both insert a dataset, and a POST that MLflow's client sent again after losing the first
    answer can race the first one. The second insert fails on the unique key; once the first
    has landed, the run either has its inputs or logging them again links them."""
    for attempt in range(INPUT_TRIES):
        try:
            client.log_inputs(run_id, datasets=datasets or None, models=models_in or None)
            return
        except MlflowException as exc:
            if "unique" not in str(exc).lower() or attempt == INPUT_TRIES - 1:
                raise
            time.sleep(0.2 * (attempt + 1))  # for the insert that won to commit
            if _has_inputs(client, run_id, datasets, models_in):
                return


def _has_inputs(client, run_id: str, datasets: list, models_in: list) -> bool:
    """Whether run ``run_id`` holds every dataset input (by name and digest) and model input."""
    inputs = client.get_run(run_id).inputs
    have = {(d.dataset.name, d.dataset.digest) for d in inputs.dataset_inputs or []}
    have_models = {m.model_id for m in inputs.model_inputs or []}
    return {(d.dataset.name, d.dataset.digest) for d in datasets} <= have and {
        m.model_id for m in models_in
    } <= have_models


def imported_model(client, experiment_id: str, source_model_id: str) -> str | None:
    found = idmap.find_logged_models(client, experiment_id, source_model_id)
    return found[0].model_id if found else None


def adopt_waiting_children(dst: Endpoint, experiment_id: str, src_id: str, run_id: str) -> None:
    """Children imported before this parent get their parent link now."""
    client = dst.client
    for child in idmap.find_children_waiting(client, experiment_id, src_id):
        deleted = child.info.lifecycle_stage == "deleted"
        if deleted:
            client.restore_run(child.info.run_id)
        client.set_tag(child.info.run_id, MLFLOW_PARENT_RUN_ID, run_id)
        client.delete_tag(child.info.run_id, idmap.PENDING_PARENT)
        if deleted:
            client.delete_run(child.info.run_id)
