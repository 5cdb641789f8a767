"""export-run then import-run between two real servers reproduces the run field by field.

Fields allowed to differ between a source run and its copy: the run id and the ids of related
objects (the parent run, LoggedModels: compared through the mapping the import made), the
import's marker tags (``tests.compare.IMPORT_TAGS``), and what each test names on purpose (the
user when the source user is not kept, the tags ``--import-source-tags`` adds).
"""

from __future__ import annotations

import getpass
import json

import pytest
import yaml
from mlflow.entities import Metric, Param
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_USER

from mlflow_migrate_plugin import api, idmap
from mlflow_migrate_plugin.handlers.run import SOURCE_EXPORT_PREFIX, SOURCE_INFO_PREFIX, SOURCE_USER
from tests import builders
from tests.compare import artifact_tree, logged_model_view, run_view


def _export(src, run_id, where) -> None:
    api.export_run(run_id, where, tracking_uri=src.tracking_uri)


def _import(dst, where, experiment_name, **options) -> str:
    report = api.import_run(where, experiment_name, tracking_uri=dst.tracking_uri, **options)
    [outcome] = report.find("run", "imported")
    return outcome.destination_id


def _roundtrip(src, dst, run_id, tmp_path, experiment_name, **options) -> str:
    _export(src, run_id, tmp_path / run_id)
    return _import(dst, tmp_path / run_id, experiment_name, **options)


def _ids_mapped(content: bytes, id_map: dict[str, str]) -> dict:
    """A source MLmodel as the destination must show it: ids replaced, every other key kept."""
    doc = yaml.safe_load(content)
    for key in ("run_id", "model_id"):
        if doc.get(key) in id_map:
            doc[key] = id_map[doc[key]]
    return doc


def _expected_artifacts(artifacts: dict[str, bytes], id_map: dict[str, str]) -> dict:
    return {
        path: _ids_mapped(content, id_map) if path.endswith("MLmodel") else content
        for path, content in artifacts.items()
    }


def _parsed_mlmodels(artifacts: dict[str, bytes]) -> dict:
    return {
        path: yaml.safe_load(content) if path.endswith("MLmodel") else content
        for path, content in artifacts.items()
    }


def _model_map(src, src_run_id, dst, dst_run_id) -> dict[str, str]:
    """Source LoggedModel id -> destination id, through the model outputs (ordered by step)."""
    src_out = src.client.get_run(src_run_id).outputs.model_outputs
    dst_out = dst.client.get_run(dst_run_id).outputs.model_outputs
    return {s.model_id: d.model_id for s, d in zip(src_out, dst_out, strict=True)}


def _assert_same_run(
    src, src_run_id, dst, dst_run_id, *, allowed_tags=frozenset(), expected_user=None, parent=None
):
    """Every observable field equal, except the ids and the fields a test names."""
    id_map = {src_run_id: dst_run_id, **_model_map(src, src_run_id, dst, dst_run_id)}
    expected = run_view(src, src_run_id)
    actual = run_view(dst, dst_run_id)
    expected["artifacts"] = _expected_artifacts(expected["artifacts"], id_map)
    actual["artifacts"] = _parsed_mlmodels(actual["artifacts"])
    if expected_user is not None:
        expected["info"]["user_id"] = expected_user
        expected["tags"][MLFLOW_USER] = expected_user
    if parent is not None:
        expected["tags"][MLFLOW_PARENT_RUN_ID] = parent
    for key in allowed_tags:
        actual["tags"].pop(key, None)
    assert actual == expected
    return id_map


# Every field ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["FINISHED", "FAILED"])
def test_import_run_reproduces_every_field(src, dst, unique_name, tmp_path, status):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, status=status)

    dst_run_id = _roundtrip(
        src, dst, built.run_id, tmp_path, unique_name("dst-"), use_src_user_id=True
    )

    id_map = _assert_same_run(src, built.run_id, dst, dst_run_id)
    [src_model] = built.model_ids
    dst_model = id_map[src_model]
    assert dst_model != src_model and dst_model.startswith("m-")
    expected = logged_model_view(src, src_model)
    actual = logged_model_view(dst, dst_model)
    expected["artifacts"] = _expected_artifacts(expected["artifacts"], id_map)
    actual["artifacts"] = _parsed_mlmodels(actual["artifacts"])
    assert actual == expected
    assert dst.client.get_logged_model(dst_model).source_run_id == dst_run_id


