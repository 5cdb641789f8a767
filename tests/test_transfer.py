"""The worker pool (transfer/engine.py) and the MLmodel id rewrite (transfer/mlmodel.py)."""

from __future__ import annotations

import threading
import time

import pytest
import yaml

from mlflow_migrate_plugin.transfer.engine import Engine
from mlflow_migrate_plugin.transfer.mlmodel import MLmodelRewriter, is_mlmodel, rewrite_ids

# Engine -----------------------------------------------------------------------------------------


def test_engine_runs_every_task_of_every_stream_and_returns_their_results():
    with Engine(4) as engine:
        results = engine.run(
            (lambda i=i: i for i in range(50)), (lambda i=i: -i for i in range(1, 20)), []
        )

    assert sorted(results) == sorted([*range(50), *(-i for i in range(1, 20))])


def test_engine_with_no_tasks_returns_nothing():
    with Engine(2) as engine:
        assert engine.run() == []
        assert engine.run([], iter(())) == []


def test_engine_interleaves_streams_so_none_waits_for_another():
    order = []
    with Engine(1) as engine:
        engine.run(
            (lambda i=i: order.append(("a", i)) for i in range(3)),
            (lambda i=i: order.append(("b", i)) for i in range(5)),
        )

    assert order == [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2), ("b", 3), ("b", 4)]


def test_engine_keeps_at_most_twice_the_workers_in_flight():
    workers = 3
    lock = threading.Lock()
    state = {"pulled": 0, "done": 0, "most": 0}

    def task():
        time.sleep(0.002)
        with lock:
            state["done"] += 1

    def stream():
        for _ in range(200):
            with lock:
                state["pulled"] += 1
                state["most"] = max(state["most"], state["pulled"] - state["done"])
            yield task

    with Engine(workers) as engine:
        engine.run(stream())

    assert state["done"] == 200
    assert state["most"] <= 2 * workers


def test_engine_runs_tasks_concurrently():
    workers = 4
    barrier = threading.Barrier(workers, timeout=10)

    with Engine(workers) as engine:
        # Each task waits until all four run at once; a serial pool would time out.
        results = engine.run(lambda: barrier.wait() is not None for _ in range(workers))

    assert len(results) == workers


def test_engine_stops_at_the_first_failure_and_raises_it_after_running_tasks_end():
    lock = threading.Lock()
    started, ended = [], []

    def task(i):
        with lock:
            started.append(i)
        time.sleep(0.01)
        if i == 3:
            raise ValueError("task 3 failed")
        with lock:
            ended.append(i)

    pulled = []

    def stream():
        for i in range(1000):
            pulled.append(i)
            yield lambda i=i: task(i)

    with Engine(2) as engine, pytest.raises(ValueError, match="task 3 failed"):
        engine.run(stream())

    assert len(pulled) < 1000  # the stream was not drained after the failure
    assert len(started) < 20
    assert set(started) - set(ended) == {3}  # every other started task had finished


def test_engine_is_reusable_after_a_failure():
    with Engine(2) as engine:
        with pytest.raises(RuntimeError):
            engine.run([lambda: (_ for _ in ()).throw(RuntimeError("boom"))])
        assert engine.run([lambda: 1, lambda: 2]) in ([1, 2], [2, 1])


def test_engine_needs_at_least_one_worker():
    with pytest.raises(ValueError):
        Engine(0)


# MLmodel ----------------------------------------------------------------------------------------

MLMODEL = """artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    model_path: model.pkl
    python_version: 3.11.7
mlflow_version: 3.17.2
model_id: m-source
model_uuid: 0123456789abcdef
run_id: source-run
signature:
  inputs: '[{"type": "double", "name": "x"}]'
utc_time_created: '2026-01-01 00:00:00.000000'
description: modèle ✓
"""


def test_rewrite_ids_maps_run_and_model_ids_and_keeps_everything_else():
    new = rewrite_ids(MLMODEL, {"source-run": "dest-run"}, {"m-source": "m-dest"})

    doc, old = yaml.safe_load(new), yaml.safe_load(MLMODEL)
    assert (doc["run_id"], doc["model_id"]) == ("dest-run", "m-dest")
    assert {k: v for k, v in doc.items() if k not in ("run_id", "model_id")} == {
        k: v for k, v in old.items() if k not in ("run_id", "model_id")
    }
    assert list(doc) == list(old)  # key order kept
    assert "modèle ✓" in new


def test_rewrite_ids_changes_only_the_ids_it_knows():
    doc = yaml.safe_load(rewrite_ids(MLMODEL, {"source-run": "dest-run"}, {"m-other": "m-x"}))

    assert (doc["run_id"], doc["model_id"]) == ("dest-run", "m-source")


@pytest.mark.parametrize(
    "text",
    [
        MLMODEL.replace("run_id: source-run", "run_id: unrelated"),
        "run_id: source-run\n".replace("source-run", "dest-run"),
        "not: [valid yaml",
        "- a list\n- not a mapping\n",
        "",
    ],
)
def test_rewrite_ids_returns_none_when_nothing_changes(text):
    assert (
        rewrite_ids(
            text.replace("m-source", "m-unmapped"),
            {"source-run": "dest-run"},
            {"m-source": "m-dest"},
        )
        is None
    )


def test_rewrite_ids_leaves_a_null_model_id_alone():
    text = MLMODEL.replace("model_id: m-source", "model_id: null")

    doc = yaml.safe_load(rewrite_ids(text, {"source-run": "dest-run"}, {"m-source": "m-dest"}))

    assert doc["model_id"] is None and doc["run_id"] == "dest-run"


def test_mlmodel_rewriter_touches_only_files_named_mlmodel(tmp_path):
    (tmp_path / "MLmodel").write_text(MLMODEL, encoding="utf-8")
    (tmp_path / "notes.yaml").write_text(MLMODEL, encoding="utf-8")
    rewrite = MLmodelRewriter({"source-run": "dest-run"}, {"m-source": "m-dest"})

    new = rewrite("model/MLmodel", tmp_path / "MLmodel")

    assert yaml.safe_load(new.decode("utf-8"))["run_id"] == "dest-run"
    assert rewrite("model/notes.yaml", tmp_path / "notes.yaml") is None
    assert is_mlmodel("a/b/MLmodel") and is_mlmodel("MLmodel")
    assert not is_mlmodel("a/MLmodel.bak") and not is_mlmodel("mlmodel")
