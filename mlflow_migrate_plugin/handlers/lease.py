"""A lease on a destination experiment or registered model, so that two imports of the same
objects never work side by side.

A scheduler that retries a job while the first try still runs starts a second import of the same
export. Each import would take the other's runs in progress for the leftovers of a crash and
discard them, or make a second copy of each. So an import first takes a lease: the tag
:data:`LEASE` on the destination object, ``<holder>:<expiry>`` (an epoch in seconds), which a
heartbeat thread renews while the import runs and the import deletes when it ends. A second
import that finds a live lease held by another refuses with one line, or waits for it (``wait``);
a lease past its expiry (its holder was killed), or left by an import of this host whose process
has ended, is taken over.

MLflow has no compare-and-set: a tag is last-writer-wins. So a taker writes its lease, waits
:data:`SETTLE` seconds (longer than the gap between another taker's read and its write, one
request), and reads it back: only the taker whose value is still there holds the lease; the
others see it taken and refuse or wait. The heartbeat reads before it renews, so a lease lost
all the same is noticed within :data:`RENEW_EVERY` seconds and reported.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from mlflow.exceptions import MlflowException

from .. import idmap
from ..endpoint import Endpoint
from ..errors import MigrateError
from ..report import Report

_log = logging.getLogger(__name__)

LEASE = idmap.LEASE
TTL = 60.0  # seconds a lease lives without renewal: a killed import blocks no longer
RENEW_EVERY = 15.0
SETTLE = 0.25  # well above one request (a taker's read-to-write gap), small per object
WAIT_POLL = 5.0
WRITE_TRIES = 3  # a lease write refused this often is an error, not a collision
WAIT_LIMIT = 3600.0  # the longest ``wait`` waits for another import before refusing


class LeaseHeldError(MigrateError):
    """Another import of the same destination object is in progress."""


@dataclass
class Target:
    """A destination object that can carry the lease tag."""

    what: str  # "experiment 'x'", as messages name it
    read: Callable[[], dict]
    write: Callable[[str], None]
    remove: Callable[[], None]


def on_experiment(dst: Endpoint, experiment_id: str, name: str) -> Target:
    client = dst.client
    return Target(
        f"experiment '{name}'",
        lambda: dict(client.get_experiment(experiment_id).tags or {}),
        lambda value: client.set_experiment_tag(experiment_id, LEASE, value),
        lambda: client.delete_experiment_tag(experiment_id, LEASE),
    )


def on_registered_model(dst: Endpoint, name: str) -> Target:
    client = dst.client
    return Target(
        f"registered model '{name}'",
        lambda: dict(client.get_registered_model(name).tags or {}),
        lambda value: client.set_registered_model_tag(name, LEASE, value),
        lambda: client.delete_registered_model_tag(name, LEASE),
    )


def _parse(value: str | None) -> tuple[str | None, float]:
    """(holder, expiry) of a lease tag's value; (None, 0) when there is none or it is unreadable
    (an unreadable lease protects nothing, so it is taken over)."""
    if not value:
        return None, 0.0
    holder, _, expiry = value.rpartition(":")
    try:
        return holder or None, float(expiry)
    except ValueError:
        return None, 0.0


def _value(holder: str) -> str:
    return f"{holder}:{time.time() + TTL:.0f}"


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%H:%M:%S UTC")


@dataclass
class Lease:
    """A lease held on ``target``, renewed in the background until :meth:`release`."""

    target: Target
    holder: str
    report: Report
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    lost_to: str | None = None

    def _heartbeat(self) -> None:
        while not self._stop.wait(RENEW_EVERY):
            try:
                holder, _ = _parse(self.target.read().get(LEASE))
                if holder not in (None, self.holder):
                    self.lost_to = holder
                    return
                self.target.write(_value(self.holder))
            except Exception as exc:  # a server gone is the import's to report, not ours
                _log.info("could not renew the lease on %s: %s", self.target.what, exc)

    def start(self) -> Lease:
        self._thread = threading.Thread(
            target=self._heartbeat, name="mlflow-migrate-lease", daemon=True
        )
        self._thread.start()
        return self

    def release(self) -> None:
        """Stop renewing and remove the lease if it is still ours (best effort: a lease left
        behind expires on its own)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with _active_lock:
            _active.discard(self.holder)
        if self.lost_to is not None:
            self.report.warn(
                f"another import ({self.lost_to}) took over the lease on {self.target.what} "
                "while this one ran; run the import again once it ends: a rerun repairs "
                "anything both made"
            )
            return
        try:
            holder, _ = _parse(self.target.read().get(LEASE))
            if holder == self.holder:
                self.target.remove()
        except Exception as exc:
            _log.info("could not release the lease on %s: %s", self.target.what, exc)


