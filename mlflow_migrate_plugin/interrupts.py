"""Ctrl-C held back while an object is created and remembered, so that cleanup knows it.

An import removes what it created when it is interrupted. A ``KeyboardInterrupt`` raised after
the server made an object but before its id reached our list would leave that object behind,
unknown to the cleanup. Inside :func:`deferred`, SIGINT is recorded instead and raised as
``KeyboardInterrupt`` when the block ends, with the id already remembered.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT until the block ends. Only the main thread receives signals; elsewhere (a
    worker thread of a pool) the block runs as it is, and the pool's cancellation applies."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if not received or previous == signal.SIG_IGN:
        return
    if callable(previous):  # Python's default handler raises KeyboardInterrupt
        previous(signal.SIGINT, None)
    else:
        raise KeyboardInterrupt
