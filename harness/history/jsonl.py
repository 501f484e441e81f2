"""The JSONL history file: written line by line while a run goes on, read back tolerantly.

A crash can cut the last line short; the reader reports and skips it. Anything else
malformed is an error naming the line, because a silently skipped record could hide a
violation.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from harness.errors import DiskFullError
from harness.history.files import read_bytes
from harness.history.history import History, HistoryError
from harness.history.records import (
    FORMAT_NAME,
    FORMAT_VERSION,
    EndRecord,
    FaultRecord,
    Header,
    NoteRecord,
    OpRecord,
    Record,
    StatusRecord,
    WatchRecord,
)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Record)


class HistoryWriter:
    """Appends records to a history file, one whole line each.

    Thread-safe so that traffic threads, watchers and the fault injector can share one
    writer. ``fsync_every`` bounds what an OS crash (not just ours) could lose.

    A write that fails (the disk is full) never raises in the thread that records: the
    file is cut back to its last whole record, later records are dropped, and ``error``
    says why, for the run to stop and report. Unbuffered writes of whole lines are what
    make "the last whole record" known exactly.
    """

    def __init__(self, path: str | os.PathLike[str], header: Header, *, fsync_every: int = 1000):
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except OSError as exc:
            raise DiskFullError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self._fsync_every = fsync_every
        self._since_sync = 0
        #: Bytes of whole records on disk, and how many records.
        self.size = 0
        self.records = 0
        self.error: OSError | None = None
        self.write(header)
        if self.error is not None:
            raise DiskFullError(self.error_message()) from None

    def write(self, record: Record) -> None:
        line = _encoder.encode(record) + b"\n"
        with self._lock:
            if self._fd is None:
                return
            try:
                view = memoryview(line)
                while view:
                    view = view[os.write(self._fd, view) :]
                self._since_sync += 1
                if self._since_sync >= self._fsync_every:
                    os.fsync(self._fd)
                    self._since_sync = 0
            except OSError as exc:
                self._fail(exc)
                return
            self.size += len(line)
            self.records += 1

    def _fail(self, exc: OSError) -> None:
        """Keep the file to its last whole record and stop writing (lock held)."""
        self.error = exc
        assert self._fd is not None
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, self.size)
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._fd = None

    def error_message(self) -> str:
        why = self.error.strerror if self.error is not None and self.error.strerror else str(self.error)
        return (
            f"cannot write {self.path}: {why}; the history is kept up to its last whole record "
            f"({self.records} records)"
        )

    def close(self, end: EndRecord | None = None) -> None:
        if end is not None:
            self.write(end)
        with self._lock:
            if self._fd is not None:
                try:
                    os.fsync(self._fd)
                except OSError as exc:
                    self._fail(exc)
                    return
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def iter_records(path: str, data: bytes) -> Iterator[tuple[int, Record | None, str | None]]:
    """Yield (line number, record, warning) for every non-empty line."""
    lines = data.split(b"\n")
    last = len(lines)
    while last > 0 and not lines[last - 1].strip():
        last -= 1
    for i in range(last):
        raw = lines[i].strip()
        if not raw:
            continue
        lineno = i + 1
        try:
            yield lineno, _decoder.decode(raw), None
        except msgspec.ValidationError as exc:
            if b'"type"' in raw and _is_unknown_type(raw):
                yield lineno, None, f"{path}:{lineno}: skipped record of unknown type"
                continue
            raise HistoryError(path, lineno, f"invalid record: {exc}") from None
        except msgspec.DecodeError as exc:
            if i == last - 1 and not data.endswith(b"\n"):
                yield lineno, None, f"{path}:{lineno}: truncated last line skipped (the run was cut short)"
                continue
            raise HistoryError(path, lineno, f"not valid JSON: {exc}") from None


def _is_unknown_type(raw: bytes) -> bool:
    try:
        obj = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return False
    known = {"header", "op", "fault", "watch", "status", "note", "end"}
    return isinstance(obj, dict) and isinstance(obj.get("type"), str) and obj["type"] not in known


def looks_like_jsonl_history(head: bytes) -> bool:
    first = head.lstrip().split(b"\n", 1)[0]
    return first.startswith(b"{") and b'"type"' in first and FORMAT_NAME.encode() in first


def read_history(path: str) -> History:
    data = read_bytes(path)
    header: Header | None = None
    hist: History | None = None
    seen_ids: set[int] = set()
    for lineno, rec, warning in iter_records(path, data):
        if warning:
            if hist is None:
                raise HistoryError(path, lineno, warning.split(": ", 1)[1])
            hist.warnings.append(warning)
            continue
        if header is None:
            if not isinstance(rec, Header):
                raise HistoryError(path, lineno, "the first record must be the header")
            if rec.format != FORMAT_NAME:
                raise HistoryError(path, lineno, f"unknown format {rec.format!r}")
            if rec.version > FORMAT_VERSION:
                raise HistoryError(
                    path,
                    lineno,
                    f"format version {rec.version} is newer than this tool reads ({FORMAT_VERSION})",
                )
            header = rec
            hist = History(header=rec, path=path)
            continue
        assert hist is not None
        if isinstance(rec, OpRecord):
            if rec.id in seen_ids:
                raise HistoryError(path, lineno, f"duplicate operation id {rec.id}")
            if rec.ret is not None and rec.ret < rec.call:
                raise HistoryError(path, lineno, f"operation {rec.id} returns before its call")
            if rec.status == "ok" and rec.ret is None:
                raise HistoryError(path, lineno, f"operation {rec.id} is ok but has no return time")
            seen_ids.add(rec.id)
            hist.ops.append(rec)
        elif isinstance(rec, FaultRecord):
            hist.faults.append(rec)
        elif isinstance(rec, WatchRecord):
            hist.watches.append(rec)
        elif isinstance(rec, StatusRecord):
            hist.statuses.append(rec)
        elif isinstance(rec, NoteRecord):
            hist.notes.append(rec)
        elif isinstance(rec, EndRecord):
            # Only a run that ended by itself settled its cluster and sampled it after
            # traffic; "interrupted" means the checks may expect nothing after the end.
            hist.finished = rec.reason == "finished"
        elif isinstance(rec, Header):
            raise HistoryError(path, lineno, "a second header")
    if hist is None:
        raise HistoryError(path, None, "empty file: no header record")
    return hist


def write_history(path: str | os.PathLike[str], hist: History) -> None:
    """Write a whole in-memory history (used by importers' round trips and tests)."""
    w = HistoryWriter(path, hist.header)
    try:
        records: list[Any] = [*hist.ops, *hist.faults, *hist.watches, *hist.statuses, *hist.notes]
        records.sort(key=_record_time)
        for r in records:
            w.write(r)
    finally:
        w.close(EndRecord(time=0) if hist.finished else None)


def _record_time(r: Any) -> int:
    if isinstance(r, OpRecord):
        return r.ret if r.ret is not None else r.call
    return int(r.time)
