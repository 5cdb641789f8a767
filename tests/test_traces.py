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
            ours, theirs = copy["info"].get(field), original["info"].get(field)
            if field == "assessments":  # stores list them in an order of their own
                ours, theirs = (
                    sorted(v or [], key=lambda a: a["assessment_id"]) for v in (ours, theirs)
                )
            assert ours == theirs, (source_id, field)
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
    # The import, once and then again (which must add nothing).
    import_args = [
        "import-traces",
        "--input-dir",
        str(out),
        "--experiment-name",
        name,
        "--tracking-uri",
        src.tracking_uri,
    ]

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
    imported = runner.invoke(migrate, import_args)

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

    rerun = runner.invoke(migrate, import_args)
    assert rerun.exit_code == 0, rerun.output
    assert len(src.client.search_traces(locations=[experiment_id])) == 3


def test_export_trace_and_import_trace_move_one_trace(src, traced, tmp_path, sqlite_endpoint):
    trace_id = traced.traces["plain"]
    name = f"one-trace-{uuid.uuid4().hex[:8]}"
    dst = sqlite_endpoint("one-trace")  # a store of its own: the trace id is free there

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


def test_copy_experiment_carries_traces_unless_told_not_to(src, traced, sqlite_endpoint):
    dst = sqlite_endpoint("copy-traces")  # a store of its own: the trace ids are free there
    name, bare = "copied", "bare"
    tb.register_prompt(dst, traced.prompt)
    uris = {"src_mlflow_uri": src.tracking_uri, "dst_mlflow_uri": dst.tracking_uri}

    report = api.copy_experiment(traced.name, name, **uris)
    left_out = api.copy_experiment(traced.name, bare, include_traces=False, **uris)

    assert not report.failed and not left_out.failed, report.outcomes + left_out.outcomes
    _assert_same(src, dst, traced, dst.client.get_experiment_by_name(name).experiment_id)
    assert len(report.find("trace", "imported")) == 3
    bare_id = dst.client.get_experiment_by_name(bare).experiment_id
    assert dst.client.search_traces(locations=[bare_id]) == []
    assert len(dst.client.search_runs([bare_id])) == len(report.find("run", "imported"))


def test_no_traces_option_and_window_leave_traces_out(src, traced, tmp_path):
    runner = CliRunner()
    left_out_cli = runner.invoke(
        migrate,
        [
            "export-experiment",
            "--experiment",
            traced.name,
            "--output-dir",
            str(tmp_path / "cli"),
            "--no-traces",
            "--tracking-uri",
            src.tracking_uri,
        ],
    )
    window = runner.invoke(
        migrate,
        [
            "export-experiment",
            "--experiment",
            traced.name,
            "--output-dir",
            str(tmp_path / "window"),
            "--trace-start-time",
            "2000-01-01",
            "--traces-until",
            "2999-01-01",
            "--tracking-uri",
            src.tracking_uri,
        ],
    )
    bad_day = runner.invoke(
        migrate,
        [
            "export-traces",
            "--experiment",
            traced.name,
            "--output-dir",
            str(tmp_path / "bad"),
            "--trace-start-time",
            "yesterday",
            "--tracking-uri",
            src.tracking_uri,
        ],
    )
    left_out = api.export_experiment(
        traced.name, tmp_path / "none", tracking_uri=src.tracking_uri, include_traces=False
    )
    later = api.export_traces(
        traced.name,
        tmp_path / "later",
        tracking_uri=src.tracking_uri,
        trace_start_time="2999-01-01",
    )

    assert left_out_cli.exit_code == 0, left_out_cli.output
    assert not (tmp_path / "cli" / TRACES_DIR).exists()
    assert window.exit_code == 0, window.output
    assert sorted(p.stem for p in (tmp_path / "window" / TRACES_DIR).iterdir()) == sorted(
        traced.traces.values()
    )
    assert bad_day.exit_code == 2
    assert not (tmp_path / "bad").exists()
    assert "--trace-start-time 'yesterday': expected a UTC date as YYYY-MM-DD" in bad_day.output
    assert not left_out.find("trace")
    assert not (tmp_path / "none" / TRACES_DIR).exists()
    assert not later.find("trace")


