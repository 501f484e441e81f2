"""etcd's state as the model sees it: an MVCC key space plus leases and the compaction mark.

Two representations share one read interface (:class:`View`), so the request semantics
in :mod:`models.etcd.requests` are written once:

* :class:`Store` is mutable and keeps, per key, the list of ``(revision, kv or
  tombstone)`` it went through. Writes are replayed into it once in revision order (by
  the fast checker and the test simulator), and a read at any revision is a bisect. It keeps
  an undo log so the checker can backtrack over its few guesses without copying.
* :class:`FrozenState` is immutable and hashable, as the generic linearizability search
  requires for memoization. It copies on write, which is fine for the small histories
  that search is used on.

Compaction never drops history here: reads below the compact revision are answered
with the ``compacted`` error by the request logic, so the data behind it is unobservable
and keeping it costs nothing but memory, while it lets watch and stale-read checks look
at any revision.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

#: ``range_end`` meaning "every key >= key".
ALL_KEYS = "\x00"


class KV(NamedTuple):
    key: str
    value: str
    create_revision: int
    mod_revision: int
    version: int
    lease: int


_new = tuple.__new__


def kv_from_dict(d: dict[str, Any] | None) -> KV | None:
    if not d:
        return None
    try:
        kv = (d["key"], d["value"], d["create_revision"], d["mod_revision"], d["version"], d["lease"])
        if kv[1].__class__ is str and kv[3].__class__ is int and kv[0].__class__ is str:
            return _new(KV, kv)  # type: ignore[no-any-return]
    except KeyError:
        pass
    return KV(
        str(d.get("key", "")),
        "" if d.get("value") is None else str(d.get("value")),
        int(d.get("create_revision") or 0),
        int(d.get("mod_revision") or 0),
        int(d.get("version") or 0),
        int(d.get("lease") or 0),
    )


def kv_to_dict(kv: KV | None) -> dict[str, Any] | None:
    if kv is None:
        return None
    return kv._asdict()


def in_range(key: str, start: str, end: str | None) -> bool:
    """Whether ``key`` falls in etcd's [start, end) (``end`` None: just ``start``)."""
    if end is None or end == "":
        return key == start
    if end == ALL_KEYS:
        return key >= start
    return start <= key < end


class View(Protocol):
    """Read access to one point of etcd's history: what a request executing now sees."""

    @property
    def revision(self) -> int: ...

    @property
    def compact_revision(self) -> int: ...

    def get(self, key: str, rev: int) -> KV | None: ...

    def range(self, start: str, end: str | None, rev: int) -> list[KV]: ...

    def lease_exists(self, lease: int) -> bool: ...

    def lease_keys(self, lease: int) -> list[str]: ...


