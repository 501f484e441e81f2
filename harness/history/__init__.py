"""History files: the records, the JSONL writer/reader, and importers of other tools' logs."""

from harness.history.history import History, HistoryError
from harness.history.records import (
    EndRecord,
    ErrorInfo,
    FaultRecord,
    Header,
    NoteRecord,
    OpRecord,
    StatusRecord,
    WatchRecord,
)

__all__ = [
    "EndRecord",
    "ErrorInfo",
    "FaultRecord",
    "Header",
    "History",
    "HistoryError",
    "NoteRecord",
    "OpRecord",
    "StatusRecord",
    "WatchRecord",
]
