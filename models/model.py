"""The model protocol every checker is generic over, in the spirit of porcupine.

A model is a record of pure functions. States must be hashable and compare by value,
because the search memoizes (linearized set, state) pairs.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, Protocol, runtime_checkable

from models.operation import Operation


@runtime_checkable
class Model(Protocol):
    """What the linearizability checker needs to know about a system.

    ``step`` gets ``output=None`` when the operation's outcome is unknown: it must then
    apply whatever effect the operation would have had in ``state`` (or report ``False``
    when it cannot apply at all); "never took effect" is covered by the checker, which
    may place such an operation after everything it could influence.
    """

    name: str

    def init(self) -> Hashable: ...

    def step(self, state: Any, input: Any, output: Any) -> tuple[bool, Any]: ...

    def partition(self, ops: Sequence[Operation]) -> list[list[Operation]]:
        """Independent sub-histories (P-compositionality); ``[list(ops)]`` when none."""
        ...

    def describe_operation(self, input: Any, output: Any) -> str: ...

    def describe_state(self, state: Any) -> str: ...

    def observes_only(self, input: Any, output: Any) -> bool:
        """True when the operation leaves every state it is legal in unchanged (a read).

        The search places such an operation as early as it can and never tries it
        later. Leaving a state unchanged once is not enough: a write of the value the
        register already holds changes other states, so only the model can tell.
        Optional; ``False`` only costs speed.
        """
        ...


class BaseModel:
    """Defaults for the optional parts of the protocol."""

    name = "model"

    def partition(self, ops: Sequence[Operation]) -> list[list[Operation]]:
        return [list(ops)]

    def describe_operation(self, input: Any, output: Any) -> str:
        return f"{input!r} -> {output!r}"

    def describe_state(self, state: Any) -> str:
        return repr(state)

    def observes_only(self, input: Any, output: Any) -> bool:
        return False
