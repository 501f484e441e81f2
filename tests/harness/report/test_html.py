from __future__ import annotations

import json
import re
from pathlib import Path

from harness.history.importers import load_history
from harness.report import render_report, timeline_data, write_report
from harness.report.explain import describer
from models.check import check
from models.history import History
from models.verdict import Verdict

URL_ATTR = re.compile(r"""(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


def _data(page: str) -> dict:  # type: ignore[type-arg]
    m = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', page, re.S)
    assert m
    return json.loads(m.group(1))


def test_failing_report_marks_the_violating_op(bad_history: History) -> None:
    page = render_report(bad_history, check(bad_history))
    assert 'data-violation-op="4"' in page
    assert 'href="#explanation"' in page
    assert "Model state after the prefix" in page and "value=2" in page
    assert 'class="violation" data-op="4"' in page
    assert _data(page)["marks"]["stuck"] == [4]
    assert _data(page)["marks"]["prefix"] == [0, 1, 2]


def test_page_is_self_contained(bad_history: History) -> None:
    page = render_report(bad_history, check(bad_history))
    assert not URL_ATTR.search(page)
    assert "<link" not in page and "@import" not in page
    assert not re.search(r"""url\(\s*['"]?(?!#)""", page)  # only in-page references like url(#clip)
    assert "<svg" in page  # plots inlined


def test_passing_report(ok_history: History) -> None:
    page = render_report(ok_history, check(ok_history))
    assert 'data-verdict="ok"' in page and "data-violation-op" not in page
    assert "etcd-harness run unit --seed 7" in page


def test_not_checked_still_renders(ok_history: History, tmp_path: Path) -> None:
    out = write_report(ok_history, tmp_path / "r.html", Verdict.unchecked("checker not ready", ""))
    page = out.read_text()
    assert 'data-verdict="not checked"' in page and "checker not ready" in page
    assert write_report(ok_history, tmp_path / "r2.html").exists()


def test_timeline_columns_round_trip(ok_history: History) -> None:
    d = timeline_data(ok_history, Verdict.unchecked("x", ""), describer("cas-register"))
    ops = d["ops"]
    ids, calls, total = [], [], 0
    for v in ops["id"]:
        total += v
        ids.append(total)
    total = 0
    for v in ops["call"]:
        total += v
        calls.append(total)
    assert sorted(ids) == list(range(7))
    assert calls == sorted(calls) and calls[0] == 1000  # microseconds
    assert ops["dur"][ids.index(6)] == -1  # never returned
    assert [lane["type"] for lane in d["lanes"]].count("watch") == 1
    assert d["faults"][1]["label"] == "partition m1" and d["faults"][1]["open"]


def test_script_cannot_be_closed_by_data(ok_history: History) -> None:
    ok_history.ops[0].input["value"] = "</script><script>alert(1)</script>"
    page = render_report(ok_history, Verdict.unchecked("x", ""), plots=False)
    assert page.count("</script>") == 2


def test_imported_history_labels_event_axis(shared_histories: Path) -> None:
    hist = load_history(str(shared_histories / "jepsen-edn/cas-failure.edn"))
    page = render_report(hist, check(hist))
    assert "event index" in page and 'data-violation-op="244"' in page
    assert _data(page)["unit"] == "event"


def test_anomaly_cards_show_members_and_watch(bad_history: History) -> None:
    from models.anomaly import Anomaly

    v = Verdict(
        "illegal",
        "etcd",
        [
            Anomaly(
                "watch-gap",
                "watch 1 skipped revision 2",
                [2],
                watch=1,
                members=["m1"],
                details={"missing": [2]},
            )
        ],
    )
    page = render_report(bad_history, v, plots=False)
    assert 'data-kind="watch-gap"' in page and "Watch stream 1 (3 messages)" in page
    assert "<b>Members:</b> m1" in page and 'data-violation-op="2"' in page


def test_etcd_anomaly_names_the_writes_behind_it(tmp_path: Path) -> None:
    from tests.common import bulk as bench

    hist = bench.generate(600)
    reads = [o for o in hist.ops if o.status == "ok" and o.input["kind"] == "range" and o.output["kvs"]]
    stale = reads[len(reads) // 2]
    stale.output["kvs"][0]["value"] = "stale!"
    v = check(hist)
    from harness.report.evidence import violating_ops

    assert v.verdict == "illegal" and stale.id in violating_ops(v)
    page = render_report(hist, v, plots=False)
    assert f'data-violation-op="{stale.id}"' in page
    assert "wrote rev" in page and _data(page)["marks"]["related"]
    assert "k167=stale!" in page or "=stale!@" in page


def test_long_watch_stream_shows_messages_around_the_anomaly(ok_history: History) -> None:
    from models.anomaly import Anomaly
    from models.history import WatchRecord

    ok_history.watches += [
        WatchRecord(watch=2, client=9, time=i, event="progress", header={"revision": i})
        for i in range(1, 200)
    ]
    v = Verdict("illegal", "", [Anomaly("watch-gap", "gap", watch=2, details={"revision": 120})])
    page = render_report(ok_history, v, plots=False)
    assert "@rev 120" in page and "@rev 5\n" not in page
    assert "20 of 199 messages" in page


def test_renders_an_etcd_verdict_with_its_writers(bad_history: History, tmp_path: Path) -> None:
    """The run pipeline passes the etcd checks' verdict straight through."""
    from models.anomaly import Anomaly
    from models.verdict import Witness

    res = Verdict(
        "illegal",
        "etcd",
        [Anomaly("stale-read", "op 4 read an old value", [4])],
        witness=Witness(writers={2: 2}),
    )
    out = write_report(
        bad_history, tmp_path / "report.html", verdict=res, reproduce="etcd-harness reproduce runs/x"
    )
    page = out.read_text()
    assert 'data-violation-op="4"' in page and "etcd-harness reproduce runs/x" in page


def test_run_directory_reproduces_with_its_plan(ok_history: History, tmp_path: Path) -> None:
    from harness.report import reproduce_command

    assert ok_history.path
    (Path(ok_history.path).parent / "plan.json").write_text("{}")
    assert reproduce_command(ok_history, Verdict.unchecked("x", "")).startswith("etcd-harness reproduce ")


def test_empty_history_renders() -> None:
    from models.history import Header

    page = render_report(History(header=Header(scenario="empty")))
    assert 'data-verdict="not checked"' in page and _data(page)["ops"]["id"] == []


def test_known_etcd_bug_is_named_in_the_report() -> None:
    path = (
        Path(__file__).resolve().parents[2]
        / "data"
        / "regressions"
        / "etcd-18089-watch-misses-compacted-delete"
    )
    hist = load_history(str(path / "history.jsonl.xz"))
    page = render_report(hist, check(hist))
    assert "Known etcd bug etcd-io/etcd#18089" in page and "fixed in 3.4.34, 3.5.16" in page
    assert not URL_ATTR.search(page)
