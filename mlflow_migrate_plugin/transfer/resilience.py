"""How long the tool waits for a server that has gone away or hangs, and how it retries.

MLflow's defaults suit one call from a notebook: up to 7 tries of each request, 120 s for each
answer, backoff up to a minute. A migration makes thousands of calls from several threads, and
its cleanup after a failure makes more: with those defaults a server killed mid-import was
reported 12 minutes later, and a hung one not at all within 40 minutes. While the library works,
each request gets a smaller budget (below, at most about a minute in all), unless the user set
MLflow's own variable, which is then kept. MLflow reads these variables at every request
(``mlflow.utils.rest_utils.http_request``), so setting them for the duration of a call works.

Once a request has failed for want of an answer and the server does not answer a health check
either, the server has gone away: :func:`trip_if_gone` then cuts the budget of every later
request to one short try (:data:`SHORT_BUDGET`), so that the cleanup of the work in flight
ends within seconds, and the callers stop scheduling new work (:func:`gone`).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from mlflow.environment_variables import (
    MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR,
    MLFLOW_HTTP_REQUEST_BACKOFF_JITTER,
    MLFLOW_HTTP_REQUEST_MAX_RETRIES,
    MLFLOW_HTTP_REQUEST_TIMEOUT,
)
from mlflow.exceptions import MlflowException, RestException

from ..errors import MigrateError

# Three tries, waits of 0 and 2 s (plus up to 1 s jitter) between them, 6 s for each answer: a
# server that refuses connections fails a request within ~3 s, a silent one within ~21 s, so
# that work in flight when the server is taken for gone ends within a minute. A 502/503 beyond
# these tries fails the object, which is then imported again after a pause (below).
REQUEST_BUDGET = {
    MLFLOW_HTTP_REQUEST_MAX_RETRIES.name: "2",
    MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR.name: "1",
    MLFLOW_HTTP_REQUEST_BACKOFF_JITTER.name: "1.0",
    MLFLOW_HTTP_REQUEST_TIMEOUT.name: "6",
}


# After the server has gone away: one try each, 2 s for an answer.
SHORT_BUDGET = {
    MLFLOW_HTTP_REQUEST_MAX_RETRIES.name: "0",
    MLFLOW_HTTP_REQUEST_TIMEOUT.name: "2",
}
HEALTH_TIMEOUT = 3.0


class ServerGoneError(MigrateError):
    """A server stopped answering in the middle of the work."""


_INTERRUPTED = "(interrupted)"
_lock = threading.Lock()
_managed: list[str] = []  # the variables bounded_requests set (the user's are left alone)
_gone: dict[str, str] = {}  # server (as displayed) -> why it is taken for gone
_in_call = threading.Event()  # set while a library call runs (bounded_requests)


@contextmanager
def bounded_requests() -> Iterator[None]:
    """While in this block, MLflow's HTTP requests use :data:`REQUEST_BUDGET`; a variable the
    user set keeps its value."""
    added = [name for name in REQUEST_BUDGET if name not in os.environ]
    for name in added:
        os.environ[name] = REQUEST_BUDGET[name]
    with _lock:
        _managed[:] = added
        _gone.clear()
        _limiters.clear()
        _in_call.set()
    try:
        yield
    finally:
        with _lock:
            _managed.clear()
            _gone.clear()
            _limiters.clear()
            _in_call.clear()
        for name in added:
            os.environ.pop(name, None)


def is_transport_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is a request that got no usable answer (refused, reset, timed out, or
    only gateway errors), as opposed to an answer that refused the request."""
    return isinstance(exc, MlflowException) and not isinstance(exc, RestException)


def trip_if_gone(endpoint, exc: BaseException) -> bool:
    """After ``exc`` from a request to ``endpoint``: when it was a transport failure and the
    server does not answer a health check either, take the server for gone (later requests
    get :data:`SHORT_BUDGET`) and return True."""
    return is_transport_failure(exc) and (gone(endpoint) or check_gone(endpoint))


def check_gone(endpoint) -> bool:
    """Ask ``endpoint``'s server for its health; when it does not answer, take it for gone
    (later requests get :data:`SHORT_BUDGET`) and return True."""
    from ..errors import UnreachableError

    try:
        endpoint.check_reachable(timeout=HEALTH_TIMEOUT)
        return False
    except UnreachableError as unreachable:
        reason = str(unreachable)
    with _lock:
        _gone.setdefault(endpoint.display, reason)
        for name in _managed:
            if name in SHORT_BUDGET:
                os.environ[name] = SHORT_BUDGET[name]
    return True


