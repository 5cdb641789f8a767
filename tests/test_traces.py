"""MLflow 3 traces between two real servers: every field kept, links followed, reruns add nothing.

Allowed to differ between a source trace and its copy: the experiment it is in, the tags the
destination sets itself (where it keeps spans and artifacts), the import's markers, and the run
and LoggedModel ids the trace names (compared through the mapping the import made).
"""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner

from mlflow_migrate_plugin import api, idmap
from mlflow_migrate_plugin.cli import migrate
from mlflow_migrate_plugin.endpoint import Endpoint
from mlflow_migrate_plugin.exportdir.trace_dir import TRACES_DIR
from tests import trace_builders as tb


@pytest.fixture(scope="module")
def traced(src_server):
    src = Endpoint(src_server.url, src_server.url)
    return tb.traced_experiment(src, f"src-traces-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def exported(src_server, traced, tmp_path_factory):
    out = tmp_path_factory.mktemp("traces-export") / "exp"
    report = api.export_experiment(traced.name, out, tracking_uri=src_server.url)
    assert not report.failed, report.outcomes
    return out


def _maps(dst, experiment_id):
    runs = {v: k for k, v in idmap.complete_runs(dst.client, experiment_id).items()}
    models = {
        m.model_id: m.tags[idmap.SOURCE_MODEL_ID]
        for m in dst.client.search_logged_models([experiment_id])
    }
    return runs, models


def _dst_traces(dst, experiment_id) -> dict[str, str]:
    found = dst.client.search_traces(locations=[experiment_id], max_results=100)
    return {t.info.tags[idmap.SOURCE_TRACE_ID]: t.info.trace_id for t in found}


def _assert_same(src, dst, traced, experiment_id):
    runs, models = _maps(dst, experiment_id)
    copies = _dst_traces(dst, experiment_id)
    assert sorted(copies) == sorted(traced.traces.values())
    for source_id, copy_id in copies.items():
        copy = tb.trace_view(dst, copy_id, runs, models)
        original = tb.trace_view(src, source_id)
        for field in original["info"].keys() | copy["info"].keys():
            assert copy["info"].get(field) == original["info"].get(field), (source_id, field)
        assert copy["spans"] == original["spans"]
    return copies, runs


def test_import_experiment_keeps_every_trace_field_and_link(src, dst, traced, exported):
    name = f"dst-traces-{uuid.uuid4().hex[:8]}"
    tb.register_prompt(dst, traced.prompt)

    report = api.import_experiment(exported, name, tracking_uri=dst.tracking_uri)

    assert not report.failed, report.outcomes
    assert not report.warnings
    experiment_id = dst.client.get_experiment_by_name(name).experiment_id
    copies, runs = _assert_same(src, dst, traced, experiment_id)
    # A different server: the trace ids are kept.
    assert all(source == copy for source, copy in copies.items())
    in_run = dst.client.get_trace(traced.traces["in_run"])
    exception = in_run.data.spans[1].events[0]
    assert exception.name == "exception"
    assert exception.attributes["exception.message"] == "the model timed out"
    assert {a.name for a in in_run.info.assessments} == {"correct", "expected_answer", "judge"}
    assert json.loads(in_run.info.tags["mlflow.linkedPrompts"]) == [
        {"name": traced.prompt, "version": "1"}
    ]
    dst_run = next(k for k, v in runs.items() if v == traced.run_id)
    linked = dst.client.search_traces(locations=[experiment_id], run_id=dst_run)
    assert {t.info.trace_id for t in linked} == {traced.traces["in_run"], traced.traces["of_model"]}

    again = api.import_experiment(exported, name, tracking_uri=dst.tracking_uri)

    assert not again.failed
    assert len(again.find("trace", "skipped")) == 3
    assert len(dst.client.search_traces(locations=[experiment_id])) == 3


def test_trace_commands_copy_within_one_server_with_new_ids(src, traced, tmp_path):
    out = tmp_path / "traces"
    name = f"same-server-{uuid.uuid4().hex[:8]}"
    runner = CliRunner()

    exported = runner.invoke(
        migrate,
        [
            "export-traces",
            "--experiment",
            traced.name,
            "--output-dir",
            str(out),
            "--tracking-uri",
            src.tracking_uri,
        ],
    )
    imported = runner.invoke(
        migrate,
        [
            "import-traces",
            "--input-dir",
            str(out),
            "--experiment-name",
            name,
            "--tracking-uri",
            src.tracking_uri,
        ],
    )

    assert exported.exit_code == 0, exported.output
    assert imported.exit_code == 0, imported.output
    experiment_id = src.client.get_experiment_by_name(name).experiment_id
    copies = _dst_traces(src, experiment_id)
    assert sorted(copies) == sorted(traced.traces.values())
    for source_id, copy_id in copies.items():
        assert copy_id != source_id  # the source's ids are taken on this server
        assert src.client.get_trace(source_id).info.experiment_id == traced.experiment_id
        copy, original = tb.trace_view(src, copy_id), tb.trace_view(src, source_id)
        assert len(copy["spans"]) == len(original["spans"])
        for a, b in zip(copy["spans"], original["spans"], strict=True):
            assert {**a, "trace_id": None, "attributes": None} == {
                **b,
                "trace_id": None,
                "attributes": None,
            }
        assert copy["info"]["request_time"] == original["info"]["request_time"]
    # The runs were not imported into this experiment: the run link is kept in a tag.
    in_run = src.client.get_trace(copies[traced.traces["in_run"]])
    assert in_run.info.tags["mlflow_migrate.source.trace.run_id"] == traced.run_id

    rerun = runner.invoke(
        migrate,
        [
            "import-traces",
            "--input-dir",
            str(out),
            "--experiment-name",
            name,
            "--tracking-uri",
            src.tracking_uri,
        ],
    )
    assert rerun.exit_code == 0, rerun.output
    assert len(src.client.search_traces(locations=[experiment_id])) == 3


def test_export_trace_and_import_trace_move_one_trace(src, dst, traced, tmp_path):
    trace_id = traced.traces["plain"]
    name = f"one-trace-{uuid.uuid4().hex[:8]}"

    api.export_trace(trace_id, tmp_path, tracking_uri=src.tracking_uri)
    report = api.import_trace(tmp_path / f"{trace_id}.json", name, tracking_uri=dst.tracking_uri)

    assert [o.status for o in report.find("trace")] == ["imported"]
    assert tb.trace_view(dst, trace_id) == tb.trace_view(src, trace_id)


def test_corrupt_trace_file_is_one_line_and_nothing_is_made(dst, exported, tmp_path):
    import shutil

    folder = tmp_path / "exp"
    shutil.copytree(exported, folder)
    victim = sorted((folder / TRACES_DIR).glob("*.json"))[0]
    document = json.loads(victim.read_text())
    document["mlflow"]["spans"][0]["start_time_unix_nano"] = "yesterday"
    victim.write_text(json.dumps(document))
    name = f"corrupt-{uuid.uuid4().hex[:8]}"

    result = CliRunner().invoke(
        migrate,
        [
            "import-traces",
            "--input-dir",
            str(folder),
            "--experiment-name",
            name,
            "--tracking-uri",
            dst.tracking_uri,
        ],
    )

    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [
        f"Error: {victim}: mlflow.spans[0].start_time_unix_nano: expected an integer "
        "(ns since epoch), got a string 'yesterday'"
    ]
    assert dst.client.get_experiment_by_name(name) is None


def test_no_traces_option_and_window_leave_traces_out(src, traced, tmp_path):
    left_out = api.export_experiment(
        traced.name, tmp_path / "none", tracking_uri=src.tracking_uri, include_traces=False
    )
    later = api.export_traces(
        traced.name,
        tmp_path / "later",
        tracking_uri=src.tracking_uri,
        trace_start_time="2999-01-01",
    )

    assert not left_out.find("trace")
    assert not (tmp_path / "none" / TRACES_DIR).exists()
    assert not later.find("trace")
