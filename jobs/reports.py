"""Report job entry point."""

from __future__ import annotations

from webapp.reports.runs import execute_run


def render_report(run_id: int) -> int:
    """Render the ReportRun `run_id`; the durable outcome is on the row itself."""
    execute_run(run_id)
    return run_id
