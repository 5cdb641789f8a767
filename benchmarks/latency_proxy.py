"""A loopback TCP proxy that delays every chunk by a fixed time each way: a distant server.

    with LatencyProxy("127.0.0.1", 5000, one_way_ms=25) as proxy:  # 50 ms round trip
        ... use f"http://127.0.0.1:{proxy.port}" as the tracking URI ...

Each connection is relayed in both directions by asyncio tasks on an event loop in a thread of
its own. A chunk read from one side is written to the other ``one_way_ms`` after it was read,
and chunks that follow it are not held behind it longer than that: the delay is latency, not a
bandwidth limit, as on a long link. Each direction buffers at most ``BUFFER_CHUNKS`` chunks of
``CHUNK`` bytes; beyond that the reading side waits, so a fast sender is slowed by TCP's own
back-pressure instead of filling memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

CHUNK = 64 * 1024
BUFFER_CHUNKS = 64


class LatencyProxy:
    """Relays ``127.0.0.1:<port>`` to ``host:target_port`` with ``one_way_ms`` each way."""

    def __init__(self, host: str, target_port: int, one_way_ms: float):
        self.host = host
        self.target_port = target_port
        self.delay = one_way_ms / 1000.0
        self.port: int | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    def start(self) -> LatencyProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accept, "127.0.0.1", 0), self._loop
        ).result()
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _accept(self, client_r, client_w) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        server_w = None
        try:
            server_r, server_w = await asyncio.open_connection(self.host, self.target_port)
            await asyncio.gather(self._relay(client_r, server_w), self._relay(server_r, client_w))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            for writer in (client_w, server_w):
                if writer is not None:
                    writer.close()

    async def _relay(self, reader, writer) -> None:
        """Copy ``reader`` to ``writer``, each chunk written ``delay`` after it was read."""
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue = asyncio.Queue(maxsize=BUFFER_CHUNKS)

        async def read() -> None:
            while True:
                data = await reader.read(CHUNK)
                await chunks.put((loop.time() + self.delay, data))
                if not data:
                    return

        async def write() -> None:
            while True:
                due, data = await chunks.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        await asyncio.gather(read(), write())


@contextlib.contextmanager
def delayed(urls: list[str], round_trip_ms: float):
    """Proxies in front of each ``http://127.0.0.1:PORT`` URL with ``round_trip_ms`` in all;
    yields their URLs in the same order (the URLs themselves when the delay is 0)."""
    if not round_trip_ms:
        yield list(urls)
        return
    proxies = []
    try:
        for url in urls:
            port = int(url.rsplit(":", 1)[1].split("/")[0])
            proxies.append(LatencyProxy("127.0.0.1", port, round_trip_ms / 2).start())
        yield [p.url() for p in proxies]
    finally:
        for proxy in proxies:
            proxy.stop()
