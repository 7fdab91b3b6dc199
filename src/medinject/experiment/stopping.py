"""Stopping a run cleanly: SIGTERM (`kill`, a scheduler's cancel) unwinds like Ctrl-C.

Unwinding runs every `finally` and `with` exit on the way out, which is where the run stops the model
servers it started and terminates its worker pools. A node that was interrupted keeps its folder without a
completion marker, so the next run resumes it; finished nodes keep theirs and are not redone.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from ..errors import Stopped


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Inside the block, SIGTERM raises `Stopped`, which `except Exception` cannot swallow."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        # A second SIGTERM must not cut the cleanup short and orphan a server (SIGKILL still works).
        signal.signal(signum, signal.SIG_IGN)
        raise Stopped(signum=signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def signal_name(exc: BaseException) -> str:
    signum = getattr(exc, "signum", signal.SIGINT)
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
