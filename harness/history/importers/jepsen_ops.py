"""Pairing Jepsen-style invoke/complete events into operations.

Shared by every Jepsen-derived format: a process has at most one call in flight; ``ok``
and ``fail`` complete it; ``info`` leaves its outcome unknown (Jepsen then retires the
process). Event positions serve as times, since these logs carry no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.history.errors import HistoryError
from models.history import OpRecord, Status


@dataclass
class _Pending:
    id: int
    call: int
    f: str
    value: Any
    line: int


class OpPairer:
    """Feed events in order; get OpRecords back.

    ``convert(f, invoke_value, completion_type, completion_value)`` returns
    ``(input, output, status)`` for one finished call.
    """

    def __init__(
        self, path: str, convert: Callable[[str, Any, str, Any], tuple[dict[str, Any], Any, Status]]
    ):
        self.path = path
        self.convert = convert
        self.pending: dict[Any, _Pending] = {}
        self.ops: list[OpRecord] = []
        self.clients: dict[Any, int] = {}
        self._next_id = 0

    def _client(self, process: Any) -> int:
        if isinstance(process, int) and not isinstance(process, bool):
            return process
        return self.clients.setdefault(process, 1_000_000 + len(self.clients))

    def event(self, line: int, time: int, process: Any, typ: str, f: str, value: Any) -> None:
        if isinstance(process, bool) or not isinstance(process, int | str):
            raise HistoryError(self.path, line, f"process {process!r:.40} is not a number or a name")
        if not isinstance(typ, str) or not isinstance(f, str):
            raise HistoryError(
                self.path, line, f"event type {typ!r:.40} and function {f!r:.40} must be names"
            )
        if typ == "invoke":
            if process in self.pending:
                raise HistoryError(
                    self.path,
                    line,
                    f"process {process} invokes {f} while its call from line {self.pending[process].line} is pending",
                )
            self.pending[process] = _Pending(self._next_id, time, f, value, line)
            self._next_id += 1
            return
        if typ not in ("ok", "fail", "info"):
            raise HistoryError(self.path, line, f"unknown event type {typ!r}")
        p = self.pending.pop(process, None)
        if p is None:
            raise HistoryError(self.path, line, f"{typ} for process {process} without a pending invoke")
        if p.f != f:
            raise HistoryError(self.path, line, f"{typ} {f} completes a {p.f} invoked on line {p.line}")
        try:
            inp, out, status = self.convert(f, p.value, typ, value)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise HistoryError(self.path, line, str(exc)) from None
        self.ops.append(
            OpRecord(
                id=p.id,
                client=self._client(process),
                call=p.call,
                ret=time,
                input=inp,
                output=out,
                status=status,
            )
        )

    def finish(self) -> list[OpRecord]:
        """Calls still pending at the end never returned: their outcome is unknown."""
        for process, p in sorted(self.pending.items(), key=lambda kv: kv[1].id):
            try:
                inp, _, status = self.convert(p.f, p.value, "info", None)
            except (ValueError, TypeError, KeyError, IndexError) as exc:
                raise HistoryError(self.path, p.line, str(exc)) from None
            self.ops.append(
                OpRecord(
                    id=p.id, client=self._client(process), call=p.call, ret=None, input=inp, status=status
                )
            )
        self.pending.clear()
        self.ops.sort(key=lambda r: r.id)
        return self.ops


def register_convert(
    f: str, value: Any, typ: str, result: Any, *, knossos: bool
) -> tuple[dict[str, Any], Any, Status]:
    """Jepsen register ops in the ``cas-register`` schema.

    Porcupine's etcd logs use ``:fail`` on a cas to mean the compare failed (an
    observation) and compare reads exactly. Knossos (``knossos=True``) reads ``:fail``
    as "did not happen" and an ``:ok`` read of nil as a read of an unknown value.
    """
    if f == "read":
        if typ == "ok" and not (knossos and result is None):
            return {"kind": "read"}, {"value": result}, "ok"
        return {"kind": "read"}, None, "fail"
    if f == "write":
        inp = {"kind": "write", "value": value}
        if typ == "ok":
            return inp, {}, "ok"
        if typ == "fail":
            return inp, None, "fail"
        return inp, None, "unknown"
    if f == "cas":
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise ValueError(f"cas value must be [expected new], got {value!r}")
        inp = {"kind": "cas", "expect": value[0], "value": value[1]}
        if typ == "ok":
            return inp, {"ok": True}, "ok"
        if typ == "fail":
            return (inp, None, "fail") if knossos else (inp, {"ok": False}, "ok")
        return inp, None, "unknown"
    raise ValueError(f"unknown register operation {f!r}")
