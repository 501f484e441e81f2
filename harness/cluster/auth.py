"""Authentication on a cluster: turned on with the run's identities, and changed by the
auth faults, all through the gateway as root (:func:`harness.cluster.admin.call`).

Each change is made idempotent (a repeat that finds the change already made counts as
done), so a call that timed out can be sent again to another member without the second
answer turning a change that happened into an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness import auth
from harness.cluster import admin
from harness.cluster.admin import AdminError

#: etcd's answers to a change already made.
_ALREADY = (
    "already exists",
    "permission is not granted",
    "user name not found",
    "role is already granted",
)


def _change(urls: Sequence[str], path: str, body: dict[str, Any]) -> None:
    """One change, tried on each member in turn until one answers."""
    last: AdminError | None = None
    for url in urls:
        try:
            admin.call(url, path, body, timeout=5.0)
            return
        except AdminError as exc:
            if any(a in str(exc) for a in _ALREADY):
                return
            last = exc
    raise last or AdminError(f"{path}: no member to ask")


def _perm(key: str, end: str) -> dict[str, object]:
    return {"permType": "READWRITE", "key": admin.b64(key), "range_end": admin.b64(end)}


def enable(urls: Sequence[str], realm: auth.Realm) -> None:
    """Root, the test user and its role, then authentication on; from then on every
    client of the harness at ``urls`` authenticates (:func:`harness.auth.register`)."""
    lay = realm.layout
    _change(urls, "/v3/auth/user/add", {"name": auth.ROOT_USER, "password": realm.root_password})
    _change(urls, "/v3/auth/user/grant", {"user": auth.ROOT_USER, "role": "root"})
    _change(urls, "/v3/auth/role/add", {"name": lay.role})
    for key, end in [*lay.fixed(), (lay.churn_key, lay.churn_end)]:
        _change(urls, "/v3/auth/role/grant", {"name": lay.role, "perm": _perm(key, end)})
    add_user(urls, realm)
    _change(urls, "/v3/auth/enable", {})
    auth.register(list(urls), realm)


def revoke_churn(urls: Sequence[str], realm: auth.Realm) -> None:
    lay = realm.layout
    body = {"role": lay.role, "key": admin.b64(lay.churn_key), "range_end": admin.b64(lay.churn_end)}
    _change(urls, "/v3/auth/role/revoke", body)


def grant_churn(urls: Sequence[str], realm: auth.Realm) -> None:
    lay = realm.layout
    _change(urls, "/v3/auth/role/grant", {"name": lay.role, "perm": _perm(lay.churn_key, lay.churn_end)})


def change_password(urls: Sequence[str], realm: auth.Realm) -> None:
    """A new password for the test user; its tokens stop working, and the clients log in
    again with the new one once this returns."""
    new = realm.next_password()
    _change(urls, "/v3/auth/user/changepw", {"name": realm.layout.user, "password": new})
    realm.use_password(new)


def delete_user(urls: Sequence[str], realm: auth.Realm) -> None:
    _change(urls, "/v3/auth/user/delete", {"name": realm.layout.user})


def add_user(urls: Sequence[str], realm: auth.Realm) -> None:
    """The test user with its current password and its role (after a deletion too)."""
    lay = realm.layout
    _change(urls, "/v3/auth/user/add", {"name": lay.user, "password": realm.credentials("user")[1]})
    _change(urls, "/v3/auth/user/grant", {"user": lay.user, "role": lay.role})
