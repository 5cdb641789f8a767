"""The CLI: `mlflow migrate export-run` / `import-run` as a user runs them, on real servers.

Subprocesses go through MLflow's own ``mlflow`` executable (so the plugin hook is exercised);
option parsing is checked in process with Click's runner on the ``migrate`` group. Results are
asserted through the library, not through printed text, except for the summary lines themselves.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from mlflow_migrate_plugin import idmap
from mlflow_migrate_plugin.cli import migrate
from tests import builders
from tests.compare import artifact_tree
from tests.servers import mlflow_executable

MLFLOW = mlflow_executable()


def _mlflow(*args, tracking_uri: str | None = None, timeout: int = 180):
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    return subprocess.run(
        [MLFLOW, *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout
    )


def _invoke(*args):
    return CliRunner().invoke(migrate, [str(a) for a in args])


def _export_run(src, run_id: str, out, *options):
    """``export-run`` of ``run_id`` from ``src`` into ``out``, in process."""
    uri = src.tracking_uri
    return _invoke(
        "export-run", "--run-id", run_id, "--output-dir", out, "--tracking-uri", uri, *options
    )


def _import_run(dst, input_dir, name: str, *options):
    """``import-run`` of ``input_dir`` into experiment ``name`` on ``dst``, in process."""
    return _invoke(
        "import-run",
        "--input-dir",
        input_dir,
        "--experiment-name",
        name,
        "--tracking-uri",
        dst.tracking_uri,
        *options,
    )


def _imported_run(dst, input_dir, name: str, *options):
    """The one run an ``import-run`` with ``options`` made, once it has exited 0."""
    result = _import_run(dst, input_dir, name, *options)
    assert result.exit_code == 0, result.stderr
    return _only_run(dst, name)


@pytest.fixture
def built_run(src, unique_name):
    exp_id = builders.experiment(src, unique_name("src-"))
    return builders.make_run(src, exp_id, user="erin@example.com", metric_keys=2, steps=3)


@pytest.fixture
def exported(src, built_run, tmp_path) -> Path:
    out = tmp_path / "run"
    result = _export_run(src, built_run.run_id, out)
    assert result.exit_code == 0, result.stderr
    return out


def _only_run(dst, experiment_name: str):
    experiment = dst.client.get_experiment_by_name(experiment_name)
    [run] = dst.client.search_runs([experiment.experiment_id])
    return run


def test_mlflow_migrate_moves_a_run_between_servers(src, dst, built_run, unique_name, tmp_path):
    out = tmp_path / "exported"
    name = unique_name("dst-")

    exported = _mlflow(
        "migrate",
        "export-run",
        "--run-id",
        built_run.run_id,
        "--output-dir",
        out,
        tracking_uri=src.tracking_uri,
    )
    imported = _mlflow(
        "migrate",
        "import-run",
        "--input-dir",
        out,
        "--experiment-name",
        name,
        "--use-src-user-id",
        "--tracking-uri",
        dst.tracking_uri,
    )

    assert exported.returncode == 0, exported.stderr
    assert f"Exported run {built_run.run_id} to {out}" in exported.stdout
    assert "runs: 1 exported" in exported.stdout.splitlines()
    assert imported.returncode == 0, imported.stderr
    run = _only_run(dst, name)
    lines = imported.stdout.splitlines()
    assert f"Imported run {built_run.run_id} as {run.info.run_id} in experiment '{name}'" in lines
    assert "runs: 1 imported" in lines
    assert "logged models: 1 imported" in lines
    assert lines[-1].startswith("Done in ")
    assert "Traceback" not in imported.stderr
    assert run.info.user_id == "erin@example.com"
    assert run.data.tags[idmap.SOURCE_RUN_ID] == built_run.run_id


def test_second_import_through_the_cli_says_skipped(dst, built_run, exported, unique_name):
    name = unique_name("dst-")
    first = _import_run(dst, exported, name)

    # The destination comes from $MLFLOW_TRACKING_URI this time.
    second = _mlflow(
        "migrate",
        "import-run",
        "--input-dir",
        exported,
        "--experiment-name",
        name,
        tracking_uri=dst.tracking_uri,
    )

    assert first.exit_code == second.returncode == 0, second.stderr
    run = _only_run(dst, name)
    assert (
        f"Skipped (already imported) run {built_run.run_id} as {run.info.run_id} in "
        f"experiment '{name}'"
    ) in second.stdout.splitlines()
    assert "runs: 1 skipped" in second.stdout.splitlines()


def test_cli_error_is_one_line_exit_1_and_traceback_only_with_verbose(src, tmp_path):
    missing = "fedcba9876543210fedcba9876543210"
    args = ("migrate", "export-run", "--run-id", missing, "--output-dir", tmp_path / "out")

    plain = _mlflow(*args, tracking_uri=src.tracking_uri)
    verbose = _mlflow(*args, "--verbose", tracking_uri=src.tracking_uri)

    assert plain.returncode == verbose.returncode == 1
    assert plain.stderr.strip().splitlines() == [
        f"Error: run '{missing}' not found on {src.tracking_uri}"
    ]
    assert plain.stdout == ""
    assert "Traceback" in verbose.stderr
    assert verbose.stderr.strip().splitlines()[-1] == plain.stderr.strip()


def test_cli_usage_error_exits_2(tmp_path):
    result = _mlflow("migrate", "import-run", "--input-dir", tmp_path)

    assert result.returncode == 2
    assert "Missing option '--experiment-name'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "form,kept",
    [
        ((), False),
        (("--use-src-user-id",), True),
        (("--use-src-user-id", "True"), True),
        (("--use-src-user-id", "true"), True),
        (("--use-src-user-id", "False"), False),
    ],
)
def test_use_src_user_id_takes_both_boolean_forms(dst, exported, unique_name, form, kept):
    name = unique_name("dst-")

    run = _imported_run(dst, exported, name, *form)
    assert (run.info.user_id == "erin@example.com") is kept
    assert (idmap.PREFIX + "source.user_id" in run.data.tags) is not kept


@pytest.mark.parametrize(
    "form,fixed",
    [
        ((), True),
        (("--mlmodel-fix",), True),
        (("--mlmodel-fix", "False"), False),
    ],
)
def test_mlmodel_fix_takes_both_boolean_forms(dst, built_run, exported, unique_name, form, fixed):
    name = unique_name("dst-")

    run = _imported_run(dst, exported, name, *form)
    files = artifact_tree(dst.artifact_repo(run.info.artifact_uri), "classic_model")
    run_id = yaml.safe_load(files["classic_model/MLmodel"])["run_id"]
    assert run_id == (run.info.run_id if fixed else built_run.run_id)


@pytest.mark.parametrize("form", [("--import-source-tags",), ("--import-source-tags", "True")])
def test_import_source_tags_takes_both_boolean_forms(dst, built_run, exported, unique_name, form):
    name = unique_name("dst-")

    tags = _imported_run(dst, exported, name, *form).data.tags
    assert tags[idmap.PREFIX + "source.run.run_id"] == built_run.run_id


def test_fresh_option_imports_a_second_copy(dst, exported, unique_name):
    name = unique_name("dst-")
    _import_run(dst, exported, name)

    result = _import_run(dst, exported, name, "--fresh")

    assert result.exit_code == 0, result.stderr
    experiment = dst.client.get_experiment_by_name(name)
    assert len(dst.client.search_runs([experiment.experiment_id])) == 2


def test_notebook_options_are_accepted_and_warn_outside_databricks(
    src, dst, built_run, unique_name, tmp_path
):
    out = tmp_path / "nb"
    exported = _export_run(src, built_run.run_id, out, "--notebook-formats", "SOURCE,DBC")
    imported = _import_run(
        dst, out, unique_name("dst-"), "--dst-notebook-dir", "/Users/someone/notebooks"
    )

    assert exported.exit_code == 0 and imported.exit_code == 0, (exported.stderr, imported.stderr)
    assert "Warning:" in exported.stderr and "notebook" in exported.stderr
    assert "Warning:" in imported.stderr and "notebook" in imported.stderr


def test_verbose_traceback_never_shows_credentials():
    from mlflow_migrate_plugin.cli.group import MigrateGroup

    group = MigrateGroup(name="migrate")

    @group.command("fail")
    def fail():
        raise ConnectionError("API request to http://bob:s3cret-pw@127.0.0.1:9/api/2.0 failed")

    result = CliRunner().invoke(group, ["fail"], env={"MLFLOW_MIGRATE_VERBOSE": "true"})

    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert "s3cret-pw" not in result.stderr
    assert "http://127.0.0.1:9/api/2.0" in result.stderr
