"""Txn compares written as comparisons: ``value("k") == "v"``, ``mod_revision("k") < 5``.

Each builder names one of etcd's compare targets and the comparison gives the compare
dict of the history format. The operators are etcd's four (``==``, ``!=``, ``<``,
``>``): etcd has no ``<=`` or ``>=``, so Python's TypeError for them is the right answer.
The target names written are the ones the client converts (``create``, ``mod``), not
the aliases the schema also reads.
"""

from __future__ import annotations

from typing import Any

from harness.client.api.op import key_range

#: A compare of a txn, as the history format writes it.
Compare = dict[str, Any]


class Target:
    """What a compare reads from the key (or every key of the range: etcd requires all
    of them to satisfy it)."""

    __slots__ = ("key", "range_end", "target")

    def __init__(self, target: str, key: str, range_end: str | None):
        self.target = target
        self.key = key
        self.range_end = range_end

    def _compare(self, result: str, value: object) -> Compare:
        wants = str if self.target == "value" else int
        if not isinstance(value, wants) or isinstance(value, bool):
            raise TypeError(f"a compare on {self.target} takes {wants.__name__}, not {value!r}")
        end = {"range_end": self.range_end} if self.range_end is not None else {}
        return {"key": self.key, **end, "target": self.target, "result": result, "value": value}

    def __eq__(self, value: object) -> Compare:  # type: ignore[override]
        return self._compare("=", value)

    def __ne__(self, value: object) -> Compare:  # type: ignore[override]
        return self._compare("!=", value)

    def __lt__(self, value: object) -> Compare:
        return self._compare("<", value)

    def __gt__(self, value: object) -> Compare:
        return self._compare(">", value)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        end = f", range_end={self.range_end!r}" if self.range_end is not None else ""
        return f"{self.target}({self.key!r}{end})"


def _target(name: str, key: str, range_end: str | None, prefix: bool, from_key: bool) -> Target:
    return Target(name, *key_range(key, range_end, prefix=prefix, from_key=from_key))


def value(key: str, range_end: str | None = None, *, prefix: bool = False, from_key: bool = False) -> Target:
    """The value; a missing key fails every value compare (etcd's rule)."""
    return _target("value", key, range_end, prefix, from_key)


def version(
    key: str, range_end: str | None = None, *, prefix: bool = False, from_key: bool = False
) -> Target:
    """How many times the key was written since it was created (0: missing)."""
    return _target("version", key, range_end, prefix, from_key)


def create_revision(
    key: str, range_end: str | None = None, *, prefix: bool = False, from_key: bool = False
) -> Target:
    return _target("create", key, range_end, prefix, from_key)


def mod_revision(
    key: str, range_end: str | None = None, *, prefix: bool = False, from_key: bool = False
) -> Target:
    return _target("mod", key, range_end, prefix, from_key)


def lease(key: str, range_end: str | None = None, *, prefix: bool = False, from_key: bool = False) -> Target:
    """The id of the key's lease (0: none)."""
    return _target("lease", key, range_end, prefix, from_key)
