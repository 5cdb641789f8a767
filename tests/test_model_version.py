"""export-model-version / import-model-version for both kinds of source, their options, and the
reference tool's export directories."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from mlflow_migrate_plugin import api, idmap
from mlflow_migrate_plugin.cli import migrate
from mlflow_migrate_plugin.errors import ExportDirError, MigrateError, NotFoundError
from mlflow_migrate_plugin.exportdir.model_dir import ModelDir, VersionDir
from mlflow_migrate_plugin.handlers.model_version import all_versions
from tests import model_builders
from tests.compare import artifact_tree
from tests.model_compare import identities, version_view

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MV3 = FIXTURES / "anchor-exports" / "mv-3"
SAMPLES = FIXTURES / "anchor-repo-samples"
UC_VERSION = SAMPLES / "databricks" / "single" / "versions" / "sklearn_wine"
# An import of one version that brings everything: the model made, its stage, aliases, metadata.
EVERY_OPTION = {"create_model": True, "import_stages_and_aliases": True, "import_metadata": True}


@pytest.fixture(scope="module")
def built(src_server, tmp_path_factory):
    from mlflow_migrate_plugin.endpoint import Endpoint

    src = Endpoint(src_server.url, src_server.url)
    tag = tmp_path_factory.mktemp("model-version").name
    src.client.set_experiment_tag(
        model_builders.builders.experiment(src, f"exp-{tag}"), "mlflow.note.content", "notes ✓"
    )
    return src, model_builders.registered_model(src, f"version.model-{tag}", f"exp-{tag}")


def _experiment_tags(endpoint, name: str) -> dict:
    return dict(endpoint.client.get_experiment_by_name(name).tags)


@pytest.mark.parametrize("version", ["3", "1"], ids=["logged-model", "run-artifact"])
def test_import_model_version_creates_model_and_version_with_stage_aliases_and_metadata(
    built, dst, unique_name, tmp_path, version
):
    src, model = built
    name, experiment = unique_name("cat.schema.version ✓ "), unique_name("exp-")

    api.export_model_version(model.name, version, tmp_path, tracking_uri=src.tracking_uri)
    api.import_model_version(
        tmp_path, experiment, model=name, tracking_uri=dst.tracking_uri, **EVERY_OPTION
    )

    assert [v.version for v in all_versions(dst.client, name)] == [version]
    assert version_view(dst, name, version) == version_view(src, model.name, version)
    assert identities(dst, name) == {version: model.versions[version]}
    src_model, dst_model = (
        e.client.get_registered_model(n) for e, n in ((src, model.name), (dst, name))
    )
    assert (dst_model.description, dst_model.tags) == (src_model.description, src_model.tags)
    src_experiment = src.client.get_experiment(model.experiment_id)
    assert _experiment_tags(dst, experiment) == dict(src_experiment.tags)


def test_import_model_version_without_options_leaves_stage_aliases_and_metadata(
    built, dst, unique_name, tmp_path
):
    src, model = built
    name, experiment = unique_name("model-"), unique_name("exp-")
    api.export_model_version(model.name, "3", tmp_path, tracking_uri=src.tracking_uri)

    api.import_model_version(
        tmp_path, experiment, model=name, create_model=True, tracking_uri=dst.tracking_uri
    )

    view = version_view(dst, name, "3")
    assert (view["stage"], view["aliases"]) == ("None", [])
    assert view["description"] == "v3 LoggedModel" and view["tags"] == {"style": "logged-model"}
    dst_model = dst.client.get_registered_model(name)
    assert (dst_model.description, dst_model.tags) == ("", {})
    assert _experiment_tags(dst, experiment) == {}


def test_import_model_version_into_an_existing_model_keeps_its_metadata(
    built, dst, unique_name, tmp_path
):
    src, model = built
    name = unique_name("model-")
    dst.client.create_registered_model(name, tags={"mine": "yes"}, description="mine")
    api.export_model_version(model.name, "4", tmp_path, tracking_uri=src.tracking_uri)

    api.import_model_version(
        tmp_path,
        unique_name("exp-"),
        model=name,
        import_metadata=True,
        import_stages_and_aliases=True,
        tracking_uri=dst.tracking_uri,
    )
    report = api.import_model_version(
        tmp_path, unique_name("exp-"), model=name, tracking_uri=dst.tracking_uri
    )

    dst_model = dst.client.get_registered_model(name)
    assert (dst_model.description, dst_model.tags) == ("mine", {"mine": "yes"})
    assert [v.version for v in all_versions(dst.client, name)] == ["4"]
    assert version_view(dst, name, "4") == version_view(src, model.name, "4")
    assert [o.status for o in report.find("model_version")] == ["skipped"]


def test_import_model_version_into_a_missing_model_needs_create_model(
    built, dst, unique_name, tmp_path
):
    src, model = built
    experiment = unique_name("exp-")
    api.export_model_version(model.name, "1", tmp_path, tracking_uri=src.tracking_uri)

    with pytest.raises(NotFoundError, match="--create-model"):
        api.import_model_version(
            tmp_path, experiment, model=unique_name("missing-"), tracking_uri=dst.tracking_uri
        )

    assert dst.client.get_experiment_by_name(experiment) is None


def test_export_model_version_with_version_model_writes_its_files(built, tmp_path):
    src, model = built

    api.export_model_version(
        model.name, "3", tmp_path, export_version_model=True, tracking_uri=src.tracking_uri
    )

    entry = VersionDir(tmp_path).entry
    uri = src.client.get_model_version_download_uri(model.name, "3")
    written = {
        f.path: (entry.version_model_root / f.path).read_bytes() for f in entry.version_model_files
    }
    assert written == artifact_tree(src.artifact_repo(uri))


def test_model_version_cli_takes_boolean_options_in_both_forms(built, dst, unique_name, tmp_path):
    src, model = built
    name = unique_name("cli-")
    runner = CliRunner()

    exported = runner.invoke(
        migrate,
        [
            "export-model-version",
            "--model",
            model.name,
            "--version",
            "3",
            "--output-dir",
            str(tmp_path),
            "--export-version-model",
            "--tracking-uri",
            src.tracking_uri,
        ],
    )
    imported = runner.invoke(
        migrate,
        [
            "import-model-version",
            "--model",
            name,
            "--experiment-name",
            unique_name("exp-"),
            "--input-dir",
            str(tmp_path),
            "--create-model",
            "True",
            "--import-stages-and-aliases",
            "--import-metadata",
            "false",
            "--tracking-uri",
            dst.tracking_uri,
        ],
    )

    assert exported.exit_code == 0, exported.output
    assert imported.exit_code == 0, imported.output
    assert VersionDir(tmp_path).entry.has_version_model
    assert version_view(dst, name, "3") == version_view(src, model.name, "3")
    assert dst.client.get_registered_model(name).description == ""


def test_databricks_only_options_warn_on_open_source_servers(built, dst, unique_name, tmp_path):
    src, model = built

    exported = api.export_model_version(
        model.name,
        "1",
        tmp_path,
        export_permissions=True,
        notebook_formats=["SOURCE"],
        tracking_uri=src.tracking_uri,
    )
    imported = api.import_model_version(
        tmp_path,
        unique_name("exp-"),
        model=unique_name("m-"),
        create_model=True,
        import_permissions=True,
        tracking_uri=dst.tracking_uri,
    )

    assert sum("Databricks" in w for w in exported.warnings) == 2
    assert sum("Databricks" in w for w in imported.warnings) == 1


# The reference tool's exports -----------------------------------------------------------------


def test_reference_model_version_export_imports_with_every_option(dst, unique_name, tmp_path):
    name, experiment = unique_name("wl-small-model-"), unique_name("wl-small-")
    shutil.copytree(MV3, tmp_path / "mv-3")

    report = api.import_model_version(
        tmp_path / "mv-3", experiment, model=name, tracking_uri=dst.tracking_uri, **EVERY_OPTION
    )

    client = dst.client
    [mv] = all_versions(client, name)
    mv = client.get_model_version(name, mv.version)
    assert (mv.version, mv.current_stage, mv.aliases) == ("3", "Staging", ["challenger"])
    assert mv.description == "v3 from child-1 run artifact (MLflow 2 style)"
    assert {k: v for k, v in mv.tags.items() if not k.startswith("mlflow_migrate.")} == {
        "style": "mlflow2-run-artifact"
    }
    model = client.get_registered_model(name)
    assert model.description == "Registered model description ✓"
    assert model.tags == {"owner": "alice", "domain": "tabular ✓"}
    tags = _experiment_tags(dst, experiment)
    assert tags["team"] == "ml-platform" and len(tags["long_exp_tag"]) == 10000
    run = client.get_run(mv.run_id)
    assert mv.source == f"{run.info.artifact_uri}/classic_model"
    assert run.info.run_name == "child-1"
    files = artifact_tree(dst.artifact_repo(run.info.artifact_uri))
    assert yaml.safe_load(files["classic_model/MLmodel"])["run_id"] == run.info.run_id
    assert any("45c1403e4d184f8095832e432d0eab2b" in w for w in report.warnings)  # parent


def test_reference_unity_catalog_version_export_imports_under_a_dotted_name(
    dst, unique_name, tmp_path
):
    name = unique_name("andre_catalog.ml_models2.sklearn_wine_best-")
    shutil.copytree(UC_VERSION, tmp_path / "v")

    api.import_model_version(
        tmp_path / "v",
        unique_name("exp-"),
        model=name,
        create_model=True,
        import_stages_and_aliases=True,
        tracking_uri=dst.tracking_uri,
    )

    mv = dst.client.get_model_version(name, "15")
    run = dst.client.get_run(mv.run_id)
    assert (mv.aliases, mv.description) == (["white_2"], "white_2")
    assert mv.source == f"{run.info.artifact_uri}/model"
    assert "model/model.pkl" in artifact_tree(dst.artifact_repo(run.info.artifact_uri))


@pytest.mark.parametrize(
    "sample",
    [
        "oss_mlflow/single/models/basic",
        "oss_mlflow/single/models/src_tags",
        "databricks/single/models/basic",
        "databricks/single/models/src_tags",
        "databricks/single/models/deleted_runs",
    ],
)
def test_reference_model_json_files_read_into_one_shape(sample):
    model_dir = ModelDir(SAMPLES / sample)

    assert model_dir.model["name"] in ("sklearn_wine", "Sklearn_Wine")
    for entry in model_dir.versions:
        assert entry.record["current_stage"] in ("None", "Staging", "Production", "Archived")
        assert entry.record["source"] and entry.record["run_id"]
        assert entry.run_path is None  # the samples hold model.json alone
    if sample == "oss_mlflow/single/models/basic":
        assert model_dir.model["aliases"] == {
            "about-ready": "2",
            "good-to-go": "1",
            "just-in-case": "3",
        }
        assert [(e.version, e.record["aliases"]) for e in model_dir.versions] == [
            ("1", ["good-to-go"]),
            ("2", ["about-ready"]),
            ("3", ["just-in-case"]),
        ]
        assert model_dir.model["tags"] == {"info": "Skearn Wine Quality model"}


def test_reference_model_json_without_its_runs_imports_nothing(dst, unique_name):
    name = unique_name("sklearn_wine-")

    with pytest.raises(ExportDirError, match="none of the 3 versions can be imported"):
        api.import_model(
            SAMPLES / "oss_mlflow/single/models/basic",
            unique_name("exp-"),
            model=name,
            tracking_uri=dst.tracking_uri,
        )

    assert dst.client.search_registered_models(f"name = '{name}'") == []


def test_reference_model_json_with_its_run_folder_imports(dst, unique_name, tmp_path):
    """An export-model directory as mlflow-export-import lays it out (model.json with a
    ``versions`` list, the run in ``<run_id>/``), assembled from the mv-3 export's own files."""
    model = json.loads((MV3 / "model.json").read_text())
    version = json.loads((MV3 / "version.json").read_text())["mlflow"]["model_version"]
    model["mlflow"]["registered_model"]["versions"] = [version]
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.json").write_text(json.dumps(model))
    shutil.copytree(MV3 / "run", tmp_path / "model" / version["run_id"])
    name = unique_name("wl-small-model-")

    report = api.import_model(
        tmp_path / "model", unique_name("exp-"), model=name, tracking_uri=dst.tracking_uri
    )

    mv = dst.client.get_model_version(name, "3")
    run = dst.client.get_run(mv.run_id)
    assert (mv.current_stage, mv.aliases) == ("Staging", ["challenger"])
    assert mv.source == f"{run.info.artifact_uri}/classic_model"
    assert run.data.tags[idmap.SOURCE_RUN_ID] == version["run_id"]
    assert dst.client.get_registered_model(name).description == "Registered model description ✓"
    assert any("alias 'champion' points at version 1" in w for w in report.warnings)


def test_version_whose_source_cannot_be_followed_leaves_nothing_behind(dst, unique_name, tmp_path):
    """A source outside the version's run (and no model files in the export) cannot be
    pointed at the imported run: the import fails and removes the model and run it made."""
    shutil.copytree(MV3, tmp_path / "mv-3")
    path = tmp_path / "mv-3" / "version.json"
    document = json.loads(path.read_text())
    document["mlflow"]["model_version"]["source"] = "s3://elsewhere/some/model"
    path.write_text(json.dumps(document))
    name, experiment = unique_name("model-"), unique_name("exp-")

    with pytest.raises(MigrateError, match="s3://elsewhere/some/model"):
        api.import_model_version(
            tmp_path / "mv-3",
            experiment,
            model=name,
            create_model=True,
            tracking_uri=dst.tracking_uri,
        )

    assert dst.client.search_registered_models(f"name = '{name}'") == []
    experiment_id = dst.client.get_experiment_by_name(experiment).experiment_id
    assert dst.client.search_runs([experiment_id]) == []
