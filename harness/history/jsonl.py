"""The JSONL history file: written line by line while a run goes on, read back tolerantly.

A crash can cut the last line short; the reader reports and skips it. Anything else
malformed is an error naming the line, because a silently skipped record could hide a
violation.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from harness.errors import DiskFullError
from harness.history.errors import HistoryError, LoadTimeout
from harness.history.files import Source
from models.history import (
    FORMAT_NAME,
    FORMAT_VERSION,
    EndRecord,
    FaultRecord,
    Header,
    History,
    NoteRecord,
    OpRecord,
    Record,
    StatusRecord,
    WatchRecord,
)
from models.registry import UnknownModel, make_model
from models.schema import SchemaError

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


def iter_records(path: str, lines: Iterable[bytes]) -> Iterator[tuple[int, Record | None, str | None]]:
    """Yield (line number, record, warning) for every non-empty line.

    Only the last line may be cut short (a crash while it was written): it is skipped
    with a warning when it is the start of a record, or NUL bytes (what a file system
    leaves when an OS crash came before the data). Anything else malformed names its
    line, since a silently skipped record could hide a violation.
    """
    pending: tuple[int, bytes] | None = None
    for lineno, line in enumerate(lines, start=1):
        if pending is not None:
            yield _decode(path, *pending, last=False)
            pending = None
        raw = line.strip()
        if raw:
            pending = (lineno, line)
    if pending is not None:
        yield _decode(path, *pending, last=True)


def _decode(path: str, lineno: int, line: bytes, *, last: bool) -> tuple[int, Record | None, str | None]:
    raw = line.strip()
    try:
        return lineno, _decoder.decode(raw), None
    except msgspec.ValidationError as exc:
        if b'"type"' in raw and _is_unknown_type(raw):
            return lineno, None, f"{path}:{lineno}: skipped record of unknown type"
        raise HistoryError(path, lineno, f"invalid record: {exc}") from None
    except msgspec.DecodeError as exc:
        if last and not line.endswith(b"\n"):
            if raw.startswith(b"{") and b"\0" not in raw:
                return lineno, None, f"{path}:{lineno}: truncated last line skipped (the run was cut short)"
            if not raw.strip(b"\0"):
                return lineno, None, f"{path}:{lineno}: the file ends in NUL bytes (cut by a crash), skipped"
        raise HistoryError(path, lineno, f"not valid JSON: {exc}") from None
    except RecursionError:
        raise HistoryError(path, lineno, "nested too deeply") from None


def _is_unknown_type(raw: bytes) -> bool:
    try:
        obj = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return False
    known = {"header", "op", "fault", "watch", "status", "note", "end"}
    return isinstance(obj, dict) and isinstance(obj.get("type"), str) and obj["type"] not in known


def looks_like_jsonl_history(head: bytes) -> bool:
    first = head.lstrip().split(b"\n", 1)[0]
    return first.startswith(b"{") and b'"type"' in first and FORMAT_NAME.encode() in first


#: Lines between two looks at the clock while loading.
_CLOCK_EVERY = 1024


def read_history(
    path: str, *, model: str | None = None, deadline: float | None = None, source: Source | None = None
) -> History:
    """Read and validate a history: every operation must fit ``model`` (default: the
    header's, else etcd) and every watch message the etcd format; ``deadline``
    (``time.monotonic()``) bounds the time spent, raising :class:`LoadTimeout`."""
    if source is None:
        with Source(path) as src:
            return read_history(path, model=model, deadline=deadline, source=src)
    # Hundreds of thousands of small dicts and no cycles: collections during the read
    # only rescan them (they doubled the time of a 200k-operation history).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _read(path, model, deadline, source)
    finally:
        if was_enabled:
            gc.enable()


def _read(path: str, model: str | None, deadline: float | None, source: Source) -> History:
    hist: History | None = None
    checker: Any = None
    seen_ids = SeenIds()
    for lineno, rec, warning in iter_records(path, source.lines()):
        if deadline is not None and lineno % _CLOCK_EVERY == 0 and time.monotonic() > deadline:
            raise LoadTimeout(path, lineno)
        if warning:
            if hist is None:
                raise HistoryError(path, lineno, warning.split(": ", 1)[1])
            hist.warnings.append(warning)
            continue
        if hist is None:
            hist = _start(path, lineno, rec)
            checker = _model_for(path, hist.header, model)
            continue
        _add(path, lineno, rec, hist, checker, seen_ids)
    if hist is None:
        raise HistoryError(path, None, "empty file: no header record")
    return hist


def _start(path: str, lineno: int, rec: Record | None) -> History:
    if not isinstance(rec, Header):
        raise HistoryError(path, lineno, "the first record must be the header")
    if rec.format != FORMAT_NAME:
        raise HistoryError(path, lineno, f"unknown format {rec.format!r}")
    if rec.version > FORMAT_VERSION:
        raise HistoryError(
            path, lineno, f"format version {rec.version} is newer than this tool reads ({FORMAT_VERSION})"
        )
    return History(header=rec, path=path)


def _model_for(path: str, header: Header, override: str | None) -> Any:
    """The model whose schema the operations must fit: ``override``, the header's, or etcd."""
    name = override or header.model or "etcd"
    options = header.model_options if header.model in (None, name) else {}
    try:
        return make_model(name, options)
    except (UnknownModel, SchemaError) as exc:
        raise HistoryError(path, 1, str(exc)) from None


class SeenIds:
    """Operation ids seen so far: a bitmap for the dense non-negative ids every writer
    of ours uses (a set of millions of ints would be most of a streamed check's memory),
    a set for any other."""

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


def check_record(
    path: str, lineno: int, rec: Record | None, model: Any, written_for: str | None, seen: SeenIds
) -> None:
    """Refuse a record no history may hold: an operation seen twice, returning before
    its call, ok without a return, or not fitting ``model``; a watch message that does
    not fit; a second header. (The full reader and the streamed one share it.)"""
    try:
        if isinstance(rec, OpRecord):
            if not seen.add(rec.id):
                raise HistoryError(path, lineno, f"duplicate operation id {rec.id}")
            if rec.ret is not None and rec.ret < rec.call:
                raise HistoryError(path, lineno, f"operation {rec.id} returns before its call")
            if rec.status == "ok" and rec.ret is None:
                raise HistoryError(path, lineno, f"operation {rec.id} is ok but has no return time")
            model.validate(rec)
        elif isinstance(rec, WatchRecord):
            model.validate_record(rec)
        elif isinstance(rec, Header):
            raise HistoryError(path, lineno, "a second header")
    except SchemaError as exc:
        raise HistoryError(path, lineno, mismatch(written_for, model.name) + str(exc)) from None


def _add(path: str, lineno: int, rec: Record | None, hist: History, model: Any, seen: SeenIds) -> None:
    check_record(path, lineno, rec, model, hist.header.model, seen)
    if isinstance(rec, OpRecord):
        hist.ops.append(rec)
    elif isinstance(rec, WatchRecord):
        hist.watches.append(rec)
    elif isinstance(rec, FaultRecord):
        hist.faults.append(rec)
    elif isinstance(rec, StatusRecord):
        hist.statuses.append(rec)
    elif isinstance(rec, NoteRecord):
        hist.notes.append(rec)
    elif isinstance(rec, EndRecord):
        # Only a run that ended by itself settled its cluster and sampled it after
        # traffic; "interrupted" means the checks may expect nothing after the end.
        hist.finished = rec.reason == "finished"


def mismatch(written_for: str | None, checked_as: str) -> str:
    """Says so when a history is checked with another model than the one it names."""
    return (
        f"written for the {written_for} model, not {checked_as}: "
        if written_for not in (None, checked_as)
        else ""
    )


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
