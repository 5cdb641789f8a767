"""verify-experiment and verify-model(-version) between two real servers: 0 after a clean
migration, 1 naming each alteration with both values, and missing and duplicate counterparts."""

from __future__ import annotations

import warnings

from mlflow_migrate_plugin import api
from tests import builders, model_builders
from tests import experiment_builders as eb
from tests.test_verify_run import findings, verify_cli


def test_verify_experiment_after_a_clean_import_exits_0(src, dst, unique_name, tmp_path):
    nested = eb.nested_experiment(src, unique_name("src-"))
    target = unique_name("dst-")
    api.export_experiment(
        nested.name, tmp_path / "exp", tracking_uri=src.tracking_uri, export_deleted_runs=True
    )
    api.import_experiment(tmp_path / "exp", target, tracking_uri=dst.tracking_uri)

    code, report = verify_cli(
        "verify-experiment", "--experiment", nested.name, "--dst-experiment-name", target,
        "--include-deleted-runs", "--src-mlflow-uri", src.tracking_uri,
        "--dst-mlflow-uri", dst.tracking_uri,
    )  # fmt: skip

    assert (code, findings(report)) == (0, {})
    statuses = [(o["kind"], o["source_id"], o["status"]) for o in report["objects"]]
    assert sorted(s for s in statuses if s[0] == "run") == sorted(
        ("run", run_id, "ok") for run_id in nested.all_runs
    )
    assert {s[1] for s in statuses if s[0] == "logged_model"} == {
        nested.run_model,
        nested.experiment_model,
    }

    # Now alter the destination: delete a run, add a source run never migrated, import one twice.
    by_source = {
        r.data.tags["mlflow_migrate.source.run_id"]: r.info.run_id
        for r in dst.client.search_runs(
            [dst.client.get_experiment_by_name(target).experiment_id], run_view_type=3
        )
    }
    dst.client.delete_run(by_source[nested.other])
    dst.client.log_metric(by_source[nested.root], "metric_1", 7.5, timestamp=eb.T0, step=42)
    late = eb.light_run(src, nested.experiment_id, name="late")
    api.export_run(nested.child, tmp_path / "child", tracking_uri=src.tracking_uri)
    api.import_run(tmp_path / "child", target, tracking_uri=dst.tracking_uri, fresh=True)
    # A copy an import gave up and a busy server kept the source tag of: no second copy.
    api.export_run(nested.root, tmp_path / "root", tracking_uri=src.tracking_uri)
    api.import_run(tmp_path / "root", target, tracking_uri=dst.tracking_uri, fresh=True)
    exp = dst.client.get_experiment_by_name(target).experiment_id
    given_up = next(
        r.info.run_id
        for r in dst.client.search_runs([exp])
        if r.data.tags.get("mlflow_migrate.source.run_id") == nested.root
        and r.info.run_id != by_source[nested.root]
    )
    dst.client.set_tag(given_up, "mlflow_migrate.import_state", "started")
    for model in dst.client.search_logged_models([exp], f"source_run_id = '{given_up}'"):
        dst.client.delete_logged_model(model.model_id)
    dst.client.delete_run(given_up)  # its source tag kept: the server refused that delete

    code, report = verify_cli(
        "verify-experiment", "--experiment", nested.name, "--dst-experiment-name", target,
        "--src-mlflow-uri", src.tracking_uri, "--dst-mlflow-uri", dst.tracking_uri,
    )  # fmt: skip

    assert code == 1
    runs = {o["source_id"]: o for o in report["objects"] if o["kind"] == "run"}
    assert nested.deleted_child not in runs  # without --include-deleted-runs
    assert runs[late]["status"] == "missing"
    assert runs[nested.child]["status"] == "duplicate"
    [changed] = [f for f in runs[nested.other]["findings"] if f["kind"] == "changed"]
    assert (changed["field"], changed["source"], changed["destination"]) == (
        "info.lifecycle_stage",
        "active",
        "deleted",
    )
    assert runs[nested.root]["status"] != "duplicate"
    [leftover] = [f for f in runs[nested.root]["findings"] if f["field"] == "leftover"]
    assert (leftover["kind"], leftover["destination"]) == ("info", given_up)
    [added] = [f for f in runs[nested.root]["findings"] if f["kind"] == "changed"]
    assert (added["field"], added["source"], added["destination"]) == (
        "metrics[metric_1]",
        [],
        [[42, eb.T0, 7.5]],
    )
    assert {o["source_id"] for o in report["objects"] if o["status"] != "ok"} == {
        late,
        nested.child,
        nested.other,
        nested.root,
    }