_active: set[str] = set()  # the holders of the leases this process holds now
_active_lock = threading.Lock()


def new_holder() -> str:
    """A holder name that tells a person where the import runs: host, process, a random part."""
    return f"{socket.gethostname()}/pid {os.getpid()}/{uuid.uuid4().hex[:8]}"


def _abandoned(holder: str) -> bool:
    """Whether ``holder`` is an import of this host that ended without releasing its lease
    (its server was gone then): its process is gone, or it is this process and holds no such
    lease now. A rerun right after such an import need not wait for the lease to expire."""
    host, _, rest = holder.partition("/pid ")
    pid = rest.split("/", 1)[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        with _active_lock:
            return holder not in _active
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, and another user's
        return False
    return False


def _write(target: Target, holder: str) -> bool:
    """Write our lease; False when another taker's write of the same tag collided with ours.

    A tag that does not exist yet is inserted, and a server's database refuses the second of two
    inserts of one key at the same moment (sqlite: ``UNIQUE constraint failed``). The other
    taker's lease is then there to be read, so the caller reads again. An error that repeats is
    not such a collision and is raised."""
    for attempt in range(WRITE_TRIES):
        try:
            target.write(_value(holder))
            return True
        except MlflowException as exc:
            if attempt == WRITE_TRIES - 1:
                raise
            _log.info("writing the lease on %s collided: %s", target.what, exc)
            time.sleep(SETTLE * (1 + random.random()))
            if _parse(target.read().get(LEASE))[0] not in (None, holder):
                return False
    return False


def take(
    target: Target,
    report: Report,
    *,
    wait: bool = False,
    note: Callable[[str], None] = _log.info,
    holder: str | None = None,
) -> Lease:
    """Take the lease on ``target`` and keep it renewed; raise :class:`LeaseHeldError` when
    another import holds it (after waiting for it up to :data:`WAIT_LIMIT` with ``wait``)."""
    holder = holder or new_holder()
    deadline = time.monotonic() + (WAIT_LIMIT if wait else 0.0)
    told = False
    while True:
        other, until = _parse(target.read().get(LEASE))
        if other is not None and other != holder and until > time.time() and not _abandoned(other):
            busy = (
                f"another import of {target.what} is in progress (holder {other}, lease "
                f"until {_when(until)})"
            )
            if time.monotonic() >= deadline:
                hint = "rerun after it ends" + ("" if wait else " or pass --wait")
                raise LeaseHeldError(f"{busy}; {hint}")
            if not told:
                note(f"{busy}; waiting for it to end")
                told = True
            time.sleep(WAIT_POLL)
            continue
        with _active_lock:  # before the write: another thread of this process must see it live
            _active.add(holder)
        try:
            if _write(target, holder):
                time.sleep(SETTLE)  # a taker that read before our write writes within this time
                if _parse(target.read().get(LEASE))[0] == holder:
                    return Lease(target, holder, report).start()
        except BaseException:
            with _active_lock:
                _active.discard(holder)
            raise
        with _active_lock:
            _active.discard(holder)
