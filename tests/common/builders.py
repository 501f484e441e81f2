"""Small helpers to write etcd histories by hand in tests."""

from __future__ import annotations

from typing import Any

from models.history import Header, History, OpRecord, StatusRecord, WatchRecord


def kv(
    key: str, value: str, mod: int, create: int | None = None, version: int = 1, lease: int = 0
) -> dict[str, Any]:
    return {
        "key": key,
        "value": value,
        "create_revision": mod if create is None else create,
        "mod_revision": mod,
        "version": version,
        "lease": lease,
    }


class H:
    """Builds a history: each call appends one op with consecutive ids."""

    def __init__(self) -> None:
        self.ops: list[OpRecord] = []
        self.watches: list[WatchRecord] = []
        self.statuses: list[StatusRecord] = []

    def op(
        self,
        input: dict[str, Any],
        output: Any,
        call: int,
        ret: int | None,
        *,
        client: int | None = None,
        status: str = "ok",
        member: str = "m1",
    ) -> int:
        i = len(self.ops)
        self.ops.append(
            OpRecord(
                id=i,
                client=i if client is None else client,
                call=call,
                input=input,
                status=status,  # type: ignore[arg-type]
                ret=ret,
                output=output,
                member=member,
            )
        )
        return i

    def put(
        self, key: str, value: str, rev: int, call: int, ret: int | None, *, prev: Any = None, **kw: Any
    ) -> int:
        inp: dict[str, Any] = {"kind": "put", "key": key, "value": value, "lease": kw.pop("lease", 0)}
        if prev is not None:
            inp["prev_kv"] = True
        status = kw.get("status", "ok")
        out = None if status == "unknown" else {"header": {"revision": rev}, "prev_kv": prev or None}
        return self.op(inp, out, call, ret, **kw)

    def get(
        self,
        key: str,
        rev: int,
        kvs: list[dict[str, Any]],
        call: int,
        ret: int,
        *,
        end: str | None = None,
        **kw: Any,
    ) -> int:
        inp: dict[str, Any] = {"kind": "range", "key": key, "range_end": end}
        for f in ("revision", "limit", "serializable", "keys_only", "count_only"):
            if f in kw:
                inp[f] = kw.pop(f)
        out = {
            "header": {"revision": rev},
            "kvs": kvs,
            "more": kw.pop("more", False),
            "count": kw.pop("count", len(kvs)),
        }
        return self.op(inp, out, call, ret, **kw)

    def watch(
        self,
        wid: int,
        messages: list[tuple[str, Any]],
        *,
        key: str = "\x00",
        end: str | None = "\x00",
        start: int = 0,
        prev_kv: bool = False,
        member: str = "m1",
    ) -> None:
        """``messages``: ("created", rev), ("events", [event...]), ("progress", rev), ("canceled", compact_rev)."""
        t = 1000 * (wid + 1)
        req = watch_request(key, end, start, prev_kv)
        self.watches.append(
            WatchRecord(watch=wid, client=100 + wid, time=t, event="request", member=member, request=req)
        )
        for kind, arg in messages:
            t += 1
            if kind == "events":
                rev = max(e["kv"]["mod_revision"] for e in arg)
                self.watches.append(
                    WatchRecord(
                        watch=wid,
                        client=100 + wid,
                        time=t,
                        event="events",
                        member=member,
                        header={"revision": rev},
                        events=arg,
                    )
                )
            elif kind == "canceled":
                self.watches.append(
                    WatchRecord(
                        watch=wid,
                        client=100 + wid,
                        time=t,
                        event="canceled",
                        member=member,
                        compact_revision=arg,
                        cancel_reason="compacted",
                    )
                )
            else:
                self.watches.append(
                    WatchRecord(
                        watch=wid,
                        client=100 + wid,
                        time=t,
                        event=kind,
                        member=member,
                        header={"revision": arg},
                    )  # type: ignore[arg-type]
                )

    def history(self, finished: bool = True) -> History:
        return History(
            header=Header(model="etcd"),
            ops=list(self.ops),
            watches=list(self.watches),
            statuses=list(self.statuses),
            finished=finished,
        )


def put_ev(
    k: str, v: str, mod: int, create: int | None = None, version: int = 1, prev: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {"type": "PUT", "kv": kv(k, v, mod, create, version), "prev_kv": prev}


def del_ev(k: str, mod: int, prev: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "DELETE", "kv": {"key": k, "mod_revision": mod}, "prev_kv": prev}


def sequential() -> H:
    """a=1@2, b=1@3, a=2@4, sequential in time: the base many hand-written cases build on."""
    h = H()
    h.put("a", "1", 2, 10, 20)
    h.put("b", "1", 3, 30, 40)
    h.put("a", "2", 4, 50, 60)
    return h


def watch_request(key: str, end: str | None, start: int, prev_kv: bool) -> dict[str, Any]:
    """A watch record's ``request``, with progress notifications asked for."""
    return {
        "key": key,
        "range_end": end,
        "start_revision": start,
        "prev_kv": prev_kv,
        "progress_notify": True,
    }
