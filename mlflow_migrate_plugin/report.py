"""What a migration did: per-object outcomes, warnings, and the progress hook the CLI draws.

The library never prints. It records outcomes in a :class:`Report` and tells a :class:`Progress`
how far each phase is; the CLI decides how to show both.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field

_log = logging.getLogger("mlflow_migrate_plugin")

IMPORTED = "imported"
EXPORTED = "exported"
SKIPPED = "skipped"
FAILED = "failed"


def failure_reason(exc: BaseException) -> str:
    """The one line recorded for an object that failed (the rest of its work goes on)."""
    text = (getattr(exc, "message", None) or str(exc)).strip()
    if not text:
        return type(exc).__name__
    from mlflow.exceptions import MlflowException

    from .errors import MigrateError, missing_store_hint

    line = text.splitlines()[0]
    if isinstance(exc, (MigrateError, OSError)):
        return line
    if isinstance(exc, MlflowException):
        return missing_store_hint(exc) or f"MLflow: {line}"
    return f"{type(exc).__name__}: {line}"


@dataclass
class Outcome:
    """One object moved (or not): kind ('run', 'logged_model', ...), ids, status and why."""

    kind: str
    source_id: str
    status: str
    destination_id: str | None = None
    detail: str | None = None


@dataclass
class Report:
    """Everything one API call did, for the end-of-command summary and for callers."""

    outcomes: list[Outcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Runs this call discarded (failed, interrupted or second copies): MLflow's API can only
    # soft-delete them, so they stay in the deleted state until `mlflow gc` purges them.
    discarded_runs: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(
        self,
        kind: str,
        source_id: str,
        status: str,
        destination_id: str | None = None,
        detail: str | None = None,
    ) -> Outcome:
        outcome = Outcome(kind, source_id, status, destination_id, detail)
        with self._lock:
            self.outcomes.append(outcome)
        return outcome

    def warn(self, message: str) -> None:
        _log.warning(message)
        with self._lock:
            self.warnings.append(message)

    def discarded(self, run_id: str) -> None:
        with self._lock:
            if run_id not in self.discarded_runs:  # a discard tried again is one leftover
                self.discarded_runs.append(run_id)

    def merge(self, other: Report) -> None:
        with self._lock:
            self.outcomes.extend(other.outcomes)
            self.warnings.extend(other.warnings)
            self.discarded_runs.extend(other.discarded_runs)

    def leftover_lines(self) -> list[str]:
        """What the discarded runs are and the command that purges them, if there are any."""
        if not self.discarded_runs:
            return []
        ids = ",".join(self.discarded_runs)
        return [
            f"{len(self.discarded_runs)} discarded runs left in the deleted state; to purge "
            "them, on the destination's store:",
            f"  mlflow gc --backend-store-uri <destination store URI> --run-ids {ids}",
        ]

    def find(self, kind: str, status: str | None = None) -> list[Outcome]:
        return [
            o for o in self.outcomes if o.kind == kind and (status is None or o.status == status)
        ]

    @property
    def failed(self) -> bool:
        return any(o.status == FAILED for o in self.outcomes)

    def summary_lines(self) -> list[str]:
        by_kind: dict[str, Counter] = {}
        for o in self.outcomes:
            by_kind.setdefault(o.kind, Counter())[o.status] += 1
        lines = []
        for kind, counter in by_kind.items():
            parts = ", ".join(f"{n} {status}" for status, n in sorted(counter.items()))
            lines.append(f"{kind.replace('_', ' ')}s: {parts}")
        return lines


class Phase:
    """A handle on one phase of work; ``advance`` may be called from any thread."""

    def advance(self, n: int = 1) -> None:  # pragma: no cover - the no-op default
        pass

    def close(self) -> None:  # pragma: no cover
        pass


class Progress:
    """Receives progress from the library. The default shows nothing."""

    def phase(self, label: str, total: int | None, unit: str = "") -> Phase:
        return Phase()

    def note(self, message: str) -> None:
        """A line of narrative (what is being imported now)."""
        _log.info(message)


NO_PROGRESS = Progress()
