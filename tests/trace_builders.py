"""Source experiments with MLflow 3 traces, made the way applications make them (MLflow's fluent
tracing API against the source server), and the field-by-field view the tests compare."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass

import mlflow
from mlflow.entities import AssessmentError, AssessmentSource, SpanType
from mlflow.tracing.constant import AssessmentMetadataKey

from mlflow_migrate_plugin import idmap

# Tags the destination sets itself, and the import's own markers.
SERVER_TAGS = {"mlflow.artifactLocation", "mlflow.trace.spansLocation"}
IMPORT_TAGS = {idmap.SOURCE_TRACE_ID, idmap.STATE}


@contextmanager
def fluent_uri(uri: str):
    """MLflow's fluent tracing API writes to the process-wide URI; point it at ``uri`` only
    while a builder makes traces (the library itself never uses it)."""
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.flush_trace_async_logging()
        mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])


@dataclass
class TracedExperiment:
    name: str
    experiment_id: str
    run_id: str
    model_id: str
    prompt: str
    traces: dict[str, str]  # role -> trace id


def register_prompt(endpoint, name: str) -> None:
    """Prompt ``name`` version 1 on ``endpoint`` (as ``mlflow.genai.register_prompt`` makes it)."""
    endpoint.client.register_prompt(name=name, template="Answer {{question}} briefly.")


def traced_experiment(src, name: str) -> TracedExperiment:
    """An experiment with a run, a LoggedModel of its own and three traces: one made in the run
    with a child span that raised (an exception event), feedback and an expectation, and a
    prompt link; one of the LoggedModel, linked to the run with ``link_traces_to_run``; and
    a plain one."""
    client = src.client
    experiment_id = client.create_experiment(name)
    prompt = f"{name}-prompt"
    register_prompt(src, prompt)
    traces = {}
    with fluent_uri(src.tracking_uri):
        mlflow.set_experiment(experiment_id=experiment_id)
        model = mlflow.initialize_logged_model(name="agent", experiment_id=experiment_id)
        with mlflow.start_run(experiment_id=experiment_id) as run:
            with mlflow.start_span("answer", span_type=SpanType.CHAIN) as root:
                root.set_inputs({"question": "why?"})
                root.set_attribute("temperature", 0.5)
                try:
                    with mlflow.start_span("llm", span_type=SpanType.LLM) as child:
                        child.set_inputs({"prompt": "why?"})
                        raise ValueError("the model timed out")
                except ValueError:
                    pass
                with mlflow.start_span("tool", span_type=SpanType.TOOL) as tool:
                    tool.set_inputs({"q": 1})
                    tool.set_outputs([1, 2, 3])
                root.set_outputs({"answer": "because"})
            traces["in_run"] = mlflow.get_last_active_trace_id()
        mlflow.set_active_model(model_id=model.model_id)
        with mlflow.start_span("model-call", span_type=SpanType.AGENT) as span:
            span.set_inputs("hello")
            span.set_outputs("hi")
        traces["of_model"] = mlflow.get_last_active_trace_id()
        mlflow.clear_active_model()
        with mlflow.start_span("plain") as span:
            span.set_inputs({"x": 1})
        traces["plain"] = mlflow.get_last_active_trace_id()
        # Assessments go through MLflow's fluent API, as applications log them, once the
        # traces (logged in the background) are on the server.
        mlflow.flush_trace_async_logging()
        in_run = traces["in_run"]
        mlflow.log_feedback(
            trace_id=in_run,
            name="correct",
            value=True,
            rationale="matches the reference",
            source=AssessmentSource("HUMAN", "reviewer@example.com"),
            metadata={"batch": "7"},
        )
        mlflow.log_expectation(
            trace_id=in_run,
            name="expected_answer",
            value={"answer": "because", "sources": ["a", "b"]},
            source=AssessmentSource("HUMAN", "labeler"),
        )
        mlflow.log_feedback(  # as mlflow.genai.evaluate logs a judge's: its run in metadata
            trace_id=in_run,
            name="judge",
            error=AssessmentError(error_code="TIMEOUT", error_message="slow"),
            source=AssessmentSource("LLM_JUDGE", "gpt"),
            metadata={AssessmentMetadataKey.SOURCE_RUN_ID: run.info.run_id},
        )
        # MLflow's client links prompts through the process-wide URI.
        client.link_prompt_versions_to_trace([client.get_prompt_version(prompt, 1)], in_run)
    client.set_trace_tag(traces["plain"], "team", "search")
    client.link_traces_to_run([traces["of_model"]], run.info.run_id)
    return TracedExperiment(name, experiment_id, run.info.run_id, model.model_id, prompt, traces)


def trace_view(endpoint, trace_id: str, run_map=None, model_map=None) -> dict:
    """Everything a trace holds, with the destination's run and model ids mapped back through
    ``run_map`` / ``model_map`` (destination -> source) and the import's markers left out."""
    run_map, model_map = run_map or {}, model_map or {}
    trace = endpoint.client.get_trace(trace_id)
    info = trace.info.to_dict()
    info.pop("trace_location")
    info["tags"] = {k: v for k, v in info["tags"].items() if k not in SERVER_TAGS | IMPORT_TAGS}
    meta = info["trace_metadata"]
    for key, mapping in (("mlflow.sourceRun", run_map), ("mlflow.modelId", model_map)):
        if key in meta:
            meta[key] = mapping.get(meta[key], meta[key])
    for assessment in info.get("assessments", []):
        if assessment.get("valid") is True:  # the default: a server's answer leaves it out
            del assessment["valid"]
        metadata = assessment.get("metadata") or {}
        source_run = metadata.get(AssessmentMetadataKey.SOURCE_RUN_ID)
        if source_run and run_map:  # a destination's run: it must map back to the source's
            metadata[AssessmentMetadataKey.SOURCE_RUN_ID] = run_map.get(
                source_run, f"not a run of the copy: {source_run}"
            )
    return {"info": info, "spans": trace.data.to_dict()["spans"]}


@dataclass
class AttachedTrace:
    name: str
    experiment_id: str
    trace_id: str
    attachment_id: str
    content: bytes


def attachment_experiment(src, name: str) -> AttachedTrace:
    """An experiment with one trace whose root span input holds an image ``Attachment`` (a few
    KB of bytes), logged through MLflow's fluent API."""
    from mlflow.tracing.attachments import Attachment

    experiment_id = src.client.create_experiment(name)
    content = b"\x89PNG\r\n\x1a\n" + os.urandom(3000)
    attachment = Attachment(content_type="image/png", content_bytes=content)
    with fluent_uri(src.tracking_uri):
        mlflow.set_experiment(experiment_id=experiment_id)
        with mlflow.start_span("describe", span_type=SpanType.LLM) as span:
            span.set_inputs({"image": attachment, "question": "what is it?"})
            span.set_outputs("a cat")
        trace_id = mlflow.get_last_active_trace_id()
    return AttachedTrace(name, experiment_id, trace_id, attachment.id, content)