def test_import_run_keeps_killed_status_and_times(src, dst, unique_name, tmp_path):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(
        src,
        exp_id,
        status="KILLED",
        start_time=1_600_000_000_123,
        end_time=1_600_000_999_456,
        logged_model=False,
        classic_model=False,
    )

    dst_run_id = _roundtrip(
        src, dst, built.run_id, tmp_path, unique_name("dst-"), use_src_user_id=True
    )

    info = dst.client.get_run(dst_run_id).info
    assert (info.status, info.start_time, info.end_time) == (
        "KILLED",
        1_600_000_000_123,
        1_600_000_999_456,
    )
    _assert_same_run(src, built.run_id, dst, dst_run_id)


def test_import_run_gives_the_run_to_the_importing_user_unless_asked(
    src, dst, unique_name, tmp_path
):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, user="carol@example.com", logged_model=False)

    dst_run_id = _roundtrip(src, dst, built.run_id, tmp_path, unique_name("dst-"))

    me = getpass.getuser()
    run = dst.client.get_run(dst_run_id)
    assert run.info.user_id == me
    assert run.data.tags[SOURCE_USER] == "carol@example.com"
    _assert_same_run(
        src, built.run_id, dst, dst_run_id, expected_user=me, allowed_tags={SOURCE_USER}
    )


def test_import_run_with_src_user_id_keeps_the_source_user(src, dst, unique_name, tmp_path):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(
        src, exp_id, user="dave@example.com", logged_model=False, classic_model=False
    )

    dst_run_id = _roundtrip(
        src, dst, built.run_id, tmp_path, unique_name("dst-"), use_src_user_id=True
    )

    run = dst.client.get_run(dst_run_id)
    assert run.info.user_id == "dave@example.com"
    assert run.data.tags[MLFLOW_USER] == "dave@example.com"
    assert SOURCE_USER not in run.data.tags


# Metric history ---------------------------------------------------------------------------------


def test_import_run_keeps_full_metric_history_beyond_one_batch(src, dst, unique_name, tmp_path):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(
        src, exp_id, metric_keys=3, steps=40, logged_model=False, classic_model=False
    )
    # 2500 points of one key, with irregular steps and timestamps (and repeated steps), so
    # that the import needs several log_batch calls for a single key.
    long_history = [
        Metric("loss", (i % 97) / 7.0, 1_700_000_000_000 + 37 * i + (i % 5), i // 2 if i % 3 else i)
        for i in range(2500)
    ]
    src.client.log_batch(built.run_id, metrics=long_history)

    dst_run_id = _roundtrip(
        src, dst, built.run_id, tmp_path, unique_name("dst-"), use_src_user_id=True
    )

    history = dst.client.get_metric_history(dst_run_id, "loss")
    assert sorted((m.step, m.timestamp, m.value) for m in history) == sorted(
        (m.step, m.timestamp, m.value) for m in long_history
    )
    assert set(dst.client.get_run(dst_run_id).data.metrics) == {
        "loss",
        "metric_0",
        "metric_1",
        "metric_2",
    }
    _assert_same_run(src, built.run_id, dst, dst_run_id)


def test_export_run_writes_every_metric_point(src, unique_name, tmp_path):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(
        src, exp_id, metric_keys=4, steps=30, logged_model=False, classic_model=False
    )

    _export(src, built.run_id, tmp_path / "run")

    document = json.loads((tmp_path / "run" / "run.json").read_text())
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert document["info"]["metrics"]["points"] == len(lines) == 4 * 30
    points = sorted(
        (p["key"], p["step"], p["timestamp"], p["value"]) for p in map(json.loads, lines)
    )
    expected = sorted(
        (key, m.step, m.timestamp, m.value)
        for key in (f"metric_{k}" for k in range(4))
        for m in src.client.get_metric_history(built.run_id, key)
    )
    assert points == expected


def test_export_into_a_used_directory_replaces_the_previous_export(src, dst, unique_name, tmp_path):
    exp_id = builders.experiment(src, unique_name("src-"))
    first = builders.make_run(src, exp_id, name="first")
    second = builders.make_run(
        src, exp_id, name="second", logged_model=False, classic_model=False, metric_keys=1, steps=2
    )
    out = tmp_path / "reused"
    _export(src, first.run_id, out)

    _export(src, second.run_id, out)
    dst_run_id = _import(dst, out, unique_name("dst-"), use_src_user_id=True)

    assert not (out / "logged_models").exists()
    assert not (out / "artifacts" / "classic_model").exists()
    _assert_same_run(src, second.run_id, dst, dst_run_id)


# Models -----------------------------------------------------------------------------------------


def test_import_run_points_model_outputs_at_the_new_logged_model(src, dst, unique_name, tmp_path):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, classic_model=False)

    dst_run_id = _roundtrip(src, dst, built.run_id, tmp_path, unique_name("dst-"))

    [output] = dst.client.get_run(dst_run_id).outputs.model_outputs
    [src_model] = built.model_ids
    assert output.model_id != src_model
    assert output.step == 3
    model = dst.client.get_logged_model(output.model_id)
    assert model.source_run_id == dst_run_id
    assert model.tags[idmap.SOURCE_MODEL_ID] == src_model
    assert str(model.status) == str(src.client.get_logged_model(src_model).status)
    [metric] = model.metrics
    assert (
        metric.key,
        metric.value,
        metric.step,
        metric.run_id,
        metric.dataset_name,
        metric.dataset_digest,
    ) == ("accuracy", 0.93, 3, dst_run_id, "train-data", "a1b2c3d4")


