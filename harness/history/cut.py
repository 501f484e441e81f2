"""A history as it stood at an earlier instant: what a bug report or a regression test needs
when the full run is hundreds of megabytes and the violation shows in its first seconds.

Cutting at ``until`` keeps exactly what was known then, so it is sound both ways: a
history that was valid stays valid, and a violation whose evidence was recorded before
``until`` is still found. Operations in flight at ``until`` become unknown outcomes (they
may or may not have taken effect); later operations, watch messages, status samples and
fault edges are dropped; the history is marked unfinished, so no check expects anything
after its end.
"""

from __future__ import annotations

import msgspec

from models.history import ErrorInfo, History, OpRecord


def cut(history: History, until: int) -> History:
    ops: list[OpRecord] = []
    for op in history.ops:
        if op.call > until:
            continue
        if op.ret is not None and op.ret > until:
            op = msgspec.structs.replace(
                op,
                status="unknown",
                ret=None,
                output=None,
                error=ErrorInfo("CUT", "in flight when the history was cut"),
            )
        ops.append(op)
    return History(
        header=history.header,
        ops=ops,
        faults=[f for f in history.faults if f.time <= until],
        watches=[w for w in history.watches if w.time <= until],
        statuses=[s for s in history.statuses if s.time <= until],
        notes=[n for n in history.notes if n.time <= until],
        finished=False,
        warnings=list(history.warnings),
        path=history.path,
    )
