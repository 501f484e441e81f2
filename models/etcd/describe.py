"""One line per operation for reports: the request, then every part of the answer the
model compares (:func:`models.etcd.requests.canonical`), so that an "observed" and an
"expected" that differ never read the same.

A kv is ``key=value@mod`` with its create revision, version and lease where they are
not the defaults of a first write without a lease (``c``, ``v``, ``lease``).
"""

from __future__ import annotations

from typing import Any

from models.etcd.state import kv_from_dict


def describe(input: Any, output: Any) -> str:
    """The request and its answer (``?`` when unknown)."""
    req = request_text(input)
    if output is None:
        return f"{req} -> ?"
    if not isinstance(output, dict):
        return f"{req} -> {output!r}"
    return f"{req} -> {answer_text(input, output)}"


def request_text(req: dict[str, Any]) -> str:
    kind = req.get("kind")
    if kind == "put":
        return (
            f"put {req['key']}={req.get('value')}"
            + (f" lease={req['lease']}" if req.get("lease") else "")
            + (" prev_kv" if req.get("prev_kv") else "")
            + (" ignore_lease" if req.get("ignore_lease") else "")
        )
    if kind in ("range", "delete"):
        return f"{kind} {_span(req)}" + "".join(_range_options(req))
    if kind == "txn":
        compares = " and ".join(_compare_text(c) for c in req.get("compare") or []) or "true"
        then = "; ".join(request_text(s) for s in req.get("success") or [])
        other = "; ".join(request_text(s) for s in req.get("failure") or [])
        return f"txn if {compares} then [{then}] else [{other}]"
    return f"{kind} " + " ".join(f"{k}={v}" for k, v in req.items() if k != "kind")


def _span(req: dict[str, Any]) -> str:
    end = req.get("range_end")
    return str(req["key"]) if not end else f"[{req['key']!r}, {end!r})"


def _range_options(req: dict[str, Any]) -> list[str]:
    out = []
    if req.get("revision"):
        out.append(f"@{req['revision']}")
    if req.get("limit"):
        out.append(f" limit={req['limit']}")
    for flag in ("keys_only", "count_only", "serializable", "prev_kv"):
        if req.get(flag):
            out.append(f" {flag}")
    if (req.get("sort_order") or "none") != "none" or (req.get("sort_target") or "key") != "key":
        out.append(f" sort={req.get('sort_target') or 'key'}:{req.get('sort_order') or 'none'}")
    for bound in ("min_mod_revision", "max_mod_revision", "min_create_revision", "max_create_revision"):
        if req.get(bound):
            out.append(f" {bound}={req[bound]}")
    return out


def _compare_text(c: dict[str, Any]) -> str:
    target = c.get("target", "value")
    span = c["key"] if not c.get("range_end") else f"[{c['key']!r}, {c['range_end']!r})"
    return f"{target}({span}) {c.get('result', '=')} {c.get('value')!r}"


def answer_text(req: dict[str, Any], output: dict[str, Any], *, sub: bool = False) -> str:
    if output.get("error"):
        return f"error {output['error']}"
    rev = "" if sub else f"rev {(output.get('header') or {}).get('revision')} "
    kind = req.get("kind")
    if kind == "range":
        kvs = ", ".join(kv_text(d) for d in output.get("kvs") or [])
        more = " more" if output.get("more") else ""
        return f"{rev}[{kvs}] count={output.get('count')}{more}"
    if kind == "put":
        prev = f"prev_kv={kv_text(output.get('prev_kv'))}" if req.get("prev_kv") else ""
        return (rev + prev).strip()
    if kind == "delete":
        prevs = ""
        if req.get("prev_kv"):
            prevs = " prev_kvs=[" + ", ".join(kv_text(d) for d in output.get("prev_kvs") or []) + "]"
        return f"{rev}deleted={output.get('deleted')}{prevs}"
    if kind == "txn":
        ok = bool(output.get("succeeded"))
        branch = req.get("success" if ok else "failure") or []
        resps = output.get("responses") or []
        parts = [
            answer_text(b, r, sub=True) if isinstance(r, dict) else repr(r)
            for b, r in zip(branch, resps, strict=False)
        ]
        if len(resps) != len(branch):
            parts.append(f"{len(resps)} responses for {len(branch)} requests")
        return f"{rev}{'succeeded' if ok else 'failed'} [{'; '.join(parts)}]"
    if kind == "lease_grant":
        return f"{rev}id={output.get('id')} ttl={output.get('ttl')}"
    if kind == "lease_keepalive":
        return f"renewed ttl={output.get('ttl')}"
    if kind == "lease_timetolive":
        keys = ",".join(output.get("keys") or ()) or "none"
        return f"ttl={output.get('ttl')}/{output.get('granted_ttl')} keys={keys}"
    return rev.strip()


def kv_text(d: Any) -> str:
    kv = kv_from_dict(d)
    if kv is None:
        return "none"
    extra = []
    if kv.create_revision != kv.mod_revision:
        extra.append(f"c{kv.create_revision}")
    if kv.version != 1:
        extra.append(f"v{kv.version}")
    if kv.lease:
        extra.append(f"lease={kv.lease}")
    return f"{kv.key}={kv.value}@{kv.mod_revision}" + (f"({' '.join(extra)})" if extra else "")
