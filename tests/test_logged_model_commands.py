"""export-logged-model and import-logged-model: a LoggedModel on its own keeps every field and
file (its MLmodel following the new id), links to its run when that run was imported first,
adds nothing when imported again, and damaged input creates nothing."""

from __future__ import annotations

import json

from click.testing import CliRunner

from mlflow_migrate_plugin import api, idmap
from mlflow_migrate_plugin.cli import migrate
from mlflow_migrate_plugin.handlers.logged_model import SOURCE_MODEL_RUN
from tests import builders
from tests import experiment_builders as eb


def _models(endpoint, experiment_name: str) -> list:
    experiment = endpoint.client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return []
    return list(endpoint.client.search_logged_models([experiment.experiment_id]))


def test_round_trip_keeps_every_field_and_file(src, dst, unique_name, tmp_path):
    source_id = eb.experiment_model(src, builders.experiment(src, unique_name("exp-")))
    experiment = unique_name("imported-")

    api.export_logged_model(source_id, tmp_path / "m", tracking_uri=src.tracking_uri)
    report = api.import_logged_model(tmp_path / "m", experiment, tracking_uri=dst.tracking_uri)

    [model] = _models(dst, experiment)
    assert [o.destination_id for o in report.find("logged_model", "imported")] == [model.model_id]
    # The source's MLmodel, its model_id mapped to the new id, is what the destination holds.
    assert eb.comparable_model(dst, model.model_id, {}, {}) == eb.comparable_model(
        src, source_id, {}, {source_id: model.model_id}
    )
    assert model.tags[idmap.SOURCE_MODEL_ID] == source_id


def test_second_import_adds_nothing(src, dst, unique_name, tmp_path):
    source_id = eb.experiment_model(src, builders.experiment(src, unique_name("exp-")))
    experiment = unique_name("imported-")
    api.export_logged_model(source_id, tmp_path / "m", tracking_uri=src.tracking_uri)
    api.import_logged_model(tmp_path / "m", experiment, tracking_uri=dst.tracking_uri)

    report = api.import_logged_model(tmp_path / "m", experiment, tracking_uri=dst.tracking_uri)

    assert len(_models(dst, experiment)) == 1
    assert [o.status for o in report.find("logged_model")] == ["skipped"]


def test_model_follows_its_run_when_the_run_was_imported_first(src, dst, unique_name, tmp_path):
    exp_id = builders.experiment(src, unique_name("exp-"))
    built = builders.make_run(src, exp_id, name="trainer")
    [source_id] = built.model_ids
    experiment = unique_name("imported-")
    api.export_run(built.run_id, tmp_path / "r", tracking_uri=src.tracking_uri)
    api.import_run(tmp_path / "r", experiment, tracking_uri=dst.tracking_uri)
    api.export_logged_model(source_id, tmp_path / "m", tracking_uri=src.tracking_uri)

    report = api.import_logged_model(tmp_path / "m", experiment, tracking_uri=dst.tracking_uri)

    # The run's import made the model already: found by its source id, not made twice.
    [model] = _models(dst, experiment)
    assert [o.status for o in report.find("logged_model")] == ["skipped"]
    assert model.source_run_id == eb.run_id_map(dst, model.experiment_id)[built.run_id]


def test_model_whose_run_is_not_there_keeps_the_run_id_in_a_tag(src, dst, unique_name, tmp_path):
    built = builders.make_run(src, builders.experiment(src, unique_name("exp-")))
    [source_id] = built.model_ids
    experiment = unique_name("imported-")
    api.export_logged_model(source_id, tmp_path / "m", tracking_uri=src.tracking_uri)

    report = api.import_logged_model(tmp_path / "m", experiment, tracking_uri=dst.tracking_uri)

    [model] = _models(dst, experiment)
    assert not model.source_run_id  # MLflow shows no run as ''
    assert model.tags[SOURCE_MODEL_RUN] == built.run_id
    assert any(built.run_id in w and "made without a run" in w for w in report.warnings)
    assert any("metric 'accuracy'" in w and "not linked" in w for w in report.warnings)
    view = eb.comparable_model(dst, model.model_id, {}, {})
    expected = eb.comparable_model(src, source_id, {}, {source_id: model.model_id})
    expected["tags"][SOURCE_MODEL_RUN] = built.run_id
    for moved in ("source_run_id", "metric_runs", "metrics", "artifacts"):
        view.pop(moved), expected.pop(moved)  # the run, its metrics and its MLmodel run id
    assert view == expected


def test_a_damaged_file_is_one_line_and_creates_nothing(src, dst, unique_name, tmp_path):
    source_id = eb.experiment_model(src, builders.experiment(src, unique_name("exp-")))
    experiment = unique_name("imported-")
    api.export_logged_model(source_id, tmp_path / "m", tracking_uri=src.tracking_uri)
    (tmp_path / "m" / "artifacts" / "weights.bin").write_bytes(b"tampered")

    result = CliRunner().invoke(
        migrate,
        ["import-logged-model", "--input-dir", str(tmp_path / "m"), "--experiment-name",
         experiment, "--tracking-uri", dst.tracking_uri],
    )  # fmt: skip

    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: ") and "weights.bin" in line
    assert dst.client.get_experiment_by_name(experiment) is None


def test_a_bad_record_field_is_named(src, dst, unique_name, tmp_path):
    source_id = eb.experiment_model(src, builders.experiment(src, unique_name("exp-")))
    api.export_logged_model(source_id, tmp_path / "m", tracking_uri=src.tracking_uri)
    path = tmp_path / "m" / "logged_model.json"
    document = json.loads(path.read_text())
    document["mlflow"]["status"] = "HALF_DONE"
    path.write_text(json.dumps(document))

    result = CliRunner().invoke(
        migrate,
        ["import-logged-model", "--input-dir", str(tmp_path / "m"), "--experiment-name",
         unique_name("imported-"), "--tracking-uri", dst.tracking_uri],
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {path}: mlflow.status: expected one of ")


def test_cli_round_trip_without_mlmodel_fix(src, dst, unique_name, tmp_path):
    source_id = eb.experiment_model(src, builders.experiment(src, unique_name("exp-")))
    experiment = unique_name("imported-")
    runner = CliRunner()
    exported = runner.invoke(
        migrate,
        ["export-logged-model", "--model-id", source_id, "--output-dir", str(tmp_path / "m"),
         "--tracking-uri", src.tracking_uri],
    )  # fmt: skip
    imported = runner.invoke(
        migrate,
        ["import-logged-model", "--input-dir", str(tmp_path / "m"), "--experiment-name",
         experiment, "--mlmodel-fix", "False", "--tracking-uri", dst.tracking_uri],
    )  # fmt: skip

    assert exported.exit_code == 0, exported.output
    assert imported.exit_code == 0, imported.output
    [model] = _models(dst, experiment)
    files = eb.comparable_model(dst, model.model_id, {}, {})["artifacts"]
    assert files == eb.comparable_model(src, source_id, {}, {})["artifacts"]  # untouched


def test_unknown_model_id_is_one_line(src, tmp_path):
    result = CliRunner().invoke(
        migrate,
        ["export-logged-model", "--model-id", "m-0123456789abcdef0123456789abcdef",
         "--output-dir", str(tmp_path / "m"), "--tracking-uri", src.tracking_uri],
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: logged model m-0123456789abcdef0123456789abcdef not found on {src.display}"
    ]
