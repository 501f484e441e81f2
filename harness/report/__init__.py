"""Reports people can look at: a self-contained HTML page per history, and plain text.

``render_report``/``write_report`` take a History and the :class:`models.verdict.Verdict`
its check gave (None: not checked); ``explain`` gives the terminal lines for the first
violation; ``summarize`` the figures a run's summary.json shares with the report header.
The report renders a verdict; it never runs a check.
"""

from harness.report.explain import describer, explain
from harness.report.html import render_report, reproduce_command, timeline_data, write_report
from harness.report.summary import fault_windows, member_labels, op_counts, summarize, time_unit

__all__ = [
    "describer",
    "explain",
    "fault_windows",
    "member_labels",
    "op_counts",
    "render_report",
    "reproduce_command",
    "summarize",
    "time_unit",
    "timeline_data",
    "write_report",
]
