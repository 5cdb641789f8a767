"""Searches by a name or tag value that holds a quote or a backslash find it, on a sqlite store
and on a server alike: MLflow takes a quoted filter value as it stands (no escapes), so
``idmap.equals`` searches such a value with LIKE and the callers keep the exact matches."""

from __future__ import annotations

import pytest

from mlflow_migrate_plugin import api, idmap
from mlflow_migrate_plugin.handlers.model_version import all_versions
from tests import model_builders

AWKWARD = ["it's", "back\\slash", "ends in \\", "both ' and \"", "50%_off"]


def _decoy(value: str) -> str:
    """A value a LIKE pattern built from ``value`` matches too."""
    return "".join("x" if c in "'\"\\%_" else c for c in value)


@pytest.mark.parametrize("where", ["sqlite", "server"])
@pytest.mark.parametrize("value", AWKWARD)
def test_equals_finds_runs_versions_and_logged_models_by_an_awkward_value(
    where, value, sqlite_endpoint, dst, unique_name
):
    endpoint = sqlite_endpoint() if where == "sqlite" else dst
    client = endpoint.client
    exp_id = client.create_experiment(unique_name("exp-"))
    run_ids = {}
    for v in (value, _decoy(value)):
        name = f"{unique_name()} {v}"
        run = client.create_run(exp_id, tags={"k": name})
        run_ids[name] = run.info.run_id
        client.create_logged_model(exp_id, tags={"k": name})
        client.create_registered_model(name)
        client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)
    wanted = next(n for n in run_ids if n.endswith(value))

    runs = client.search_runs([exp_id], filter_string=idmap.equals("tags.k", wanted))
    models = client.search_logged_models([exp_id], filter_string=idmap.equals("tags.k", wanted))
    versions = client.search_model_versions(idmap.equals("name", wanted))

    assert [r.info.run_id for r in runs if r.data.tags["k"] == wanted] == [run_ids[wanted]]
    assert [m.tags["k"] for m in models if m.tags["k"] == wanted] == [wanted]
    assert [v.name for v in versions if v.name == wanted] == [wanted]
    assert [str(v.version) for v in all_versions(client, wanted)] == ["1"]


def test_plain_values_are_searched_with_equality():
    assert idmap.equals("tags.`mlflow_migrate.import_state`", "complete") == (
        "tags.`mlflow_migrate.import_state` = 'complete'"
    )
    assert idmap.equals("name", "it's \\ \"") == "name LIKE 'it_s _ _'"


@pytest.mark.slow
@pytest.mark.parametrize("awkward", ["it's", "back\\slash"])
def test_a_model_and_an_experiment_named_with_a_quote_or_backslash_import_once(
    awkward, src, dst, unique_name, tmp_path
):
    built = model_builders.registered_model(
        src, unique_name(f"model {awkward} "), unique_name(f"exp {awkward} ")
    )
    api.export_model(built.name, tmp_path / "export", tracking_uri=src.tracking_uri)
    name, experiment = unique_name(f"copy {awkward} "), unique_name(f"dst {awkward} ")
    first = api.import_model(
        tmp_path / "export", experiment, model=name, tracking_uri=dst.tracking_uri
    )

    again = api.import_model(
        tmp_path / "export", experiment, model=name, tracking_uri=dst.tracking_uri
    )

    assert len(first.find("model_version", "imported")) == 4
    assert [v.version for v in all_versions(dst.client, name)] == ["1", "3", "4", "5"]
    assert again.find("model_version", "imported") == [] and again.find("run", "imported") == []
    assert len(again.find("model_version", "skipped")) == 4
