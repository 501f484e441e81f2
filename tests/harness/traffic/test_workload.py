"""The traffic's gate: a quiet fault holds every client still, and the hold returns only
once the requests in flight came back (or the drain time passed)."""

from __future__ import annotations

import asyncio
import threading
import time

from harness.traffic.workload import Gate


def test_a_held_gate_stops_new_requests_and_waits_for_those_in_flight() -> None:
    gate = Gate()
    sent: list[float] = []
    held_at: list[float] = []

    async def client() -> None:
        for _ in range(40):
            await gate.passed()
            gate.sent(1)
            sent.append(time.monotonic())
            await asyncio.sleep(0.01)
            gate.sent(-1)

    loop = threading.Thread(target=lambda: asyncio.run(client()))
    loop.start()
    time.sleep(0.05)
    with gate.hold(drain_s=1.0):
        held_at.append(time.monotonic())
        assert gate.in_flight == 0
        time.sleep(0.2)
        during = [t for t in sent if held_at[0] < t]
    loop.join(5)
    assert during == [], "no request starts while the gate is held"
    assert len(sent) == 40, "the clients go on once it is released"


def test_a_hold_that_is_never_released_opens_by_itself() -> None:
    gate = Gate()
    with gate.hold(drain_s=0.0, max_s=0.05):
        time.sleep(0.1)
        assert asyncio.run(asyncio.wait_for(gate.passed(), 1.0)) is None
