"""Every metric point of many runs in few requests, for verifying whole experiments.

MLflow's public client reads a history one run and one key at a time: verifying an experiment of
200 runs with 10 metrics would cost 4,000 requests, most of the verification's time against a
server that answers each request 40-50 ms late (docs/architecture.md, "Speed"). An ``mlflow
server`` also answers ``GET /ajax-api/2.0/mlflow/metrics/get-history-bulk`` (the route its UI
draws charts from; mlflow/server/handlers.py ``get_metric_history_bulk_handler``): every point
of one key for up to 100 runs, unsampled, at most 25,000 points per answer. This module uses it
where it can and falls back to the public per-run call everywhere else: for a server that does
not answer it (Databricks, a static prefix, an older server), and for a batch whose answer
reached the cap (which might have cut it). Points are held for one batch of runs at a time.
"""

from __future__ import annotations

import logging
import threading
import urllib.parse
from collections.abc import Iterable

from ..endpoint import Endpoint
from ..transfer.engine import Engine

_log = logging.getLogger(__name__)

BULK_ROUTE = "/ajax-api/2.0/mlflow/metrics/get-history-bulk"
# The server's limits (mlflow/server/handlers.py): runs per request, points per answer.
BULK_MAX_RUNS = 100
BULK_MAX_POINTS = 25000


class MetricHistories:
    """Prefetched histories of a batch of runs on one side; :meth:`take` hands each out once."""

    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint
        self.available = urllib.parse.urlsplit(endpoint.tracking_uri).scheme in ("http", "https")
        self._points: dict[tuple[str, str], list] = {}
        self._lock = threading.Lock()

    def prefetch(self, runs: Iterable, engine: Engine) -> None:
        """Read every key of ``runs`` (Run entities, at most :data:`BULK_MAX_RUNS`) in one
        request per key; whatever cannot be read this way is left to :meth:`take`'s caller."""
        if not self.available:
            return
        by_key: dict[str, list[str]] = {}
        for run in runs:
            for key in run.data.metrics:
                by_key.setdefault(key, []).append(run.info.run_id)
        tasks = (
            (lambda k=key, ids=ids: self._fetch(k, ids))
            for key, ids in by_key.items()
            for ids in _chunks(ids, BULK_MAX_RUNS)
        )
        engine.run(tasks)

    def take(self, run_id: str, key: str) -> list | None:
        """The sorted ``[step, timestamp, value]`` points of one run's key, or None when they
        were not prefetched (then read them with the public call)."""
        with self._lock:
            return self._points.pop((run_id, key), None)

    def _fetch(self, key: str, run_ids: list[str]) -> None:
        if not self.available:
            return
        from mlflow.utils.credentials import get_default_host_creds
        from mlflow.utils.rest_utils import http_request

        try:
            response = http_request(
                get_default_host_creds(self.endpoint.tracking_uri),
                BULK_ROUTE,
                "GET",
                params={"run_id": run_ids, "metric_key": key, "max_results": BULK_MAX_POINTS},
                raise_on_status=False,
            )
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            metrics = response.json().get("metrics", [])
        except Exception as exc:  # any failure: the public per-run call reads it instead
            _log.debug("bulk metric history unavailable on %s: %s", self.endpoint.display, exc)
            self.available = False
            return
        if len(metrics) >= BULK_MAX_POINTS:
            return  # the answer may be cut at the cap: read these runs one by one
        found: dict[str, list] = {run_id: [] for run_id in run_ids}
        for m in metrics:
            found.setdefault(m["run_id"], []).append([m["step"], m["timestamp"], m["value"]])
        with self._lock:
            for run_id, points in found.items():
                self._points[(run_id, key)] = sorted(points)


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]
