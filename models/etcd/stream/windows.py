"""Cutting a stream of operations into windows at quiescent instants.

A window is every operation called up to an instant ``T`` that no acknowledged operation
spans: each one of them returned by ``T`` and every later one is called after it. Real
time then orders every revision the window's acknowledged operations claim or observe
before every revision a later window's claim (see :mod:`models.etcd.stream`), which is
what lets a window be replayed from the state its predecessor ended in.

The file is read in record order (the harness writes an operation when it returns), so
an operation called before ``T`` may still come later. A cut is made only for instants
``lag`` before the latest record time read; an operation that arrives later with a call
before a cut it belonged in is *late*, and the stream check then answers ``unknown``
rather than trust windows judged without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from models.operation import Operation

NEVER = -(1 << 62)


@dataclass
class Windows:
    """Buffers operations until a window can be cut."""

    size: int
    lag: int
    buffer: list[Operation] = field(default_factory=list)
    #: the instant of the last cut: later operations must be called after it
    closed_at: int = NEVER
    watermark: int = NEVER
    late_ok: list[int] = field(default_factory=list)
    late_unknown: list[Operation] = field(default_factory=list)
    _next_try: int = 0

    def add(self, op: Operation) -> list[Operation] | None:
        """Take one operation; a window when one can be cut now."""
        if op.status == "fail":
            return None
        self.watermark = max(self.watermark, op.ret if op.ret is not None else op.call)
        if op.call <= self.closed_at:
            if op.status == "ok":
                self.late_ok.append(op.id)
            else:
                self.late_unknown.append(op)
            return None
        self.buffer.append(op)
        if len(self.buffer) < max(self.size, self._next_try):
            return None
        window = self._cut()
        self._next_try = 0 if window is not None else len(self.buffer) + max(1, self.size // 8)
        return window

    def rest(self) -> list[Operation]:
        """What is left at the end of the stream: the last window."""
        out, self.buffer = self.buffer, []
        out.sort(key=lambda o: (o.call, o.id))
        return out

    def _cut(self) -> list[Operation] | None:
        """The first quiescent instant after ``size`` operations and ``lag`` before the
        latest record read; None when there is none yet."""
        buf = self.buffer
        buf.sort(key=lambda o: (o.call, o.id))
        horizon = self.watermark - self.lag
        busy = NEVER
        for j, op in enumerate(buf[:-1]):
            if op.status == "ok" and op.ret is not None:
                busy = max(busy, op.ret)
            nxt = buf[j + 1]
            if nxt.call > horizon or busy > horizon:
                return None
            if j + 1 >= self.size and nxt.call > busy:
                self.closed_at = max(busy, op.call)
                window, self.buffer = buf[: j + 1], buf[j + 1 :]
                return window
        return None
