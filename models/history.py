"""The history vocabulary: the records of the history format (version 1, see
docs/history-format.md) and a history in memory, whatever file it came from.

The bottom of the layers: models check these, the harness writes and reads them, and
nothing here knows a file. msgspec structs because a 60k-operation history is written
while traffic runs and is re-read by every check; msgspec encodes and decodes them
several times faster than json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from models.operation import Operation
from models.schema import Int64

FORMAT_NAME = "etcd-harness-history"
FORMAT_VERSION = 1

Status = Literal["ok", "fail", "unknown"]


class ErrorInfo(msgspec.Struct, omit_defaults=True):
    """A failed call: the gRPC status code name (or a transport name) and its message."""

    code: str
    message: str = ""


class Header(msgspec.Struct, tag="header", tag_field="type"):
    format: str = FORMAT_NAME
    version: int = FORMAT_VERSION
    tool_version: str = ""
    scenario: str | None = None
    seed: int | None = None
    cluster: dict[str, Any] = msgspec.field(default_factory=dict)
    etcd_versions: list[str] = msgspec.field(default_factory=list)
    start_time: str = ""
    model: str | None = None
    model_options: dict[str, Any] = msgspec.field(default_factory=dict)
    source: str | None = None


class OpRecord(msgspec.Struct, tag="op", tag_field="type", omit_defaults=True):
    id: Int64
    client: Int64
    call: Int64
    input: dict[str, Any]
    status: Status
    ret: Int64 | None = msgspec.field(default=None, name="return")
    output: Any = None
    error: ErrorInfo | None = None
    member: str | None = None


class FaultRecord(msgspec.Struct, tag="fault", tag_field="type", omit_defaults=True):
    """One edge of a fault window; a ``start`` and its ``end`` share ``id``."""

    id: Int64
    phase: Literal["start", "end"]
    kind: str
    time: Int64
    targets: list[str] = msgspec.field(default_factory=list)
    detail: dict[str, Any] = msgspec.field(default_factory=dict)
    error: str | None = None


class WatchRecord(msgspec.Struct, tag="watch", tag_field="type", omit_defaults=True):
    """One message of a watch stream, exactly as received.

    ``event`` is ``request`` (the watch was asked for: ``request`` holds key, range_end,
    start_revision, prev_kv, progress_notify), ``created``, ``events``, ``progress``,
    ``canceled`` or ``error`` (the stream broke; ``error`` says how); or ``settled``,
    written by the harness, not etcd: the stream was open throughout the wait at the end
    of a run, whose start found its member at ``header.revision`` (and the sentinel
    write at or above it), so every change it covers up to there is overdue.
    """

    watch: Int64
    client: Int64
    time: Int64
    event: Literal["request", "created", "events", "progress", "canceled", "error", "settled"]
    member: str | None = None
    request: dict[str, Any] | None = None
    header: dict[str, Any] | None = None
    events: list[dict[str, Any]] = msgspec.field(default_factory=list)
    compact_revision: int = 0
    cancel_reason: str = ""
    error: ErrorInfo | None = None
    #: How many responses etcd split this message into (a watch asked for ``fragment``);
    #: the harness joined them, as etcd's client does.
    fragments: int = 0


class StatusRecord(msgspec.Struct, tag="status", tag_field="type", omit_defaults=True):
    """A sample of one member's status (maintenance Status / HashKV)."""

    time: Int64
    member: str
    revision: Int64 | None = None
    raft_index: int | None = None
    raft_applied_index: int | None = None
    raft_term: int | None = None
    leader: int | None = None
    member_id: int | None = None
    hash: int | None = None
    hash_revision: int | None = None
    compact_revision: int | None = None
    #: What ``/version`` said: the member's own build and the cluster version it holds.
    server_version: str | None = None
    cluster_version: str | None = None
    error: ErrorInfo | None = None


class NoteRecord(msgspec.Struct, tag="note", tag_field="type", omit_defaults=True):
    """Free-form event worth seeing on a timeline (phase changes, warnings)."""

    time: Int64
    text: str
    detail: dict[str, Any] = msgspec.field(default_factory=dict)


class EndRecord(msgspec.Struct, tag="end", tag_field="type", omit_defaults=True):
    """Written last by a run that finished cleanly; absent after a crash."""

    time: Int64
    reason: str = "finished"


Record = Header | OpRecord | FaultRecord | WatchRecord | StatusRecord | NoteRecord | EndRecord


@dataclass
class History:
    header: Header
    ops: list[OpRecord] = field(default_factory=list)
    faults: list[FaultRecord] = field(default_factory=list)
    watches: list[WatchRecord] = field(default_factory=list)
    statuses: list[StatusRecord] = field(default_factory=list)
    notes: list[NoteRecord] = field(default_factory=list)
    finished: bool = False
    warnings: list[str] = field(default_factory=list)
    path: str | None = None

    def operations(self) -> list[Operation]:
        """The client operations in the form checkers take."""
        return [as_operation(r) for r in self.ops]

    @property
    def model(self) -> str | None:
        return self.header.model

    def watch_request(self, watch: int | None) -> WatchRecord | None:
        """The record of the request that opened ``watch``."""
        return next((r for r in self.watches if r.watch == watch and r.event == "request"), None)


def as_operation(r: OpRecord) -> Operation:
    """A recorded operation in the form checkers take."""
    return Operation(
        id=r.id,
        client=r.client,
        call=r.call,
        ret=r.ret,
        input=r.input,
        output=r.output,
        status=r.status,
        error=r.error,
    )
