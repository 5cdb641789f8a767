"""How the CLI shows progress and results: a live status line on a terminal, plain lines else."""

from __future__ import annotations

import functools
import sys
import threading
import time

import click

from ..report import Phase, Progress, Report

# Without a terminal, a running phase prints its status at most this often (seconds).
PLAIN_LINE_INTERVAL = 10.0


def _human(n: float, unit: str) -> str:
    if unit == "bytes":
        for suffix in ("B", "KB", "MB", "GB", "TB"):
            if abs(n) < 1024 or suffix == "TB":
                return f"{n:.1f} {suffix}" if suffix != "B" else f"{int(n)} B"
            n /= 1024
    return f"{int(n)} {unit}".rstrip()


class _CliPhase(Phase):
    def __init__(self, owner: CliProgress, label: str, total: int | None, unit: str):
        self.owner, self.label, self.total, self.unit = owner, label, total, unit
        self.done = 0
        self.started = time.monotonic()
        self.last_line = self.started
        self.closed = False

    def advance(self, n: int = 1) -> None:
        with self.owner.lock:
            self.done += n
        self.owner.redraw(self)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.owner.finished(self)


class CliProgress(Progress):
    """Progress for the terminal (one live line, redrawn at most ten times a second) or for logs
    and CI (a line when each phase with work ends)."""

    def __init__(self, stream=None, live: bool | None = None):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.lock = threading.Lock()
        self._last_draw = 0.0

    def phase(self, label: str, total: int | None, unit: str = "") -> Phase:
        return _CliPhase(self, label, total, unit)

    def note(self, message: str) -> None:
        self._clear()
        click.echo(message, file=self.stream)

    def redraw(self, phase: _CliPhase) -> None:
        now = time.monotonic()
        if not self.live:
            # Logs and CI: a plain line now and then, so that a long phase shows it moves.
            with self.lock:
                if now - phase.last_line < PLAIN_LINE_INTERVAL:
                    return
                phase.last_line = now
            click.echo(self._status(phase), file=self.stream)
            return
        if now - self._last_draw < 0.1:
            return
        self._last_draw = now
        self.stream.write("\r\033[K" + self._bar(phase) + self._status(phase)[:160])
        self.stream.flush()

    @staticmethod
    def _bar(phase: _CliPhase, width: int = 24) -> str:
        """``[#########---------------] `` for a phase whose total is known, else nothing."""
        if not phase.total:
            return ""
        filled = min(width, int(width * phase.done / phase.total))
        return "[" + "#" * filled + "-" * (width - filled) + "] "

    @staticmethod
    def _status(phase: _CliPhase) -> str:
        total = f"/{_human(phase.total, phase.unit)}" if phase.total else ""
        pct = f" {100 * phase.done / phase.total:5.1f}%" if phase.total else ""
        return f"{phase.label}: {_human(phase.done, phase.unit)}{total}{pct}"

    def finished(self, phase: _CliPhase) -> None:
        if phase.done == 0 and not phase.total:
            return
        self._clear()
        seconds = time.monotonic() - phase.started
        click.echo(
            f"{phase.label}: {_human(phase.done, phase.unit)} in {seconds:.1f}s", file=self.stream
        )

    def _clear(self) -> None:
        if self.live:
            self.stream.write("\r\033[K")
            self.stream.flush()


def status_counts(
    report: Report, kind: str, statuses: tuple[str, ...] = ("imported", "skipped", "failed")
) -> str:
    """How many objects of ``kind`` ended in each status, e.g. "3 imported, 0 skipped, 1 failed"."""
    return ", ".join(f"{len(report.find(kind, s))} {s}" for s in statuses)


def print_summary(report: Report, started: float) -> None:
    """The closing lines: what moved, per kind of object, warnings, and the time it took; then
    exit 1 if any object failed or could not be imported, so that scripts see it."""
    from ..endpoint import redact_text

    for warning in report.warnings:
        click.echo(f"Warning: {redact_text(warning)}", err=True)
    for line in report.summary_lines() + report.leftover_lines():
        click.echo(line)
    for outcome in report.outcomes:
        if outcome.status == "failed":
            click.echo(f"FAILED {outcome.kind} {outcome.source_id}: {outcome.detail}", err=True)
    click.echo(f"Done in {time.monotonic() - started:.1f}s.")
    if report.failed:
        click.get_current_context().exit(1)


def summarized(fn):
    """For a command that returns a :class:`Report`: it gets a ``progress`` bar, and after it
    returns, the summary is printed as :func:`print_summary` prints it (exit code included).
    Commands pass what every command of their kind takes as it is (server URIs, --workers, the
    progress bar) on to their api function as ``**common``."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        started = time.monotonic()
        print_summary(fn(*args, progress=CliProgress(), **kwargs), started)

    return wrapper
