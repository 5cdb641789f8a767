"""A bounded pool of object-level workers (one run each), parents before children.

An object worker waits for its own leaf tasks on the shared :class:`~.engine.Engine`, so it must
not run on the engine's pool; it gets threads of its own. Leaf tasks never wait, so the two pools
cannot deadlock. An object starts only once its parent (when the parent is among the objects)
has finished, which is what lets a nested run link to its imported parent; siblings and
unrelated trees run side by side. Objects are handed to threads only as threads free up, so an
interrupt (Ctrl-C) waits for at most ``workers`` objects in flight, never for the whole queue.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def run_parents_first(keys: Iterable[K], parent_of: Callable[[K], K | None],
                      work: Callable[[K], object], workers: int) -> None:
    """Call ``work(key)`` for every key on ``workers`` threads, each after its parent's call.

    ``work`` reports its own failures; an exception escaping it stops the pool and is raised.
    A child whose parent failed still runs (its work decides what a missing parent means).
    Keys caught in a parent cycle (a corrupt listing) are started one by one as roots.
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
            if not ready and not running:
                ready.append(next(k for k in keys if k in waiting))
            while ready and len(running) < workers:
                key = ready.popleft()
                if key in waiting:
                    waiting.discard(key)
                    running[pool.submit(work, key)] = key
            if not running:
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                key = running.pop(future)
                future.result()
                ready.extend(children.pop(key, []))
    finally:
        # Objects not yet handed out never start; those in flight finish (each one cleans up
        # after itself on failure), so an interrupted import leaves nothing half made.
        pool.shutdown(wait=True, cancel_futures=True)
