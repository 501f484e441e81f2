"""Importers of other tools' histories; each turns a file into a History."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.history.files import read_head
from harness.history.history import History, HistoryError
from harness.history.importers.jepsen_edn import read_jepsen_edn
from harness.history.importers.porcupine_etcd import read_porcupine_etcd
from harness.history.importers.porcupine_kv import read_porcupine_kv
from harness.history.jsonl import looks_like_jsonl_history, read_history

FORMATS: dict[str, Callable[[str], History]] = {
    "jsonl": read_history,
    "porcupine-etcd": read_porcupine_etcd,
    "porcupine-kv": read_porcupine_kv,
    "jepsen-edn": read_jepsen_edn,
}


def detect_format(path: str) -> str:
    """Guess a file's format from its first bytes; never from its name alone."""
    text = read_head(path).lstrip()
    if not text:
        raise HistoryError(path, None, "empty file")
    if looks_like_jsonl_history(text):
        return "jsonl"
    if b"jepsen.util" in text.split(b"\n", 1)[0]:
        return "porcupine-etcd"
    if text.startswith(b"["):
        return "jepsen-edn"
    if text.startswith(b"{:") or text.startswith(b"{ :"):
        return "porcupine-kv"
    if text.startswith(b"{"):
        raise HistoryError(path, 1, "JSON but not an etcd-harness history (no header record with format)")
    raise HistoryError(path, 1, "unrecognized history format (use --format)")


def load_history(path: str, fmt: str = "auto") -> History:
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt not in FORMATS:
        raise HistoryError(path, None, f"unknown format {fmt!r} (known: auto, {', '.join(FORMATS)})")
    if Path(path).is_dir():
        raise HistoryError(path, None, "is a directory")
    return FORMATS[fmt](path)


__all__ = ["FORMATS", "detect_format", "load_history"]
