"""A fault-injecting HTTP reverse proxy on loopback, in front of a real ``mlflow server``.

The faults are the ones a real network and real load balancers produce, chosen by path and
counted, so that a scenario is repeatable:

- ``refuse(pattern, every, limit)``: every ``every``-th matching request (at most ``limit`` of
  them) is answered 503 and never reaches the server (an overloaded server or gateway);
- ``lose_answers(pattern, every)``: every ``every``-th matching request is forwarded, the server
  commits it, and the client gets 502 instead of the answer (a connection lost on the way back);
- ``hang_after(count)``: after ``count`` requests, requests are held unanswered until the proxy
  stops (a server that stops answering);
- ``on_request(count, action)``: ``action()`` runs when request ``count`` arrives (to kill the
  server behind the proxy mid-transfer);
- ``go_dark()``: the proxy's own port closes and open connections drop without an answer, as
  clients of a killed server see it.

Every request's method and path is kept in ``seen``, and with the server's status in
``answered`` once forwarded, so that a test can count what a command asked of the server.

The proxy is bounded: a thread per connection, each request held at most ``HOLD_LIMIT`` seconds.
"""

from __future__ import annotations

import http.client
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOLD_LIMIT = 120.0
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length"}


@dataclass
class _Rule:
    pattern: re.Pattern
    every: int
    limit: int | None = None
    seen: int = 0
    hits: int = 0

    def fires(self, path: str) -> bool:
        if not self.pattern.search(path) or (self.limit is not None and self.hits >= self.limit):
            return False
        self.seen += 1
        if self.seen % self.every == 0:
            self.hits += 1
            return True
        return False


@dataclass
class FaultProxy:
    """A running proxy; ``url`` is the address clients use instead of ``upstream``."""

    upstream: str
    url: str = ""
    requests: int = 0
    seen: list[tuple[str, str]] = field(default_factory=list)
    answered: list[tuple[str, str, int]] = field(default_factory=list)
    _refused: list[_Rule] = field(default_factory=list)
    _lost: list[_Rule] = field(default_factory=list)
    _hang_after: int | None = None
    _actions: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _dark: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    def refuse(self, pattern: str, every: int, limit: int | None = None) -> None:
        with self._lock:
            self._refused.append(_Rule(re.compile(pattern), every, limit))

    def lose_answers(self, pattern: str, every: int) -> None:
        with self._lock:
            self._lost.append(_Rule(re.compile(pattern), every))

    def hang_after(self, count: int) -> None:
        with self._lock:
            self._hang_after = self.requests + count

    def on_request(self, count: int, action) -> None:
        with self._lock:
            self._actions[self.requests + count] = action

    def go_dark(self) -> None:
        self._dark.set()
        threading.Thread(target=self._close_listener, daemon=True).start()

    def _close_listener(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def heal(self) -> None:
        """No more faults from now on (requests already held stay held)."""
        with self._lock:
            self._refused, self._lost, self._hang_after = [], [], None

    @property
    def answers_lost(self) -> int:
        return sum(r.hits for r in self._lost)

    @property
    def refused(self) -> int:
        return sum(r.hits for r in self._refused)

    def _decide(self, method: str, path: str) -> str:
        with self._lock:
            self.requests += 1
            self.seen.append((method, path))
            action = self._actions.pop(self.requests, None)
            if action is not None:
                action()
            if self._hang_after is not None and self.requests > self._hang_after:
                return "hang"
            if any(rule.fires(path) for rule in self._refused):
                return "refuse"
            if any(rule.fires(path) for rule in self._lost):
                return "lose"
            return "forward"

    def start(self) -> FaultProxy:
        proxy = self
        target = urllib.parse.urlsplit(self.upstream)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # the test's output is the scenario's, not ours
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                action = proxy._decide(self.command, self.path)
                if proxy._dark.is_set():
                    self.close_connection = True
                    return
                if action == "hang":
                    proxy._stopping.wait(HOLD_LIMIT)
                    self.close_connection = True
                    return
                if action == "refuse":
                    self._answer(503, b'{"error_code": "TEMPORARILY_UNAVAILABLE"}', {})
                    return
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=HOLD_LIMIT)
                try:
                    headers = {
                        k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS
                    }
                    conn.request(self.command, self.path, body=body, headers=headers)
                    answer = conn.getresponse()
                    data = answer.read()
                except OSError:  # as a TCP proxy would: the client's connection drops too
                    self.close_connection = True
                    return
                finally:
                    conn.close()
                if action == "lose":
                    self._answer(502, b"answer lost", {})
                    return
                with proxy._lock:
                    proxy.answered.append((self.command, self.path, answer.status))
                kept = {k: v for k, v in answer.getheaders() if k.lower() not in _HOP_HEADERS}
                self._answer(answer.status, data, kept)

            def _answer(self, status: int, data: bytes, headers: dict):
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
