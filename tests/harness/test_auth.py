"""Identities and tokens of ``--auth`` runs: the registry every client looks endpoints up
in, and tokens fetched once, then again only after etcd called them stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import auth
from harness.history.jsonl import read_history
from harness.runner import RunOptions, run
from harness.traffic.plan import Plan, auth_layout


def test_the_registry_maps_endpoints_whatever_their_scheme() -> None:
    realm = auth.Realm(auth.Layout())
    auth.register(["http://127.0.0.9:2379"], realm)
    try:
        assert auth.realm_for("127.0.0.9:2379") is realm
        assert auth.realm_for("https://127.0.0.9:2379/") is realm
        assert auth.realm_for("http://127.0.0.9:2380") is None
    finally:
        auth.forget(["127.0.0.9:2379"])
    assert auth.realm_for("http://127.0.0.9:2379") is None


def test_a_token_is_fetched_once_and_again_only_when_stale() -> None:
    realm = auth.Realm(auth.Layout())
    asked: list[tuple[str, str]] = []

    def authenticate(name: str, password: str) -> str:
        asked.append((name, password))
        return f"t{len(asked)}"

    tokens = auth.TokenSource("127.0.0.9:2379", "user", authenticate)
    assert tokens.get() is None and not asked
    auth.register(["127.0.0.9:2379"], realm)
    first = realm.user_password
    try:
        assert tokens.get() == "t1" and tokens.get() == "t1"
        tokens.drop("etcdserver: permission denied")
        assert tokens.get() == "t1"
        tokens.drop("etcdserver: invalid auth token")
        realm.use_password("new")
        assert tokens.get() == "t2"
        assert asked == [("harness-user", first), ("harness-user", "new")]
        root = auth.TokenSource("127.0.0.9:2379", "root", authenticate)
        root.get()
        assert asked[-1] == ("root", realm.root_password)
    finally:
        auth.forget(["127.0.0.9:2379"])


def test_the_churn_range_is_a_third_of_the_key_space() -> None:
    lay = auth_layout("kv", 30)
    assert (lay.churn_key, lay.churn_end) == ("key/", "key/0010")
    assert lay.fixed() == [(auth.LOW, "key/"), ("key/0010", auth.HIGH)]
    assert auth_layout("kubernetes", 3).churn_end == "/registry/pods/default/0001"


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["process", pytest.param("docker", marks=pytest.mark.docker)])
def test_an_auth_churn_run_holds_answers_to_the_permissions_in_force(backend: str, tmp_path: Path) -> None:
    from tests.common.backends import require_backend
    from tests.harness.test_deployments import need

    require_backend(backend)
    need("3.4.23")
    out = tmp_path / "auth"
    opts = RunOptions(
        scenario="auth-churn",
        seed=2,
        etcd_version="3.4.23",
        backend=backend,
        duration=12.0,
        out=str(out),
        progress=False,
    )
    res = run(opts)
    assert not [a for a in res.anomalies if "known_bug" not in a.get("details", {})], res.anomalies[:3]
    hist = read_history(out / "history.jsonl")
    assert hist.header.cluster["auth"]["churn"][0] == "key/"
    changes = [c["change"] for f in hist.faults if f.phase == "end" for c in f.detail.get("changes", [])]
    assert {"revoke", "grant"} <= set(changes), changes
    denied = [op for op in hist.ops if op.error is not None and op.error.code == "PERMISSION_DENIED"]
    assert denied and all(op.status == "fail" for op in denied)
    assert Plan.from_json((out / "plan.json").read_bytes()).auth is True
