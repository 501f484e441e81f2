"""A distilled reproduction: a few etcd calls one client makes in order, written as a
pytest file of typed ``etcd_recorder`` calls.

Revisions in a replay are not the original run's (far fewer writes make them), so a
step never holds a revision number: every write binds its response's revision to a
name after the revision it made in the original (``r552``), and a compaction, a
watch's start and the revision a watch waits for name the write they stand for. A
compaction to a revision whose write is not replayed compacts to the last replayed
write before it, which leaves every replayed key as it was at the original revision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

#: Seconds a watch waits for the events it must see before the test gives up on it.
WATCH_WAIT = 10.0


@dataclass(frozen=True)
class Write:
    """A write that made ``revision`` in the original run: a put, a delete, or a txn of
    the branch it took (no compares, so the replay takes it too)."""

    revision: int
    request: dict[str, Any]


@dataclass(frozen=True)
class Compact:
    revision: int
    #: Replayed compactions wait for the backend (``physical``): a replay is a
    #: sequence, and what the next call reads must not depend on a race with it.
    physical: bool = True


@dataclass(frozen=True)
class Watch:
    watch: int
    key: str
    range_end: str | None
    start: int
    options: dict[str, Any] = field(default_factory=dict)
    #: The original revision whose event the watch waits for (None: it does not wait).
    until: int | None = None


Step = Write | Compact | Watch


@dataclass(frozen=True)
class Script:
    steps: tuple[Step, ...]
    #: What the candidate is, for the progress lines and reproduction.txt.
    label: str = ""

    @property
    def writes(self) -> list[Write]:
        return [s for s in self.steps if isinstance(s, Write)]

    def keeping(self, writes: Sequence[Write]) -> Script:
        """The script with only ``writes`` of its writes (compactions and watches stay)."""
        kept = {id(w) for w in writes}
        return Script(tuple(s for s in self.steps if not isinstance(s, Write) or id(s) in kept), self.label)

    def calls(self) -> int:
        """Requests the test makes: writes, compactions kept, watches."""
        return len(_Renderer(self).render()[0])

    def lines(self) -> list[str]:
        calls, waits = _Renderer(self).render()
        return calls + waits

    def key(self) -> tuple[str, ...]:
        return tuple(self.lines())


class _Renderer:
    """The body of the test: one line per call, revisions bound as the header says."""

    def __init__(self, script: Script):
        self.script = script
        self.replayed: list[int] = []

    def render(self) -> tuple[list[str], list[str]]:
        """(a line per call, then the waits for the watches' events)."""
        out: list[str] = []
        waits: list[str] = []
        for step in self.script.steps:
            if isinstance(step, Write):
                out.append(f"r{step.revision} = {write_call(step.request)}.revision")
                self.replayed.append(step.revision)
            elif isinstance(step, Compact):
                at = self._at_or_before(step.revision)
                if at is not None:
                    physical = ", physical=True" if step.physical else ""
                    out.append(f"etcd_recorder.compact(r{at}{physical})")
            else:
                line, wait = self._watch(step)
                out.append(line)
                waits += wait
        return out, waits

    def _at_or_before(self, revision: int) -> int | None:
        return max((r for r in self.replayed if r <= revision), default=None)

    def _watch(self, w: Watch) -> tuple[str, list[str]]:
        later = sorted(
            s.revision for s in self.script.steps if isinstance(s, Write) and s.revision >= w.start
        )
        start = str(w.start) if w.start <= 1 else f"r{later[0]}" if later else "0"
        end = f", {w.range_end!r}" if w.range_end is not None else ""
        options = "".join(f", {k}={v!r}" for k, v in w.options.items())
        name = f"w{w.watch}"
        line = f"{name} = etcd_recorder.watch({w.key!r}{end}, start_revision={start}{options})"
        if w.until is None or w.until not in later:
            return line, []
        return line, [f"{name}.events(until_revision=r{w.until}, timeout={WATCH_WAIT:g})"]


def _args(request: dict[str, Any], names: Sequence[str], defaults: dict[str, Any]) -> str:
    parts = [repr(request[n]) for n in names]
    parts += [f"{k}={request[k]!r}" for k, d in defaults.items() if request.get(k, d) != d]
    return ", ".join(parts)


def _request_call(request: dict[str, Any], prefix: str) -> str:
    kind = request["kind"]
    if kind == "put":
        return f"{prefix}put({_args(request, ('key', 'value'), {'prev_kv': False})})"
    if kind == "delete":
        names = ("key", "range_end") if request.get("range_end") else ("key",)
        return f"{prefix}delete({_args(request, names, {'prev_kv': False})})"
    raise ValueError(f"no call for {kind}")


def write_call(request: dict[str, Any]) -> str:
    if request["kind"] == "txn":
        then = ", ".join(_request_call(r, "op.") for r in request["success"])
        return f"etcd_recorder.txn(then=[{then}])"
    return _request_call(request, "etcd_recorder.")


TEMPLATE = '''"""{title}, distilled by `etcd-harness shrink` from {source}: {what}.

One client replays them in order on a fresh cluster; each rNNN is the revision this
run's write made where the original's made revision NNN. The etcd_recorder fixture
checks the history when the test ends and fails on any anomaly: the test fails while
etcd has the bug. When shrunk: {rate}. Run with --etcd-version to pick the build."""

from harness.client.api import op  # noqa: F401


def test_reproduction(etcd_recorder):
{body}
'''


def pytest_source(script: Script, *, title: str, source: str, what: str, rate: str) -> str:
    body = "\n".join(f"    {line}" for line in script.lines()) or "    pass"
    return TEMPLATE.format(title=title, source=source, what=what, rate=rate, body=body)
