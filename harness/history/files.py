"""Reading a history's bytes once, from a file, a pipe or standard input, compressed or not.

A 60 s run writes 100-200 MB of JSON that xz shrinks twenty-fold, so saved histories
(regressions, bug reports) are kept compressed; compression is recognised by its magic
bytes, never by the file name. A pipe (``check <(xz -dc h.xz)``) or ``-`` can be read
only once, so the format is guessed from the first bytes kept aside, then the same
stream is read on from its start. Lines are read with a bound on their length, so a
file of garbage without newlines (a gigabyte of NUL bytes) is refused instead of
loaded whole.
"""

from __future__ import annotations

import gzip
import io
import lzma
import sys
import zlib
from collections.abc import Iterator
from typing import IO, Any

from harness.history.errors import HistoryError

_GZIP = b"\x1f\x8b"
_XZ = b"\xfd7zXZ\x00"
#: The longest line a history may have; our records are kilobytes.
MAX_LINE = 64 << 20
HEAD = 4096

_ERRORS = (OSError, EOFError, lzma.LZMAError, zlib.error)


class _Prefixed(io.RawIOBase):
    """``head`` then the rest of ``stream``: a stream read once, as if from its start."""

    def __init__(self, head: bytes, stream: IO[bytes]):
        self._head = memoryview(head)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        if self._head:
            n = min(len(buf), len(self._head))
            buf[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._stream.read(len(buf))
        buf[: len(data)] = data
        return len(data)


def _read_up_to(stream: IO[bytes], size: int) -> bytes:
    parts: list[bytes] = []
    got = 0
    while got < size:
        chunk = stream.read(size - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


class Source:
    """One history input (a path, or ``-`` for standard input), decompressed, with its
    first bytes at hand for guessing the format."""

    def __init__(self, path: str):
        self.path = path
        try:
            raw: IO[bytes] = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 - closed in close()
        except IsADirectoryError:
            raise HistoryError(path, None, "is a directory") from None
        except OSError as exc:
            raise HistoryError(path, None, f"cannot read: {exc.strerror or exc}") from None
        self._raw = raw
        try:
            magic = _read_up_to(raw, 6)
            stream: Any = _buffered(magic, raw)
            if magic.startswith(_GZIP):
                stream = gzip.GzipFile(fileobj=stream, mode="rb")  # noqa: SIM115 - closed with the source
            elif magic.startswith(_XZ):
                stream = lzma.LZMAFile(stream, mode="rb")  # noqa: SIM115 - closed with the source
            self.head = _read_up_to(stream, HEAD)
            self._stream = _buffered(self.head, stream)
        except _ERRORS as exc:
            self.close()
            raise HistoryError(path, None, _why(exc)) from None

    def lines(self) -> Iterator[bytes]:
        """Every line from the start (with its newline, but for a last one without)."""
        try:
            while True:
                line = self._stream.readline(MAX_LINE + 1)
                if not line:
                    return
                if len(line) > MAX_LINE and not line.endswith(b"\n"):
                    raise HistoryError(
                        self.path, None, f"a line longer than {MAX_LINE >> 20} MiB: not a history"
                    )
                yield line
        except _ERRORS as exc:
            raise HistoryError(self.path, None, _why(exc)) from None

    def read(self) -> bytes:
        try:
            return self._stream.read()
        except _ERRORS as exc:
            raise HistoryError(self.path, None, _why(exc)) from None

    def text(self) -> str:
        try:
            return self.read().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise HistoryError(
                self.path, None, f"cannot read: not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from None

    def close(self) -> None:
        if self._raw is not sys.stdin.buffer:
            self._raw.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _buffered(head: bytes, stream: IO[bytes]) -> IO[bytes]:
    return io.BufferedReader(_Prefixed(head, stream), buffer_size=1 << 16)


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile) and exc.strerror:
        return f"cannot read: {exc.strerror}"
    return f"corrupt compressed file: {exc}"


def read_text(path: str, source: Source | None = None) -> str:
    """The whole text of ``source`` (already open on ``path``), or of ``path``."""
    if source is not None:
        return source.text()
    with Source(path) as src:
        return src.text()
