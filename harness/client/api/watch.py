"""A recorded watch read as typed messages, and a bounded wait for its events.

Every message is recorded as it arrives (by :class:`RecordedWatch`), whether or not the
test reads it through here, so the watch checks judge the whole stream. Nothing
reconnects: a broken stream ends the watch, as it does for traffic's watchers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.client.api.responses import KeyValue
from harness.client.errors import EtcdError
from harness.client.recorder import RecordedWatch
from harness.client.watch import WatchKind, WatchMessage


@dataclass(frozen=True, slots=True)
class Event:
    """A DELETE's ``kv`` holds the key and the revision that deleted it, no value."""

    type: Literal["PUT", "DELETE"]
    kv: KeyValue
    prev_kv: KeyValue | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        prev = d.get("prev_kv")
        return cls(
            type=d["type"], kv=KeyValue.from_dict(d["kv"]), prev_kv=KeyValue.from_dict(prev) if prev else None
        )


@dataclass(frozen=True, slots=True)
class WatchResponse:
    """``kind`` says what the message is (see harness.client.watch.message); ``revision``
    is its header's (0 for ``error``, which etcd did not send)."""

    kind: WatchKind
    revision: int
    events: list[Event] = field(default_factory=list)
    compact_revision: int = 0
    cancel_reason: str = ""
    error: EtcdError | None = None

    @classmethod
    def from_message(cls, msg: WatchMessage) -> WatchResponse:
        return cls(
            kind=msg.kind,
            revision=int((msg.header or {}).get("revision") or 0),
            events=[Event.from_dict(e) for e in msg.events],
            compact_revision=msg.compact_revision,
            cancel_reason=msg.cancel_reason,
            error=msg.error,
        )


class WatchEndedError(Exception):
    """The watch ended (canceled, broken, or closed when the wait ran out) before the
    events waited for came: ``events`` are those that did, ``response`` the message
    that ended it, if any."""

    def __init__(self, message: str, events: list[Event], response: WatchResponse | None):
        super().__init__(message)
        self.events = events
        self.response = response


class Watcher:
    """Iterate for :class:`WatchResponse`; ``close()`` (or ``with``) when done."""

    def __init__(self, recorded: RecordedWatch):
        self.recorded = recorded

    @property
    def id(self) -> int:
        """The watch's id in the history."""
        return self.recorded.id

    def __iter__(self) -> Iterator[WatchResponse]:
        for msg in self.recorded:
            yield WatchResponse.from_message(msg)

    def events(self, *, until_revision: int, timeout: float = 10.0) -> list[Event]:
        """The events from here on, up to the first at or after ``until_revision`` (a
        revision's events come in one message, so none of it is cut off).

        A timer closes the watch if they have not all come within ``timeout`` seconds:
        iteration blocks on the stream, and a test that hangs tells less than one that
        fails. The watch is then closed for good and :class:`WatchEndedError` raised.
        """
        got: list[Event] = []
        timer = threading.Timer(timeout, self.close)
        timer.daemon = True
        timer.start()
        try:
            for resp in self:
                got.extend(resp.events)
                if got and got[-1].kv.mod_revision >= until_revision:
                    return got
                if resp.kind in ("canceled", "error"):
                    raise WatchEndedError(
                        f"watch {self.id} {resp.kind} before revision {until_revision}", got, resp
                    )
        finally:
            timer.cancel()
        raise WatchEndedError(
            f"watch {self.id}: no events up to revision {until_revision} within {timeout}s", got, None
        )

    def request_progress(self) -> None:
        self.recorded.request_progress()

    def cancel(self) -> None:
        """Ask etcd to cancel the watcher: a ``canceled`` message ends the stream."""
        self.recorded.cancel()

    def close(self) -> None:
        self.recorded.close()

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
