"""Benchmark: export-experiment + import-experiment of an experiment of MLflow 3 traces.

    python -m benchmarks.bench_traces [--traces N] [--spans K]

Builds on server A an experiment of N traces of K spans each (a root and K-1 children, inputs,
outputs and an attribute on each span, one feedback on every tenth trace) with MLflow's own
tracing API, then exports it and imports it to server B with the tool's default pool, each step
in a fresh process. Checks the import (every trace on B under its own id, with K spans) and
reports the times, traces per second and peak RSS.
"""

from __future__ import annotations

import os

import mlflow
from mlflow import MlflowClient
from mlflow.entities import AssessmentSource, SpanType

from mlflow_migrate_plugin import idmap

from . import harness

EXPERIMENT = "bench-traces"


def make_traces(uri: str, experiment_id: str, traces: int, spans: int) -> list[str]:
    """``traces`` traces of ``spans`` spans in the experiment, through MLflow's fluent API (the
    process-wide URI is this benchmark's own)."""
    # MLflow's background exporter drops traces beyond its queue (1000 by default).
    os.environ["MLFLOW_ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE"] = str(2 * traces)
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(experiment_id=experiment_id)
    ids = []
    for i in range(traces):
        with mlflow.start_span("request", span_type=SpanType.CHAIN) as root:
            root.set_inputs({"question": f"question {i}"})
            for k in range(spans - 1):
                with mlflow.start_span(f"step-{k}", span_type=SpanType.TOOL) as child:
                    child.set_inputs({"step": k})
                    child.set_attribute("index", i)
                    child.set_outputs({"result": k * i})
            root.set_outputs({"answer": f"answer {i}"})
        ids.append(mlflow.get_last_active_trace_id())
    mlflow.flush_trace_async_logging()
    for trace_id in ids[::10]:
        mlflow.log_feedback(
            trace_id=trace_id, name="ok", value=True, source=AssessmentSource("HUMAN", "bench")
        )
    return ids


def all_traces(client: MlflowClient, experiment_id: str) -> list:
    traces, token = [], None
    while True:
        page = client.search_traces(
            locations=[experiment_id], max_results=100, page_token=token, include_spans=False
        )
        traces += page
        token = page.token
        if not token:
            return traces


def check(b: MlflowClient, source_ids: list[str], spans: int) -> None:
    """Every source trace on B once, under its own id, marked complete; a sample has its spans."""
    exp = b.get_experiment_by_name(f"{EXPERIMENT}-copy")
    found = all_traces(b, exp.experiment_id)
    ids = sorted(t.info.trace_id for t in found)
    if ids != sorted(source_ids):
        raise AssertionError(f"{len(ids)} traces on B, expected {len(source_ids)}")
    if any(t.info.tags.get(idmap.STATE) != idmap.STATE_COMPLETE for t in found):
        raise AssertionError("a trace on B is not marked complete")
    for trace_id in source_ids[:: max(1, len(source_ids) // 20)]:
        if len(b.get_trace(trace_id).data.spans) != spans:
            raise AssertionError(f"trace {trace_id} lost spans")


def main(argv: list[str] | None = None) -> None:
    parser = harness.parser("bench_traces", __doc__)
    parser.add_argument("--traces", type=int, default=2000, help="traces (default 2000)")
    parser.add_argument("--spans", type=int, default=5, help="spans per trace (default 5)")
    args = harness.parse_args(parser, argv)
    with harness.servers_for(args) as (root, server_a, server_b):
        a, b = harness.client(server_a.url), harness.client(server_b.url)
        source_ids, generated = harness.timed(
            lambda: make_traces(
                server_a.url, a.create_experiment(EXPERIMENT), args.traces, args.spans
            )
        )
        made = len(all_traces(a, a.get_experiment_by_name(EXPERIMENT).experiment_id))
        if made != len(source_ids):
            raise AssertionError(f"workload: {made} traces on A, expected {len(source_ids)}")
        print(f"workload: {len(source_ids)} traces of {args.spans} spans in {generated:.1f}s")
        servers = {"A": server_a, "B": server_b}
        out = root / "export"
        steps = {
            "export": ["export-experiment", "--experiment", EXPERIMENT, "--output-dir", str(out)],
            "import": [
                "import-experiment",
                "--experiment-name",
                f"{EXPERIMENT}-copy",
                "--input-dir",
                str(out),
            ],
        }
        measured = {}
        for step, command in steps.items():
            uri = server_a.url if step == "export" else server_b.url
            measured[step] = harness.step(
                step, "cli", [*command, "--tracking-uri", uri], root, servers, args.tool_python
            )
        check(b, source_ids, args.spans)
        print("  checked: every trace on B under its own id, complete, spans of a sample")

    data = {
        "benchmark": "bench_traces",
        "machine": harness.machine(),
        "workload": {
            "traces": len(source_ids),
            "spans_per_trace": args.spans,
            "generated_seconds": generated,
            "server_workers": args.server_workers,
        },
        "export": measured["export"].row(),
        "import": measured["import"].row(),
    }
    rows = [
        [
            step,
            f"{m.seconds:.2f}",
            f"{len(source_ids) / m.seconds:.0f}",
            f"{m.peak_rss_mb:.0f}",
        ]
        for step, m in measured.items()
    ]
    what = f"{len(source_ids)} traces of {args.spans} spans"
    table = (
        harness.heading(what, args.server_workers, data["machine"])
        + "\n\n"
        + harness.markdown_table(rows, ["step", "seconds", "traces/s", "peak RSS MB"])
    )
    harness.publish("bench-traces", data, table)


if __name__ == "__main__":
    main()
