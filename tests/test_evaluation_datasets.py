"""Evaluation datasets: every record (inputs, expectations, outputs, tags, source), the dataset's
name, tags, schema and profile, and the experiments it belongs to survive export and import,
alone or with their experiment; a second import adds no record; bad input creates nothing."""

from __future__ import annotations

import json

from click.testing import CliRunner

from mlflow_migrate_plugin import api, idmap
from mlflow_migrate_plugin.cli import migrate
from tests.fault_proxy import FaultProxy

RECORDS = [
    {
        "inputs": {"question": "What is MLflow?", "context": {"doc": "mlflow.org"}},
        "expectations": {"expected_response": "An ML platform", "facts": ["open source"]},
        "outputs": {"response": "A platform for the ML lifecycle"},
        "tags": {"difficulty": "easy"},
        "source": {"source_type": "HUMAN", "source_data": {"user_id": "ann"}},
    },
    {
        "inputs": {"question": "Who maintains it?"},
        "expectations": {"expected_response": "Databricks and the community"},
        "source": {"source_type": "DOCUMENT", "source_data": {"source_id": "faq.md"}},
    },
    {"inputs": {"question": "Is it free?"}, "expectations": {"expected_response": "Yes"}},
]


def _store(endpoint):
    return endpoint.client._tracking_client.store


def _make_dataset(endpoint, name: str, experiment_ids: list[str]) -> str:
    dataset = endpoint.client.create_dataset(
        name, experiment_id=experiment_ids, tags={"team": "qa", "mlflow.user": "ann"}
    )
    _store(endpoint).upsert_dataset_records(dataset.dataset_id, RECORDS)
    return dataset.dataset_id


def _view(endpoint, dataset_id: str) -> dict:
    """What a client can set on a dataset and its records, as the endpoint shows it."""
    dataset = endpoint.client.get_dataset(dataset_id)
    records, _ = _store(endpoint)._load_dataset_records(dataset_id, max_results=None)
    fields = ("inputs", "expectations", "outputs", "tags", "source", "created_by")
    rows = [{k: r.to_dict().get(k) for k in fields} for r in records]
    experiments = [
        endpoint.client.get_experiment(e).name
        for e in _store(endpoint).get_dataset_experiment_ids(dataset_id)
    ]
    return {
        "name": dataset.name,
        "tags": {k: v for k, v in dataset.tags.items() if not k.startswith(idmap.PREFIX)},
        "schema": json.loads(dataset.schema),
        "profile": json.loads(dataset.profile),
        "created_by": dataset.created_by,
        "records": sorted(rows, key=lambda r: json.dumps(r["inputs"], sort_keys=True)),
        "experiments": sorted(experiments),
    }


def _only(endpoint, name: str) -> str:
    found = [d for d in endpoint.client.search_datasets(filter_string=f"name = '{name}'")]
    assert len(found) == 1, found
    return found[0].dataset_id


def test_dataset_round_trip_keeps_every_record(src, dst, unique_name, tmp_path):
    exp_names = [unique_name("exp-a-"), unique_name("exp-b-")]
    source_id = _make_dataset(
        src, unique_name("ds-"), [src.client.create_experiment(n) for n in exp_names]
    )
    for n in exp_names:
        dst.client.create_experiment(n)

    api.export_evaluation_dataset(
        tmp_path / "d", dataset_id=source_id, tracking_uri=src.tracking_uri
    )
    report = api.import_evaluation_dataset(tmp_path / "d", tracking_uri=dst.tracking_uri)

    [outcome] = report.find("evaluation_dataset", "imported")
    assert _view(dst, outcome.destination_id) == _view(src, source_id)
    view = _view(dst, outcome.destination_id)
    assert len(view["records"]) == 3 and view["experiments"] == sorted(exp_names)
    assert view["tags"] == {"team": "qa", "mlflow.user": "ann"} and view["created_by"] == "ann"
    assert view["records"][0]["source"] == RECORDS[0]["source"]  # "context" sorts first


