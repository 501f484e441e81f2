"""Porcupine's key-value logs: one EDN map per line."""

from __future__ import annotations

from typing import Any

from harness.history.errors import HistoryError
from harness.history.files import Source, read_text
from harness.history.importers import edn
from harness.history.importers.jepsen_ops import OpPairer
from models.history import Header, History, Status


def _convert(f: str, invoked: Any, typ: str, result: Any) -> tuple[dict[str, Any], Any, Status]:
    key, value = invoked
    if f == "get":
        if typ == "ok":
            return {"kind": "get", "key": key}, {"value": result if result is not None else ""}, "ok"
        return {"kind": "get", "key": key}, None, "fail"
    if f in ("put", "append"):
        status: Status = "ok" if typ == "ok" else ("fail" if typ == "fail" else "unknown")
        return {"kind": f, "key": key, "value": value}, ({} if typ == "ok" else None), status
    raise ValueError(f"unknown kv operation {f!r}")


def _parse_line(path: str, lineno: int, text: str) -> dict[str, Any]:
    try:
        value = edn.loads(text)
    except edn.DecodeError as exc:
        raise HistoryError(path, lineno, f"not an EDN map: {exc}") from None
    if not isinstance(value, dict):
        raise HistoryError(path, lineno, "not an EDN map")
    return value


def read_porcupine_kv(path: str, source: Source | None = None) -> History:
    lines = read_text(path, source).splitlines()
    numbered = [(i, s) for i, s in enumerate(lines, start=1) if s.strip()]
    # One parse of the whole file is ~10x faster than one per line; parse line by line
    # only to name the bad line.
    try:
        events = edn.loads("[" + "\n".join(s for _, s in numbered) + "]")
    except edn.DecodeError:
        events = None
    if events is None or len(events) != len(numbered) or not all(isinstance(e, dict) for e in events):
        events = [_parse_line(path, lineno, s) for lineno, s in numbered]
    pairer = OpPairer(path, _convert)
    for (lineno, _), ev in zip(numbered, events, strict=True):
        try:
            process, typ, f = ev["process"], ev["type"], ev["f"]
        except KeyError as exc:
            raise HistoryError(path, lineno, f"missing {exc.args[0]!r}") from None
        if "key" not in ev:
            raise HistoryError(path, lineno, "missing 'key'")
        value = (ev["key"], ev.get("value")) if typ == "invoke" else ev.get("value")
        pairer.event(lineno, lineno, process, typ, f, value)
    ops = pairer.finish()
    header = Header(model="kv", source=path, scenario="porcupine-kv")
    return History(header=header, ops=ops, finished=True, path=path)
