"""The object-level pool that moves runs (parents before children), and its background form."""

from __future__ import annotations

import random
import threading
import time

import pytest

from mlflow_migrate_plugin.transfer.object_pool import InBackground, run_parents_first

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


def test_stop_starts_nothing_more_and_lets_objects_in_flight_finish():
    stop = threading.Event()
    finished: list[str] = []

    def work(key):
        if key == "b":
            stop.set()
            time.sleep(0.2)  # the pool notices the stop while this one is in flight
        finished.append(key)

    run_parents_first(list("abcdefgh"), lambda _: None, work, 1, stop)

    assert finished == ["a", "b"]


def test_in_background_hands_over_each_object_as_it_is_done():
    release = {key: threading.Event() for key in "abc"}

    def start(done, stop):
        run_parents_first(
            list("abc"), lambda _: None, lambda key: (release[key].wait(10), done(key)), 3, stop
        )

    background = InBackground(start)
    release["b"].set()
    background.wait_for("b")  # returns while a and c are still held
    assert not release["a"].is_set()
    release["a"].set()
    release["c"].set()
    background.wait_for("a")
    background.finish()


def test_in_background_raises_the_work_error_to_whoever_waits():
    def start(done, stop):
        def work(key):
            if key == "b":
                raise ValueError("run b failed")
            done(key)

        run_parents_first(list("abc"), lambda _: None, work, 1, stop)

    background = InBackground(start)
    background.wait_for("a")
    with pytest.raises(ValueError, match="run b failed"):
        background.wait_for("c")
    background.abandon()


def test_abandon_stops_the_work_and_waits_for_it():
    started: list[str] = []

    def start(done, stop):
        def work(key):
            started.append(key)
            time.sleep(0.05)
            done(key)

        run_parents_first([str(i) for i in range(100)], lambda _: None, work, 2, stop)

    background = InBackground(start)
    background.wait_for("0")
    background.abandon()
    count = len(started)
    time.sleep(0.2)
    assert 2 <= count < 100 and len(started) == count