def gone_error(endpoint, exc: BaseException) -> ServerGoneError | None:
    """After ``exc`` from work against ``endpoint``: when its server has gone away
    (:func:`trip_if_gone`), the one-line error to raise instead, naming the server; else None."""
    if not trip_if_gone(endpoint, exc):
        return None
    if isinstance(exc, ServerGoneError):
        return exc
    return ServerGoneError(
        f"{endpoint.display} stopped answering ({_gone.get(endpoint.display, 'no answer')}); "
        "run the same command again once it answers: it completes the work"
    )


def any_gone_error(endpoints, exc: BaseException) -> ServerGoneError | None:
    """:func:`gone_error` for work against several servers (a copy reads one and writes the
    other): the error naming the first of ``endpoints`` that has gone away, else None."""
    for endpoint in endpoints:
        gone = gone_error(endpoint, exc)
        if gone is not None:
            return gone
    return None


@contextmanager
def one_line_when_gone(endpoints) -> Iterator[None]:
    """Work against ``endpoints`` whose failure, when one of their servers has gone away, is
    raised as :func:`any_gone_error`'s one line naming it."""
    try:
        yield
    except Exception as exc:
        gone = any_gone_error(endpoints, exc)
        if gone is not None:
            raise gone from exc
        raise


def guarded(endpoints, fn):
    """``fn`` for a thread pool's ``map`` over many objects: once a server is taken for gone,
    the calls not yet started fail at once instead of each waiting for its own timeouts; a
    failure that shows a server gone trips the breaker (:func:`trip_if_gone`)."""

    def call(*args, **kwargs):
        refuse_new_work()
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            for endpoint in endpoints:
                if trip_if_gone(endpoint, exc):
                    break
            raise

    return call


def gone(endpoint) -> bool:
    """Whether ``endpoint``'s server was taken for gone during this call."""
    return endpoint.display in _gone


def interrupt() -> None:
    """Ctrl-C: the objects in flight stop at their next task and clean up with short
    requests, instead of finishing their whole transfer first."""
    if not _in_call.is_set():  # a pool used outside the library's calls: nothing to stop
        return
    with _lock:
        _gone.setdefault(_INTERRUPTED, "interrupted")
        for name in _managed:
            if name in SHORT_BUDGET:
                os.environ[name] = SHORT_BUDGET[name]


def refuse_new_work() -> None:
    """Raise :class:`ServerGoneError` once a server was taken for gone: the engine's tasks not
    yet started are not started (each would wait for its own timeout)."""
    if _INTERRUPTED in _gone:
        raise KeyboardInterrupt
    if _gone:
        server, reason = next(iter(_gone.items()))
        raise ServerGoneError(f"{server} stopped answering: {reason}")


# Server answers that say "too busy now", not "wrong": a database pool that timed out (an
# `mlflow server` lets about 15 requests into its pool), sqlite's writer lock, rate limits.
OVERLOAD_SIGNS = (
    "QueuePool limit",
    "database is locked",
    "too many 429 error responses",
    "too many 503 error responses",
    "too many 502 error responses",  # a gateway in front of a server that is restarting
    "too many 504 error responses",
    # No answer within the request budget from a server that still answers its health check
    # (a dead or hung one is taken for gone first, :func:`trip_if_gone`): a request waiting
    # for a database connection, which `mlflow server` gives up on only after 30 s.
    "Read timed out",
)
OVERLOAD_CODES = ("TEMPORARILY_UNAVAILABLE", "RESOURCE_EXHAUSTED", "REQUEST_LIMIT_EXCEEDED")
OVERLOAD_TRIES = 3
OVERLOAD_PAUSE = 2.0  # seconds, doubled for each overload in a row, plus as much jitter

_calm = threading.Event()
_calm.set()
_overloads_in_a_row = 0
_last_overload = float("-inf")


def is_overload(exc: BaseException) -> bool:
    """Whether ``exc`` is a server too busy to answer now (worth a later try)."""
    if not isinstance(exc, MlflowException):
        return False
    if isinstance(exc, RestException) and exc.error_code in OVERLOAD_CODES:
        return True
    text = str(exc)
    return any(sign in text for sign in OVERLOAD_SIGNS)


def is_busy_answer(exc: BaseException) -> bool:
    """An overload the server answered (429, 503, a pool timeout, sqlite's lock), as opposed
    to no answer in time, which a hung server gives too: worth a quick second try of a small
    call such as a cleanup, where waiting out a hung server again would only delay the exit."""
    return is_overload(exc) and "Read timed out" not in str(exc)


