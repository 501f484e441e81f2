"""A JSONL history read record by record, for the streaming check: validated as
:func:`harness.history.jsonl.read_history` does, but nothing is kept but the header,
the warnings and which operation ids were seen (one bit each), so that memory does not
grow with the file."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from harness.history.errors import HistoryError, LoadTimeout
from harness.history.files import Source
from harness.history.jsonl import _CLOCK_EVERY, _model_for, _start, iter_records, mismatch
from models.history import Header, History, OpRecord, WatchRecord
from models.schema import SchemaError


class SeenIds:
    """Operation ids seen so far: a bitmap for the dense non-negative ids every writer
    of ours uses (a set of millions of ints would be most of the check's memory), a set
    for any other."""

    def __init__(self) -> None:
        self._bits = bytearray()
        self._other: set[int] = set()

    def add(self, i: int) -> bool:
        """Record ``i``; False when it was already there."""
        if not 0 <= i < 1 << 34:
            if i in self._other:
                return False
            self._other.add(i)
            return True
        byte, bit = i >> 3, 1 << (i & 7)
        if byte >= len(self._bits):
            self._bits.extend(bytes(max(byte + 1 - len(self._bits), len(self._bits))))
        if self._bits[byte] & bit:
            return False
        self._bits[byte] |= bit
        return True


class HistoryStream:
    """Open a JSONL history; :meth:`records` yields its validated records after the
    header. ``hist`` holds the header and the warnings (operations are not kept)."""

    def __init__(self, path: str, *, model: str | None = None, deadline: float | None = None) -> None:
        self.path = path
        self.deadline = deadline
        self._src = Source(path)
        self._lines = iter_records(path, self._src.lines())
        self.hist = self._header(model)

    def _header(self, model: str | None) -> History:
        for lineno, rec, warning in self._lines:
            if warning:
                raise HistoryError(self.path, lineno, warning.split(": ", 1)[1])
            hist = _start(self.path, lineno, rec)
            self._model: Any = _model_for(self.path, hist.header, model)
            return hist
        raise HistoryError(self.path, None, "empty file: no header record")

    def records(self) -> Iterator[Any]:
        seen = SeenIds()
        try:
            for lineno, rec, warning in self._lines:
                if (
                    self.deadline is not None
                    and lineno % _CLOCK_EVERY == 0
                    and time.monotonic() > self.deadline
                ):
                    raise LoadTimeout(self.path, lineno)
                if warning:
                    self.hist.warnings.append(warning)
                    continue
                yield self._valid(lineno, rec, seen)
        finally:
            self._src.close()

    def _valid(self, lineno: int, rec: Any, seen: SeenIds) -> Any:
        try:
            if isinstance(rec, OpRecord):
                if not seen.add(rec.id):
                    raise HistoryError(self.path, lineno, f"duplicate operation id {rec.id}")
                if rec.ret is not None and rec.ret < rec.call:
                    raise HistoryError(self.path, lineno, f"operation {rec.id} returns before its call")
                if rec.status == "ok" and rec.ret is None:
                    raise HistoryError(self.path, lineno, f"operation {rec.id} is ok but has no return time")
                self._model.validate(rec)
            elif isinstance(rec, WatchRecord):
                self._model.validate_record(rec)
            elif isinstance(rec, Header):
                raise HistoryError(self.path, lineno, "a second header")
        except SchemaError as exc:
            raise HistoryError(
                self.path, lineno, mismatch(self.hist.header.model, self._model.name) + str(exc)
            ) from None
        return rec

    def close(self) -> None:
        self._src.close()
