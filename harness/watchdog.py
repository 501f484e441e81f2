"""A hard time and memory budget around reading and checking one history.

The reader and the search watch their own deadline, but only where they look: a check
phase that does not, or a history that grows faster than it is read, could still run
past ``--timeout`` or take the machine's memory. The watchdog samples the process's RSS
(``/proc/self/statm``: one read, no dependency) and the clock from a thread, and when a
budget runs out it stops the main thread with :class:`BudgetExceeded` at its next
bytecode, within ``interval`` plus the current C call, and again every ``interval``
until the work is left (a raise that lands in a gc callback or a ``__del__`` is dropped by
Python, which would print it as "Exception ignored in": while armed, the watchdog's own
unraisable hook keeps those quiet, since the next signal raises again). It is a
``BaseException`` so that no ``except Exception`` on the way can mistake it for a failed
check.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import re
import signal
import sys
import threading
import time
from types import FrameType, TracebackType

from harness.errors import UsageError

_SIGNAL = signal.SIGUSR2
_armed: Watchdog | None = None
_installed = False


class BudgetExceeded(BaseException):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``2G``, ``500M``, ``1.5GiB``, ``123456`` (bytes) -> bytes."""
    m = _SIZE.match(text)
    if m is None or float(m.group(1)) <= 0:
        raise UsageError(f"--max-memory wants a size such as 2G or 500M, not {text!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def _on_signal(_signum: int, _frame: FrameType | None) -> None:
    # Raised again on every signal until the work is left: a handler may run inside a gc
    # callback or a __del__, where an exception is reported and dropped, not propagated.
    dog = _armed
    if dog is not None and dog.reason is not None:
        raise BudgetExceeded(dog.reason)


def release_memory() -> None:
    """Give back to the system what an abandoned check held, so the next file starts low
    (glibc keeps freed memory in its arenas otherwise)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class Watchdog:
    """``with Watchdog(timeout=..., max_rss=...):`` around work in the main thread.

    ``grace``: how much later than ``timeout`` it stops the work, as the backstop of work
    that keeps the same deadline itself; the reason still names ``timeout``."""

    def __init__(
        self,
        *,
        timeout: float | None = None,
        max_rss: int | None = None,
        interval: float = 0.05,
        grace: float = 0.0,
    ):
        self.deadline = None if timeout is None else time.monotonic() + timeout + grace
        self.timeout = timeout
        self.max_rss = max_rss
        self.interval = interval
        self.reason: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._hook = sys.unraisablehook

    def __enter__(self) -> Watchdog:
        global _armed, _installed
        if threading.current_thread() is not threading.main_thread():
            return self
        if not _installed:
            # Installed once and left: a signal that arrives after the work is over must
            # find a handler that ignores it, not the default action (which kills).
            signal.signal(_SIGNAL, _on_signal)
            _installed = True
        _armed = self
        self._hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        self._thread = threading.Thread(target=self._watch, name="watchdog", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        global _armed
        _armed = None
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            if sys.unraisablehook == self._unraisable:
                sys.unraisablehook = self._hook
        if isinstance(exc, BudgetExceeded):
            release_memory()

    def _unraisable(self, info: sys.UnraisableHookArgs) -> None:
        if not isinstance(info.exc_value, BudgetExceeded):
            self._hook(info)

    def _watch(self) -> None:
        main = threading.main_thread().ident
        while not self._stop.wait(self.interval):
            if self.reason is None:
                self.reason = self._exceeded()
            if self.reason is not None and main is not None:
                signal.pthread_kill(main, _SIGNAL)

    def _exceeded(self) -> str | None:
        """Which budget ran out, or None."""
        if self.max_rss is not None and (rss := rss_bytes()) > self.max_rss:
            return f"memory budget of {_human(self.max_rss)} ran out (RSS {_human(rss)})"
        if self.deadline is not None and time.monotonic() > self.deadline:
            return f"time budget of {self.timeout:g} s ran out"
        return None


def _human(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"
