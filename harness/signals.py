"""Stopping on a signal the way Ctrl-C stops: SIGTERM and SIGHUP too, once, cleanly.

A run must end the same way whatever stops it (the history's end record says
"interrupted", the summary and report are written, every member, namespace and
container is removed), so SIGTERM and SIGHUP raise the same exception in the main thread
that SIGINT does. A second signal while the harness is already stopping must not cut
its clean-up short: it is reported and ignored (SIGKILL still works; `etcd-harness
cleanup` removes what it leaves).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread by SIGINT, SIGTERM or SIGHUP; a KeyboardInterrupt so
    that code written for Ctrl-C handles all three."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal's number (130, 143, 129)."""
        return 128 + self.signum


def signal_of(exc: BaseException) -> int:
    """The signal behind a KeyboardInterrupt (SIGINT unless it is an Interrupted)."""
    return exc.signum if isinstance(exc, Interrupted) else signal.SIGINT


def exit_code(exc: BaseException) -> int:
    return 128 + signal_of(exc)


class _Handler:
    def __init__(self) -> None:
        self.first: int | None = None

    def __call__(self, signum: int, frame: Any) -> None:
        if self.first is None:
            self.first = signum
            raise Interrupted(signum)
        print(
            f"etcd-harness: {signal.Signals(signum).name} ignored: already stopping, cleaning up",
            file=sys.stderr,
            flush=True,
        )


@contextmanager
def interruptible() -> Iterator[None]:
    """Within the block (main thread only), SIGINT, SIGTERM and SIGHUP raise
    :class:`Interrupted` once; later ones are ignored until the block is left."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = _Handler()
    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
