"""How long the tool waits for a server that has gone away or hangs, and how it retries.

MLflow's defaults suit one call from a notebook: up to 7 tries of each request, 120 s for each
answer, backoff up to a minute. A migration makes thousands of calls from several threads, and
its cleanup after a failure makes more: with those defaults a server killed mid-import was
reported 12 minutes later, and a hung one not at all within 40 minutes. While the library works,
each request gets a smaller budget (below, at most about a minute in all), unless the user set
MLflow's own variable, which is then kept. MLflow reads these variables at every request
(``mlflow.utils.rest_utils.http_request``), so setting them for the duration of a call works.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from mlflow.environment_variables import (
    MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR,
    MLFLOW_HTTP_REQUEST_BACKOFF_JITTER,
    MLFLOW_HTTP_REQUEST_MAX_RETRIES,
    MLFLOW_HTTP_REQUEST_TIMEOUT,
)

# Four tries, waits of 0, 2 and 4 s (plus up to 1 s jitter) between them, 12 s for each answer:
# a server that refuses connections fails a request within ~10 s, a silent one within ~55 s.
# A transient 502/503 from a proxy or an overloaded server is still retried three times.
REQUEST_BUDGET = {
    MLFLOW_HTTP_REQUEST_MAX_RETRIES.name: "3",
    MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR.name: "1",
    MLFLOW_HTTP_REQUEST_BACKOFF_JITTER.name: "1.0",
    MLFLOW_HTTP_REQUEST_TIMEOUT.name: "12",
}


@contextmanager
def bounded_requests() -> Iterator[None]:
    """While in this block, MLflow's HTTP requests use :data:`REQUEST_BUDGET`; a variable the
    user set keeps its value."""
    added = [name for name in REQUEST_BUDGET if name not in os.environ]
    for name in added:
        os.environ[name] = REQUEST_BUDGET[name]
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)
