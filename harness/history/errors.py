"""Why a history file cannot be read: bad input (one line, exit 2) or no time left."""

from __future__ import annotations

from harness.errors import HarnessError


class HistoryError(HarnessError):
    """Bad input: names the file, the line and the reason, for a one-line error."""

    def __init__(self, path: str, line: int | None, reason: str):
        self.path = path
        self.line = line
        # One line, whatever the reason quotes (a parser's excerpt may hold newlines).
        self.reason = reason = " ".join(reason.split())
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {reason}")


class LoadTimeout(Exception):
    """The time budget ran out while a history was being read: no verdict, not bad input."""

    def __init__(self, path: str, line: int):
        self.path = path
        self.line = line
        super().__init__(f"{path}: the time budget ran out while reading it (at line {line})")