def test_second_import_adds_no_record(src, dst, unique_name, tmp_path):
    name = unique_name("ds-")
    source_id = _make_dataset(src, name, [])
    api.export_evaluation_dataset(tmp_path / "d", dataset_name=name, tracking_uri=src.tracking_uri)
    api.import_evaluation_dataset(tmp_path / "d", tracking_uri=dst.tracking_uri)
    dataset_id = _only(dst, name)
    before = dst.client.get_dataset(dataset_id)
    records_before = _store(dst)._load_dataset_records(dataset_id, max_results=None)[0]

    report = api.import_evaluation_dataset(tmp_path / "d", tracking_uri=dst.tracking_uri)

    after = dst.client.get_dataset(dataset_id)
    assert _only(dst, name) == dataset_id
    assert (after.digest, after.last_update_time) == (before.digest, before.last_update_time)
    records_after = _store(dst)._load_dataset_records(dataset_id, max_results=None)[0]
    assert [r.to_dict() for r in records_after] == [r.to_dict() for r in records_before]
    assert [o.status for o in report.find("evaluation_dataset")] == ["skipped"]
    assert _view(dst, dataset_id)["records"] == _view(src, source_id)["records"]


def test_an_interrupted_import_is_completed_without_duplicates(src, dst, unique_name, tmp_path):
    name = unique_name("ds-")
    source_id = _make_dataset(src, name, [])
    api.export_evaluation_dataset(
        tmp_path / "d", dataset_id=source_id, tracking_uri=src.tracking_uri
    )
    # What an import stopped after its first record leaves: the dataset, marked started.
    half = dst.client.create_dataset(
        name, tags={idmap.SOURCE_DATASET_ID: source_id, idmap.STATE: idmap.STATE_STARTED}
    )
    _store(dst).upsert_dataset_records(half.dataset_id, RECORDS[:1])

    report = api.import_evaluation_dataset(tmp_path / "d", tracking_uri=dst.tracking_uri)

    assert _only(dst, name) == half.dataset_id
    assert [o.status for o in report.find("evaluation_dataset")] == ["imported"]
    assert _view(dst, half.dataset_id)["records"] == _view(src, source_id)["records"]


def test_experiment_export_carries_its_datasets(src, dst, unique_name, tmp_path):
    exp_name, dst_name = unique_name("exp-"), unique_name("imported-")
    experiment_id = src.client.create_experiment(exp_name)
    source_id = _make_dataset(src, unique_name("ds-"), [experiment_id])

    api.export_experiment(exp_name, tmp_path / "e", tracking_uri=src.tracking_uri)
    report = api.import_experiment(tmp_path / "e", dst_name, tracking_uri=dst.tracking_uri)
    again = api.import_experiment(tmp_path / "e", dst_name, tracking_uri=dst.tracking_uri)

    [outcome] = report.find("evaluation_dataset", "imported")
    view = _view(dst, outcome.destination_id)
    assert view["experiments"] == [dst_name]
    assert {**view, "experiments": None} == {**_view(src, source_id), "experiments": None}
    assert [o.status for o in again.find("evaluation_dataset")] == ["skipped"]


def test_no_evaluation_datasets_leaves_them_out_of_export_import_and_copy(
    src, dst, unique_name, tmp_path
):
    exp_name = unique_name("exp-")
    experiment_id = src.client.create_experiment(exp_name)
    _make_dataset(src, unique_name("ds-"), [experiment_id])
    api.export_experiment(exp_name, tmp_path / "all", tracking_uri=src.tracking_uri)
    uris = {"src_mlflow_uri": src.tracking_uri, "dst_mlflow_uri": dst.tracking_uri}

    left_out = api.export_experiment(
        exp_name,
        tmp_path / "bare",
        tracking_uri=src.tracking_uri,
        include_evaluation_datasets=False,
    )
    imported = api.import_experiment(
        tmp_path / "all",
        unique_name("imported-"),
        tracking_uri=dst.tracking_uri,
        include_evaluation_datasets=False,
    )
    copied = api.copy_experiment(
        exp_name, unique_name("copied-"), include_evaluation_datasets=False, **uris
    )

    assert (tmp_path / "all" / "evaluation_datasets").is_dir()  # there by default
    assert not (tmp_path / "bare" / "evaluation_datasets").exists()
    for report in (left_out, imported, copied):
        assert not report.failed and report.find("evaluation_dataset") == []


def test_a_bad_record_is_one_line_and_creates_nothing(src, dst, unique_name, tmp_path):
    name = unique_name("ds-")
    _make_dataset(src, name, [])
    api.export_evaluation_dataset(tmp_path / "d", dataset_name=name, tracking_uri=src.tracking_uri)
    path = tmp_path / "d" / "records.jsonl"
    lines = path.read_text().splitlines()
    lines[2] = json.dumps({**json.loads(lines[2]), "inputs": "not an object"})
    path.write_text("\n".join(lines) + "\n")

    result = CliRunner().invoke(
        migrate,
        ["import-evaluation-dataset", "--input-dir", str(tmp_path / "d"),
         "--tracking-uri", dst.tracking_uri],
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: {path}:3: inputs: expected an object, got a string 'not an object'"
    ]
    assert list(dst.client.search_datasets(filter_string=f"name = '{name}'")) == []


