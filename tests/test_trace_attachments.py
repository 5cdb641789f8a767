"""Trace attachments between real servers: a span input holding an ``Attachment`` keeps its bytes
at the place its reference points to after export and import, and after a copy within one server
(new trace id, the reference renamed with it); reruns add nothing; verify compares the files."""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest
from mlflow.tracing.attachments import Attachment
from mlflow.tracing.utils.artifact_utils import get_artifact_uri_for_trace

from mlflow_migrate_plugin import api, idmap
from mlflow_migrate_plugin.endpoint import Endpoint
from mlflow_migrate_plugin.errors import ExportDirError
from mlflow_migrate_plugin.exportdir.trace_dir import (
    TRACES_DIR,
    attachments_dir,
    read_trace,
    trace_file,
)
from tests import trace_builders as tb
from tests.test_verify_run import findings, verify_cli


@pytest.fixture(scope="module")
def attached(src_server):
    src = Endpoint(src_server.url, src_server.url)
    return tb.attachment_experiment(src, f"src-attach-{uuid.uuid4().hex[:8]}")


def _copy_of(endpoint, experiment_name: str, source_trace_id: str):
    experiment_id = endpoint.client.get_experiment_by_name(experiment_name).experiment_id
    found = endpoint.client.search_traces(locations=[experiment_id])
    return [t for t in found if t.info.tags.get(idmap.SOURCE_TRACE_ID) == source_trace_id]


def _referenced_bytes(endpoint, trace) -> bytes:
    """The bytes the root span's image reference points to, fetched as the UI fetches them:
    the server's attachment endpoint for the trace and attachment the reference names."""
    ref = Attachment.parse_ref(trace.data.spans[0].inputs["image"])
    assert ref is not None
    assert ref["trace_id"] == trace.info.trace_id
    url = (
        f"{endpoint.tracking_uri}/ajax-api/3.0/mlflow/get-trace-artifact"
        f"?request_id={ref['trace_id']}&path={ref['attachment_id']}"
    )
    with urllib.request.urlopen(url) as response:
        return response.read()


def _attachment_names(endpoint, trace) -> list[str]:
    repo = endpoint.artifact_repo(get_artifact_uri_for_trace(trace.info))
    return [f.path for f in repo.list_artifacts("attachments")]


@pytest.mark.slow
def test_export_import_keeps_attachment_bytes_and_verify_compares_them(
    src, dst, dst_server, attached, tmp_path
):
    out = tmp_path / "exp"
    target = f"dst-attach-{uuid.uuid4().hex[:8]}"

    exported = api.export_experiment(attached.name, out, tracking_uri=src.tracking_uri)
    report = api.import_experiment(out, target, tracking_uri=dst.tracking_uri)
    rerun = api.import_experiment(out, target, tracking_uri=dst.tracking_uri)

    assert not exported.failed and not report.failed, exported.outcomes + report.outcomes
    folder = attachments_dir(out / TRACES_DIR, attached.trace_id)
    assert (folder / attached.attachment_id).read_bytes() == attached.content
    (copy,) = _copy_of(dst, target, attached.trace_id)
    assert copy.info.trace_id == attached.trace_id  # another server: the id is kept
    assert _referenced_bytes(dst, copy) == attached.content
    assert _attachment_names(dst, copy) == [f"attachments/{attached.attachment_id}"]
    assert [o.status for o in rerun.find("trace")] == ["skipped"]
    assert len(_copy_of(dst, target, attached.trace_id)) == 1
    assert _attachment_names(dst, copy) == [f"attachments/{attached.attachment_id}"]

    args = ["verify-experiment", "--experiment", attached.name, "--dst-experiment-name", target]
    uris = ["--src-mlflow-uri", src.tracking_uri, "--dst-mlflow-uri", dst.tracking_uri]
    code, clean = verify_cli(*args, *uris)
    assert (code, findings(clean)) == (0, {}), findings(clean)

    (stored,) = dst_server.root.rglob(attached.attachment_id)
    stored.unlink()
    code, damaged = verify_cli(*args, *uris)

    assert code == 1
    found = findings(damaged, "trace")
    field = f"attachments/{attached.attachment_id}"
    assert list(found) == [field]
    assert found[field]["kind"] == "missing"
    assert found[field]["source"]["size"] == len(attached.content)


