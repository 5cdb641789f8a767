"""A key's metric history is read page by page (transfer/metrics.py), on a real server and on a
sqlite store, and an export made with small pages holds every point in order."""

from __future__ import annotations

import json

import pytest
from mlflow.entities import Metric

from mlflow_migrate_plugin import api
from mlflow_migrate_plugin.transfer import metrics
from tests import builders

POINTS = 23


def _run_with_long_key(endpoint, unique_name) -> str:
    exp_id = builders.experiment(endpoint, unique_name("pages-"))
    run_id = endpoint.client.create_run(exp_id).info.run_id
    endpoint.client.log_batch(
        run_id,
        metrics=[Metric("loss", 1.0 / (i + 1), 1_700_000_000_000 + i, i) for i in range(POINTS)]
        + [Metric("acc", 0.5, 1_700_000_000_000, 0)],
    )
    return run_id


def _points(history) -> list[tuple]:
    return [(m.step, m.timestamp, m.value) for m in history]


@pytest.mark.parametrize("where", ["server", "sqlite"])
def test_history_pages_cover_the_whole_history_in_pages_of_the_size_asked(
    where, dst, sqlite_endpoint, unique_name
):
    endpoint = dst if where == "server" else sqlite_endpoint()
    run_id = _run_with_long_key(endpoint, unique_name)

    pages = list(metrics.history_pages(endpoint.client, run_id, "loss", page_size=5))

    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert _points([m for p in pages for m in p]) == _points(
        endpoint.client.get_metric_history(run_id, "loss")
    )


def test_export_with_small_pages_writes_every_point_in_order(
    src, unique_name, tmp_path, monkeypatch
):
    run_id = _run_with_long_key(src, unique_name)
    monkeypatch.setattr(metrics, "HISTORY_PAGE_SIZE", 4)

    api.export_run(run_id, tmp_path / "run", tracking_uri=src.tracking_uri)

    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    loss = [(p["step"], p["timestamp"], p["value"]) for p in lines if p["key"] == "loss"]
    assert loss == _points(src.client.get_metric_history(run_id, "loss"))
    assert len(loss) == POINTS and [p["key"] for p in lines].count("acc") == 1
