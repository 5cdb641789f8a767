"""A run's metric history read from a live source, a few pages ahead of the ``log_batch`` calls.

A server-to-server copy hands the run import (:mod:`..handlers.run`) the same batches of points
an export's ``metrics.jsonl`` would give, read straight from the source: reader threads page
through several keys at once and pass each page on through a queue of one, so that the next
page is being read while the engine's pool logs the last one. The readers are threads of their
own rather than tasks of the :class:`~.engine.Engine`: they wait for the writers to take their
pages, and a task of the pool must never wait for another.

Memory stays bounded whatever the history's length: each reader holds one page, the queue one
more, and the writers' batches are the engine's (at most 2 x workers in flight). A ``gate``
shared by every run of a command bounds the history reads in flight across all of them, so
that runs copied side by side do not pile requests onto the source.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from .metrics import history_pages

# How long a reader waits for room in the queue before it looks whether it should stop.
_POLL_SECONDS = 0.2
_DONE = object()


def _point(key: str, m) -> dict:
    return {"key": key, "value": m.value, "timestamp": m.timestamp, "step": m.step}


class HistoryStream:
    """Every point of ``keys`` of run ``run_id`` on a source client, in batches."""

    def __init__(
        self, client, run_id: str, keys: list[str], readers: int, gate: threading.Semaphore | None
    ):
        self._client = client
        self._run_id = run_id
        self._keys = list(keys)
        self._readers = max(1, min(readers, len(self._keys) or 1))
        self._gate = gate or contextlib.nullcontext()
        # Read up front by count_if_small: the first page of each key, and where it goes on.
        self._first: list[dict] = []
        self._resume: list[tuple[str, str | None]] = [(key, None) for key in self._keys]

    def count_if_small(self, limit: int) -> int | None:
        """For a small run: read every key's first page (at most ``limit`` + 1 points each,
        ``readers`` keys at once) and return the point count when that is the whole history
        and at most ``limit`` points, so that it can go in one ``log_batch`` with the params
        and tags. Else None, known as soon as the points read pass ``limit``: the points read
        are kept (never much more than ``limit`` x ``readers``) and the rest is read after."""
        if not self._keys or len(self._keys) > limit:
            return None
        first: list[dict] = []
        resume: list[tuple[str, str | None]] = []
        with ThreadPoolExecutor(self._readers, thread_name_prefix="mlflow-migrate-read") as pool:
            for start in range(0, len(self._keys), self._readers):
                group = self._keys[start : start + self._readers]
                for key, page, token in pool.map(lambda k: self._first_page(k, limit + 1), group):
                    first += [_point(key, m) for m in page]
                    if token:
                        resume.append((key, token))
                if resume or len(first) > limit:
                    resume += [(key, None) for key in self._keys[start + len(group) :]]
                    break
        self._first, self._resume = first, resume
        if resume or len(first) > limit:
            return None
        return len(first)

    def _first_page(self, key: str, size: int) -> tuple[str, list, str | None]:
        with self._gate:
            page = next(history_pages(self._client, self._run_id, key, size))
        return key, page, getattr(page, "token", None)

    def batches(self, size: int) -> Iterator[list[dict]]:
        """The points in batches of ``size``, keys mixed (MLflow keys a point by its own
        key, step, timestamp and value, so the order of the calls does not matter)."""
        buffer, self._first = self._first, []
        while len(buffer) >= size:
            yield buffer[:size]
            buffer = buffer[size:]
        for page in self._pages():
            buffer += page
            while len(buffer) >= size:
                yield buffer[:size]
                buffer = buffer[size:]
        if buffer:
            yield buffer

    def _pages(self) -> Iterator[list[dict]]:
        """Pages of points from reader threads, until every key is read; the first error of
        a reader is raised here. Closing the iterator stops the readers."""
        if not self._resume:
            return
        todo: queue.SimpleQueue = queue.SimpleQueue()
        for item in self._resume:
            todo.put(item)
        pages: queue.Queue = queue.Queue(maxsize=1)
        stop = threading.Event()
        readers = [
            threading.Thread(
                target=self._read, args=(todo, pages, stop), name="mlflow-migrate-read", daemon=True
            )
            for _ in range(min(self._readers, len(self._resume)))
        ]
        for reader in readers:
            reader.start()
        running = len(readers)
        try:
            while running:
                item = pages.get()
                if item is _DONE:
                    running -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
        finally:
            stop.set()
            while any(r.is_alive() for r in readers):  # a reader may wait for room: make it
                try:
                    pages.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    pass
            for reader in readers:
                reader.join()

    def _read(self, todo: queue.SimpleQueue, pages: queue.Queue, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    key, token = todo.get_nowait()
                except queue.Empty:
                    break
                read = history_pages(self._client, self._run_id, key, token=token)
                for page in self._gated(read):
                    if not _put(pages, [_point(key, m) for m in page], stop):
                        return
        except BaseException as exc:  # handed to the consumer, which raises it
            _put(pages, exc, stop)
        _put(pages, _DONE, stop)

    def _gated(self, pages: Iterator) -> Iterator:
        """Each page's request made within the gate; the wait for room in the queue outside."""
        while True:
            with self._gate:
                page = next(pages, None)
            if page is None:
                return
            yield page


def _put(pages: queue.Queue, item, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            pages.put(item, timeout=_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False
