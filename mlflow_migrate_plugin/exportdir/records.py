"""The records of an export, checked field by field and normalized, in either format.

Each function takes the raw JSON of one record (our own or mlflow-export-import's shape) and
returns the normalized record the handlers use, or raises :class:`~..errors.RecordError` naming
the file and the field. The readers (:mod:`.run_dir`, :mod:`.experiment_dir`, :mod:`.model_dir`,
:mod:`.reference_models`) call them before they hand anything on, so an import never creates an
object from a record it has not checked whole. Statuses and stages are MLflow's own names.
"""

from __future__ import annotations

from typing import Any

from mlflow.entities import LifecycleStage, LoggedModelStatus, RunStatus
from mlflow.entities.model_registry.model_version_stages import ALL_STAGES
from mlflow.entities.model_registry.model_version_status import ModelVersionStatus
from mlflow.utils.validation import MAX_ENTITY_KEY_LENGTH

from . import fields as f
from .fields import MS, Where
from .record_types import (
    ExperimentRecord,
    LoggedModelMetric,
    LoggedModelRecord,
    ModelRecord,
    RunInfo,
    RunRecord,
    VersionRecord,
)

RUN_STATUSES = [RunStatus.to_string(s) for s in RunStatus.all_status()]
LIFECYCLE_STAGES = [LifecycleStage.ACTIVE, LifecycleStage.DELETED]
LOGGED_MODEL_STATUSES = [s.name for s in LoggedModelStatus]
VERSION_STATUSES = [ModelVersionStatus.to_string(s) for s in ModelVersionStatus.all_status()]
# A version without a stage: MLflow says "None"; mlflow-export-import sometimes wrote null or "".
NO_STAGE = "None"


# Runs -----------------------------------------------------------------------------------------


def run_record(where: Where, raw: Any) -> RunRecord:
    """A run's ``mlflow`` part: info, params, tags, inputs, outputs and LoggedModels."""
    raw = f.obj(where, raw)
    info = run_info(where / "info", f.required(where, raw, "info"))
    return {
        "info": info,
        "params": f.string_map(where / "params", raw.get("params")),
        "tags": f.string_map(where / "tags", raw.get("tags")),
        "inputs": run_inputs(where / "inputs", raw.get("inputs")),
        "outputs": {"model_outputs": _model_outputs(where / "outputs", raw.get("outputs"))},
        "logged_models": [
            logged_model_record(where / "logged_models" / i, m)
            for i, m in enumerate(f.items(where / "logged_models", raw.get("logged_models")))
        ],
    }


def run_info(where: Where, raw: Any) -> RunInfo:
    """A run's ``info``: its id (``run_uuid`` in old files), times, status and lifecycle stage;
    other fields are kept as they are, except private ``_``-prefixed ones."""
    raw = f.obj(where, raw)
    info = {k: v for k, v in raw.items() if not k.startswith("_")}
    run_id = raw.get("run_id") or raw.get("run_uuid")
    info["run_id"] = f.identifier(where / "run_id", run_id, required=True)
    info["experiment_id"] = f.identifier(where / "experiment_id", raw.get("experiment_id"))
    for name in ("run_name", "user_id", "artifact_uri", "run_uuid"):
        if name in raw:
            info[name] = f.text(where / name, raw[name])
    for name in ("start_time", "end_time"):
        info[name] = f.integer(where / name, raw.get(name), MS)
    if raw.get("status") is not None:
        info["status"] = f.choice(where / "status", raw["status"], RUN_STATUSES)
    if raw.get("lifecycle_stage") is not None:
        info["lifecycle_stage"] = f.choice(
            where / "lifecycle_stage", raw["lifecycle_stage"], LIFECYCLE_STAGES
        )
    return info


