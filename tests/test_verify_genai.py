"""verify-experiment and verify-prompt on MLflow 3 GenAI objects between two real servers: 0 after
a clean migration of traces, evaluation datasets and prompts, 1 naming exactly the alteration
made on the destination (a span attribute, an assessment value, a dataset record, an alias)."""

from __future__ import annotations

import json
import sqlite3
import uuid

import mlflow
import pytest
from mlflow.entities import Feedback

from mlflow_migrate_plugin import api
from tests import trace_builders as tb
from tests.test_verify_run import findings, verify_cli

RECORDS = [
    {
        "inputs": {"question": "What is MLflow?"},
        "expectations": {"expected_response": "An ML platform"},
        "tags": {"difficulty": "easy"},
        "source": {"source_type": "HUMAN", "source_data": {"user_id": "ann"}},
    },
    {"inputs": {"question": "Who maintains it?"}, "expectations": {"expected_response": "many"}},
]


@pytest.fixture(scope="module")
def migrated(src_server, dst_server, tmp_path_factory):
    """A traced source experiment with an evaluation dataset, exported and imported."""
    from mlflow_migrate_plugin.endpoint import Endpoint

    src = Endpoint(src_server.url, src_server.url)
    traced = tb.traced_experiment(src, f"src-vg-{uuid.uuid4().hex[:8]}")
    dataset = src.client.create_dataset(
        f"ds-{uuid.uuid4().hex[:8]}", experiment_id=[traced.experiment_id], tags={"team": "qa"}
    )
    src.client._tracking_client.store.upsert_dataset_records(dataset.dataset_id, RECORDS)
    dst = Endpoint(dst_server.url, dst_server.url)
    tb.register_prompt(dst, traced.prompt)  # the prompt a trace links to is there first
    out = tmp_path_factory.mktemp("verify-genai") / "exp"
    target = f"dst-vg-{uuid.uuid4().hex[:8]}"
    assert not api.export_experiment(traced.name, out, tracking_uri=src_server.url).failed
    assert not api.import_experiment(out, target, tracking_uri=dst_server.url).failed
    return traced, dataset.dataset_id, target, out


def _verify_experiment(src, dst, name, target, *extra):
    return verify_cli(
        "verify-experiment", "--experiment", name, "--dst-experiment-name", target,
        "--src-mlflow-uri", src.tracking_uri, "--dst-mlflow-uri", dst.tracking_uri, *extra,
    )  # fmt: skip


def test_verify_experiment_after_a_clean_migration_covers_traces_and_datasets(src, dst, migrated):
    traced, dataset_id, target, _ = migrated

    code, report = _verify_experiment(src, dst, traced.name, target)

    assert (code, findings(report)) == (0, {}), findings(report)
    statuses = {(o["kind"], o["source_id"]): o["status"] for o in report["objects"]}
    for trace_id in traced.traces.values():
        assert statuses[("trace", trace_id)] == "ok"
    assert statuses[("evaluation_dataset", dataset_id)] == "ok"

    code, report = _verify_experiment(src, dst, traced.name, target, "--no-traces")
    assert code == 0
    assert not [o for o in report["objects"] if o["kind"] == "trace"]


def test_verify_experiment_names_each_change_on_the_destination(src, dst, dst_server, migrated):
    traced, dataset_id, target, _ = migrated
    trace_id = traced.traces["in_run"]  # kept its id: the destination did not have it
    trace = dst.client.get_trace(trace_id)
    root = next(s for s in trace.data.spans if s.parent_id is None)
    feedback = next(a for a in trace.info.assessments if a.name == "correct")
    # A span attribute, changed where the destination keeps spans (no API edits a span).
    with sqlite3.connect(dst_server.root / "mlflow.db") as db:
        (content,) = db.execute(
            "SELECT content FROM spans WHERE trace_id = ? AND span_id = ?",
            (trace_id, root.span_id),
        ).fetchone()
        span = json.loads(content)
        span["attributes"]["temperature"] = json.dumps(0.9)
        db.execute(
            "UPDATE spans SET content = ? WHERE trace_id = ? AND span_id = ?",
            (json.dumps(span), trace_id, root.span_id),
        )
    dst.client._tracing_client.update_assessment(
        trace_id, feedback.assessment_id, Feedback(name="correct", value=False)
    )
    copy = next(
        d
        for d in dst.client.search_datasets(
            experiment_ids=[dst.client.get_experiment_by_name(target).experiment_id]
        )
    )
    changed = {**RECORDS[1], "expectations": {"expected_response": "nobody"}}
    dst.client._tracking_client.store.upsert_dataset_records(copy.dataset_id, [changed])

    code, report = _verify_experiment(src, dst, traced.name, target)

    assert code == 1
    span_field = f"spans[{root.span_id}].attributes.temperature"
    value_field = f"assessments[{feedback.assessment_id}].feedback.value"
    found = findings(report, "trace")
    assert (found[span_field]["source"], found[span_field]["destination"]) == ("0.5", "0.9")
    assert (found[value_field]["source"], found[value_field]["destination"]) == (True, False)
    # Updating an assessment also stamps its update time; nothing else of any trace differs.
    assert set(found) == {
        span_field,
        value_field,
        f"assessments[{feedback.assessment_id}].last_update_time",
    }
    key = json.dumps(RECORDS[1]["inputs"], sort_keys=True)
    record_field = f"records[{key}].expectations.expected_response"
    assert findings(report, "evaluation_dataset") == {
        record_field: {
            "kind": "changed",
            "field": record_field,
            "source": "many",
            "destination": "nobody",
            "note": None,
        }
    }
    bad = {o["source_id"] for o in report["objects"] if o["status"] != "ok"}
    assert bad == {trace_id, dataset_id}

    # A destination trace deleted is missing; one no import made is named as the destination's.
    plain = traced.traces["plain"]
    dst_experiment_id = dst.client.get_experiment_by_name(target).experiment_id
    dst.client.delete_traces(dst_experiment_id, trace_ids=[plain])
    with tb.fluent_uri(dst.tracking_uri):
        mlflow.set_experiment(experiment_id=dst_experiment_id)
        with mlflow.start_span("own"):
            pass
    code, report = _verify_experiment(src, dst, traced.name, target)
    assert code == 1
    missing = [o for o in report["objects"] if o["status"] == "missing"]
    assert [(o["kind"], o["source_id"]) for o in missing] == [("trace", plain)]
    (experiment,) = [o for o in report["objects"] if o["kind"] == "experiment"]
    (extra,) = [f for f in experiment["findings"] if f["field"] == "traces"]
    assert len(extra["destination"]) == 1


