"""Reading history files, compressed or not: a 60 s run writes 100-200 MB of JSON that
xz shrinks twenty-fold, so saved histories (regressions, bug reports) are kept
compressed. Compression is recognised by its magic bytes, never by the file name."""

from __future__ import annotations

import gzip
import lzma
import zlib
from pathlib import Path

from harness.history.history import HistoryError

_GZIP = b"\x1f\x8b"
_XZ = b"\xfd7zXZ\x00"


def read_bytes(path: str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise HistoryError(path, None, f"cannot read: {exc.strerror or exc}") from None
    try:
        if data.startswith(_GZIP):
            return gzip.decompress(data)
        if data.startswith(_XZ):
            return lzma.decompress(data)
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        raise HistoryError(path, None, f"corrupt compressed file: {exc}") from None
    return data


def read_head(path: str, size: int = 4096) -> bytes:
    """The first ``size`` bytes of the (decompressed) content."""
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as exc:
        raise HistoryError(path, None, f"cannot read: {exc.strerror or exc}") from None
    try:
        if magic.startswith(_GZIP):
            with gzip.open(path, "rb") as g:
                return g.read(size)
        if magic.startswith(_XZ):
            with lzma.open(path, "rb") as x:
                return x.read(size)
        with open(path, "rb") as f:
            return f.read(size)
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        raise HistoryError(path, None, f"corrupt compressed file: {exc}") from None


def read_text(path: str) -> str:
    try:
        return read_bytes(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HistoryError(
            path, None, f"cannot read: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
