"""A trace record made into the destination's: the trace and its assessments get new ids when
the destination already has the source's trace id (a copy within one server), the spans follow,
and each ``mlflow-attachment://`` reference names the trace it now belongs to."""

from __future__ import annotations

import base64
import json
import random

from mlflow.entities import TraceLocation
from mlflow.tracing.constant import SpanAttributeKey, TraceTagKey
from mlflow.utils.mlflow_tags import MLFLOW_ARTIFACT_LOCATION

from .. import idmap
from ..exportdir.trace_dir import ATTACHMENT_SCHEME, TraceRecord, retarget_attachment_refs

# Tags the destination sets itself: where it keeps the spans and the trace's artifacts.
SERVER_TAGS = (TraceTagKey.SPANS_LOCATION, MLFLOW_ARTIFACT_LOCATION)


def new_trace_id() -> str:
    return f"tr-{random.getrandbits(128):032x}"


def for_destination(record: TraceRecord, trace_id: str, experiment_id: str):
    """A copy of the record's info and span dicts for the destination trace ``trace_id``."""
    info = type(record.info).from_dict(record.info.to_dict())
    info.trace_location = TraceLocation.from_experiment_id(experiment_id)
    for tag in SERVER_TAGS:
        info.tags.pop(tag, None)
    info.tags[idmap.SOURCE_TRACE_ID] = record.trace_id
    info.tags[idmap.STATE] = idmap.STATE_STARTED
    span_dicts = record.spans
    if trace_id != record.trace_id:
        info.trace_id = trace_id
        new_assessment_ids(info)
        otel_id = base64.b64encode(bytes.fromhex(trace_id[3:])).decode()
        span_dicts = [respan(span, otel_id, record.trace_id, trace_id) for span in span_dicts]
    for assessment in info.assessments:
        assessment.trace_id = trace_id
    return info, span_dicts


def otlp_trace_id(span: dict) -> str:
    """The trace id the OTLP endpoint files ``span`` under: ``tr-`` and its OTel trace id."""
    try:
        return "tr-" + base64.b64decode(span["trace_id"], validate=True).hex()
    except (ValueError, TypeError):
        return ""


def respan(span: dict, otel_id: str, old_id: str, trace_id: str) -> dict:
    attributes = dict(span.get("attributes") or {})
    for key, value in attributes.items():
        if isinstance(value, str) and ATTACHMENT_SCHEME in value:
            attributes[key] = retarget_attachment_refs(value, old_id, trace_id)
    attributes[SpanAttributeKey.REQUEST_ID] = json.dumps(trace_id)
    return {**span, "trace_id": otel_id, "attributes": attributes}


def new_assessment_ids(info) -> None:
    """Assessment ids are unique per server: a trace with a new id gets new ones too, and an
    assessment that overrides another follows the other's new id."""
    from mlflow.tracing.utils import generate_assessment_id

    renamed = {a.assessment_id: generate_assessment_id() for a in info.assessments}
    for assessment in info.assessments:
        assessment.assessment_id = renamed[assessment.assessment_id]
        if assessment.overrides:
            assessment.overrides = renamed.get(assessment.overrides, assessment.overrides)
