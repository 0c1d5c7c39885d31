"""Scheduled jobs as data (STYLE.md item 8): which reports are produced when, registered
with RQ's cron scheduler by `flask --app wsgi cron` (which `serve` starts beside the worker).

A schedule is {"report", "cron", "format", "period", "unit"?, "timeout"?}; "period" is
"today" (as-of reports), "previous_month" or "year_to_date"; without "unit" the report is
made for every top-level unit. REPORT_SCHEDULES (JSON) replaces the defaults below; "[]"
turns scheduling off. Scheduled runs belong to nobody: every user whose scope covers the
unit sees them among their report runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from flask import Flask, current_app

DEFAULT_SCHEDULES: list[dict[str, Any]] = [
    # Movements of the previous month, on the 1st at 02:00.
    {
        "report": "increase-decrease",
        "cron": "0 2 1 * *",
        "format": "xlsx",
        "period": "previous_month",
    },
    # Quality of the rolls on the 1st at 02:30; record completeness every Monday at 03:00.
    {"report": "quality", "cron": "30 2 1 * *", "format": "xlsx", "period": "today"},
    {"report": "completeness", "cron": "0 3 * * 1", "format": "xlsx", "period": "today"},
]
PERIODS = ("today", "previous_month", "year_to_date")


class ScheduleError(ValueError):
    pass


def report_schedules(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The schedules of this instance, checked: a wrong entry stops the scheduler with a
    message naming it, rather than failing silently at night."""
    from croniter import croniter

    from webapp.reports import REPORTS

    raw = config.get("REPORT_SCHEDULES")
    try:
        schedules = json.loads(raw) if raw else DEFAULT_SCHEDULES
    except json.JSONDecodeError as error:
        raise ScheduleError(f"REPORT_SCHEDULES is not valid JSON: {error}") from error
    if not isinstance(schedules, list):
        raise ScheduleError("REPORT_SCHEDULES must be a JSON list.")
    for index, schedule in enumerate(schedules, start=1):
        where = f"schedule {index}"
        if not isinstance(schedule, dict):
            raise ScheduleError(f"{where} must be a JSON object.")
        spec = REPORTS.get(schedule.get("report"))
        if spec is None or spec.takes_delegates:
            raise ScheduleError(
                f"{where}: unknown or unschedulable report {schedule.get('report')!r}."
            )
        if not croniter.is_valid(str(schedule.get("cron", ""))):
            raise ScheduleError(f"{where}: invalid cron expression {schedule.get('cron')!r}.")
        if schedule.get("format", "xlsx") not in spec.formats:
            raise ScheduleError(f"{where}: format must be one of {', '.join(spec.formats)}.")
        if schedule.get("period", "today") not in PERIODS:
            raise ScheduleError(f"{where}: period must be one of {', '.join(PERIODS)}.")
    return schedules


def scheduled_parameters(period: str, today: date) -> dict[str, str]:
    if period == "previous_month":
        end = today.replace(day=1) - timedelta(days=1)
        return {"from": end.replace(day=1).isoformat(), "to": end.isoformat()}
    if period == "year_to_date":
        return {"from": date(today.year, 1, 1).isoformat(), "to": today.isoformat()}
    return {"as_of": today.isoformat()}


def run_scheduled_report(
    report: str, output_format: str, period: str, unit_code: str | None = None
) -> list[int]:
    """Job entry point: produce the report for the unit (or every top-level unit) in this
    job; returns the ids of the report runs, whose rows hold the outcome."""
    from sqlalchemy import select

    from jobs import run_in_job
    from webapp.domain.commands import Requester
    from webapp.extensions import db
    from webapp.models.unit import Unit
    from webapp.reports.runs import execute_run, request_report

    query = select(Unit).where(Unit.dissolved_on.is_(None))
    query = (
        query.where(Unit.code == unit_code) if unit_code else query.where(Unit.parent_id.is_(None))
    )
    run_ids = []
    for unit in db.session.scalars(query.order_by(Unit.path)).all():
        # Scheduled runs are the system's: requested by nobody, visible in the unit's scope.
        run = run_in_job(
            lambda unit=unit: request_report(
                db.session,
                Requester.system(),
                report,
                output_format,
                unit.id,
                scheduled_parameters(period, date.today()),
                queue=False,
            )
        )
        run_ids.append(execute_run(run.id).id)
    return run_ids


def build_cron(app: Flask | None = None):
    """An RQ CronScheduler with this instance's schedules registered."""
    from croniter import croniter
    from rq.cron import CronScheduler

    from jobs import cron_scheduler_name, redis_connection

    app = app or current_app._get_current_object()
    # RQ's scheduler heartbeats in its registry (rq:cron_schedulers) every loop, at least
    # once a minute; /healthz reads it under this name.
    scheduler = CronScheduler(connection=redis_connection(app), name=cron_scheduler_name(app))
    for schedule in report_schedules(app.config):
        scheduler.register(
            run_scheduled_report,
            "reports",
            kwargs={
                "report": schedule["report"],
                "output_format": schedule.get("format", "xlsx"),
                "period": schedule.get("period", "today"),
                "unit_code": schedule.get("unit"),
            },
            cron=schedule["cron"],
            job_timeout=int(schedule.get("timeout", app.config["REPORT_JOB_TIMEOUT"])),
            name=f"{schedule['report']}:{schedule.get('unit') or 'top'}:{schedule['cron']}",
        )
    worklist_cron = app.config.get("WORKLIST_CRON")
    if worklist_cron:
        if not croniter.is_valid(worklist_cron):
            raise ScheduleError(f"WORKLIST_CRON: invalid cron expression {worklist_cron!r}.")
        from jobs.worklist import WORKLIST_TIMEOUT, refresh_worklist_job

        scheduler.register(
            refresh_worklist_job,
            "default",
            cron=worklist_cron,
            job_timeout=WORKLIST_TIMEOUT,
            name=f"worklist:{worklist_cron}",
        )
    sync_cron = app.config.get("SYNC_CRON")
    if sync_cron:
        if not croniter.is_valid(sync_cron):
            raise ScheduleError(f"SYNC_CRON: invalid cron expression {sync_cron!r}.")
        from jobs.sync import sync_upstream

        # Registered on every instance: without an identity and an upstream the job has
        # nothing to do and says so.
        scheduler.register(sync_upstream, "sync", cron=sync_cron, name=f"sync:{sync_cron}")
    return scheduler