def run_inputs(where: Where, raw: Any) -> dict[str, list]:
    """A run's dataset inputs (each with its dataset's name and digest) and model inputs."""
    if isinstance(raw, list):  # some mlflow-export-import versions: the dataset inputs alone
        raw = {"dataset_inputs": raw}
    raw = f.obj(where, raw, required=False)
    datasets = f.items(where / "dataset_inputs", raw.get("dataset_inputs"))
    for i, item in enumerate(datasets):
        _dataset_input(where / "dataset_inputs" / i, item)
    models = f.items(where / "model_inputs", raw.get("model_inputs"))
    for i, item in enumerate(models):
        at = where / "model_inputs" / i
        f.identifier(at / "model_id", f.obj(at, item).get("model_id"), required=True)
    return {"dataset_inputs": list(datasets), "model_inputs": list(models)}


def _dataset_input(where: Where, raw: Any) -> None:
    raw = f.obj(where, raw)
    dataset = f.obj(where / "dataset", f.required(where, raw, "dataset"))
    for name in ("name", "digest"):
        f.text(where / "dataset" / name, dataset.get(name), required=True)
    for name in ("source_type", "source", "schema", "profile"):
        f.text(where / "dataset" / name, dataset.get(name))
    f.string_map(where / "tags", raw.get("tags"))


def _model_outputs(where: Where, raw: Any) -> list[dict[str, Any]]:
    raw = f.obj(where, raw, required=False)
    outputs = f.items(where / "model_outputs", raw.get("model_outputs"))
    for i, item in enumerate(outputs):
        at = where / "model_outputs" / i
        item = f.obj(at, item)
        f.identifier(at / "model_id", item.get("model_id"), required=True)
        f.integer(at / "step", item.get("step"))
    return list(outputs)


def manifest(where: Where, raw: Any) -> dict[str, Any]:
    """An artifact manifest: ``{"files": [{"path", "size", "sha256"}, ...]}``."""
    raw = f.obj(where, raw, required=False)
    for i, entry in enumerate(f.items(where / "files", raw.get("files"))):
        at = where / "files" / i
        entry = f.obj(at, entry)
        f.text(at / "path", entry.get("path"), required=True)
        size = f.integer(at / "size", entry.get("size"), required=True)
        if size < 0:
            raise (at / "size").fail(f"expected a size in bytes, got {size}")
        f.text(at / "sha256", entry.get("sha256"))
    return raw


# Metric points --------------------------------------------------------------------------------


def metric_point(where: Where, raw: Any, key: str | None = None) -> dict[str, Any]:
    """One point of a history: a number at an integer step and timestamp.

    ``key`` is given for mlflow-export-import's inline history, keyed by metric; there an absent
    or null step or timestamp means 0, as that tool wrote them.
    """
    raw = f.obj(where, raw)
    if key is None:
        point = dict(raw)
        point["key"] = metric_key(where / "key", f.required(where, raw, "key"))
        _timestamp(where / "timestamp", f.required(where, raw, "timestamp"))
        f.integer(where / "step", f.required(where, raw, "step"))
        point["value"] = f.number(where / "value", f.required(where, raw, "value"))
        return point
    return {
        "value": f.number(where / "value", f.required(where, raw, "value")),
        "timestamp": _timestamp(where / "timestamp", raw.get("timestamp")) or 0,
        "step": f.integer(where / "step", raw.get("step")) or 0,
    }


def metric_key(where: Where, value: Any) -> str:
    """A metric's key: a string no longer than MLflow takes (it refuses a longer one)."""
    key = f.text(where, value, required=True)
    if len(key) > MAX_ENTITY_KEY_LENGTH:
        raise where.fail(
            f"{len(key)} characters long; MLflow takes at most {MAX_ENTITY_KEY_LENGTH}"
        )
    return key


def _timestamp(where: Where, value: Any) -> int | None:
    """A point's timestamp: MLflow refuses a negative one (a step may be negative)."""
    value = f.integer(where, value, MS)
    if value is not None and value < 0:
        raise where.fail(f"expected a timestamp{MS}, got {value}")
    return value


