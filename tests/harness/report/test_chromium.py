"""The report opened in a real browser: loads without JavaScript errors, marks the violation.

Screenshots are kept in pytest's temporary directory (printed with -s or -rA) so a
person can look at what the test saw.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from harness.history.importers import load_history
from harness.report import render_report
from models.check import check
from models.verdict import Verdict
from tests.harness.report.chromium import attr, dump_dom, find_chromium, screenshot

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return binary


def _png_ok(path: Path) -> None:
    """A real screenshot; also copied to $REPORT_SCREENSHOT_DIR when set (CI artifacts)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    keep = os.environ.get("REPORT_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)


def test_failing_report_in_browser(chromium: str, shared_histories: Path, tmp_path: Path) -> None:
    hist = load_history(str(shared_histories / "jepsen-edn/cas-failure.edn"))
    page = tmp_path / "cas-failure.html"
    page.write_text(render_report(hist, check(hist)))
    dom, errors = dump_dom(chromium, page)
    assert errors == []
    assert attr(dom, "report-status", "data-status") == "ok", attr(dom, "report-status", "data-error")
    assert attr(dom, "explanation", "data-violation-op") == "244"
    assert attr(dom, "explanation", "data-marked") == "true"
    assert "244" in (attr(dom, "timeline", "data-marked-ops") or "").split(",")
    png = tmp_path / "cas-failure.png"
    assert screenshot(chromium, page, png) == []
    _png_ok(png)
    # A link to an op zooms the timeline to it.
    zoomed, errors = dump_dom(chromium, page, "#op=244")
    assert errors == []
    a, b = map(float, (attr(zoomed, "timeline", "data-view") or "0,0").split(","))
    assert a < 489 and b > 492 and b - a < 100
    png2 = tmp_path / "cas-failure-zoomed.png"
    assert screenshot(chromium, page, png2, "#op=244", size="1400,900") == []
    _png_ok(png2)
    print(f"\nscreenshots: {png} {png2}")


def test_passing_report_in_browser(chromium: str, shared_histories: Path, tmp_path: Path) -> None:
    hist = load_history(str(shared_histories / "porcupine-etcd/etcd_100.log"))
    page = tmp_path / "etcd_100.html"
    page.write_text(render_report(hist, check(hist)))
    dom, errors = dump_dom(chromium, page)
    assert errors == []
    assert attr(dom, "report-status", "data-status") == "ok"
    assert attr(dom, "verdict", "data-verdict") == "ok"
    assert attr(dom, "explanation", "data-violation-op") is None
    png = tmp_path / "etcd_100.png"
    assert screenshot(chromium, page, png) == []
    _png_ok(png)
    print(f"\nscreenshot: {png}")


def test_a_script_error_is_detected(chromium: str, shared_histories: Path, tmp_path: Path) -> None:
    """The checks above would pass vacuously if errors went unnoticed: prove they don't."""
    hist = load_history(str(shared_histories / "porcupine-etcd/etcd_100.log"))
    html = render_report(hist, Verdict.unchecked("x", ""), plots=False)
    page = tmp_path / "broken.html"
    page.write_text(html.replace("</body>", "<script>null.boom();</script></body>"))
    dom, errors = dump_dom(chromium, page)
    assert attr(dom, "report-status", "data-status") == "error"
    assert any("Uncaught" in e for e in errors)


def test_60k_operations_render_fast(chromium: str, tmp_path: Path) -> None:
    from tests.common import bulk as bench

    hist = bench.generate(60_000)
    page = tmp_path / "big.html"
    page.write_text(render_report(hist, Verdict.unchecked("bench", ""), plots=False))
    assert page.stat().st_size < 8_000_000
    # Zoom in step by step, pan, zoom out again: every redraw is timed in the page.
    interact = """<script>(function () {
      var t = window.reportTimeline, worst = 0, hovered = null;
      function timed(f) { var s = performance.now(); f(); worst = Math.max(worst, performance.now() - s); }
      for (var i = 0; i < 12; i++) timed(function () { t.zoom(0.6); });
      for (i = 0; i < 10; i++) timed(function () { t.pan(0.3); });
      hovered = t.hover(400, 40);
      for (i = 0; i < 12; i++) timed(function () { t.zoom(1.8); });
      var el = document.getElementById("report-status");
      el.setAttribute("data-worst-frame-ms", worst.toFixed(1));
      el.setAttribute("data-hover", hovered ? "yes" : "no");
    })();</script></body>"""
    page.write_text(page.read_text().replace("</body>", interact))
    dom, errors = dump_dom(chromium, page)
    assert errors == []
    assert attr(dom, "report-status", "data-status") == "ok"
    assert attr(dom, "report-status", "data-ops") == "60000"
    assert float(attr(dom, "report-status", "data-render-ms") or 1e9) < 2000
    worst = float(attr(dom, "report-status", "data-worst-frame-ms") or 1e9)
    assert worst < 250, f"slowest redraw {worst} ms"
    print(
        f"\n60k ops: first render {attr(dom, 'report-status', 'data-render-ms')} ms, slowest redraw {worst} ms"
    )