def with_overload_retries(fn, tries: int = OVERLOAD_TRIES):
    """Call ``fn`` (one object's whole import, which cleans up after itself on failure); when
    it fails because the server is overloaded, pause every caller (:func:`wait_until_calm`)
    with a growing, jittered pause and try again, up to ``tries`` times."""
    global _overloads_in_a_row, _last_overload
    for attempt in range(tries):
        wait_until_calm()
        try:
            result = fn()
        except Exception as exc:
            if not is_overload(exc):
                raise
            if current_limiter() is not None:  # fewer requests at a time from now on
                current_limiter().overloaded()
            if attempt == tries - 1 or _gone:
                raise
            with _lock:
                # Objects failing together met the same overload: it counts once.
                now = time.monotonic()
                if now - _last_overload > OVERLOAD_PAUSE:
                    _overloads_in_a_row += 1
                _last_overload = now
                pause = OVERLOAD_PAUSE * 2 ** min(_overloads_in_a_row - 1, 4)
            _calm.clear()
            time.sleep(pause + random.uniform(0, pause))
            _calm.set()
            continue
        with _lock:
            _overloads_in_a_row = 0
        return result
    raise AssertionError("unreachable")  # pragma: no cover


def wait_until_calm(limit: float = 120.0) -> None:
    """Block while another worker pauses for an overloaded server: while it lasts, no new
    object is started, so fewer requests reach the server."""
    _calm.wait(limit)


# Fewer requests at a time to a server that says it is too busy ----------------------------------

LIMIT_CUT_EVERY = 2.0  # seconds: the answers of one burst of overload halve the limit once


class Limiter:
    """How many requests at a time go to one server: halved when it answers "too busy"
    (:func:`is_overload`), grown back by one after as many successes as the limit allows.

    Engine tasks take a slot each (:meth:`slot`); object workers are admitted as many at a time
    (:meth:`admit`), so that an object waiting for its own tasks never holds one of their slots.
    """

    def __init__(self, display: str, ceiling: int):
        self.display = display
        self.ceiling = max(1, ceiling)
        self.limit = self.ceiling
        self.lowest = self.ceiling
        self.cuts = 0
        self._tasks = 0
        self._objects = 0
        self._successes = 0
        self._last_cut = float("-inf")
        self._changed = threading.Condition()

    def overloaded(self) -> None:
        """The server answered "too busy": halve the limit (once per burst of such answers)."""
        with self._changed:
            now = time.monotonic()
            if now - self._last_cut < LIMIT_CUT_EVERY:
                return
            self._last_cut = now
            self.limit = max(1, self.limit // 2)
            self.lowest = min(self.lowest, self.limit)
            self.cuts += 1
            self._successes = 0

    def _succeeded(self) -> None:
        self._successes += 1
        if self._successes >= self.limit and self.limit < self.ceiling:
            self.limit += 1
            self._successes = 0
            self._changed.notify_all()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the ``limit`` request slots for the block."""
        with self._changed:
            while self._tasks >= self.limit:
                self._changed.wait(0.5)
            self._tasks += 1
        try:
            yield
        except BaseException as exc:
            if is_overload(exc):
                self.overloaded()
            raise
        else:
            with self._changed:
                self._succeeded()
        finally:
            with self._changed:
                self._tasks -= 1
                self._changed.notify_all()

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Start an object (a run's import) only while fewer than ``limit`` are in flight; its
        engine tasks, submitted from this thread, take this limiter's slots."""
        with self._changed:
            while self._objects >= self.limit:
                self._changed.wait(0.5)
            self._objects += 1
        previous = getattr(_current, "limiter", None)
        _current.limiter = self
        try:
            yield
        finally:
            _current.limiter = previous
            with self._changed:
                self._objects -= 1
                self._changed.notify_all()

    def summary(self) -> str | None:
        """A line for the report when the server was found overloaded, else None."""
        if not self.cuts:
            return None
        return (
            f"{self.display} answered 'too busy' {self.cuts} times; requests to it were cut "
            f"from {self.ceiling} to as few as {self.lowest} at a time (now {self.limit})"
        )


_current = threading.local()
_limiters: dict[str, Limiter] = {}


def limiter(endpoint, ceiling: int) -> Limiter:
    """The limiter of ``endpoint``'s server for this call (made with ``ceiling`` slots)."""
    with _lock:
        found = _limiters.get(endpoint.display)
        if found is None:
            found = _limiters[endpoint.display] = Limiter(endpoint.display, ceiling)
        return found


def current_limiter() -> Limiter | None:
    """The limiter of the object this thread works on (:meth:`Limiter.admit`), if any."""
    return getattr(_current, "limiter", None)
