"""Subprocesses a test interrupts with SIGINT, as Ctrl-C in a terminal would.

A shell starts a background job (``pytest > log 2>&1 &`` from a script, ``nohup``) with SIGINT
ignored, and an ignored signal stays ignored across fork and exec. Python installs its
``KeyboardInterrupt`` handler only where SIGINT is at its default, so a child started from such a
job would never see the test's SIGINT. The child gets SIGINT back at its default before exec.
"""

from __future__ import annotations

import signal
import subprocess


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_interruptible(args: list[str], **kwargs) -> subprocess.Popen:
    """``subprocess.Popen(args, **kwargs)`` whose process starts with SIGINT at its default,
    whatever the test process inherited."""
    return subprocess.Popen(args, preexec_fn=_default_sigint, **kwargs)
