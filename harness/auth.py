"""Who the harness is on a cluster with authentication on, for every client of the harness.

An ``--auth`` run enables etcd's authentication with a root user and a test user whose
role may read and write every key except one *churn* range, which the auth faults
revoke and grant again while traffic runs (:mod:`harness.cluster.auth`). The traffic
runs as the test user, so that etcd's permission checks decide what it may do; the
watchers, the end-of-run protocol, the faults and every admin call run as root, so that
what the checks compare is never cut short by a permission.

Like :mod:`harness.tls`, a registry keyed by endpoint rather than credentials passed
down every call: the same endpoint strings flow through the recorder, the traffic, the
faults and the checks. A realm holds the current passwords (a fault changes the test
user's) and each client keeps its own token (:class:`TokenSource`), fetched again after
etcd says it is stale (a restarted member forgets simple tokens; an auth change makes
old ones refused).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.tls import ByEndpoint

Who = Literal["root", "user"]
ROOT_USER = "root"
#: Every key the test user's fixed permissions cover lies in [LOW, HIGH).
LOW, HIGH = "\x01", "\xff"


@dataclass(frozen=True)
class Layout:
    """The test user, its role, and the churn range [churn_key, churn_end) the auth
    faults revoke and grant; the role always holds readwrite on the rest of [LOW, HIGH)."""

    user: str = "harness-user"
    role: str = "harness-role"
    churn_key: str = "key/"
    churn_end: str = "key/0010"

    def fixed(self) -> list[tuple[str, str]]:
        return [(LOW, self.churn_key), (self.churn_end, HIGH)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "role": self.role,
            "churn": [self.churn_key, self.churn_end],
            "fixed": [list(p) for p in self.fixed()],
        }


@dataclass
class Realm:
    """One cluster's identities; the passwords are made per run."""

    layout: Layout
    root_password: str = field(default_factory=lambda: secrets.token_hex(8))
    user_password: str = field(default_factory=lambda: secrets.token_hex(8))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def credentials(self, who: Who) -> tuple[str, str]:
        with self._lock:
            if who == "root":
                return ROOT_USER, self.root_password
            return self.layout.user, self.user_password

    @staticmethod
    def next_password() -> str:
        return secrets.token_hex(8)

    def use_password(self, password: str) -> None:
        with self._lock:
            self.user_password = password


_realms: ByEndpoint[Realm] = ByEndpoint()


def register(endpoints: list[str], realm: Realm) -> None:
    _realms.put(endpoints, realm)


def forget(endpoints: list[str]) -> None:
    _realms.forget(endpoints)


def realm_for(endpoint: str) -> Realm | None:
    return _realms.get(endpoint)


#: Messages after which a token is fetched again (etcd's ErrInvalidAuthToken,
#: ErrAuthOldRevision, and an unknown user after a restart forgot the token).
STALE_TOKEN = ("invalid auth token", "revision of auth store is old", "user name is empty")


def stale_token(message: str) -> bool:
    return any(m in message for m in STALE_TOKEN)


class Tokens:
    """A client's token for one identity at one endpoint, forgotten once etcd calls it
    stale; how it is fetched (blocking or awaited) is the subclass's."""

    def __init__(self, endpoint: str, who: Who):
        self.endpoint = endpoint
        self.who = who
        self._token: str | None = None

    def drop(self, message: str) -> None:
        if stale_token(message):
            self._token = None


class TokenSource(Tokens):
    """Fetched on first use and again after it went stale; ``authenticate(name,
    password)`` returns a new token."""

    def __init__(self, endpoint: str, who: Who, authenticate: Callable[[str, str], str]):
        super().__init__(endpoint, who)
        self._authenticate = authenticate
        self._lock = threading.Lock()

    def get(self) -> str | None:
        """The token to send, or None when the endpoint has no authentication."""
        realm = realm_for(self.endpoint)
        if realm is None:
            return None
        with self._lock:
            if self._token is None:
                self._token = self._authenticate(*realm.credentials(self.who))
            return self._token