def test_import_run_rewrites_mlmodel_files_to_the_new_ids(src, dst, unique_name, tmp_path):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id)

    dst_run_id = _roundtrip(src, dst, built.run_id, tmp_path, unique_name("dst-"))

    run_files = artifact_tree(dst.artifact_repo(dst.client.get_run(dst_run_id).info.artifact_uri))
    classic = yaml.safe_load(run_files["classic_model/MLmodel"])
    assert classic["run_id"] == dst_run_id
    assert classic["model_id"] is None
    [output] = dst.client.get_run(dst_run_id).outputs.model_outputs
    model = dst.client.get_logged_model(output.model_id)
    logged = yaml.safe_load(artifact_tree(dst.artifact_repo(model.artifact_location))["MLmodel"])
    assert (logged["run_id"], logged["model_id"]) == (dst_run_id, model.model_id)
    src_logged = yaml.safe_load(
        artifact_tree(
            src.artifact_repo(src.client.get_logged_model(built.model_ids[0]).artifact_location)
        )["MLmodel"]
    )
    assert {k: v for k, v in logged.items() if k not in ("run_id", "model_id")} == {
        k: v for k, v in src_logged.items() if k not in ("run_id", "model_id")
    }


def test_import_run_with_mlmodel_fix_false_leaves_mlmodel_files_unchanged(
    src, dst, unique_name, tmp_path
):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id)

    dst_run_id = _roundtrip(
        src, dst, built.run_id, tmp_path, unique_name("dst-"), mlmodel_fix=False
    )

    src_files = artifact_tree(src.artifact_repo(src.client.get_run(built.run_id).info.artifact_uri))
    dst_files = artifact_tree(dst.artifact_repo(dst.client.get_run(dst_run_id).info.artifact_uri))
    assert dst_files == src_files
    [output] = dst.client.get_run(dst_run_id).outputs.model_outputs
    src_model = src.client.get_logged_model(built.model_ids[0])
    dst_model = dst.client.get_logged_model(output.model_id)
    assert artifact_tree(dst.artifact_repo(dst_model.artifact_location)) == artifact_tree(
        src.artifact_repo(src_model.artifact_location)
    )


# Nested runs ------------------------------------------------------------------------------------


def test_child_imported_after_its_parent_points_to_the_imported_parent(
    src, dst, unique_name, tmp_path
):
    exp_id = builders.experiment(src, unique_name("src-"))
    parent, child = builders.parent_and_child(src, exp_id)
    dst_exp = unique_name("dst-")

    dst_parent = _roundtrip(src, dst, parent.run_id, tmp_path, dst_exp, use_src_user_id=True)
    _export(src, child.run_id, tmp_path / "child")
    report = api.import_run(
        tmp_path / "child", dst_exp, tracking_uri=dst.tracking_uri, use_src_user_id=True
    )

    [outcome] = report.find("run", "imported")
    tags = dst.client.get_run(outcome.destination_id).data.tags
    assert tags[MLFLOW_PARENT_RUN_ID] == dst_parent
    assert idmap.PENDING_PARENT not in tags
    assert report.warnings == []
    _assert_same_run(src, child.run_id, dst, outcome.destination_id, parent=dst_parent)


