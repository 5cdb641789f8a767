"""The small disk space a server-to-server copy passes artifact files through.

MLflow's artifact repositories read into and write from local files, so a file copied from one
server to another lands on disk for the time between its download and its upload. The spool
holds at most ``slots`` such files at once (one per transfer worker), each removed as soon as
it has landed on the destination, and the spool's folder is gone when the copy ends, on
success and on failure. Nothing else of the run is written to disk.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path


class Spool:
    """A temporary folder holding at most ``slots`` files in transit."""

    def __init__(self, slots: int):
        if slots < 1:
            raise ValueError("a spool needs at least one slot")
        self.slots = slots
        self._free = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._names = itertools.count()
        self._root: Path | None = None
        self._held = 0
        # The most files ever held at once: what the copy cost in disk, and what tests check.
        self.peak = 0

    @contextlib.contextmanager
    def file(self, name: str) -> Iterator[Path]:
        """A path for one file in transit, named ``name`` (MLflow uploads under the local
        name); the file is removed when the block ends, whatever happened in it."""
        with self._free:
            with self._lock:
                if self._root is None:
                    self._root = Path(tempfile.mkdtemp(prefix="mlflow-migrate-spool-"))
                self._held += 1
                self.peak = max(self.peak, self._held)
                folder = self._root / str(next(self._names))
            folder.mkdir()
            try:
                yield folder / name
            finally:
                shutil.rmtree(folder, ignore_errors=True)
                with self._lock:
                    self._held -= 1

    def close(self) -> None:
        """Remove the spool's folder (empty unless a transfer is still being torn down)."""
        with self._lock:
            root, self._root = self._root, None
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
