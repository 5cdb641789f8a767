"""Bad input to export-run / import-run: one readable line, exit 1 (2 for usage), nothing left.

Each error goes through the real ``migrate`` group (Click's runner, in process) against the real
servers; afterwards the destination experiment is searched with every lifecycle: no active run,
no run carrying the source marker and no live LoggedModel may remain. (A failed import can only
soft-delete what it made, after removing its source marker: that is the one leftover allowed.)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from mlflow.entities import ViewType

from mlflow_migrate_plugin import api, idmap
from mlflow_migrate_plugin.cli import migrate
from mlflow_migrate_plugin.endpoint import CONNECT_TIMEOUT_ENV
from mlflow_migrate_plugin.exportdir.paths import sha256_of
from mlflow_migrate_plugin.report import Phase, Progress
from tests import builders
from tests.damage import export_a_good_run
from tests.processes import start_interruptible
from tests.servers import free_port, mlflow_executable

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REFERENCE_RUN = (
    FIXTURES
    / "anchor-repo-samples"
    / "oss_mlflow"
    / "single"
    / "experiments"
    / "basic"
    / "runs"
    / "eb66c160957d4a28b11d3f1b968df9cd"
)


@pytest.fixture(scope="module")
def pristine_export(src_server, tmp_path_factory):
    """One run export (artifacts in folders, an MLmodel, a LoggedModel), made once per module."""
    return export_a_good_run(src_server, tmp_path_factory, "errors")


@pytest.fixture
def export_dir(pristine_export, tmp_path) -> Path:
    """A private copy of the export for a test to damage."""
    copy = tmp_path / "run"
    shutil.copytree(pristine_export, copy)
    return copy


def _cli(*args):
    return CliRunner().invoke(migrate, [str(a) for a in args])


def _import_cli(export: Path, dst, experiment_name: str, *extra):
    return _cli(
        "import-run",
        "--input-dir",
        export,
        "--experiment-name",
        experiment_name,
        "--tracking-uri",
        dst.tracking_uri,
        *extra,
    )


def _export_cli(run_id: str, out: Path, tracking_uri: str):
    return _cli(
        "export-run", "--run-id", run_id, "--output-dir", out, "--tracking-uri", tracking_uri
    )


def _timed_export_of_no_run(out: Path, tracking_uri: str):
    """export-run of a run id no server has, from ``tracking_uri``: (result, seconds taken)."""
    started = time.monotonic()
    result = _export_cli("0" * 32, out, tracking_uri)
    return result, time.monotonic() - started


def _assert_one_line_error(result, *fragments: str, code: int = 1) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _assert_nothing_left(dst, experiment_name: str, source_run_id: str | None = None) -> None:
    experiment = dst.client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return
    runs = dst.client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL)
    assert [r.info.run_id for r in runs if r.info.lifecycle_stage == "active"] == []
    assert [r.info.run_id for r in runs if idmap.SOURCE_RUN_ID in r.data.tags] == []
    if source_run_id:
        assert idmap.find_runs(dst.client, experiment.experiment_id, source_run_id) == []
    assert list(dst.client.search_logged_models([experiment.experiment_id])) == []


def _run_json(export: Path) -> dict:
    return json.loads((export / "run.json").read_text())


def _write_run_json(export: Path, document: dict) -> None:
    (export / "run.json").write_text(json.dumps(document))


def _listed(export: Path, suffix: str) -> dict:
    """The manifest entry of the run artifact whose path ends with ``suffix``."""
    [entry] = [
        e for e in _run_json(export)["info"]["artifacts"]["files"] if e["path"].endswith(suffix)
    ]
    return entry


# Source side ------------------------------------------------------------------------------------


def test_export_of_a_run_that_does_not_exist_fails_with_one_line(src, tmp_path):
    missing = "0123456789abcdef0123456789abcdef"

    result = _export_cli(missing, tmp_path / "out", src.tracking_uri)

    _assert_one_line_error(result, missing, "not found")
    assert not (tmp_path / "out" / "run.json").exists()


def test_unreachable_server_fails_fast(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"

    result, elapsed = _timed_export_of_no_run(tmp_path / "out", closed)

    _assert_one_line_error(result, "cannot reach", closed)
    # MLflow's client alone would retry a refused connection with backoff for minutes.
    assert elapsed < 5


def test_unreachable_server_message_has_no_credentials(tmp_path, dst):
    closed = f"http://someone:hunter2@127.0.0.1:{free_port()}"

    result = _import_cli(tmp_path, dst, "never-created", "--tracking-uri", closed)

    line = _assert_one_line_error(result, "cannot reach")
    assert "hunter2" not in line and "someone" not in line


@pytest.fixture
def silent_server():
    """A loopback server that never accepts: its backlog is full, so connecting hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    filler = socket.create_connection(listener.getsockname(), timeout=2)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    filler.close()
    listener.close()