def test_child_imported_before_its_parent_is_linked_when_the_parent_arrives(
    src, dst, unique_name, tmp_path
):
    exp_id = builders.experiment(src, unique_name("src-"))
    parent, child = builders.parent_and_child(src, exp_id)
    dst_exp = unique_name("dst-")
    _export(src, child.run_id, tmp_path / "child")
    _export(src, parent.run_id, tmp_path / "parent")

    child_report = api.import_run(
        tmp_path / "child", dst_exp, tracking_uri=dst.tracking_uri, use_src_user_id=True
    )
    [outcome] = child_report.find("run", "imported")
    waiting = dst.client.get_run(outcome.destination_id).data.tags
    dst_parent = _import(dst, tmp_path / "parent", dst_exp, use_src_user_id=True)

    assert MLFLOW_PARENT_RUN_ID not in waiting
    assert waiting[idmap.PENDING_PARENT] == parent.run_id
    [warning] = child_report.warnings
    assert parent.run_id in warning and idmap.PENDING_PARENT in warning
    linked = dst.client.get_run(outcome.destination_id).data.tags
    assert linked[MLFLOW_PARENT_RUN_ID] == dst_parent
    assert idmap.PENDING_PARENT not in linked
    _assert_same_run(src, child.run_id, dst, outcome.destination_id, parent=dst_parent)


# Deleted runs -----------------------------------------------------------------------------------


def test_deleted_run_exports_marked_deleted_and_imports_deleted(src, dst, unique_name, tmp_path):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, deleted=True)

    _export(src, built.run_id, tmp_path / "run")
    dst_run_id = _import(dst, tmp_path / "run", unique_name("dst-"), use_src_user_id=True)

    document = json.loads((tmp_path / "run" / "run.json").read_text())
    assert document["mlflow"]["info"]["lifecycle_stage"] == "deleted"
    assert dst.client.get_run(dst_run_id).info.lifecycle_stage == "deleted"
    _assert_same_run(src, built.run_id, dst, dst_run_id)


# Source tags and provenance ---------------------------------------------------------------------


def test_import_source_tags_record_source_info_and_provenance_without_credentials(
    src, dst, src_server, unique_name, tmp_path
):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, logged_model=False, classic_model=False)
    host = src_server.url.removeprefix("http://")
    with_credentials = f"http://migrator:s3cr3t-pw@{host}"

    api.export_run(built.run_id, tmp_path / "run", tracking_uri=with_credentials)
    dst_run_id = _import(
        dst, tmp_path / "run", unique_name("dst-"), use_src_user_id=True, import_source_tags=True
    )

    written = (tmp_path / "run" / "run.json").read_text()
    assert "s3cr3t-pw" not in written and "migrator" not in written
    assert json.loads(written)["system"]["mlflow_tracking_uri"] == src_server.url
    info = src.client.get_run(built.run_id).info
    tags = dst.client.get_run(dst_run_id).data.tags
    source_tags = {k: v for k, v in tags.items() if k.startswith(idmap.PREFIX + "source.")}
    assert source_tags.pop(idmap.SOURCE_RUN_ID) == built.run_id
    assert {
        k[len(SOURCE_INFO_PREFIX) :]: v
        for k, v in source_tags.items()
        if k.startswith(SOURCE_INFO_PREFIX)
    } == {
        "run_id": info.run_id,
        "experiment_id": info.experiment_id,
        "user_id": info.user_id,
        "status": info.status,
        "start_time": str(info.start_time),
        "end_time": str(info.end_time),
        "lifecycle_stage": info.lifecycle_stage,
        "artifact_uri": info.artifact_uri,
        "run_name": info.run_name,
    }
    export_tags = {
        k[len(SOURCE_EXPORT_PREFIX) :]: v
        for k, v in source_tags.items()
        if k.startswith(SOURCE_EXPORT_PREFIX)
    }
    assert export_tags["mlflow_tracking_uri"] == src_server.url
    assert set(export_tags) == {"mlflow_version", "mlflow_tracking_uri", "export_time"}
    assert not any("s3cr3t-pw" in v for v in tags.values())
    _assert_same_run(src, built.run_id, dst, dst_run_id, allowed_tags=set(source_tags))


# Awkward but legal content ----------------------------------------------------------------------


def test_import_run_keeps_special_metric_values_and_keys(src, dst, unique_name, tmp_path):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, metric_keys=0, logged_model=False, classic_model=False)
    values = [
        float("nan"),
        float("inf"),
        float("-inf"),
        -0.0,
        1e-300,
        1.7976931348623157e308,
        0.1 + 0.2,
    ]
    src.client.log_batch(
        built.run_id,
        metrics=[
            Metric(key, value, 1_700_000_000_000 + i, i)
            for key in ("train/loss", "val loss", "acc.top-1")
            for i, value in enumerate(values)
        ],
    )

    dst_run_id = _roundtrip(
        src, dst, built.run_id, tmp_path, unique_name("dst-"), use_src_user_id=True
    )

    # Compared with what the source shows (its store keeps infinities as +-max float), by repr
    # so that NaN equals NaN and -0.0 differs from 0.0.
    for key in ("train/loss", "val loss", "acc.top-1"):
        copied, original = (
            [
                (m.step, m.timestamp, repr(m.value))
                for m in sorted(side.client.get_metric_history(run_id, key), key=lambda m: m.step)
            ]
            for side, run_id in ((dst, dst_run_id), (src, built.run_id))
        )
        assert copied == original
        assert len(copied) == len(values) and copied[0][2] == "nan"


