"""The object-level pool that moves an experiment's runs: bounded, parents before children."""

from __future__ import annotations

import random
import threading
import time

import pytest

from mlflow_migrate_plugin.transfer.object_pool import run_parents_first

# A forest: a <- b <- c <- d (four levels), a <- e, f <- g, and h alone.
PARENTS = {"a": None, "b": "a", "c": "b", "d": "c", "e": "a", "f": None, "g": "f", "h": None}


class Recorder:
    def __init__(self, pause: float = 0.02):
        self.lock = threading.Lock()
        self.events: list[tuple[str, str]] = []
        self.running = 0
        self.peak = 0
        self.pause = pause

    def __call__(self, key: str) -> None:
        with self.lock:
            self.events.append(("start", key))
            self.running += 1
            self.peak = max(self.peak, self.running)
        time.sleep(self.pause * random.random())
        with self.lock:
            self.running -= 1
            self.events.append(("end", key))

    def position(self, kind: str, key: str) -> int:
        return self.events.index((kind, key))


@pytest.mark.parametrize("workers", [1, 3, 8])
def test_every_object_runs_once_after_its_parent_finished(workers):
    work = Recorder()

    run_parents_first(PARENTS, PARENTS.get, work, workers)

    starts = [key for kind, key in work.events if kind == "start"]
    assert sorted(starts) == sorted(PARENTS)
    for key, parent in PARENTS.items():
        if parent:
            assert work.position("end", parent) < work.position("start", key)
    assert work.peak <= workers


def test_unrelated_objects_run_side_by_side():
    work = Recorder(pause=0.2)

    run_parents_first(["x", "y", "z"], lambda _: None, work, 3)

    assert work.peak == 3


def test_parent_outside_the_set_makes_a_root():
    work = Recorder()

    run_parents_first(["b", "c"], {"b": "not-exported", "c": "b"}.get, work, 2)

    assert work.position("end", "b") < work.position("start", "c")


def test_parent_cycle_from_a_corrupt_listing_still_runs_everything():
    work = Recorder()

    run_parents_first(["p", "q", "r"], {"p": "q", "q": "p", "r": "p"}.get, work, 2)

    assert sorted(k for kind, k in work.events if kind == "start") == ["p", "q", "r"]


def test_interrupt_stops_objects_not_yet_started():
    started: list[str] = []

    def work(key):
        started.append(key)
        if key == "b":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_parents_first(list("abcdefgh"), lambda _: None, work, 1)

    assert started == ["a", "b"]