def test_rerun_replaces_a_trace_an_interrupted_import_left_half_made(
    src, traced, exported, sqlite_endpoint
):
    name = f"interrupted-{uuid.uuid4().hex[:8]}"
    dst = sqlite_endpoint("interrupted")  # a store of its own: the trace ids are kept
    tb.register_prompt(dst, traced.prompt)
    api.import_experiment(exported, name, tracking_uri=dst.tracking_uri)
    half_made = traced.traces["plain"]
    # What an import stopped between the trace's creation and its completion leaves.
    dst.client.set_trace_tag(half_made, idmap.STATE, idmap.STATE_STARTED)
    dst.client.set_trace_tag(half_made, "left-over", "yes")

    report = api.import_experiment(exported, name, tracking_uri=dst.tracking_uri)

    assert [o.destination_id for o in report.find("trace", "imported")] == [half_made]
    assert len(report.find("trace", "skipped")) == 2
    copy = dst.client.get_trace(half_made)
    assert "left-over" not in copy.info.tags
    assert copy.info.tags[idmap.STATE] == idmap.STATE_COMPLETE
    assert tb.trace_view(dst, half_made) == tb.trace_view(src, half_made)


def test_experiment_import_reports_a_corrupt_trace_and_imports_the_rest(dst, exported, tmp_path):
    import shutil

    folder = tmp_path / "exp"
    shutil.copytree(exported, folder)
    victim = sorted((folder / TRACES_DIR).glob("*.json"))[0]
    victim.write_text("{not json")
    name = f"one-corrupt-{uuid.uuid4().hex[:8]}"

    report = api.import_experiment(folder, name, tracking_uri=dst.tracking_uri)

    failed = report.find("trace", "failed")
    assert [(o.source_id, o.detail.split(":")[0]) for o in failed] == [(victim.stem, str(victim))]
    assert "not valid JSON" in failed[0].detail
    experiment_id = dst.client.get_experiment_by_name(name).experiment_id
    assert sorted(_dst_traces(dst, experiment_id)) == sorted(
        p.stem for p in (folder / TRACES_DIR).glob("*.json") if p != victim
    )


def test_links_to_what_the_destination_lacks_are_kept_in_tags_with_a_warning(
    src, traced, tmp_path, sqlite_endpoint
):
    trace_id = traced.traces["in_run"]
    dst = sqlite_endpoint("no-prompt")  # neither the prompt nor the run is there
    api.export_trace(trace_id, tmp_path, tracking_uri=src.tracking_uri)

    report = api.import_trace(
        tmp_path / f"{trace_id}.json", "lonely", tracking_uri=dst.tracking_uri
    )

    assert [o.status for o in report.find("trace")] == ["imported"]
    copy = dst.client.get_trace(trace_id)
    assert json.loads(copy.info.tags["mlflow_migrate.source.trace.prompts"]) == [
        {"name": traced.prompt, "version": "1"}
    ]
    assert "mlflow.linkedPrompts" not in copy.info.tags
    assert copy.info.tags["mlflow_migrate.source.trace.run_id"] == traced.run_id
    assert "mlflow.sourceRun" not in copy.info.trace_metadata
    judge = next(a for a in copy.info.assessments if a.name == "judge")
    assert judge.run_id is None and "mlflow.assessment.sourceRunId" not in judge.metadata
    assert judge.metadata["mlflow_migrate.source.assessment.run_id"] == traced.run_id
    assert any(traced.prompt in w and "not on the destination" in w for w in report.warnings)
    assert any(traced.run_id in w for w in report.warnings)
    assert len(copy.data.spans) == 3


def test_a_trace_whose_id_is_not_its_otel_id_keeps_it_with_spans_as_an_artifact(
    src, traced, tmp_path, sqlite_endpoint
):
    source_id = traced.traces["plain"]
    api.export_trace(source_id, tmp_path, tracking_uri=src.tracking_uri)
    # An MLflow 2 trace: a request id of its own, which its spans name in an attribute.
    old_style_id = uuid.uuid4().hex
    document = json.loads((tmp_path / f"{source_id}.json").read_text())
    document["mlflow"]["trace_info"]["trace_id"] = old_style_id
    for span in document["mlflow"]["spans"]:
        span["attributes"]["mlflow.traceRequestId"] = json.dumps(old_style_id)
    trace_file = tmp_path / f"{old_style_id}.json"
    trace_file.write_text(json.dumps(document))
    dst = sqlite_endpoint("old-style")

    report = api.import_trace(trace_file, "old-style", tracking_uri=dst.tracking_uri)

    assert [(o.status, o.destination_id) for o in report.find("trace")] == [
        ("imported", old_style_id)
    ]
    experiment_id = dst.client.get_experiment_by_name("old-style").experiment_id
    assert len(dst.client.search_traces(locations=[experiment_id])) == 1
    copy = dst.client.get_trace(old_style_id)
    assert copy.data.to_dict()["spans"] == document["mlflow"]["spans"]
    assert copy.info.request_time == traced_info(src, source_id).request_time


def traced_info(endpoint, trace_id):
    return endpoint.client.get_trace(trace_id).info