def test_verify_experiment_of_a_copy_within_one_server_pairs_traces_with_new_ids(
    src, migrated, unique_name
):
    traced, dataset_id, _, out = migrated
    target = unique_name("copy-")
    assert not api.import_experiment(out, target, tracking_uri=src.tracking_uri).failed

    code, report = _verify_experiment(src, src, traced.name, target)

    assert (code, findings(report)) == (0, {}), findings(report)
    traces = {o["source_id"]: o for o in report["objects"] if o["kind"] == "trace"}
    assert sorted(traces) == sorted(traced.traces.values())
    for source_id, result in traces.items():
        assert result["destination_id"] != source_id
        assert [f["field"] for f in result["findings"]] == ["trace_id"]


def test_verify_prompt_after_import_and_after_an_alias_moves(src, dst, unique_name, tmp_path):
    name = unique_name("vp-")
    client = src.client
    client.create_prompt(name, description="first", tags={"team": "search"})
    client.create_prompt_version(name, "Say {{x}}.", description="first", tags={"a": "1"},
                                 model_config={"temperature": 0.2})  # fmt: skip
    client.create_prompt_version(
        name,
        [{"role": "user", "content": "Hi {{x}}"}],
        description="chat",
        response_format={"type": "object"},
    )
    client.set_prompt_alias(name, "production", 2)
    api.export_prompt(name, tmp_path / "p", tracking_uri=src.tracking_uri)
    api.import_prompt(tmp_path / "p", tracking_uri=dst.tracking_uri)
    args = ("verify-prompt", "--prompt-name", name,
            "--src-mlflow-uri", src.tracking_uri, "--dst-mlflow-uri", dst.tracking_uri)  # fmt: skip

    code, report = verify_cli(*args)
    assert (code, findings(report)) == (0, {})
    assert sorted(o["source_id"] for o in report["objects"]) == [name, f"{name}/1", f"{name}/2"]

    dst.client.set_prompt_alias(name, "production", 1)
    code, report = verify_cli(*args)

    assert code == 1
    assert findings(report, "prompt") == {
        "aliases[production]": {"kind": "changed", "field": "aliases[production]",
                                "source": "2", "destination": "1", "note": None},
    }  # fmt: skip
    by_version = {
        o["source_id"]: [(f["field"], f["source"], f["destination"]) for f in o["findings"]]
        for o in report["objects"]
        if o["kind"] == "prompt_version"
    }
    assert by_version == {
        f"{name}/1": [("aliases", [], ["production"])],
        f"{name}/2": [("aliases", ["production"], [])],
    }


def test_verify_all_covers_prompts_and_evaluation_datasets(sqlite_endpoint, tmp_path):
    source, destination = sqlite_endpoint("src"), sqlite_endpoint("dst")
    client = source.client
    client.create_prompt("bulk-prompt", description="first", tags={"team": "search"})
    for template in ("v1 {{x}}", "v2 {{x}}", "v3 {{x}}"):
        client.create_prompt_version("bulk-prompt", template, description=template)
    client.delete_prompt_version("bulk-prompt", "2")  # a gap the import rebuilds
    experiment_id = client.create_experiment("bulk-exp")
    dataset = client.create_dataset("bulk-ds", experiment_id=[experiment_id])
    client._tracking_client.store.upsert_dataset_records(dataset.dataset_id, RECORDS)
    out = tmp_path / "all"
    assert not api.export_all(out, tracking_uri=source.tracking_uri).failed
    assert not api.import_all(out, tracking_uri=destination.tracking_uri).failed
    args = ("verify-all", "--src-mlflow-uri", source.tracking_uri,
            "--dst-mlflow-uri", destination.tracking_uri)  # fmt: skip

    code, report = verify_cli(*args)

    assert (code, findings(report)) == (0, {})
    checked = sorted((o["kind"], o["source_id"]) for o in report["objects"])
    assert [c for c in checked if c[0] != "experiment"] == [
        ("evaluation_dataset", dataset.dataset_id),
        ("prompt", "bulk-prompt"),
        ("prompt_version", "bulk-prompt/1"),
        ("prompt_version", "bulk-prompt/3"),
    ]

    destination.client.set_prompt_version_tag("bulk-prompt", "3", "reviewed", "no")
    code, report = verify_cli(*args)
    assert code == 1
    assert findings(report) == {
        "tags[reviewed]": {"kind": "changed", "field": "tags[reviewed]", "source": None,
                           "destination": "no", "note": "only on the destination"},
    }  # fmt: skip
    code, _ = verify_cli(*args, "--verify-prompts", "False")
    assert code == 0
