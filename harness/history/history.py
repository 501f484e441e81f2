"""A history in memory, whatever file it came from."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.history.records import (
    FaultRecord,
    Header,
    NoteRecord,
    OpRecord,
    StatusRecord,
    WatchRecord,
)
from models.operation import Operation


class HistoryError(Exception):
    """Bad input: names the file, the line and the reason, for a one-line error."""

    def __init__(self, path: str, line: int | None, reason: str):
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {reason}")


class LoadTimeout(Exception):
    """The time budget ran out while a history was being read: no verdict, not bad input."""

    def __init__(self, path: str, line: int):
        self.path = path
        self.line = line
        super().__init__(f"{path}: the time budget ran out while reading it (at line {line})")


@dataclass
class History:
    header: Header
    ops: list[OpRecord] = field(default_factory=list)
    faults: list[FaultRecord] = field(default_factory=list)
    watches: list[WatchRecord] = field(default_factory=list)
    statuses: list[StatusRecord] = field(default_factory=list)
    notes: list[NoteRecord] = field(default_factory=list)
    finished: bool = False
    warnings: list[str] = field(default_factory=list)
    path: str | None = None

    def operations(self) -> list[Operation]:
        """The client operations in the form checkers take."""
        return [
            Operation(
                id=r.id,
                client=r.client,
                call=r.call,
                ret=r.ret,
                input=r.input,
                output=r.output,
                status=r.status,
                error=r.error,
            )
            for r in self.ops
        ]

    @property
    def model(self) -> str | None:
        return self.header.model
