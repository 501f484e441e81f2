"""The model protocol every checker is generic over, in the spirit of porcupine.

A model is a record of pure functions. States must be hashable and compare by value,
because the search memoizes (linearized set, state) pairs.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, ClassVar, Final, Protocol, Self, runtime_checkable

from models.operation import Operation
from models.schema import NoOptions, OpSchema, validate_operation, validate_options


class _Refuted:
    def __repr__(self) -> str:
        return "REFUTED"


#: What a pruner returns for a configuration that no order of the remaining operations
#: completes (see :meth:`Model.pruner`).
REFUTED: Final = _Refuted()


class Pruner(Protocol):
    """A model's knowledge of one sub-history ``ops`` (see :meth:`Model.pruner`).

    ``placed`` has bit ``i`` set for each ``ops[i]`` already linearized."""

    def prune(self, state: Any, placed: int) -> Any:
        """REFUTED, or a state from which the same orders are legal (often ``state``)."""
        ...

    def blame(self, state: Any, placed: int) -> list[int]:
        """For a witness: the indices of unplaced ops no order of the rest can explain."""
        ...


@runtime_checkable
class Model(Protocol):
    """What the linearizability checker needs to know about a system.

    ``step`` gets ``output=None`` when the operation's outcome is unknown: it must then
    apply whatever effect the operation would have had in ``state`` (or report ``False``
    when it cannot apply at all); "never took effect" is covered by the checker, which
    may place such an operation after everything it could influence.
    """

    name: str
    #: The operation kinds the model understands, each with the shape of its input and
    #: output; a history with anything else does not fit the model.
    schemas: ClassVar[Mapping[str, OpSchema]]

    def validate(self, op: Any) -> None:
        """Raise SchemaError unless ``op`` is an operation this model understands."""
        ...

    def validate_record(self, record: Any) -> None: ...

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

    def pruner(self, ops: Sequence[Operation]) -> Pruner | None:
        """What the model can tell about one sub-history beyond ``step``, or None.

        The search calls ``prune(state, placed)`` on each configuration it reaches.
        Answering REFUTED must mean that no order of the unplaced ops of ``ops`` (each
        one that returned exactly once, any other at most once, none before an op that
        returned before it was called) is legal from ``state``; answering a state ``s2``
        must mean that exactly the same orders are legal from ``s2`` as from ``state``,
        so the search may go on from ``s2`` and memoize it (configurations that differ
        only in what nobody can observe any more then meet). A pruner that cannot decide
        answers ``state``: weaker, never wrong. Optional; None (the default) prunes
        nothing.
        """
        ...


class BaseModel:
    """Defaults for the optional parts of the protocol."""

    name = "model"
    schemas: ClassVar[Mapping[str, OpSchema]] = {}

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Self:
        """The model for a history header's ``model_options`` (SchemaError if they do not fit)."""
        validate_options(cls.name, NoOptions, options)
        return cls()

    def validate(self, op: Any) -> None:
        """Raise SchemaError unless ``op`` is an operation this model understands."""
        validate_operation(self.name, self.schemas, op)

    def validate_record(self, record: Any) -> None:
        """Raise SchemaError unless a record other than an operation (a watch message)
        is one the model's checks can read; by default the model reads none."""

    def partition(self, ops: Sequence[Operation]) -> list[list[Operation]]:
        return [list(ops)]

    def describe_operation(self, input: Any, output: Any) -> str:
        return f"{input!r} -> {output!r}"

    def describe_state(self, state: Any) -> str:
        return repr(state)

    def observes_only(self, input: Any, output: Any) -> bool:
        return False

    def pruner(self, ops: Sequence[Operation]) -> Pruner | None:
        return None