def test_cli_round_trip_with_a_new_name_and_delete(src, dst, unique_name, tmp_path):
    name, new_name = unique_name("ds-"), unique_name("renamed-")
    source_id = _make_dataset(src, name, [])
    runner = CliRunner()
    exported = runner.invoke(
        migrate,
        ["export-evaluation-dataset", "--dataset-name", name, "--output-dir", str(tmp_path / "d"),
         "--tracking-uri", src.tracking_uri],
    )  # fmt: skip
    args = ["import-evaluation-dataset", "--input-dir", str(tmp_path / "d"),
            "--evaluation-dataset-name", new_name, "--tracking-uri", dst.tracking_uri]  # fmt: skip
    first = runner.invoke(migrate, args)
    replaced = runner.invoke(migrate, [*args, "--delete-evaluation-dataset"])

    assert exported.exit_code == 0, exported.output
    assert first.exit_code == 0 and replaced.exit_code == 0, replaced.output
    assert "evaluation datasets: 1 deleted, 1 imported" in replaced.output
    dataset_id = _only(dst, new_name)
    assert {**_view(dst, dataset_id), "name": name} == _view(src, source_id)


def test_reference_dataset_export_imports(dst, unique_name, tmp_path):
    name = unique_name("ds-")
    folder = tmp_path / "ref"
    folder.mkdir()
    (folder / "evaluation_dataset.json").write_text(
        json.dumps(
            {
                "system": {"export_file_version": "2", "mlflow_version": "3.5.1"},
                "mlflow": {
                    "evaluation_dataset": {
                        "dataset_id": "abc123",
                        "name": name,
                        "experiment_ids": ["1"],
                        "tags": {"purpose": "model-evaluation"},
                        "records": [
                            {"inputs": {"acidity": 7.4}, "targets": {"quality": 5}},
                            {"inputs": {"acidity": 7.8}, "expectations": {"quality": 6}},
                        ],
                    }
                },
            }
        )
    )

    report = api.import_evaluation_dataset(folder, tracking_uri=dst.tracking_uri)

    view = _view(dst, _only(dst, name))
    assert view["tags"]["purpose"] == "model-evaluation"
    assert [r["expectations"] for r in view["records"]] == [{"quality": 5}, {"quality": 6}]
    assert report.warnings  # experiment "1" is known by id only: not linked, and said so


def test_a_lost_answer_to_the_create_leaves_one_dataset(
    src, dst, dst_server, unique_name, tmp_path
):
    name = unique_name("ds-")
    source_id = _make_dataset(src, name, [])
    api.export_evaluation_dataset(tmp_path / "d", dataset_name=name, tracking_uri=src.tracking_uri)
    proxy = FaultProxy(dst_server.url).start()
    try:
        # The server makes the dataset, the answer is lost, MLflow's client sends it again.
        proxy.lose_answers(r"/datasets/create$", every=1, limit=1)
        report = api.import_evaluation_dataset(tmp_path / "d", tracking_uri=proxy.url)
    finally:
        proxy.stop()

    dataset_id = _only(dst, name)
    assert proxy.answers_lost == 1 and not report.failed
    assert idmap.ATTEMPT not in dst.client.get_dataset(dataset_id).tags
    assert _view(dst, dataset_id)["records"] == _view(src, source_id)["records"]


def test_export_all_and_import_all_carry_datasets(sqlite_endpoint, tmp_path):
    source, destination = sqlite_endpoint("src"), sqlite_endpoint("dst")
    experiment_id = source.client.create_experiment("with-datasets")
    source_id = _make_dataset(source, "bulk-set", [experiment_id])

    exported = api.export_all(tmp_path / "all", tracking_uri=source.tracking_uri)
    imported = api.import_all(tmp_path / "all", tracking_uri=destination.tracking_uri)
    again = api.import_all(tmp_path / "all", tracking_uri=destination.tracking_uri)

    assert not exported.failed and not imported.failed and not again.failed
    dataset_id = _only(destination, "bulk-set")
    assert _view(destination, dataset_id) == _view(source, source_id)
    assert [o.status for o in again.find("evaluation_dataset")] == ["skipped"]
