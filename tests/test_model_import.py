"""import-model: reruns add nothing, --delete-model replaces, a failure leaves nothing behind,
source tags record what cannot be set, and the CLI imports version by version."""

from __future__ import annotations

import json
import shutil
import threading

import pytest
from click.testing import CliRunner
from mlflow.entities import ViewType

from mlflow_migrate_plugin import api, idmap
from mlflow_migrate_plugin.cli import migrate
from mlflow_migrate_plugin.handlers.model_version import SOURCE_VERSION_PREFIX, all_versions
from mlflow_migrate_plugin.handlers.registered_model import SOURCE_MODEL_PREFIX
from mlflow_migrate_plugin.report import Progress
from tests import model_builders
from tests.model_compare import model_view


@pytest.fixture(scope="module")
def exported(src_server, tmp_path_factory):
    """One source model (see ``model_builders.registered_model``) and its export."""
    from mlflow_migrate_plugin.endpoint import Endpoint

    src = Endpoint(src_server.url, src_server.url)
    root = tmp_path_factory.mktemp("model-import")
    built = model_builders.registered_model(src, f"import.model-{root.name}", f"exp-{root.name}")
    api.export_model(built.name, root / "export", tracking_uri=src.tracking_uri)
    return src, built, root / "export"


def _active_runs(endpoint, experiment_name: str) -> list:
    experiment = endpoint.client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return []
    return endpoint.client.search_runs(
        [experiment.experiment_id], run_view_type=ViewType.ACTIVE_ONLY
    )


def test_second_import_adds_no_version_run_or_model(exported, dst, unique_name):
    src, built, export_dir = exported
    name, experiment = unique_name("model-"), unique_name("exp-")
    api.import_model(export_dir, experiment, model=name, tracking_uri=dst.tracking_uri)
    runs_before = {r.info.run_id for r in _active_runs(dst, experiment)}

    report = api.import_model(export_dir, experiment, model=name, tracking_uri=dst.tracking_uri)

    assert [v.version for v in all_versions(dst.client, name)] == ["1", "3", "4", "5"]
    assert {r.info.run_id for r in _active_runs(dst, experiment)} == runs_before
    assert report.find("model_version", "imported") == []
    assert len(report.find("model_version", "skipped")) == 4
    assert report.find("run", "imported") == [] and report.find("logged_model") == []


def test_delete_model_replaces_the_destination_model(exported, dst, unique_name):
    src, built, export_dir = exported
    name, experiment = unique_name("model-"), unique_name("exp-")
    api.import_model(export_dir, experiment, model=name, tracking_uri=dst.tracking_uri)
    client = dst.client
    run_id = client.get_model_version(name, "1").run_id
    client.update_registered_model(name, description="changed on the destination")
    client.create_model_version(name, f"runs:/{run_id}/classic_model", run_id)  # version 6
    client.set_registered_model_alias(name, "champion", "6")

    report = api.import_model(
        export_dir, experiment, model=name, delete_model=True, tracking_uri=dst.tracking_uri
    )

    assert report.find("registered_model", "deleted")
    assert model_view(dst, name, runs=False) == model_view(src, built.name, runs=False)


def _with_bad_alias(export_dir, tmp_path):
    """A copy of the export whose version 4 has an alias MLflow refuses ('latest' is
    reserved): the import fails after the runs and versions 1 and 3 are made."""
    import shutil

    copy = tmp_path / "bad-export"
    shutil.copytree(export_dir, copy)
    path = copy / "model.json"
    document = json.loads(path.read_text())
    for version in document["mlflow"]["registered_model"]["versions"]:
        if version["version"] == "4":
            version["aliases"] = ["latest"]
    path.write_text(json.dumps(document))
    return copy


def test_failed_import_leaves_no_model_and_no_run(exported, dst, unique_name, tmp_path):
    src, built, export_dir = exported
    name, experiment = unique_name("model-"), unique_name("exp-")
    bad = _with_bad_alias(export_dir, tmp_path)

    with pytest.raises(Exception, match="latest"):
        api.import_model(bad, experiment, model=name, tracking_uri=dst.tracking_uri)

    assert dst.client.search_registered_models(f"name = '{name}'") == []
    assert _active_runs(dst, experiment) == []
    experiment_id = dst.client.get_experiment_by_name(experiment).experiment_id
    assert [m for m in dst.client.search_logged_models([experiment_id])] == []
    report = api.import_model(export_dir, experiment, model=name, tracking_uri=dst.tracking_uri)
    assert len(report.find("model_version", "imported")) == 4


