"""Incremental sync: bring runs imported before up to date with a newer export of them.

MLflow keeps no last-update time on a run, so a change is found by fingerprint: short hashes of
what the export says of the run, one per part (status and end time, lifecycle, params, tags,
number of metric points and keys, artifact manifest). The destination run keeps the
fingerprint of the export it last matched in tag :data:`FINGERPRINT`, set when it is
imported. On a later pass an equal
fingerprint means unchanged and costs no request; a part that differs is updated in place:

- status and end time: set (a RUNNING run that has since FINISHED ends as it did);
- lifecycle: a run deleted at the source is deleted, one restored there is restored;
- params: new ones are logged; a changed value cannot be (MLflow params are immutable): warned;
- tags: new and changed tags are set (tags removed at the source stay);
- metrics: the points the destination lacks are appended (compared by key, step, timestamp
  and value; one key's history in memory at a time);
- artifacts: files the destination lacks, or whose size changed, are uploaded.

Not detected: changes to a run's LoggedModels, dataset inputs, and a run deleted outright at
the source (it is simply not in the new export). Every step only adds what is missing, so an
interrupted sync completes when run again; the fingerprint is written last.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mlflow.entities import LifecycleStage, Metric, Param, RunStatus, RunTag, ViewType
from mlflow.store.tracking import SEARCH_MAX_RESULTS_DEFAULT
from mlflow.utils.mlflow_tags import MLFLOW_LOGGED_MODELS, MLFLOW_PARENT_RUN_ID, MLFLOW_USER
from mlflow.utils.validation import MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH

from .. import idmap
from ..endpoint import Endpoint
from ..exportdir.experiment_dir import ExperimentDir
from ..exportdir.layout import RUN_JSON
from ..exportdir.run_dir import RunDir
from ..report import FAILED, IMPORTED, SKIPPED, Report, failure_reason
from ..transfer import artifacts
from ..transfer.engine import Engine
from ..transfer.mlmodel import MLmodelRewriter, is_mlmodel
from ..transfer.object_pool import run_parents_first
from .run_checks import check_values

FINGERPRINT = idmap.PREFIX + "source.fingerprint"
UPDATED = "updated"
# Tags the run import rewrites or owns: comparing them with the source's would always differ.
_OWN_TAGS = {MLFLOW_PARENT_RUN_ID, MLFLOW_USER, MLFLOW_LOGGED_MODELS, "mlflow.log-model.history"}
_PARTS = ("state", "lifecycle", "params", "tags", "metrics", "artifacts")


def _hash(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _source_tags(tags: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if k not in _OWN_TAGS and not k.startswith(idmap.PREFIX)}


def fingerprint(run_dir: RunDir) -> dict[str, str]:
    """The fingerprint of a run export, part by part."""
    rec, info = run_dir.record, run_dir.record["info"]
    metrics = run_dir.info.get("metrics") or {}
    # The manifest as listed: the folder is not walked, no file is read.
    files = sorted((f.path, f.size, f.sha256) for f in run_dir.listed_artifact_files())
    return {
        "state": _hash([info.get("status"), info.get("end_time")]),
        "lifecycle": _hash(info.get("lifecycle_stage")),
        "params": _hash(rec["params"]),
        "tags": _hash(_source_tags(rec["tags"])),
        # A run's history only grows (MLflow keeps a point logged twice once), so the count
        # of points tells a new point, whatever order an export wrote them in.
        "metrics": _hash([run_dir.metric_points(), metrics.get("keys")]),
        "artifacts": _hash(files),
    }


def _encode(parts: dict[str, str]) -> str:
    return ";".join(f"{k}={parts[k]}" for k in _PARTS)


def _decode(value: str | None) -> dict[str, str]:
    found = dict(p.partition("=")[::2] for p in (value or "").split(";") if "=" in p)
    return {k: v for k, v in found.items() if k in _PARTS}


def sync_experiment(
    dst: Endpoint, input_dir, experiment_id: str, engine: Engine, report: Report, workers: int
) -> None:
    """After an experiment import: fingerprint the runs it just made, and update in place
    those imported before whose export changed. ``report`` is the import's own: a run it
    listed as skipped becomes ``updated`` when something moved."""
    exp_dir = ExperimentDir(input_dir)
    on_dst = _imported_runs(dst, experiment_id)
    outcomes = {o.source_id: o for o in report.find("run") if o.status in (IMPORTED, SKIPPED)}
    paths = {
        e.run_id: e.path
        for e in exp_dir.runs
        if e.path is not None and e.run_id in on_dst and e.run_id in outcomes
    }
    # Object workers, not the engine: an update waits on the engine for its files.
    run_parents_first(
        paths,
        lambda _: None,
        lambda rid: _sync_one(dst, paths[rid], on_dst[rid], outcomes[rid], engine, report),
        workers,
    )


def _sync_one(dst: Endpoint, path, run, outcome, engine: Engine, report: Report) -> None:
    try:
        run_dir = RunDir(path)
        parts = fingerprint(run_dir)
        known = _decode(run.data.tags.get(FINGERPRINT))
        if known == parts:
            return
        deleted_here = run.info.lifecycle_stage == LifecycleStage.DELETED
        if outcome.status == IMPORTED:  # made from this very export
            if not deleted_here:
                dst.client.set_tag(run.info.run_id, FINGERPRINT, _encode(parts))
            return
        changed = [p for p in _PARTS if known.get(p) != parts[p]]
        done = update_run(dst, run_dir, run, changed, engine, report)
        if done:
            outcome.status, outcome.detail = UPDATED, ", ".join(done)
    except Exception as exc:
        outcome.status, outcome.detail = FAILED, f"sync: {failure_reason(exc)}"


def update_run(
    dst: Endpoint, run_dir: RunDir, run, changed: list[str], engine: Engine, report: Report
) -> list[str]:
    """Bring destination ``run`` up to the export in the ``changed`` parts; return what moved."""
    client, run_id = dst.client, run.info.run_id
    rec, info = run_dir.record, run_dir.record["info"]
    source_deleted = info.get("lifecycle_stage") == LifecycleStage.DELETED
    deleted_here = run.info.lifecycle_stage == LifecycleStage.DELETED
    if deleted_here and source_deleted:
        return []  # a deleted run refuses writes, and is as it should be
    # The import's up-front checks pass over runs imported before: check what is read here.
    check_values(rec, run_dir.path / RUN_JSON)
    if "metrics" in changed:
        run_dir.check_metrics_file()
    done: list[str] = []
    if deleted_here:
        client.restore_run(run_id)
        done.append("restored")
    if "params" in changed:
        done += _params(client, run, rec["params"], run_dir.source_run_id, report)
    if "tags" in changed:
        new = {k: v for k, v in _source_tags(rec["tags"]).items() if run.data.tags.get(k) != v}
        _log_batch(client, run_id, tags=new)
        done += [f"{len(new)} tags set"] if new else []
    if "metrics" in changed:
        added = _metrics(client, run_id, run_dir)
        done += [f"{added} metric points added"] if added else []
    if "artifacts" in changed:
        added = _artifacts(dst, run, run_dir, engine)
        done += [f"{added} files uploaded"] if added else []
    status, end_time = info.get("status"), info.get("end_time")
    if "state" in changed and (status, end_time) != (run.info.status, run.info.end_time):
        if RunStatus.is_terminated(RunStatus.from_string(status)):
            client.set_terminated(run_id, status, end_time)
        else:
            client.update_run(run_id, status)
        done.append(f"status {status}")
    client.set_tag(run_id, FINGERPRINT, _encode(fingerprint(run_dir)))
    if source_deleted:  # last: a deleted run refuses writes
        client.delete_run(run_id)
        done.append("deleted")
    return done


def _params(client, run, params: dict, source_id: str, report: Report) -> list[str]:
    new = {k: v for k, v in params.items() if k not in run.data.params}
    for key, value in params.items():
        if key in run.data.params and run.data.params[key] != value:
            report.warn(
                f"run {source_id}: param '{key}' changed at the source to {value!r}; "
                "MLflow params cannot change, the destination keeps "
                f"{run.data.params[key]!r}"
            )
    _log_batch(client, run.info.run_id, params=new)
    return [f"{len(new)} params added"] if new else []


def _log_batch(client, run_id: str, params: dict | None = None, tags: dict | None = None):
    items = [Param(k, v) for k, v in (params or {}).items()]
    items += [RunTag(k, v) for k, v in (tags or {}).items()]
    for at in range(0, len(items), MAX_PARAMS_TAGS_PER_BATCH):
        chunk = items[at : at + MAX_PARAMS_TAGS_PER_BATCH]
        client.log_batch(
            run_id,
            params=[i for i in chunk if isinstance(i, Param)],
            tags=[i for i in chunk if isinstance(i, RunTag)],
        )


def _metrics(client, run_id: str, run_dir: RunDir) -> int:
    """Append the exported points the destination lacks, one key at a time."""
    keys = sorted({p["key"] for batch in run_dir.iter_metric_batches(5000) for p in batch})
    added = 0
    for key in keys:
        have = {
            _point_id(m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key)
        }
        missing = []
        for batch in run_dir.iter_metric_batches(5000):
            for p in batch:
                if p["key"] == key and _point_id(p["step"], p["timestamp"], p["value"]) not in have:
                    missing.append(Metric(key, p["value"], p["timestamp"], p["step"]))
        for at in range(0, len(missing), MAX_METRICS_PER_BATCH):
            client.log_batch(run_id, metrics=missing[at : at + MAX_METRICS_PER_BATCH])
        added += len(missing)
    return added


def _point_id(step, timestamp, value) -> tuple:
    return (int(step or 0), int(timestamp or 0), repr(float(value)))


def _artifacts(dst: Endpoint, run, run_dir: RunDir, engine: Engine) -> int:
    """Upload the exported files the destination lacks or holds at another size."""
    repo = dst.artifact_repo(run.info.artifact_uri)
    present = {f.path: f.size for f in artifacts.list_tree(repo, engine)}
    todo = [
        f
        for f in run_dir.artifact_files()
        if f.path not in present or (present[f.path] != f.size and not is_mlmodel(f.path))
    ]
    if todo:
        model_ids = idmap.model_id_map_of_run(dst.client, run)
        rewrite = MLmodelRewriter({run_dir.source_run_id: run.info.run_id}, model_ids)
        root = run_dir.artifacts_root()
        engine.run(artifacts.verify_tasks(root, todo))  # size and sha256, before any upload
        engine.run(artifacts.upload(repo, root, todo, rewrite))
    return len(todo)


def _imported_runs(dst: Endpoint, experiment_id: str) -> dict[str, Any]:
    """Source run id -> destination Run of every finished import in the experiment."""
    found: dict[str, Any] = {}
    token = None
    while True:
        page = dst.client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{idmap.STATE}` = '{idmap.STATE_COMPLETE}'",
            run_view_type=ViewType.ALL,
            max_results=SEARCH_MAX_RESULTS_DEFAULT,
            page_token=token,
        )
        for run in page:
            source = run.data.tags.get(idmap.SOURCE_RUN_ID)
            if source:
                found.setdefault(source, run)
        token = page.token
        if not token:
            return found
