"""What observations imply about the writes that fill unclaimed revisions (step 3's
pruning): each rule drops only candidates an exact observation rules out.

* a write to key ``k`` at ``r`` is impossible when the first linearizable read of ``k``
  at or after ``r`` (a range, a read-only txn's range, or the prev_kv of an acknowledged
  put or delete, a read just before its revision) shows a mod revision below ``r``;
* a key's version counts its puts since its creation, so a put that would take the key
  past the next version observed for it cannot be right, nor can a write that deletes
  or recreates a key observed alive across its revision;
* at a revision where a key was observed created, only a writer that creates it fits.

Without these, a crash with hundreds of puts in flight leaves runs of gaps whose wrong
fillers only show after the run, and the search permutes the whole run.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from models.etcd.observations import DELETED, PREV, RANGE, TXN_RANGE, Sighting
from models.etcd.requests import delete_ranges, put_values, taken_branch
from models.etcd.revisions.claims import Claims
from models.etcd.state import KV, Store
from models.operation import Operation


@dataclass
class GapEvidence:
    #: revision -> what was observed at it
    obs_at: dict[int, list[Sighting]] = field(default_factory=lambda: defaultdict(list))
    #: op id of an unknown write -> the revisions its (key, value) was seen at
    names_of: dict[int, set[int]] = field(default_factory=dict)
    #: op id of an unknown write -> (keys it may put, key ranges it may delete)
    static: dict[int, tuple[set[str], list[tuple[str, str | None]]]] = field(default_factory=dict)
    #: key -> sorted (read revision, mod revision) of linearizable reads of it
    key_reads: dict[str, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))
    #: key -> sorted (revision, version, create revision) of what linearizable responses showed
    versions_seen: dict[str, list[tuple[int, int, int]]] = field(default_factory=lambda: defaultdict(list))
    #: revision -> keys observed created at it
    created_at: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    #: key -> sorted revisions of acknowledged puts to it
    acked_puts: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    fixed: dict[int, Operation] = field(default_factory=dict)

    @classmethod
    def of(cls, claims: Claims, sightings: list[Sighting], searched: list[Sighting], n: int) -> GapEvidence:
        """``sightings``: everything the history showed; ``searched``: what names gap
        fillers (revisions above 1)."""
        e = cls(fixed=claims.fixed)
        named: dict[tuple[str, str], set[int]] = defaultdict(set)
        for ob in searched:
            if 1 < ob.revision <= n:
                e.obs_at[ob.revision].append(ob)
                if ob.kv is not None and not ob.keys_only:
                    named[(ob.key, ob.kv.value)].add(ob.revision)
                if ob.exact and ob.kv is not None:
                    e.versions_seen[ob.key].append((ob.revision, ob.kv.version, ob.kv.create_revision))
                    e.created_at[ob.kv.create_revision].add(ob.key)
        for op in claims.unknown:
            revs: set[int] = set()
            for kv in put_values(op.input):
                revs |= named.get(kv, set())
            e.names_of[op.id] = revs
            e.static[op.id] = ({k for k, _ in put_values(op.input)}, delete_ranges(op.input))
        e._reads(claims, sightings)
        for rev, op in claims.fixed.items():
            for k in _put_keys(op.input, op.output):
                e.acked_puts[k].append(rev)
        for table in (e.key_reads, e.versions_seen, e.acked_puts):
            for lst in table.values():
                lst.sort()
        return e

    def _reads(self, claims: Claims, sightings: list[Sighting]) -> None:
        """Reads by observers, and an acknowledged put's prev_kv (a delete's prev_kvs),
        which is a read of its keys just before its revision. Without the latter,
        put-only traffic leaves an unknown put to a key free to fill any gap, and the
        mistake only shows at the key's next write."""
        observing = {op.id for lst in claims.observers.values() for op in lst}
        fixed_at = {
            op.id: rev for rev, op in claims.fixed.items() if op.input.get("kind") in ("put", "delete")
        }
        for s in sightings:
            if s.op is None or s.kv is None:
                continue
            if s.via in (RANGE, TXN_RANGE) and s.op in observing:
                self.key_reads[s.key].append((s.read_revision or 0, s.revision))
            elif s.via in (PREV, DELETED) and s.op in fixed_at and s.revision:
                self.key_reads[s.key].append((fixed_at[s.op] - 1, s.revision))

    def contradicted(self, r: int, changes: list[tuple[str, KV | None]]) -> bool:
        for k, _ in changes:
            seen = self.key_reads.get(k)
            if seen:
                i = bisect_left(seen, (r, -1))
                if i < len(seen) and seen[i][1] < r:
                    return True
        return False

    def next_seen(self, k: str, r: int) -> tuple[int, int, int] | None:
        """(revision, version, create_revision) of the first observation of ``k`` at or
        after revision ``r``."""
        seen = self.versions_seen.get(k)
        if not seen:
            return None
        i = bisect_left(seen, (r, -1, -1))
        return seen[i] if i < len(seen) else None

    def over_version(self, r: int, changes: list[tuple[str, KV | None]]) -> bool:
        made = self.created_at.get(r)
        if made:
            ch = dict(changes)
            for k in made:
                kv = ch.get(k)
                if kv is None or kv.create_revision != r:
                    return True
        for k, kv in changes:
            nxt = self.next_seen(k, r)
            if nxt is None or nxt[2] >= r:
                continue
            m, v, c = nxt
            # The key lives from c through m: this write cannot delete or recreate it,
            # and its puts up to m (this one, the acknowledged ones after it, and the
            # one at m) are v.
            if kv is None or kv.create_revision != c:
                return True
            puts = self.acked_puts.get(k, ())
            at_m = m > r and m not in self.fixed
            if kv.version + bisect_right(puts, m) - bisect_right(puts, r) + at_m > v:
                return True
        return False

    def deficit(self, k: str, r: int, store: Store) -> int | None:
        """The revision by which key ``k`` still needs a put that no acknowledged or
        named write supplies (its next observed version says so), or None."""
        nxt = self.next_seen(k, r)
        if nxt is None:
            return None
        m, v, c = nxt
        cur = store.get(k, 0)
        if c >= r or cur is None or cur.create_revision != c:
            return None
        puts = self.acked_puts.get(k, ())
        supplied = cur.version + bisect_right(puts, m) - bisect_left(puts, r) + (m not in self.fixed)
        return m if supplied < v else None

    def deficit_first(self, cands: list[Operation], r: int, store: Store) -> list[Operation]:
        """Unnamed candidates whose key falls short of its next observed version, the
        most urgent first (earliest deadline): an unobserved put is usually one that a
        later put overwrote, and the version count is what tells where it went."""
        urgent: list[tuple[int, int, Operation]] = []
        rest: list[Operation] = []
        # Per key, not per candidate: a long history carries thousands of unknown
        # writes onto a handful of keys.
        by_key: dict[str, int | None] = {}
        for i, op in enumerate(cands):
            keys = self.static[op.id][0]
            for k in keys:
                if k not in by_key:
                    by_key[k] = self.deficit(k, r, store)
            due = min((d for k in keys if (d := by_key[k]) is not None), default=None)
            if due is None:
                rest.append(op)
            else:
                urgent.append((due, i, op))
        if not urgent:
            return cands
        urgent.sort(key=lambda t: (t[0], t[1]))
        return [op for _, _, op in urgent] + rest


def _put_keys(req: dict[str, Any], output: Any) -> list[str]:
    """Keys an acknowledged write put (the branch its txn took)."""
    kind = req.get("kind")
    if kind == "put":
        return [str(req["key"])]
    if kind != "txn" or not isinstance(output, dict):
        return []
    out: list[str] = []
    for sub, resp in taken_branch(req, output):
        out.extend(_put_keys(sub, resp))
    return out
