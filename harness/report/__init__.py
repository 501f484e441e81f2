"""Reports people can look at: a self-contained HTML page per history, and plain text.

``render_report``/``write_report`` take a History and a :class:`ReportVerdict` (build one
with ``run_check``, ``from_check_result``, ``from_anomalies`` or ``not_checked``);
``explain`` gives the terminal lines for the first violation; ``summarize`` the figures
a run's summary.json shares with the report header.
"""

from harness.report.explain import describer, explain
from harness.report.html import render_report, reproduce_command, timeline_data, write_report
from harness.report.summary import fault_windows, member_labels, op_counts, summarize, time_unit
from harness.report.verdict import (
    NOT_CHECKED,
    ReportVerdict,
    anomaly_dict,
    as_report_verdict,
    from_anomalies,
    from_check_result,
    from_etcd_verdict,
    not_checked,
    run_check,
)

__all__ = [
    "NOT_CHECKED",
    "ReportVerdict",
    "anomaly_dict",
    "as_report_verdict",
    "describer",
    "explain",
    "fault_windows",
    "from_anomalies",
    "from_check_result",
    "from_etcd_verdict",
    "member_labels",
    "not_checked",
    "op_counts",
    "render_report",
    "reproduce_command",
    "run_check",
    "summarize",
    "time_unit",
    "timeline_data",
    "write_report",
]
