"""Latency, throughput and member-revision plots, as inline SVG for the self-contained page.

matplotlib with the Agg backend (no display, no network). SVG keeps the plots sharp at
any zoom and small, because at most a few hundred time buckets are drawn whatever the
history's size. Text stays text (``svg.fonttype: none``) and every figure gets its own
hash salt so the ids of two inlined figures never collide.
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from harness.report.summary import (
    NS_PER_S,
    FaultWindow,
    fault_windows,
    member_labels,
    percentile,
    time_span,
    time_unit,
)
from models.history import History

BUCKETS = 120
_STATUS_COLORS = {"ok": "#3d8b3d", "fail": "#e69138", "unknown": "#8e63c7"}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _to_svg(fig: Any, salt: str) -> str:
    plt = _pyplot()
    buf = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    # Namespaces are implied for inline SVG in HTML; dropping them keeps the page URL-free.
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)
    return svg


def _scale(unit: str) -> tuple[float, str]:
    return (NS_PER_S, "time (s)") if unit == "ns" else (1.0, "event index")


def _shade_faults(ax: Any, windows: Sequence[FaultWindow], div: float) -> None:
    ymax = ax.get_ylim()[1]
    for w in windows:
        ax.axvspan(w.start / div, w.end / div, color="#d9534f", alpha=0.12, lw=0)
        ax.text(w.start / div, ymax, f" {w.label()}", fontsize=7, va="top", ha="left", color="#a33")


def latency_plot(hist: History) -> str | None:
    """p50/p99/max latency of definite answers per time bucket, with fault windows."""
    unit = time_unit(hist)
    div, xlabel = _scale(unit)
    start, end = time_span(hist)
    done = [op for op in hist.ops if op.ret is not None and op.status != "unknown"]
    if not done or end <= start:
        return None
    width = max(1, (end - start) / BUCKETS)
    buckets: dict[int, list[int]] = defaultdict(list)
    for op in done:
        assert op.ret is not None
        buckets[int((op.call - start) / width)].append(op.ret - op.call)
    keys = sorted(buckets)
    xs = [(start + (k + 0.5) * width) / div for k in keys]
    lat_div = 1e6 if unit == "ns" else 1.0
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(11, 2.8), dpi=100)
    for q, label, style in ((50, "p50", "-"), (99, "p99", "-"), (100, "max", ":")):
        ys = [percentile(sorted(buckets[k]), q) / lat_div for k in keys]
        ax.plot(xs, ys, style, lw=1.2, label=label)
    if unit == "ns":
        from matplotlib.ticker import NullFormatter, ScalarFormatter

        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel("latency (ms)" if unit == "ns" else "latency (events)")
    ax.set_xlabel(xlabel)
    ax.set_title("Latency of definite answers (by call time)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    _shade_faults(ax, fault_windows(hist), div)
    return _to_svg(fig, "latency")


def throughput_plot(hist: History) -> str | None:
    """Completed operations per second (or per event bucket) by status, stacked."""
    unit = time_unit(hist)
    div, xlabel = _scale(unit)
    start, end = time_span(hist)
    if not hist.ops or end <= start:
        return None
    width = max(1, (end - start) / BUCKETS)
    counts = {s: [0] * (BUCKETS + 1) for s in _STATUS_COLORS}
    for op in hist.ops:
        t = op.ret if op.ret is not None else op.call
        counts[op.status][min(BUCKETS, int((t - start) / width))] += 1
    per = width / NS_PER_S if unit == "ns" else 1.0
    xs = [(start + (k + 0.5) * width) / div for k in range(BUCKETS + 1)]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(11, 2.8), dpi=100)
    ax.stackplot(
        xs,
        *[[c / per for c in counts[s]] for s in _STATUS_COLORS],
        labels=list(_STATUS_COLORS),
        colors=list(_STATUS_COLORS.values()),
        alpha=0.85,
        step="mid",
    )
    ax.set_ylabel("ops/s" if unit == "ns" else "ops per bucket")
    ax.set_xlabel(xlabel)
    ax.set_title("Throughput by outcome (by return time)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    _shade_faults(ax, fault_windows(hist), div)
    return _to_svg(fig, "throughput")


def revision_plot(hist: History) -> str | None:
    """Each member's revision from status samples: lagging or diverging members stand out."""
    series: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for s in hist.statuses:
        if s.revision is not None:
            series[s.member].append((s.time, s.revision))
    if not series or max(len(v) for v in series.values()) < 2:
        return None
    div, xlabel = _scale(time_unit(hist))
    labels = member_labels(hist)
    start, end = time_span(hist)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(11, 2.8), dpi=100)
    for member in sorted(series, key=lambda m: labels.get(m, m)):
        pts = sorted(series[member])
        marker = "o" if len(pts) <= 60 else None
        ax.step(
            [t / div for t, _ in pts],
            [r for _, r in pts],
            where="post",
            lw=1.2,
            marker=marker,
            ms=3,
            label=labels.get(member, member),
        )
    ax.set_xlim(start / div, end / div)
    ax.set_ylabel("revision")
    ax.set_xlabel(xlabel)
    ax.set_title("Revision per member (status samples)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    _shade_faults(ax, fault_windows(hist), div)
    return _to_svg(fig, "revision")


def all_plots(hist: History) -> list[tuple[str, str]]:
    """(title, svg) for every plot the history has data for."""
    out = []
    for title, fn in (
        ("Latency", latency_plot),
        ("Throughput", throughput_plot),
        ("Revision per member", revision_plot),
    ):
        svg = fn(hist)
        if svg is not None:
            out.append((title, svg))
    return out