def inline_metrics(where: Where, raw: Any) -> dict[str, list[dict[str, Any]]]:
    """mlflow-export-import's history: ``{key: [points]}``, ``{key: value}`` in old files, or a
    list of ``{key, value, timestamp, step}``."""
    if not raw:
        return {}
    out: dict[str, list] = {}
    if isinstance(raw, list):
        for i, item in enumerate(raw):
            at = where / i
            key = metric_key(at / "key", f.obj(at, item).get("key"))
            out.setdefault(key, []).append(metric_point(at, item, key))
        return out
    for key, value in f.obj(where, raw).items():
        metric_key(where / key, key)
        if isinstance(value, list):
            out[key] = [metric_point(where / key / i, p, key) for i, p in enumerate(value)]
        else:
            out[key] = [{"value": f.number(where / key, value), "timestamp": 0, "step": 0}]
    return out


# LoggedModels ---------------------------------------------------------------------------------


def logged_model_record(where: Where, raw: Any) -> LoggedModelRecord:
    """A LoggedModel, from our record or the reference tool's ``logged_model.json``."""
    raw = f.obj(where, raw)
    status = raw.get("status")
    if isinstance(status, str):  # the reference tool wrote some in lower case
        status = status.upper()
    created = "creation_timestamp" if "creation_timestamp" in raw else "creation_time"
    return {
        "model_id": f.identifier(where / "model_id", raw.get("model_id"), required=True),
        "name": f.text(where / "name", raw.get("name")),
        "experiment_id": f.identifier(where / "experiment_id", raw.get("experiment_id")),
        "source_run_id": f.identifier(where / "source_run_id", raw.get("source_run_id")) or None,
        "model_type": f.text(where / "model_type", raw.get("model_type")) or None,
        "status": f.choice(where / "status", status or None, LOGGED_MODEL_STATUSES, "READY"),
        "status_message": f.text(where / "status_message", raw.get("status_message")) or None,
        "tags": f.string_map(where / "tags", raw.get("tags")),
        "params": f.string_map(where / "params", raw.get("params")),
        "metrics": [
            _model_metric(where / "metrics" / i, m)
            for i, m in enumerate(f.items(where / "metrics", raw.get("metrics")))
        ],
        "artifact_location": f.text(where / "artifact_location", raw.get("artifact_location")),
        "creation_timestamp": f.integer(where / created, raw.get(created), MS),
        "last_updated_timestamp": f.integer(
            where / "last_updated_timestamp", raw.get("last_updated_timestamp"), MS
        ),
    }


def _model_metric(where: Where, raw: Any) -> LoggedModelMetric:
    raw = f.obj(where, raw)
    return {
        "key": metric_key(where / "key", raw.get("key")),
        **metric_point(where, raw, raw.get("key")),
        "run_id": f.identifier(where / "run_id", raw.get("run_id")) or None,
        "dataset_name": f.text(where / "dataset_name", raw.get("dataset_name")),
        "dataset_digest": f.text(where / "dataset_digest", raw.get("dataset_digest")),
    }


# Experiments ----------------------------------------------------------------------------------

EXPERIMENT_FIELDS = (
    "experiment_id",
    "name",
    "artifact_location",
    "lifecycle_stage",
    "creation_time",
    "last_update_time",
)


def experiment_record(where: Where, raw: Any) -> ExperimentRecord:
    """An experiment: its fields and tags (a mapping, or the reference tool's key/value list)."""
    raw = f.obj(where, raw)
    stage = raw.get("lifecycle_stage")
    return {
        "experiment_id": f.identifier(where / "experiment_id", raw.get("experiment_id")),
        "name": f.text(where / "name", raw.get("name")),
        "artifact_location": f.text(where / "artifact_location", raw.get("artifact_location")),
        "lifecycle_stage": None
        if stage is None
        else f.choice(where / "lifecycle_stage", stage, LIFECYCLE_STAGES),
        "creation_time": f.integer(where / "creation_time", raw.get("creation_time"), MS),
        "last_update_time": f.integer(where / "last_update_time", raw.get("last_update_time"), MS),
        "tags": f.string_map(where / "tags", raw.get("tags")),
    }