@pytest.mark.parametrize("timeout", [1, 3])
def test_connect_timeout_is_set_by_environment(silent_server, tmp_path, monkeypatch, timeout):
    monkeypatch.setenv(CONNECT_TIMEOUT_ENV, str(timeout))

    result, elapsed = _timed_export_of_no_run(tmp_path / "out", silent_server)

    _assert_one_line_error(result, "cannot reach", f"within {timeout}s", CONNECT_TIMEOUT_ENV)
    assert timeout - 0.1 <= elapsed < timeout + 1.5


@pytest.fixture
def hung_server():
    """A loopback server that accepts every connection and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_server_that_accepts_but_never_answers_fails_within_the_timeout(
    hung_server, tmp_path, monkeypatch
):
    monkeypatch.setenv(CONNECT_TIMEOUT_ENV, "2")

    result, elapsed = _timed_export_of_no_run(tmp_path / "out", hung_server)

    _assert_one_line_error(result, hung_server, "does not answer within 2s", CONNECT_TIMEOUT_ENV)
    assert 1.9 <= elapsed < 6  # MLflow alone would wait 120 s per try, with retries
    assert not (tmp_path / "out").exists()


# Export directory -------------------------------------------------------------------------------


def test_missing_run_json_is_refused(export_dir, dst, unique_name):
    (export_dir / "run.json").unlink()
    name = unique_name("dst-")

    result = _import_cli(export_dir, dst, name)

    _assert_one_line_error(result, "run.json", "not found")
    assert dst.client.get_experiment_by_name(name) is None


def test_missing_input_dir_is_refused(tmp_path, dst, unique_name):
    result = _import_cli(tmp_path / "nowhere", dst, unique_name("dst-"))

    _assert_one_line_error(result, "nowhere")


def test_truncated_run_json_is_refused(export_dir, dst, unique_name):
    text = (export_dir / "run.json").read_text()
    (export_dir / "run.json").write_text(text[: len(text) // 2])
    name = unique_name("dst-")

    result = _import_cli(export_dir, dst, name)

    _assert_one_line_error(result, "run.json", "not valid JSON")
    assert dst.client.get_experiment_by_name(name) is None


@pytest.mark.parametrize(
    "damage,says",
    [
        pytest.param(lambda d: [], "no 'mlflow' part", id="not-an-object"),
        pytest.param(
            lambda d: {"system": d["system"], "info": d["info"]},
            "no 'mlflow' part",
            id="no-mlflow-part",
        ),
        pytest.param(
            lambda d: {**d, "mlflow": {**d["mlflow"], "info": {}}}, "run_id", id="no-run-id"
        ),
        pytest.param(
            lambda d: {**d, "mlflow": {**d["mlflow"], "params": 5}},
            "mlflow.params: expected an object or a list",
            id="params-not-a-map",
        ),
        pytest.param(
            lambda d: {**d, "mlflow": {**d["mlflow"], "tags": "abc"}},
            "mlflow.tags: expected an object or a list",
            id="tags-a-string",
        ),
        pytest.param(
            lambda d: {**d, "info": {**d["info"], "artifacts": {"files": [{"path": "x"}]}}},
            "info.artifacts.files[0].size: missing",
            id="manifest-entry-without-size",
        ),
    ],
)
def test_invalid_run_json_is_refused(export_dir, dst, unique_name, damage, says):
    _write_run_json(export_dir, damage(_run_json(export_dir)))
    name = unique_name("dst-")

    result = _import_cli(export_dir, dst, name)

    _assert_one_line_error(result, says)
    assert dst.client.get_experiment_by_name(name) is None


@pytest.mark.parametrize(
    "system,says",
    [
        ({"format": "mlflow-migrate", "format_version": 99}, "format version 99"),
        ({"format": "some-other-tool", "format_version": 1}, "unknown export format"),
        ({"export_file_version": "9"}, "file version '9'"),
    ],
    ids=["newer-version", "other-format", "reference-version"],
)
def test_unknown_format_version_is_refused(export_dir, dst, unique_name, system, says):
    document = _run_json(export_dir)
    document["system"] = {
        k: v for k, v in document["system"].items() if k not in ("format", "format_version")
    } | system
    _write_run_json(export_dir, document)
    name = unique_name("dst-")

    result = _import_cli(export_dir, dst, name)

    _assert_one_line_error(result, "run.json", says)
    assert dst.client.get_experiment_by_name(name) is None


def test_reference_run_json_with_malformed_metrics_is_refused_before_anything_is_created(
    tmp_path, dst, unique_name
):
    export = tmp_path / "run"
    shutil.copytree(REFERENCE_RUN, export)
    document = _run_json(export)
    document["mlflow"]["metrics"] = {"rmse": [{"timestamp": 1, "step": 0}]}  # no value
    _write_run_json(export, document)
    name = unique_name("dst-")

    result = _import_cli(export, dst, name)

    _assert_one_line_error(result, "run.json", "mlflow.metrics.rmse[0].value: missing")
    assert dst.client.get_experiment_by_name(name) is None


# Artifacts against the manifest -----------------------------------------------------------------


def test_artifact_with_same_size_but_other_bytes_is_refused(export_dir, dst, unique_name):
    target = export_dir / "artifacts" / "plots" / "curve.bin"
    data = bytearray(target.read_bytes())
    data[100] ^= 0xFF
    target.write_bytes(bytes(data))
    name = unique_name("dst-")

    result = _import_cli(export_dir, dst, name)

    _assert_one_line_error(result, "curve.bin", "sha256")
    _assert_nothing_left(dst, name)
    assert dst.client.get_experiment_by_name(name) is None


def test_artifact_with_another_size_is_refused(export_dir, dst, unique_name):
    with open(export_dir / "artifacts" / "report.txt", "ab") as f:
        f.write(b"appended")
    name = unique_name("dst-")

    result = _import_cli(export_dir, dst, name)

    _assert_one_line_error(result, "report.txt", "size")
    assert dst.client.get_experiment_by_name(name) is None


def test_missing_artifact_listed_in_the_manifest_is_refused(export_dir, dst, unique_name):
    (export_dir / "artifacts" / "plots" / "deep" / "empty.txt").unlink()
    name = unique_name("dst-")

    result = _import_cli(export_dir, dst, name)

    _assert_one_line_error(result, "empty.txt", "missing")
    assert dst.client.get_experiment_by_name(name) is None


def test_missing_logged_model_artifact_is_refused(export_dir, dst, unique_name):
    [model_file] = list((export_dir / "logged_models").glob("*/artifacts/model.pkl"))
    model_file.unlink()
    name = unique_name("dst-")

    result = _import_cli(export_dir, dst, name)

    _assert_one_line_error(result, "model.pkl", "missing")
    assert dst.client.get_experiment_by_name(name) is None


def test_files_added_after_the_export_are_not_imported_and_are_named(export_dir, dst, unique_name):
    (export_dir / "artifacts" / "added.txt").write_text("not exported")
    [model_root] = list((export_dir / "logged_models").glob("*/artifacts"))
    (model_root / "extra.bin").write_bytes(b"x")
    name = unique_name("dst-")

    report = api.import_run(export_dir, name, tracking_uri=dst.tracking_uri)

    [run_id] = [o.destination_id for o in report.find("run", "imported")]
    listed = {f.path for f in dst.client.list_artifacts(run_id)}
    assert "added.txt" not in listed and "plots" in listed
    warned = [w for w in report.warnings if "not in the export's manifest" in w]
    assert sorted(Path(w.split(":")[0]).name for w in warned) == ["added.txt", "extra.bin"]


# Symlinks and paths outside the export ----------------------------------------------------------


@pytest.fixture
def secret(tmp_path) -> Path:
    """A file outside the export that must never reach a server."""
    path = tmp_path / "outside" / "secret.txt"
    path.parent.mkdir()
    path.write_text("fold report ✓\n")  # the very bytes of the artifact it will stand in for
    return path


def _assert_secret_not_uploaded(dst, name: str) -> None:
    _assert_nothing_left(dst, name)
    experiment = dst.client.get_experiment_by_name(name)
    if experiment is not None:
        for run in dst.client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL):
            repo = dst.artifact_repo(run.info.artifact_uri)
            assert repo.list_artifacts() == []


def _assert_symlink_refused(export: Path, dst, name: str, what: str) -> None:
    """import-run of ``export`` into ``name`` stops in one line naming ``what`` and the symlink,
    and the secret reaches no server."""
    result = _import_cli(export, dst, name)
    _assert_one_line_error(result, what, "symlink")
    _assert_secret_not_uploaded(dst, name)


def test_listed_artifact_replaced_by_a_symlink_is_refused(export_dir, dst, unique_name, secret):
    artifact = export_dir / "artifacts" / "report.txt"
    assert sha256_of(artifact) == sha256_of(secret) == _listed(export_dir, "report.txt")["sha256"]
    artifact.unlink()
    artifact.symlink_to(secret)

    _assert_symlink_refused(export_dir, dst, unique_name("dst-"), "report.txt")


def test_unlisted_symlink_inside_artifacts_is_refused(export_dir, dst, unique_name, secret):
    (export_dir / "artifacts" / "plots" / "stolen.txt").symlink_to(secret)

    _assert_symlink_refused(export_dir, dst, unique_name("dst-"), "stolen.txt")


def test_artifacts_folder_that_is_a_symlink_is_refused(export_dir, dst, unique_name, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (export_dir / "artifacts").rename(elsewhere)
    (export_dir / "artifacts").symlink_to(elsewhere, target_is_directory=True)

    _assert_symlink_refused(export_dir, dst, unique_name("dst-"), "artifacts")


def test_symlinked_folder_inside_artifacts_is_refused(export_dir, dst, unique_name, tmp_path):
    plots = export_dir / "artifacts" / "plots"
    plots.rename(tmp_path / "plots-elsewhere")
    plots.symlink_to(tmp_path / "plots-elsewhere", target_is_directory=True)

    _assert_symlink_refused(export_dir, dst, unique_name("dst-"), "plots")


def test_symlink_in_a_reference_export_is_refused(tmp_path, dst, unique_name, secret):
    export = tmp_path / "reference-run"
    shutil.copytree(REFERENCE_RUN, export)
    (export / "artifacts" / "model").mkdir(parents=True)
    (export / "artifacts" / "model" / "MLmodel").write_text("run_id: x\n")
    (export / "artifacts" / "model" / "secret.txt").symlink_to(secret)

    _assert_symlink_refused(export, dst, unique_name("dst-"), "secret.txt")


@pytest.mark.parametrize("bad_path", ["../run.json", "plots/../../run.json", "/etc/hostname"])
def test_manifest_path_leading_outside_the_export_is_refused(
    export_dir, dst, unique_name, bad_path
):
    document = _run_json(export_dir)
    document["info"]["artifacts"]["files"].append({"path": bad_path, "size": 1, "sha256": None})
    _write_run_json(export_dir, document)
    name = unique_name("dst-")

    result = _import_cli(export_dir, dst, name)

    _assert_one_line_error(result, repr(bad_path), "outside the export")
    assert dst.client.get_experiment_by_name(name) is None


def test_logged_model_id_leading_outside_the_export_is_refused(export_dir, dst, unique_name):
    document = _run_json(export_dir)
    document["mlflow"]["logged_models"][0]["model_id"] = "../../outside"
    _write_run_json(export_dir, document)
    name = unique_name("dst-")

    result = _import_cli(export_dir, dst, name)

    _assert_one_line_error(result, "outside the export")
    assert dst.client.get_experiment_by_name(name) is None


def test_import_into_a_deleted_experiment_is_refused(export_dir, dst, unique_name):
    name = unique_name("dst-")
    dst.client.delete_experiment(dst.client.create_experiment(name))

    result = _import_cli(export_dir, dst, name)

    _assert_one_line_error(result, name, "deleted")
    experiment = dst.client.get_experiment_by_name(name)
    assert dst.client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL) == []


# Values the destination would cut ----------------------------------------------------------------


@pytest.mark.parametrize(
    "part,key,length,limit",
    [
        ("params", "long", 6001, "6000"),
        ("tags", "note", 8001, "8000"),
    ],
)
def test_value_longer_than_the_server_keeps_is_refused_before_anything_is_created(
    export_dir, dst, unique_name, part, key, length, limit
):
    document = _run_json(export_dir)
    document["mlflow"][part][key] = "x" * length
    _write_run_json(export_dir, document)
    name = unique_name("dst-")

    result = _import_cli(export_dir, dst, name)

    _assert_one_line_error(result, repr(key), str(length), limit)
    assert dst.client.get_experiment_by_name(name) is None


def test_values_at_the_limit_are_imported_whole(export_dir, dst, unique_name):
    document = _run_json(export_dir)
    document["mlflow"]["params"]["long"] = "p" * 6000
    document["mlflow"]["tags"]["note"] = "n" * 8000
    _write_run_json(export_dir, document)
    name = unique_name("dst-")

    result = _import_cli(export_dir, dst, name)

    assert result.exit_code == 0, result.stderr
    experiment = dst.client.get_experiment_by_name(name)
    [run] = dst.client.search_runs([experiment.experiment_id])
    assert run.data.params["long"] == "p" * 6000
    assert run.data.tags["note"] == "n" * 8000


# Failures in the middle of an import -------------------------------------------------------------


class _RemoveWhenArtifactsStart(Progress):
    """Deletes a verified file the moment uploads begin, as a concurrent cleanup job would."""

    def __init__(self, victim: Path):
        self.victim = victim

    def phase(self, label: str, total, unit: str = "") -> Phase:
        if "artifacts" in label and self.victim.exists():
            self.victim.unlink()
        return Phase()


def test_import_failing_midway_leaves_nothing_behind(export_dir, dst, unique_name):
    source_run_id = _run_json(export_dir)["mlflow"]["info"]["run_id"]
    name = unique_name("dst-")
    victim = export_dir / "artifacts" / "plots" / "curve.bin"

    with pytest.raises(OSError):
        api.import_run(
            export_dir,
            name,
            tracking_uri=dst.tracking_uri,
            progress=_RemoveWhenArtifactsStart(victim),
        )

    experiment = dst.client.get_experiment_by_name(name)
    [run] = dst.client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL)
    assert run.info.lifecycle_stage == "deleted"  # it was created, then removed
    _assert_nothing_left(dst, name, source_run_id)


def test_corrupt_metric_history_without_hash_is_refused_before_anything_is_created(
    export_dir, dst, unique_name
):
    source_run_id = _run_json(export_dir)["mlflow"]["info"]["run_id"]
    history = export_dir / "metrics.jsonl"
    lines = history.read_text().splitlines(keepends=True)
    lines[-1] = lines[-1].replace('"key"', '"kez"')  # same size, so only reading finds it
    history.write_text("".join(lines))
    # As in an export that recorded no hash of its history: every point is read and checked
    # before the run is created.
    document = _run_json(export_dir)
    del document["info"]["metrics"]["sha256"]
    _write_run_json(export_dir, document)
    name = unique_name("dst-")

    result = _import_cli(export_dir, dst, name)

    _assert_one_line_error(result, f"metrics.jsonl:{len(lines)}: key: missing")
    _assert_nothing_left(dst, name, source_run_id)
    assert dst.client.get_experiment_by_name(name) is None


def test_metric_history_changed_after_export_is_refused_before_anything_is_created(
    export_dir, dst, unique_name
):
    history = export_dir / "metrics.jsonl"
    text = history.read_text()
    at = text.index('"value": ') + len('"value": ')
    digit = text[at]
    assert digit.isdigit()
    history.write_text(text[:at] + str((int(digit) + 1) % 10) + text[at + 1 :])
    name = unique_name("dst-")

    result = _import_cli(export_dir, dst, name)

    _assert_one_line_error(result, "metrics.jsonl", "sha256")
    assert dst.client.get_experiment_by_name(name) is None


def test_failed_import_can_be_rerun_cleanly(export_dir, dst, unique_name, pristine_export):
    source_run_id = _run_json(export_dir)["mlflow"]["info"]["run_id"]
    name = unique_name("dst-")
    with pytest.raises(OSError):
        api.import_run(
            export_dir,
            name,
            tracking_uri=dst.tracking_uri,
            progress=_RemoveWhenArtifactsStart(export_dir / "artifacts" / "report.txt"),
        )

    report = api.import_run(pristine_export, name, tracking_uri=dst.tracking_uri)

    [outcome] = report.find("run", "imported")
    experiment = dst.client.get_experiment_by_name(name)
    [marked] = idmap.find_runs(dst.client, experiment.experiment_id, source_run_id)
    assert marked.info.run_id == outcome.destination_id
    active = dst.client.search_runs([experiment.experiment_id])
    assert [r.info.run_id for r in active] == [outcome.destination_id]
    assert len(list(dst.client.search_logged_models([experiment.experiment_id]))) == 1


# Usage errors -----------------------------------------------------------------------------------


def test_missing_required_option_is_a_usage_error(tmp_path):
    result = _cli("import-run", "--input-dir", tmp_path)

    assert result.exit_code == 2
    assert "--experiment-name" in result.stderr
    assert "Traceback" not in result.output


def test_bad_boolean_value_is_a_usage_error(tmp_path):
    result = _cli(
        "import-run",
        "--input-dir",
        tmp_path,
        "--experiment-name",
        "x",
        "--use-src-user-id",
        "perhaps",
    )

    assert result.exit_code == 2
    assert "perhaps" in result.stderr


def _start_migrate(*args) -> subprocess.Popen:
    """``mlflow migrate ARGS`` in its own process that SIGINT reaches, without
    $MLFLOW_TRACKING_URI."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return start_interruptible(
        [mlflow_executable(), "migrate", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _interrupt_when(process: subprocess.Popen, under_way, pause: float) -> str:
    """SIGINT (Ctrl-C) to ``process`` once ``under_way()`` says so, while it still runs; its
    stderr, once it has exited 130 as an interrupted command does."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if under_way():
            break
        time.sleep(pause)
    assert process.poll() is None, process.communicate()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    return stderr


def _run_exists(client, experiment_id):
    return client.search_runs([experiment_id])


def _logged_model_exists(client, experiment_id):
    return list(client.search_logged_models([experiment_id]))


@pytest.mark.slow
@pytest.mark.parametrize(
    "interrupt_once",
    [_run_exists, _logged_model_exists],
    ids=["run-created", "logged-model-created"],
)
def test_interrupted_cli_import_removes_what_it_made(
    src, dst, unique_name, tmp_path, interrupt_once
):
    """Ctrl-C right after the server made an object, perhaps before its id reached the client,
    still leaves nothing behind."""
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, metric_keys=4, steps=3000, classic_model=False)
    api.export_run(built.run_id, tmp_path / "big", tracking_uri=src.tracking_uri)
    name = unique_name("dst-")

    def under_way():  # the import has made the object the parameter names
        experiment = dst.client.get_experiment_by_name(name)
        return experiment and interrupt_once(dst.client, experiment.experiment_id)

    process = _start_migrate(
        "import-run",
        "--input-dir",
        tmp_path / "big",
        "--experiment-name",
        name,
        "--tracking-uri",
        dst.tracking_uri,
        "--workers",
        "1",
    )
    stderr = _interrupt_when(process, under_way, 0.01)

    assert stderr.strip().splitlines()[-1].startswith("Interrupted")
    assert "Traceback" not in stderr
    _assert_nothing_left(dst, name, built.run_id)


@pytest.mark.slow
def test_interrupted_cli_export_says_to_export_again_and_cannot_be_imported(
    src, dst, unique_name, tmp_path
):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, metric_keys=60, steps=50, classic_model=False)
    out = tmp_path / "unfinished"

    process = _start_migrate(
        "export-run",
        "--run-id",
        built.run_id,
        "--output-dir",
        out,
        "--tracking-uri",
        src.tracking_uri,
        "--workers",
        "1",
    )
    # The history is being written, one key at a time.
    stderr = _interrupt_when(process, (out / "metrics.jsonl").exists, 0.005)

    last = stderr.strip().splitlines()[-1]
    assert last.startswith("Interrupted") and "run the export again" in last
    assert "Traceback" not in stderr
    assert not (out / "run.json").exists()
    name = unique_name("dst-")
    _assert_one_line_error(_import_cli(out, dst, name), "run.json", "interrupted")
    assert dst.client.get_experiment_by_name(name) is None