def test_verify_experiment_between_sqlite_stores_reads_histories_run_by_run(
    sqlite_endpoint, tmp_path
):
    src, dst = sqlite_endpoint("src"), sqlite_endpoint("dst")
    exp_id = builders.experiment(src, "exp")
    run_id = eb.light_run(src, exp_id)
    api.export_experiment("exp", tmp_path / "exp", tracking_uri=src.tracking_uri)
    api.import_experiment(tmp_path / "exp", "copy", tracking_uri=dst.tracking_uri)
    uris = {"src_mlflow_uri": src.tracking_uri, "dst_mlflow_uri": dst.tracking_uri}
    assert api.verify_experiment("exp", dst_experiment_name="copy", **uris).ok

    [copied] = dst.client.search_runs([dst.client.get_experiment_by_name("copy").experiment_id])
    dst.client.log_metric(copied.info.run_id, "metric_0", 1.5, timestamp=eb.T0, step=8)
    result = api.verify_experiment("exp", dst_experiment_name="copy", **uris)

    assert [(o.source_id, f.field, f.destination) for o, f in result.findings("changed")] == [
        (run_id, "metrics[metric_0]", [[8, eb.T0, 1.5]])
    ]


def test_verify_model_after_a_clean_import_then_a_moved_alias(src, dst, unique_name, tmp_path):
    built = model_builders.registered_model(src, unique_name("model-"), unique_name("exp-"))
    dst_name = unique_name("dst-model-")
    api.export_model(built.name, tmp_path / "model", tracking_uri=src.tracking_uri)
    api.import_model(
        tmp_path / "model", unique_name("dst-exp-"), model=dst_name, tracking_uri=dst.tracking_uri
    )
    sides = ["--src-mlflow-uri", src.tracking_uri, "--dst-mlflow-uri", dst.tracking_uri]

    code, report = verify_cli(
        "verify-model", "--model", built.name, "--dst-model", dst_name, *sides
    )
    assert (code, findings(report)) == (0, {})
    kinds = {(o["kind"], o["source_id"]) for o in report["objects"]}
    assert {k for k in kinds if k[0] == "model_version"} == {
        ("model_version", f"{built.name}/{v}") for v in ("1", "3", "4", "5")
    }
    assert {k[1] for k in kinds if k[0] == "run"} == set(built.run_ids)
    code, report = verify_cli(
        "verify-model-version", "--model", built.name, "--version", "3", "--dst-model", dst_name,
        *sides,
    )  # fmt: skip
    assert (code, findings(report)) == (0, {}), findings(report)

    dst.client.set_registered_model_alias(dst_name, "champion", "4")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        dst.client.transition_model_version_stage(dst_name, "5", "Staging")

    code, report = verify_cli(
        "verify-model", "--model", built.name, "--dst-model", dst_name, *sides
    )

    assert code == 1
    model = findings(report, "registered_model")
    assert (model["aliases[champion]"]["source"], model["aliases[champion]"]["destination"]) == (
        "1",
        "4",
    )
    by_version = {
        o["source_id"].rsplit("/", 1)[1]: {
            f["field"]: f for f in o["findings"] if f["kind"] != "info"
        }
        for o in report["objects"]
        if o["kind"] == "model_version"
    }
    assert by_version["1"]["aliases"]["source"] == ["champion"]
    assert by_version["1"]["aliases"]["destination"] == []
    assert by_version["4"]["aliases"]["destination"] == ["champion"]
    assert (by_version["5"]["stage"]["source"], by_version["5"]["stage"]["destination"]) == (
        "None",
        "Staging",
    )
    assert by_version["3"] == {}

    code, report = verify_cli(
        "verify-model-version", "--model", built.name, "--version", "5", "--dst-model", dst_name,
        "--check-stages-and-aliases", "False", *sides,
    )  # fmt: skip
    assert (code, findings(report)) == (0, {})


def test_verify_model_version_after_a_deep_copy(src, dst, unique_name):
    built = model_builders.registered_model(src, unique_name("model-"), unique_name("exp-"))
    dst_name = unique_name("copy-")
    api.copy_model_version(
        built.name,
        "3",
        dst_name,
        dst_experiment_name=unique_name("copy-exp-"),
        src_mlflow_uri=src.tracking_uri,
        dst_mlflow_uri=dst.tracking_uri,
        copy_stages_and_aliases=True,
    )
    uris = {"src_mlflow_uri": src.tracking_uri, "dst_mlflow_uri": dst.tracking_uri}

    result = api.verify_model_version(built.name, 3, dst_model=dst_name, **uris)

    assert result.ok, result.report_lines()
    assert {o.kind for o in result.objects} == {"model_version", "run", "logged_model"}
    dst.client.delete_model_version_tag(dst_name, "3", "style")
    changed = api.verify_model_version(built.name, 3, dst_model=dst_name, **uris)
    assert [(f.field, f.source, f.destination) for _, f in changed.findings("changed")] == [
        ("tags[style]", "logged-model", None)
    ]


def test_verify_reports_a_missing_experiment_and_model(src, dst, unique_name):
    exp_id = builders.experiment(src, unique_name("src-"))
    name = src.client.get_experiment(exp_id).name
    uris = {"src_mlflow_uri": src.tracking_uri, "dst_mlflow_uri": dst.tracking_uri}

    result = api.verify_experiment(name, **uris)

    assert [(o.kind, o.status) for o in result.objects] == [("experiment", "missing")]
