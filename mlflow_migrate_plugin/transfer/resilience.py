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
    try:
        yield
    finally:
        with _lock:
            _managed.clear()
            _gone.clear()
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
    if not is_transport_failure(exc):
        return False
    if gone(endpoint):
        return True
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


def gone(endpoint) -> bool:
    """Whether ``endpoint``'s server was taken for gone during this call."""
    return endpoint.display in _gone


def interrupt() -> None:
    """Ctrl-C: the objects in flight stop at their next task and clean up with short
    requests, instead of finishing their whole transfer first."""
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
)
OVERLOAD_CODES = ("TEMPORARILY_UNAVAILABLE", "RESOURCE_EXHAUSTED", "REQUEST_LIMIT_EXCEEDED")
OVERLOAD_TRIES = 3
OVERLOAD_PAUSE = 2.0  # seconds, doubled for each overload in a row, plus as much jitter

_calm = threading.Event()
_calm.set()
_overloads_in_a_row = 0


def is_overload(exc: BaseException) -> bool:
    """Whether ``exc`` is a server too busy to answer now (worth a later try)."""
    if not isinstance(exc, MlflowException):
        return False
    if isinstance(exc, RestException) and exc.error_code in OVERLOAD_CODES:
        return True
    text = str(exc)
    return any(sign in text for sign in OVERLOAD_SIGNS)


def with_overload_retries(fn, tries: int = OVERLOAD_TRIES):
    """Call ``fn`` (one object's whole import, which cleans up after itself on failure); when
    it fails because the server is overloaded, pause every caller (:func:`wait_until_calm`)
    with a growing, jittered pause and try again, up to ``tries`` times."""
    global _overloads_in_a_row
    for attempt in range(tries):
        wait_until_calm()
        try:
            result = fn()
        except Exception as exc:
            if attempt == tries - 1 or not is_overload(exc) or _gone:
                raise
            with _lock:
                _overloads_in_a_row += 1
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