class Store:
    """Mutable MVCC store with an undo log, see the module docstring.

    ``lease_check`` False makes every lease look alive: the fast checker validates lease
    lifetimes on its own (they do not move the revision, so they are not part of the
    revision-ordered replay).
    """

    def __init__(self, *, lease_check: bool = True) -> None:
        self._revs: dict[str, list[int]] = {}
        self._vals: dict[str, list[KV | None]] = {}
        self._keys: list[str] = []
        self.revision = 1
        self.compact_revision = 0
        self.leases: set[int] = set()
        self.lease_check = lease_check
        self._undo: list[tuple[Any, ...]] = []

    # -- reads ---------------------------------------------------------------
    def get(self, key: str, rev: int) -> KV | None:
        revs = self._revs.get(key)
        if not revs:
            return None
        if rev <= 0:
            rev = self.revision
        i = bisect_right(revs, rev) - 1
        return self._vals[key][i] if i >= 0 else None

    def range(self, start: str, end: str | None, rev: int) -> list[KV]:
        if rev <= 0:
            rev = self.revision
        if end is None or end == "":
            kv = self.get(start, rev)
            return [kv] if kv is not None else []
        lo = bisect_left(self._keys, start)
        hi = len(self._keys) if end == ALL_KEYS else bisect_left(self._keys, end)
        out = []
        for k in self._keys[lo:hi]:
            kv = self.get(k, rev)
            if kv is not None:
                out.append(kv)
        return out

    def lease_exists(self, lease: int) -> bool:
        return lease in self.leases if self.lease_check else True

    def lease_keys(self, lease: int) -> list[str]:
        return [kv.key for kv in self.range("", ALL_KEYS, self.revision) if kv.lease == lease]

    def at(self, rev: int) -> StoreView:
        """The store as it was right after revision ``rev`` (leases as they are now)."""
        return StoreView(self, rev)

    def keys(self) -> list[str]:
        return list(self._keys)

    # -- writes --------------------------------------------------------------
    def commit(self, rev: int, changes: Iterable[tuple[str, KV | None]]) -> None:
        """Record the changes of one revision; ``rev`` must be the next revision."""
        assert rev == self.revision + 1, (rev, self.revision)
        for key, kv in changes:
            revs = self._revs.get(key)
            if revs is None:
                revs = self._revs[key] = []
                self._vals[key] = []
                insort(self._keys, key)
            if revs and revs[-1] == rev:
                self._vals[key][-1] = kv
                self._undo.append(("set", key, rev))
            else:
                revs.append(rev)
                self._vals[key].append(kv)
                self._undo.append(("kv", key))
        self._undo.append(("rev", self.revision))
        self.revision = rev

    def grant(self, lease: int) -> None:
        if lease not in self.leases:
            self.leases.add(lease)
            self._undo.append(("grant", lease))

    def revoke(self, lease: int) -> None:
        if lease in self.leases:
            self.leases.discard(lease)
            self._undo.append(("revoke", lease))

    def compact(self, rev: int) -> None:
        self._undo.append(("compact", self.compact_revision))
        self.compact_revision = rev

    def mark(self) -> int:
        return len(self._undo)

    def undo(self, mark: int) -> None:
        """Roll back everything recorded after ``mark`` (a ``set`` is never undone: the
        checker only overwrites within a revision it is still building)."""
        while len(self._undo) > mark:
            entry = self._undo.pop()
            tag = entry[0]
            if tag == "kv":
                key = entry[1]
                self._revs[key].pop()
                self._vals[key].pop()
            elif tag == "rev":
                self.revision = entry[1]
            elif tag == "grant":
                self.leases.discard(entry[1])
            elif tag == "revoke":
                self.leases.add(entry[1])
            elif tag == "compact":
                self.compact_revision = entry[1]

    def forget_undo(self) -> None:
        """Drop the undo log once no backtracking can reach it (bounds memory)."""
        self._undo.clear()

    def forget_before(self, rev: int) -> None:
        """Drop the versions reads at ``rev`` or later no longer need (a streamed check
        keeps a bounded past): per key the latest one at or before ``rev`` and all
        later; a key deleted by then goes. Reads below ``rev`` are then wrong, so the
        caller must no longer ask them."""
        self._undo.clear()
        for key in list(self._keys):
            revs, vals = self._revs[key], self._vals[key]
            i = bisect_right(revs, rev) - 1
            if i > 0:
                del revs[:i], vals[:i]
            if len(revs) == 1 and vals[0] is None and revs[0] <= rev:
                del self._revs[key], self._vals[key]
        self._keys = sorted(self._revs)

    @classmethod
    def seeded(cls, revision: int, kvs: Iterable[KV], *, lease_check: bool = False) -> Store:
        """A store whose state at ``revision`` is ``kvs`` (what a read of every key
        showed), with no past before it: only reads at ``revision`` or later are right."""
        store = cls(lease_check=lease_check)
        for kv in sorted(kvs, key=lambda k: k.key):
            store._revs[kv.key] = [kv.mod_revision]
            store._vals[kv.key] = [kv]
            store._keys.append(kv.key)
        store.revision = revision
        return store

    def copy(self) -> Store:
        """An independent store in the same state (without the undo log)."""
        other = Store(lease_check=self.lease_check)
        other._revs = {k: list(v) for k, v in self._revs.items()}
        other._vals = {k: list(v) for k, v in self._vals.items()}
        other._keys = list(self._keys)
        other.revision, other.compact_revision, other.leases = (
            self.revision,
            self.compact_revision,
            set(self.leases),
        )
        return other

    def truncated(self, rev: int) -> Store:
        """An independent store as this one was right after revision ``rev`` (with the
        same kept past): the state some order reached there, to replay on from."""
        other = self.copy()
        for key in list(other._keys):
            revs = other._revs[key]
            i = bisect_right(revs, rev)
            del revs[i:], other._vals[key][i:]
            if not revs:
                del other._revs[key], other._vals[key]
        other._keys = sorted(other._revs)
        other.revision = min(rev, self.revision)
        return other

    def versions(self) -> int:
        """How many key versions the store holds (what a streamed check must bound)."""
        return sum(len(v) for v in self._revs.values())