@pytest.mark.slow
def test_copy_within_one_server_points_the_reference_at_the_new_trace(src, attached):
    target = f"same-attach-{uuid.uuid4().hex[:8]}"
    uris = {"src_mlflow_uri": src.tracking_uri, "dst_mlflow_uri": src.tracking_uri}

    report = api.copy_experiment(attached.name, target, **uris)
    rerun = api.copy_experiment(attached.name, target, **uris)

    assert not report.failed and not rerun.failed, report.outcomes + rerun.outcomes
    (copy,) = _copy_of(src, target, attached.trace_id)
    assert copy.info.trace_id != attached.trace_id  # the source's id is taken on this server
    assert _referenced_bytes(src, copy) == attached.content
    original = src.client.get_trace(attached.trace_id)
    assert _referenced_bytes(src, original) == attached.content  # the source's is untouched
    inputs = copy.data.spans[0].inputs
    assert inputs["question"] == "what is it?"
    assert json.dumps(inputs).count(copy.info.trace_id) == 1
    assert not rerun.find("trace", "imported")
    assert len(rerun.find("trace", "skipped")) == 1
    assert _attachment_names(src, copy) == [f"attachments/{attached.attachment_id}"]
    code, result = verify_cli(
        "verify-experiment", "--experiment", attached.name, "--dst-experiment-name", target,
        "--src-mlflow-uri", src.tracking_uri, "--dst-mlflow-uri", src.tracking_uri,
    )  # fmt: skip
    assert (code, findings(result)) == (0, {}), findings(result)


def test_a_trace_file_whose_attachment_is_gone_is_one_line(src, attached, tmp_path):
    out = tmp_path / "traces"
    api.export_traces(attached.name, out, tracking_uri=src.tracking_uri)
    (attachments_dir(out, attached.trace_id) / attached.attachment_id).unlink()

    with pytest.raises(ExportDirError, match="attachment file .* is missing"):
        read_trace(trace_file(out, attached.trace_id))


@pytest.mark.slow
def test_rerun_completes_an_interrupted_import_with_its_attachment(src, dst, attached, tmp_path):
    out = tmp_path / "exp"
    target = f"interrupted-attach-{uuid.uuid4().hex[:8]}"
    assert not api.export_experiment(attached.name, out, tracking_uri=src.tracking_uri).failed
    assert not api.import_experiment(out, target, tracking_uri=dst.tracking_uri).failed
    (half_made,) = _copy_of(dst, target, attached.trace_id)
    # What an import stopped between the trace's creation and its completion leaves.
    dst.client.set_trace_tag(half_made.info.trace_id, idmap.STATE, idmap.STATE_STARTED)

    report = api.import_experiment(out, target, tracking_uri=dst.tracking_uri)

    assert [o.status for o in report.find("trace")] == ["imported"]
    (copy,) = _copy_of(dst, target, attached.trace_id)
    assert copy.info.tags[idmap.STATE] == idmap.STATE_COMPLETE
    assert _referenced_bytes(dst, copy) == attached.content
    assert _attachment_names(dst, copy) == [f"attachments/{attached.attachment_id}"]


def test_a_reference_whose_file_the_source_lost_is_a_warning(src, src_server, tmp_path):
    lost = tb.attachment_experiment(src, f"src-lost-{uuid.uuid4().hex[:8]}")
    (stored,) = src_server.root.rglob(lost.attachment_id)
    stored.unlink()

    report = api.export_traces(lost.name, tmp_path / "traces", tracking_uri=src.tracking_uri)

    assert [o.status for o in report.find("trace")] == ["exported"]
    assert report.warnings == [
        f"trace {lost.trace_id}: attachment {lost.attachment_id} its spans refer to is not in "
        "its artifacts on the source"
    ]
    assert not attachments_dir(tmp_path / "traces", lost.trace_id).exists()
