from __future__ import annotations

import pytest

from harness.traffic import ops
from harness.traffic.plan import PLAN_TEMPLATES, Plan, make_plan, program_length
from models.etcd.state import KV
from scenarios import SCENARIOS, get_scenario


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_seed_gives_byte_identical_plan(name: str) -> None:
    scn = get_scenario(name)
    a = make_plan(scn, 1234).to_json()
    b = make_plan(scn, 1234).to_json()
    assert a == b
    assert make_plan(scn, 1235).to_json() != a


def test_plan_round_trips_through_json() -> None:
    plan = make_plan(get_scenario("kubernetes-compaction"), 5)
    assert Plan.from_json(plan.to_json()) == plan


def test_fault_schedule_fits_the_run() -> None:
    plan = make_plan(get_scenario("issue-13766"), 9)
    assert plan.faults, "a kill scenario must schedule kills"
    for f in plan.faults:
        assert f.at >= 1.0 and f.at + f.duration <= plan.duration
    starts = [f.at for f in plan.faults]
    assert starts == sorted(starts)


def test_overrides() -> None:
    plan = make_plan(get_scenario("smoke"), 1, duration=3.0, qps=None, members=5)
    assert (plan.duration, plan.qps, plan.members) == (3.0, None, 5)


def test_operations_follow_what_the_client_saw() -> None:
    st = ops.ClientState(client=3)
    put = ops.put_op("key/0001", "v")
    ops.after(put, "ok", {"header": {"revision": 17}, "prev_kv": None}, st)
    assert st.mod_revision["key/0001"] == 17 and st.revision == 17
    from harness.traffic.plan import OpTemplate

    cas = ops.build("kv", 16, OpTemplate("cas", 1, 0), st, 5, 0)
    assert cas["compare"] == [{"key": "key/0001", "target": "mod", "result": "=", "value": 17}]
    assert cas["success"][0]["value"] == "c3-5"
    grant = ops.build("kv", 16, OpTemplate("lease-put", 1, 0), st, 6, 0)
    assert grant["kind"] == "lease_grant" and grant["id"] != 0
    ops.after(grant, "ok", {"header": {"revision": 17}, "id": grant["id"], "ttl": 7200}, st)
    leased = ops.build("kv", 16, OpTemplate("lease-put", 1, 0), st, 7, 0)
    assert leased["kind"] == "put" and leased["lease"] == grant["id"]
    ops.after(grant, "unknown", None, st)
    assert st.lease == 0


def test_paginated_list_continues_at_the_first_page_revision() -> None:
    from harness.traffic.plan import OpTemplate

    st = ops.ClientState(client=0)
    first = ops.build("kubernetes", 16, OpTemplate("k8s-list", 0, 1), st, 0, 0)
    assert first["revision"] == 0 and first["limit"] == 2
    out = {
        "header": {"revision": 40},
        "kvs": [
            {"key": "/registry/pods/default/0001", "mod_revision": 3},
            {"key": "/registry/pods/default/0002", "mod_revision": 4},
        ],
        "more": True,
        "count": 5,
    }
    ops.after(first, "ok", out, st)
    nxt = ops.build("kubernetes", 16, OpTemplate("k8s-list", 0, 1), st, 1, 0)
    assert nxt["key"] == "/registry/pods/default/0002\x00" and nxt["revision"] == 40
    ops.after(nxt, "ok", {"error": "compacted"}, st)
    assert st.page is None


def test_a_lost_update_is_retried_on_its_key_with_the_revision_it_read() -> None:
    from harness.traffic.plan import OpTemplate

    st = ops.ClientState(client=1)
    upd = ops.build("kubernetes", 16, OpTemplate("k8s-update", 3, 0), st, 0, 0)
    key = upd["compare"][0]["key"]
    assert upd["compare"][0]["value"] == 0
    lost = {
        "header": {"revision": 50},
        "succeeded": False,
        "responses": [
            {"kind": "range", "kvs": [{"key": key, "mod_revision": 42}], "count": 1, "more": False}
        ],
    }
    ops.after(upd, "ok", lost, st)
    assert st.conflict == key
    # Whatever key the next update's template names, it retries the lost one.
    retry = ops.build("kubernetes", 16, OpTemplate("k8s-update", 9, 0), st, 1, 0)
    assert retry["compare"] == [{"key": key, "target": "mod", "result": "=", "value": 42}]
    assert st.conflict is None
    ops.after(retry, "ok", {"header": {"revision": 51}, "succeeded": True, "responses": [{}]}, st)
    assert st.conflict is None and st.mod_revision[key] == 51


def test_a_scenario_may_set_its_own_operation_mix() -> None:
    plan = make_plan(get_scenario("issue-13766"), 3)
    kinds = {t.kind for c in plan.clients for t in c.program}
    assert "put" in kinds and kinds <= {k for k, _ in get_scenario("issue-13766").op_mix}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_plans_stay_within_what_hypothesis_draws_in_one_example(name: str) -> None:
    """Past Hypothesis's cap on choices per example a plan overruns and is redrawn again
    and again (128 clients of up to 16 templates took 36 s to draw)."""
    scn = get_scenario(name)
    assert scn.clients * program_length(scn.clients) <= PLAN_TEMPLATES
    plan = make_plan(scn, 1)
    assert max(len(c.program) for c in plan.clients) <= program_length(scn.clients)


@pytest.mark.parametrize("kind", ops.EXTENDED)
def test_extended_kinds_are_requests_the_model_reads_and_etcd_accepts(kind: str) -> None:
    """Every request exploration may send fits the model's schema and applies to a
    state (the model learned it first), and no txn branch writes a key twice (etcd
    would refuse it)."""
    import msgspec

    from harness.client.convert import request_op
    from harness.traffic.plan import OpTemplate
    from models.etcd.requests import apply
    from models.etcd.schema import SCHEMAS
    from models.etcd.state import Store

    store = Store()
    store.grant(7)
    for rev in range(2, 41):
        store.commit(rev, [(key := ops.key_name("kv", rev % 4), KV(key, str(rev), 2, rev, rev, 0))])
    store.compact(10)
    st = ops.ClientState(client=1, revision=40, lease=7)
    seen = set()
    for arg in range(16):
        for key in range(4):
            req = ops.build("kv", 4, OpTemplate(kind, key, arg), st, arg, key * 31)
            msgspec.convert(req, SCHEMAS[req["kind"]].input)
            if req["kind"] != "range":
                request_op(req)
            out = apply(store, req).output
            assert out.get("error") != "duplicate_key", req
            seen.add(out.get("error"))
    if kind == "range-at":
        assert {"future_revision", "compacted", None} <= seen