def test_run_failing_after_versions_were_made_leaves_nothing(exported, dst, unique_name, tmp_path):
    """Versions are created while later versions' runs are still imported: the run of version
    5 (a nested child, imported last) fails midway, and what was made before is removed."""
    src, built, export_dir = exported
    name, experiment = unique_name("model-"), unique_name("exp-")
    bad = tmp_path / "bad"
    shutil.copytree(export_dir, bad)
    child_run = (
        bad / json.loads((bad / "model.json").read_text())["info"]["versions"]["5"]["run_dir"]
    )
    _damage_history_midway(child_run)

    progress = _HoldRunUntilVersion(built.run_ids[2], "4")

    with pytest.raises(Exception, match="refused"):
        api.import_model(
            bad, experiment, model=name, tracking_uri=dst.tracking_uri, progress=progress
        )

    made = [
        n.split()[1] for n in progress.notes if n.strip().startswith("version ") and " -> " in n
    ]
    assert made == ["1", "3", "4"]  # made while the child's run was on its way, then removed
    assert dst.client.search_registered_models(f"name = '{name}'") == []
    assert _active_runs(dst, experiment) == []
    experiment_id = dst.client.get_experiment_by_name(experiment).experiment_id
    assert [m for m in dst.client.search_logged_models([experiment_id])] == []


class _HoldRunUntilVersion(Progress):
    """Holds the import of one run (at its metric phase, after the run was created) until the
    note of a version appears, so that versions are made before that run fails."""

    def __init__(self, source_run_id: str, version: str):
        self.run, self.version = source_run_id, version
        self.notes: list[str] = []
        self.seen = threading.Event()

    def note(self, message: str) -> None:
        self.notes.append(message)
        if message.strip().startswith(f"version {self.version} ->"):
            self.seen.set()

    def phase(self, label: str, total, unit: str = ""):
        if label.startswith(f"run {self.run}: metric"):
            assert self.seen.wait(60), self.notes
        return super().phase(label, total, unit)


def _damage_history_midway(run_dir):
    """Give the last metric point a key the server refuses (a path that is not normalized) and
    drop the history's recorded size and hash: the point is a well-formed record, so the damage
    shows only when the server refuses it, while the run is being imported."""
    history = run_dir / "metrics.jsonl"
    lines = history.read_text().splitlines(keepends=True)
    point = json.loads(lines[-1])
    point["key"] = "metric/../refused"
    lines[-1] = json.dumps(point) + "\n"
    history.write_text("".join(lines))
    document = json.loads((run_dir / "run.json").read_text())
    del document["info"]["metrics"]["sha256"]
    del document["info"]["metrics"]["bytes"]
    (run_dir / "run.json").write_text(json.dumps(document))


def test_failed_import_into_an_existing_model_keeps_it_as_it_was(
    exported, dst, unique_name, tmp_path
):
    src, built, export_dir = exported
    name, experiment = unique_name("model-"), unique_name("exp-")
    dst.client.create_registered_model(name, tags={"mine": "yes"}, description="my model")

    with pytest.raises(Exception, match="latest"):
        api.import_model(
            _with_bad_alias(export_dir, tmp_path),
            experiment,
            model=name,
            tracking_uri=dst.tracking_uri,
        )

    model = dst.client.get_registered_model(name)
    assert (model.description, model.tags, model.aliases) == ("my model", {"mine": "yes"}, {})
    assert all_versions(dst.client, name) == []
    assert _active_runs(dst, experiment) == []


def test_import_source_tags_record_what_cannot_be_set(exported, dst, unique_name):
    src, built, export_dir = exported
    name = unique_name("model-")

    api.import_model(
        export_dir,
        unique_name("exp-"),
        model=name,
        import_source_tags=True,
        await_creation_for=30,
        tracking_uri=dst.tracking_uri,
    )

    source_model = src.client.get_registered_model(built.name)
    model_tags = dst.client.get_registered_model(name).tags
    assert model_tags[SOURCE_MODEL_PREFIX + "name"] == built.name
    assert model_tags[SOURCE_MODEL_PREFIX + "creation_timestamp"] == str(
        source_model.creation_timestamp
    )
    for version in ("1", "3"):
        source = src.client.get_model_version(built.name, version)
        tags = dst.client.get_model_version(name, version).tags
        assert tags[SOURCE_VERSION_PREFIX + "creation_timestamp"] == str(source.creation_timestamp)
        assert tags[SOURCE_VERSION_PREFIX + "run_id"] == source.run_id
        assert tags[SOURCE_VERSION_PREFIX + "source"] == source.source
        assert tags[SOURCE_VERSION_PREFIX + "status"] == "READY"
        assert tags[idmap.SOURCE_MODEL_VERSION] == f"{built.name}/{version}"


def test_import_model_cli_imports_every_version(exported, dst, unique_name):
    src, built, export_dir = exported
    name = unique_name("cli model ")

    result = CliRunner().invoke(
        migrate,
        [
            "import-model",
            "--input-dir",
            str(export_dir),
            "--model",
            name,
            "--experiment-name",
            unique_name("exp-"),
            "--tracking-uri",
            dst.tracking_uri,
            "--await-creation-for",
            "60",
        ],
    )

    assert result.exit_code == 0, result.output
    assert model_view(dst, name, runs=False) == model_view(src, built.name, runs=False)


def test_export_model_cli_refuses_stages_with_versions(src, tmp_path):
    result = CliRunner().invoke(
        migrate,
        [
            "export-model",
            "--model",
            "any",
            "--output-dir",
            str(tmp_path / "out"),
            "--stages",
            "Production",
            "--versions",
            "1",
            "--tracking-uri",
            src.tracking_uri,
        ],
    )

    assert result.exit_code == 2
    assert "mutually exclusive" in result.output
    assert not (tmp_path / "out").exists()
