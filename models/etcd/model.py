"""etcd as a model for the generic linearizability search (porcupine-style).

Used on small histories and to cross-validate the fast revision-guided checker
(:mod:`models.etcd.revisions`): both apply the same request semantics, only the search
differs. The state is a :class:`~models.etcd.state.FrozenState`, hashable for the
search's memo.

No partitioning: every write moves the one global revision, and every response carries
it, so per-key sub-histories are not independent (a read of key ``a`` pins the order of
writes to ``b`` through its header revision). :meth:`EtcdModel.partition` returns the
whole history.

Serializable reads are not linearizable and defragment answers from one member; both
are accepted without constraint here and checked elsewhere (stale-read rule).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

__all__ = ["EtcdModel", "describe"]

from models.etcd.describe import describe, kv_text
from models.etcd.requests import apply, canonical, is_serializable_read
from models.etcd.schema import SCHEMAS, validate_watch_message
from models.etcd.state import FrozenState, kv_to_dict
from models.history import History
from models.model import BaseModel
from models.operation import Operation
from models.schema import OpSchema
from models.verdict import Verdict

#: Requests no order of the others has to explain: a defragment changes nothing seen, and
#: a TimeToLive reads the leader's lessor without a raft round, so may lag any write
#: (checked with slack, on the placement: models/etcd/revisions/lease_lookups.py).
UNORDERED = frozenset({"defragment", "lease_timetolive"})


class EtcdModel(BaseModel):
    name = "etcd"
    schemas: ClassVar[Mapping[str, OpSchema]] = SCHEMAS

    def init(self) -> FrozenState:
        return FrozenState()

    def step(self, state: FrozenState, input: Any, output: Any) -> tuple[bool, FrozenState]:
        if input.get("kind") in UNORDERED or is_serializable_read(input):
            return True, state
        result = apply(state, input)
        if output is not None and canonical(input, result.output) != canonical(input, output):
            return False, state
        if result.error:
            return True, state
        leases = state.leases
        if result.grant is not None:
            leases = leases | {result.grant}
        if result.revoke is not None:
            leases = leases - {result.revoke}
        if not result.changes and leases is state.leases and result.compact is None:
            return True, state
        return True, state.with_changes(result.changes, leases=leases, compact_revision=result.compact)

    def partition(self, ops: Sequence[Operation]) -> list[list[Operation]]:
        return [list(ops)]

    def check_history(self, history: History, *, timeout: float | None = None) -> Verdict:
        """A whole etcd history is checked by the revision-guided search and the watch,
        stale-read and convergence checks (:mod:`models.etcd.check`), not by the
        generic search, which only small histories fit."""
        from models.etcd import check_history

        return check_history(history, timeout=timeout)

    def validate_record(self, record: Any) -> None:
        if getattr(record, "watch", None) is not None and hasattr(record, "events"):
            validate_watch_message(record)

    def observes_only(self, input: Any, output: Any) -> bool:
        kind = input.get("kind")
        if kind == "range" or kind in UNORDERED:
            return True
        # The response pins how many keys a delete removed, whatever the state.
        return kind == "delete" and isinstance(output, dict) and output.get("deleted") == 0

    def describe_operation(self, input: Any, output: Any) -> str:
        return describe(input, output)

    def describe_state(self, state: FrozenState) -> str:
        kvs = ", ".join(kv_text(kv_to_dict(kv)) for kv in state.range("", "\x00", 0))
        return (
            f"rev={state.revision} compact={state.compact_revision} {{{kvs}}} leases={sorted(state.leases)}"
        )
