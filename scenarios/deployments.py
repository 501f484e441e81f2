"""Scenarios about how clusters are run: mixed builds, rolling upgrades, TLS and auth under traffic.

Each starts on the builds it names (``Scenario.etcd_versions``); the command line's
``--etcd-version`` does not apply to them, and a matrix runs them once per round.
"""

from __future__ import annotations

from scenarios.base import FaultChoice, Scenario


def _rolling(name: str, start: str, to: str, description: str) -> Scenario:
    """Every member upgraded in turn (3 upgrades in about 18 s, then traffic on the new build)."""
    return Scenario(
        name=name,
        description=description,
        profile="kv",
        faults=(FaultChoice("upgrade", ("next",), 0.5, 1.0, (("to", to),)),),
        duration=25.0,
        qps=800.0,
        fault_interval=(3.0, 5.0),
        etcd_versions=(start,) * 3,
    )


DEPLOYMENTS = [
    _rolling(
        "upgrade-3.4-to-3.5",
        "3.4.23",
        "3.5.1",
        "a 3.4.23 cluster upgraded member by member to 3.5.1 under kv traffic and watches; "
        "the cluster version is sampled and must only move forward",
    ),
    _rolling(
        "upgrade-3.5.0-to-3.5.1",
        "3.5.0",
        "3.5.1",
        "a 3.5.0 cluster upgraded member by member to the 3.5.1 patch release under traffic",
    ),
    _rolling(
        "downgrade-3.5.1-to-3.5.0",
        "3.5.1",
        "3.5.0",
        "a patch downgrade, 3.5.1 to 3.5.0 member by member, which etcd allows within a minor version",
    ),
    Scenario(
        name="mixed-3.4-3.5-kill",
        description="a cluster left half-upgraded (one 3.4.23 member, two 3.5.1) under kv traffic, "
        "members SIGKILLed and restarted; the cluster version must stay 3.4",
        profile="kv",
        faults=(FaultChoice("kill", ("random", "leader"), 0.5, 1.5),),
        duration=20.0,
        etcd_versions=("3.4.23", "3.5.1", "3.5.1"),
    ),
    Scenario(
        name="tls-kill",
        description="client and peer traffic over TLS (a CA per run, certificates required both ways) "
        "while members are SIGKILLed and peer traffic goes through the delaying proxy",
        profile="kv",
        faults=(
            FaultChoice("kill", ("random", "leader"), 0.5, 1.5),
            FaultChoice("delay", ("random",), 2.0, 3.0, (("delay_ms", 30.0),)),
        ),
        duration=20.0,
        tls=True,
    ),
    Scenario(
        name="auth-churn",
        description="authentication on, kv traffic as a test user whose permission on a third of the keys "
        "is revoked and granted again, whose password changes and who is deleted and added back, "
        "while members are SIGKILLed; every answer must keep to the permissions in force",
        profile="kv",
        faults=(
            FaultChoice("auth-revoke", ("random",), 1.0, 2.5),
            FaultChoice("auth-revoke", ("random",), 1.0, 2.5),
            FaultChoice("auth-password", ("random",), 0.0, 0.0),
            FaultChoice("auth-user", ("random",), 0.5, 1.5),
            FaultChoice("kill", ("random", "leader"), 0.5, 1.5),
        ),
        duration=20.0,
        auth=True,
    ),
]