def listed_run(where: Where, raw: Any) -> dict[str, Any]:
    """One entry of our experiment.json's ``info.runs``: the run's id, folder and parent."""
    raw = f.obj(where, raw)
    return {
        "run_id": f.identifier(where / "run_id", raw.get("run_id"), required=True),
        "dir": f.text(where / "dir", raw.get("dir"), required=True),
        "parent_run_id": f.identifier(where / "parent_run_id", raw.get("parent_run_id")),
    }


# Registered models and versions ---------------------------------------------------------------

MODEL_FIELDS = ("name", "description", "creation_timestamp", "last_updated_timestamp")


def model_record(where: Where, raw: Any) -> ModelRecord:
    """The registered model: name, description, tags and ``aliases`` (alias -> version)."""
    raw = f.obj(where, raw)
    aliases = raw.get("aliases")
    if isinstance(aliases, list):  # versions written as numbers are taken as their digits
        aliases = [
            {**a, "version": _version_text(where / "aliases" / i / "version", a.get("version"))}
            if isinstance(a, dict)
            else a
            for i, a in enumerate(aliases)
        ]
    elif isinstance(aliases, dict):
        aliases = {k: _version_text(where / "aliases" / k, v) for k, v in aliases.items()}
    return {
        "name": f.text(where / "name", raw.get("name")),
        "description": f.text(where / "description", raw.get("description")) or "",
        "creation_timestamp": f.integer(
            where / "creation_timestamp", raw.get("creation_timestamp"), MS
        ),
        "last_updated_timestamp": f.integer(
            where / "last_updated_timestamp", raw.get("last_updated_timestamp"), MS
        ),
        "tags": f.string_map(where / "tags", raw.get("tags")),
        "aliases": f.string_map(where / "aliases", aliases, "alias", "version"),
    }


def version_record(where: Where, raw: Any, model: ModelRecord) -> VersionRecord:
    """One version: its number, stage ("None" for none), status, source, tags and aliases."""
    raw = f.obj(where, raw)
    number = _version_text(where / "version", f.required(where, raw, "version"))
    stage = raw.get("current_stage")
    status = raw.get("status")
    version = {
        "name": f.text(where / "name", raw.get("name")),
        "version": number,
        "description": f.text(where / "description", raw.get("description")) or "",
        "current_stage": NO_STAGE
        if stage in (None, "")
        else f.choice(where / "current_stage", stage, ALL_STAGES),
        "status": None if status is None else f.choice(where / "status", status, VERSION_STATUSES),
        "tags": f.string_map(where / "tags", raw.get("tags")),
    }
    for name in ("status_message", "source", "run_link", "user_id"):
        version[name] = f.text(where / name, raw.get(name))
    for name in ("run_id", "model_id"):
        version[name] = f.identifier(where / name, raw.get(name))
    for name in ("creation_timestamp", "last_updated_timestamp"):
        version[name] = f.integer(where / name, raw.get(name), MS)
    # MLflow lists a version's aliases on the registered model (its search leaves the
    # version's own list empty, and mlflow-export-import wrote it so): take both.
    own = f.items(where / "aliases", raw.get("aliases"))
    aliases = {f.text(where / "aliases" / i, a, required=True) for i, a in enumerate(own)}
    aliases |= {a for a, v in model["aliases"].items() if v == number}
    version["aliases"] = sorted(aliases)
    return version


def version_entry(where: Where, raw: Any) -> dict[str, Any]:
    """What our model.json/version.json ``info`` says of a version: its run's folder, why it
    has none, and the manifest of its own model files."""
    raw = f.obj(where, raw, required=False)
    f.text(where / "run_dir", raw.get("run_dir"))
    f.text(where / "run_missing", raw.get("run_missing"))
    if raw.get("version_model") is not None:
        manifest(where / "version_model", raw["version_model"])
    return raw


def _version_text(where: Where, value: Any) -> str:
    """A version number, written as an integer or as its digits; given back as digits."""
    if isinstance(value, str) and value.isdigit() and value.isascii():
        return str(int(value))
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    raise where.fail(f"expected a version number, got {f.shown(value)}")
