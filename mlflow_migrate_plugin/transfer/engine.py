"""The worker pool every transfer goes through.

Leaf work (one file, one batch of metrics) runs here; leaf tasks never wait on other tasks, so one
bounded pool serves a whole command without deadlock. Tasks are pulled lazily from iterators and
at most ``2 * workers`` are in flight, so memory stays bounded however large the run.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

DEFAULT_WORKERS = 8

Task = Callable[[], Any]


class Engine:
    """A bounded thread pool for I/O-bound leaf tasks."""

    def __init__(self, workers: int = DEFAULT_WORKERS):
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mlflow-migrate")

    def run(self, *task_streams: Iterable[Task]) -> list[Any]:
        """Run every task of the streams (interleaved) and return their results.

        On the first failure no further task is started; running ones finish, then the first
        exception is raised.
        """
        tasks = _interleave(task_streams)
        limit = 2 * self.workers
        pending: set[Future] = set()
        results: list[Any] = []
        failure: BaseException | None = None
        try:
            for task in tasks:
                pending.add(self._pool.submit(_unless_a_server_is_gone, task))
                if len(pending) >= limit:
                    # The next task starts as soon as any one ends (FIRST_EXCEPTION would wait
                    # for all of them unless one failed: a large file would hold up the rest).
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    failure = _collect(done, results)
                    if failure:
                        break
            if not failure:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    failure = _collect(done, results)
                    if failure:
                        break
        finally:
            if pending:
                for f in pending:
                    f.cancel()
                wait(pending)
        if failure:
            raise failure
        return results

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _collect(done: set[Future], results: list[Any]) -> BaseException | None:
    failure = None
    for f in done:
        if f.cancelled():
            continue
        exc = f.exception()
        if exc is not None:
            failure = failure or exc
        else:
            results.append(f.result())
    return failure


def _interleave(streams: Iterable[Iterable[Task]]) -> Iterator[Task]:
    iterators = [iter(s) for s in streams]
    sentinel = object()
    for group in itertools.zip_longest(*iterators, fillvalue=sentinel):
        for task in group:
            if task is not sentinel:
                yield task


def _unless_a_server_is_gone(task: Task) -> Any:
    from .resilience import refuse_new_work

    refuse_new_work()  # a task queued before a server went away is not started against it
    return task()
