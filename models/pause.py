"""Pausing Python's cyclic garbage collector around work that allocates hundreds of
thousands of small objects and no cycles (reading a history, checking one).

With a 60k-operation history alive, every full collection rescans it: that alone
tripled the check time and doubled the time to read a 200k-operation history.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
