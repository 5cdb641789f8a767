"""The shapes of the normalized records the exportdir readers hand to the handlers.

They are dicts (the handlers and the writers share them with the JSON files), typed here so
that a reader of a handler sees which fields exist and what they hold; :mod:`.records` builds
them and guarantees every field's type before a handler sees one.
"""

from __future__ import annotations

from typing import Any, TypedDict


class MetricPoint(TypedDict):
    key: str
    value: float
    timestamp: int  # ms since epoch, >= 0
    step: int


class RunInfo(TypedDict, total=False):
    run_id: str
    experiment_id: str | None
    run_name: str | None
    user_id: str | None
    status: str  # a RunStatus name
    start_time: int | None
    end_time: int | None
    lifecycle_stage: str  # a LifecycleStage
    artifact_uri: str | None


class RunRecord(TypedDict):
    info: RunInfo
    params: dict[str, str]
    tags: dict[str, str]
    inputs: dict[str, list[dict[str, Any]]]  # dataset_inputs, model_inputs
    outputs: dict[str, list[dict[str, Any]]]  # model_outputs: {model_id, step}
    logged_models: list[LoggedModelRecord]


class LoggedModelMetric(MetricPoint):
    run_id: str | None
    dataset_name: str | None
    dataset_digest: str | None


class LoggedModelRecord(TypedDict):
    model_id: str
    name: str | None
    experiment_id: str | None
    source_run_id: str | None
    model_type: str | None
    status: str  # a LoggedModelStatus name
    status_message: str | None
    tags: dict[str, str]
    params: dict[str, str]
    metrics: list[LoggedModelMetric]
    artifact_location: str | None
    creation_timestamp: int | None
    last_updated_timestamp: int | None


class ExperimentRecord(TypedDict):
    experiment_id: str | None
    name: str | None
    artifact_location: str | None
    lifecycle_stage: str | None
    creation_time: int | None
    last_update_time: int | None
    tags: dict[str, str]


class ModelRecord(TypedDict):
    name: str | None
    description: str
    creation_timestamp: int | None
    last_updated_timestamp: int | None
    tags: dict[str, str]
    aliases: dict[str, str]  # alias -> version number


class VersionRecord(TypedDict):
    name: str | None
    version: str  # the number, as digits
    description: str
    current_stage: str  # one of MLflow's stages; "None" for none
    status: str | None  # a ModelVersionStatus name
    status_message: str | None
    source: str | None
    run_id: str | None
    model_id: str | None
    user_id: str | None
    run_link: str | None
    creation_timestamp: int | None
    last_updated_timestamp: int | None
    tags: dict[str, str]
    aliases: list[str]
