"""Ctrl-C inside a creation block is held until the created id is remembered."""

import os
import signal
import threading

import pytest

from mlflow_migrate_plugin import interrupts


@pytest.fixture(autouse=True)
def sigint_as_in_a_terminal():
    """Python's own SIGINT handler, as a foreground run has it: a background job
    (``pytest > log 2>&1 &``) starts with SIGINT ignored, and Python then installs none."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_sigint_inside_the_block_is_raised_after_it():
    remembered = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts.deferred():
            os.kill(os.getpid(), signal.SIGINT)
            remembered.append("m-1")  # runs although Ctrl-C came first
    assert remembered == ["m-1"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_no_sigint_means_no_interrupt_and_the_handler_is_restored():
    with interrupts.deferred():
        pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_ignored_sigint_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interrupts.deferred():
            os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_worker_thread_runs_the_block_without_touching_signals():
    outcome = []

    def work():
        with interrupts.deferred():
            outcome.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert outcome == [signal.default_int_handler]