class StoreView:
    """A :class:`Store` seen as of revision ``rev``: reads at 0 or above it are capped."""

    __slots__ = ("_store", "_rev")

    def __init__(self, store: Store, rev: int) -> None:
        self._store = store
        self._rev = rev

    @property
    def revision(self) -> int:
        return self._rev

    @property
    def compact_revision(self) -> int:
        return self._store.compact_revision

    def get(self, key: str, rev: int) -> KV | None:
        return self._store.get(key, self._rev if rev <= 0 or rev > self._rev else rev)

    def range(self, start: str, end: str | None, rev: int) -> list[KV]:
        return self._store.range(start, end, self._rev if rev <= 0 or rev > self._rev else rev)

    def lease_exists(self, lease: int) -> bool:
        return self._store.lease_exists(lease)

    def lease_keys(self, lease: int) -> list[str]:
        return [kv.key for kv in self._store.range("", ALL_KEYS, self._rev) if kv.lease == lease]


@dataclass(frozen=True)
class FrozenState:
    """Hashable state for the generic search.

    ``history`` maps each key (sorted) to its tuple of ``(revision, kv or None)``; it is a
    tuple of pairs rather than a dict so the state hashes and compares by value.
    """

    revision: int = 1
    compact_revision: int = 0
    history: tuple[tuple[str, tuple[tuple[int, KV | None], ...]], ...] = ()
    leases: frozenset[int] = frozenset()
    _index: dict[str, int] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def _idx(self) -> dict[str, int]:
        if not self._index and self.history:
            self._index.update({k: i for i, (k, _) in enumerate(self.history)})
        return self._index

    def get(self, key: str, rev: int) -> KV | None:
        i = self._idx().get(key)
        if i is None:
            return None
        if rev <= 0:
            rev = self.revision
        found = None
        for r, kv in self.history[i][1]:
            if r > rev:
                break
            found = kv
        return found

    def range(self, start: str, end: str | None, rev: int) -> list[KV]:
        out = []
        for key, _ in self.history:
            if in_range(key, start, end):
                kv = self.get(key, rev)
                if kv is not None:
                    out.append(kv)
        return out

    def lease_exists(self, lease: int) -> bool:
        return lease in self.leases

    def lease_keys(self, lease: int) -> list[str]:
        return [kv.key for kv in self.range("", ALL_KEYS, self.revision) if kv.lease == lease]

    def with_changes(
        self,
        changes: list[tuple[str, KV | None]],
        *,
        leases: frozenset[int] | None = None,
        compact_revision: int | None = None,
    ) -> FrozenState:
        history = self.history
        revision = self.revision
        if changes:
            revision += 1
            hist = dict(history)
            for key, kv in changes:
                entries = hist.get(key, ())
                if entries and entries[-1][0] == revision:
                    entries = entries[:-1]
                hist[key] = (*entries, (revision, kv))
            history = tuple(sorted(hist.items()))
        return FrozenState(
            revision=revision,
            compact_revision=self.compact_revision if compact_revision is None else compact_revision,
            history=history,
            leases=self.leases if leases is None else leases,
        )
