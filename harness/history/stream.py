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
from harness.history.importers import detect_format
from harness.history.jsonl import _CLOCK_EVERY, SeenIds, _model_for, _start, check_record, iter_records
from models.history import History


class HistoryStream:
    """Open a JSONL history; :meth:`records` yields its validated records after the
    header. ``hist`` holds the header and the warnings (operations are not kept)."""

    def __init__(self, path: str, *, model: str | None = None, deadline: float | None = None) -> None:
        self.path = path
        self.deadline = deadline
        self._src = Source(path)
        fmt = detect_format(path, self._src.head)
        if fmt != "jsonl":
            self._src.close()
            raise HistoryError(
                path, None, f"the streaming check reads the harness's JSONL histories, not {fmt}"
            )
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
                check_record(self.path, lineno, rec, self._model, self.hist.header.model, seen)
                yield rec
        finally:
            self._src.close()

    def close(self) -> None:
        self._src.close()
