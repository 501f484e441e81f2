"""The operation as checkers see it: one client call with its interval and outcome.

Every history source (our JSONL files, porcupine and Jepsen logs) is turned into these
before any checking, so checkers never depend on a file format.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

Status = Literal["ok", "fail", "unknown"]

#: What an operation asked, as the history format writes it: ``{"kind": ..., ...}``.
Request = dict[str, Any]

#: Stands in for "never returned" when an operation's outcome is unknown: it may take
#: effect at any point after its call, so it is concurrent with everything that follows.
INFINITY = 1 << 62


class Operation(msgspec.Struct, frozen=True, kw_only=True):
    """One call as the checker needs it.

    ``status`` decides how the checker uses the op:
    ``ok`` the output is what the system answered; ``fail`` the call definitely had no
    effect (it is dropped before the search); ``unknown`` it may or may not have taken
    effect, at any time after ``call`` (``ret`` is kept for reports only).
    """

    id: int
    client: int
    call: int
    ret: int | None
    input: Any
    output: Any = None
    status: Status = "ok"
    error: Any = None

    @property
    def effective_return(self) -> int:
        """The return time the search uses: infinity when the outcome is unknown."""
        if self.status == "unknown" or self.ret is None:
            return INFINITY
        return self.ret