def test_import_run_keeps_hundreds_of_params_and_tags(src, dst, unique_name, tmp_path):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(
        src,
        exp_id,
        metric_keys=1,
        steps=1,
        logged_model=False,
        classic_model=False,
        extra_tags={f"tag_{i:03}": f"t{i}" for i in range(230)},
    )
    src.client.log_batch(
        built.run_id, params=[Param(f"param_{i:03}", "" if i == 7 else f"v{i}") for i in range(250)]
    )

    dst_run_id = _roundtrip(
        src, dst, built.run_id, tmp_path, unique_name("dst-"), use_src_user_id=True
    )

    data = dst.client.get_run(dst_run_id).data
    assert len([k for k in data.params if k.startswith("param_")]) == 250
    assert data.params["param_007"] == ""
    assert len([k for k in data.tags if k.startswith("tag_")]) == 230
    _assert_same_run(src, built.run_id, dst, dst_run_id)


def test_import_run_keeps_artifact_names_with_spaces_unicode_and_symbols(
    src, dst, unique_name, tmp_path
):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, metric_keys=0, logged_model=False, classic_model=False)
    local = tmp_path / "odd"
    (local / "dir with space" / "ünïcödé").mkdir(parents=True)
    # ('#' and '?' are left out: MLflow's proxied upload already cuts a name there.)
    names = [
        "dir with space/file 1.txt",
        "dir with space/ünïcödé/naïve 100%.json",
        "a+b=c&d.csv",
        "semi;colon's [x].txt",
        "~tilde@at,comma.txt",
    ]
    for i, name in enumerate(names):
        (local / name).write_text(f"content {i} ✓")
    src.client.log_artifacts(built.run_id, str(local), "odd")

    dst_run_id = _roundtrip(src, dst, built.run_id, tmp_path, unique_name("dst-"))

    files = artifact_tree(
        dst.artifact_repo(dst.client.get_run(dst_run_id).info.artifact_uri), "odd"
    )
    assert files == {f"odd/{name}": f"content {i} ✓".encode() for i, name in enumerate(names)}


def test_deleted_child_imported_before_its_parent_is_linked_and_stays_deleted(
    src, dst, unique_name, tmp_path
):
    exp_id = builders.experiment(src, unique_name("src-"))
    parent, child = builders.parent_and_child(src, exp_id, deleted=True)
    dst_exp = unique_name("dst-")

    dst_child = _roundtrip(src, dst, child.run_id, tmp_path, dst_exp, use_src_user_id=True)
    dst_parent = _roundtrip(src, dst, parent.run_id, tmp_path, dst_exp, use_src_user_id=True)

    linked = dst.client.get_run(dst_child)
    assert linked.info.lifecycle_stage == "deleted"
    assert linked.data.tags[MLFLOW_PARENT_RUN_ID] == dst_parent
    assert idmap.PENDING_PARENT not in linked.data.tags
    _assert_same_run(src, child.run_id, dst, dst_child, parent=dst_parent)


# Plain sqlite stores (no server) ----------------------------------------------------------------


@pytest.mark.slow
def test_import_run_between_sqlite_stores_reproduces_every_field(sqlite_endpoint, tmp_path):
    src, dst = sqlite_endpoint("src"), sqlite_endpoint("dst")
    exp_id = builders.experiment(src, "sqlite-source")
    built = builders.make_run(src, exp_id, status="KILLED", metric_keys=2, steps=1200)

    dst_run_id = _roundtrip(
        src, dst, built.run_id, tmp_path, "sqlite-destination", use_src_user_id=True
    )

    id_map = _assert_same_run(src, built.run_id, dst, dst_run_id)
    [src_model] = built.model_ids
    expected = logged_model_view(src, src_model)
    actual = logged_model_view(dst, id_map[src_model])
    expected["artifacts"] = _expected_artifacts(expected["artifacts"], id_map)
    actual["artifacts"] = _parsed_mlmodels(actual["artifacts"])
    assert actual == expected
