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
import threading
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

# Four tries, waits of 0, 2 and 4 s (plus up to 1 s jitter) between them, 8 s for each answer:
# a server that refuses connections fails a request within ~10 s, a silent one within ~40 s.
# A transient 502/503 from a proxy or an overloaded server is still retried three times.
REQUEST_BUDGET = {
    MLFLOW_HTTP_REQUEST_MAX_RETRIES.name: "3",
    MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR.name: "1",
    MLFLOW_HTTP_REQUEST_BACKOFF_JITTER.name: "1.0",
    MLFLOW_HTTP_REQUEST_TIMEOUT.name: "8",
}


# After the server has gone away: one try each, 2 s for an answer.
SHORT_BUDGET = {
    MLFLOW_HTTP_REQUEST_MAX_RETRIES.name: "0",
    MLFLOW_HTTP_REQUEST_TIMEOUT.name: "2",
}
HEALTH_TIMEOUT = 5.0


class ServerGoneError(MigrateError):
    """A server stopped answering in the middle of the work."""


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


def refuse_new_work() -> None:
    """Raise :class:`ServerGoneError` once a server was taken for gone: the engine's tasks not
    yet started are not started (each would wait for its own timeout)."""
    if _gone:
        server, reason = next(iter(_gone.items()))
        raise ServerGoneError(f"{server} stopped answering: {reason}")
