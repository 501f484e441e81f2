"""Importers of other tools' histories; each turns a file into a History.

Every format is read once from its start (a pipe or standard input included), and every
operation is validated against the model it is checked with, whatever its format.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.history.errors import HistoryError
from harness.history.files import Source
from harness.history.importers.jepsen_edn import read_jepsen_edn
from harness.history.importers.porcupine_etcd import read_porcupine_etcd
from harness.history.importers.porcupine_kv import read_porcupine_kv
from harness.history.jsonl import looks_like_jsonl_history, mismatch, read_history
from models.history import History
from models.registry import UnknownModel, make_model
from models.schema import SchemaError

#: Importers of other formats: (path, source) -> History.
IMPORTERS: dict[str, Callable[[str, Source], History]] = {
    "porcupine-etcd": read_porcupine_etcd,
    "porcupine-kv": read_porcupine_kv,
    "jepsen-edn": read_jepsen_edn,
}
FORMATS = ("jsonl", *IMPORTERS)


def detect_format(path: str, head: bytes | None = None) -> str:
    """Guess a file's format from its first bytes (``head``, else read from ``path``);
    never from its name alone."""
    if head is None:
        with Source(path) as src:
            head = src.head
    text = head.lstrip()
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


def load_history(
    path: str, fmt: str = "auto", *, model: str | None = None, deadline: float | None = None
) -> History:
    """Read ``path`` (``-``: standard input) in format ``fmt``, every operation validated
    against ``model`` (default: the one the history names)."""
    if fmt != "auto" and fmt not in FORMATS:
        raise HistoryError(path, None, f"unknown format {fmt!r} (known: auto, {', '.join(FORMATS)})")
    with Source(path) as src:
        if fmt == "auto":
            fmt = detect_format(path, src.head)
        if fmt == "jsonl":
            return read_history(path, model=model, deadline=deadline, source=src)
        hist = IMPORTERS[fmt](path, src)
    validate_imported(hist, model)
    return hist


def validate_imported(hist: History, model: str | None) -> None:
    """What an importer made must fit the model it will be checked with."""
    path = hist.path or "-"
    name = model or hist.header.model or "etcd"
    options = hist.header.model_options if hist.header.model in (None, name) else {}
    try:
        checker = make_model(name, options)
        for op in hist.ops:
            checker.validate(op)
    except (UnknownModel, SchemaError) as exc:
        raise HistoryError(path, None, mismatch(hist.header.model, name) + str(exc)) from None


__all__ = ["FORMATS", "detect_format", "load_history"]
