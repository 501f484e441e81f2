"""Watches with filters: etcd leaves the filtered event type out, and every other change
of the range is still owed. a is put at 2, deleted at 3, put again at 4."""

from __future__ import annotations

from typing import Any

import pytest

from models.etcd import check_history
from models.history import History
from tests.common.builders import H, del_ev, put_ev


def _history(events: list[dict[str, Any]], filters: list[str]) -> History:
    h = H()
    h.put("a", "1", 2, 10, 20)
    h.op({"kind": "delete", "key": "a"}, {"header": {"revision": 3}, "deleted": 1, "prev_kvs": []}, 30, 40)
    h.put("a", "2", 4, 50, 60)
    messages: list[tuple[str, Any]] = [("events", [e]) for e in events] + [("progress", 4)]
    h.watch(0, messages, key="a", end=None, start=2)
    h.watches[0].request["filters"] = filters  # type: ignore[index]
    return h.history()


PUT2, DEL3, PUT4 = put_ev("a", "1", 2), del_ev("a", 3), put_ev("a", "2", 4, create=4)


@pytest.mark.parametrize(
    ("events", "filters"),
    [
        ([PUT2, DEL3, PUT4], []),
        ([PUT2, PUT4], ["nodelete"]),
        ([DEL3], ["noput"]),
        ([], ["noput", "nodelete"]),
    ],
)
def test_a_stream_without_its_filtered_events_passes(
    events: list[dict[str, Any]], filters: list[str]
) -> None:
    v = check_history(_history(events, filters))
    assert v.verdict == "ok", v.summary()


@pytest.mark.parametrize(
    ("events", "filters", "kind"),
    [
        ([PUT2, DEL3, PUT4], ["nodelete"], "watch-wrong-event"),
        ([PUT2, DEL3], ["noput"], "watch-wrong-event"),
        ([PUT2], ["nodelete"], "watch-progress"),
        ([], ["noput"], "watch-progress"),
    ],
)
def test_a_filtered_event_delivered_or_an_owed_one_missing_is_caught(
    events: list[dict[str, Any]], filters: list[str], kind: str
) -> None:
    v = check_history(_history(events, filters))
    assert v.verdict == "illegal" and kind in v.kinds(), v.summary()
