"""A bounded pool of object-level workers (one run each), parents before children.

An object worker waits for its own leaf tasks on the shared :class:`~.engine.Engine`, so it must
not run on the engine's pool; it gets threads of its own. Leaf tasks never wait, so the two pools
cannot deadlock. An object starts only once its parent (when the parent is among the objects)
has finished, which is what lets a nested run link to its imported parent; siblings and
unrelated trees run side by side. Objects are handed to threads only as threads free up, so an
interrupt (Ctrl-C) waits for at most ``workers`` objects in flight, never for the whole queue.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

_STOP_POLL = 0.1  # seconds between looks at ``stop`` while objects are in flight
INTERRUPT_GRACE = 4.0  # seconds the objects in flight get to clean up after Ctrl-C


def run_parents_first(
    keys: Iterable[K],
    parent_of: Callable[[K], K | None],
    work: Callable[[K], object],
    workers: int,
    stop: threading.Event | None = None,
) -> None:
    """Call ``work(key)`` for every key on ``workers`` threads, each after its parent's call.

    ``work`` reports its own failures; an exception escaping it stops the pool and is raised.
    A child whose parent failed still runs (its work decides what a missing parent means).
    Keys caught in a parent cycle (a corrupt listing) are started one by one as roots.
    Once ``stop`` is set (by another thread), no key starts; those in flight finish.
    """
    keys = list(dict.fromkeys(keys))
    known = set(keys)
    children: dict[K, list[K]] = defaultdict(list)
    ready: deque[K] = deque()
    for key in keys:
        parent = parent_of(key)
        if parent is not None and parent in known and parent != key:
            children[parent].append(key)
        else:
            ready.append(key)
    waiting = set(keys)
    running: dict[Future, K] = {}
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mlflow-migrate-object")
    try:
        while waiting or running:
            if stop is not None and stop.is_set():
                waiting.clear()
                ready.clear()
            if not waiting and not running:
                break
            if not ready and not running:
                ready.append(next(k for k in keys if k in waiting))
            while ready and len(running) < workers:
                key = ready.popleft()
                if key in waiting:
                    waiting.discard(key)
                    running[pool.submit(work, key)] = key
            if not running:
                continue
            done, _ = wait(
                running, timeout=None if stop is None else _STOP_POLL, return_when=FIRST_COMPLETED
            )
            for future in done:
                key = running.pop(future)
                future.result()
                ready.extend(children.pop(key, []))
    except KeyboardInterrupt:
        from .resilience import interrupt

        interrupt()  # objects in flight stop at their next task instead of finishing
        # Each cleans up after itself, within moments; one stuck in a request to a server that
        # hangs is left (marked unfinished, which a rerun discards): Ctrl-C acts in seconds.
        pool.shutdown(wait=False, cancel_futures=True)
        wait(running, timeout=INTERRUPT_GRACE)
        raise
    except BaseException:
        # Objects not yet handed out never start; those in flight finish (each one cleans up
        # after itself on failure), so a failed pool leaves nothing half made.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


class InBackground:
    """Object work on a thread of its own, so that the caller can act on each object as soon as
    it is done (a model's versions are created in order while their runs are still imported).

    ``start(done, stop)`` runs the work: it calls ``done(key)`` as each object completes and
    starts nothing more once ``stop`` is set.
    """

    def __init__(self, start: Callable[[Callable[[Hashable], None], threading.Event], object]):
        self.stop = threading.Event()
        self._done: set = set()
        self._changed = threading.Condition()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="mlflow-migrate-background")
        self._future = self._executor.submit(self._run, start)

    def _run(self, start) -> None:
        try:
            start(self._mark, self.stop)
        finally:
            with self._changed:
                self._changed.notify_all()

    def _mark(self, key: Hashable) -> None:
        with self._changed:
            self._done.add(key)
            self._changed.notify_all()

    def wait_for(self, key: Hashable) -> None:
        """Return once ``key`` is done; if the work ended without it, raise the work's error."""
        with self._changed:
            while key not in self._done and not self._future.done():
                self._changed.wait(_STOP_POLL)  # a timeout keeps Ctrl-C deliverable
            if key in self._done:
                return
        self._future.result()
        raise RuntimeError(f"background work ended without {key!r}")

    def finish(self) -> None:
        """Wait for the rest of the work; raise its error, if any."""
        try:
            self._future.result()
        finally:
            self._executor.shutdown()

    def abandon(self) -> None:
        """Start nothing more and wait for what is in flight; its error is not raised (the
        caller is already handling one)."""
        self.stop.set()
        wait([self._future])
        self._executor.shutdown()
