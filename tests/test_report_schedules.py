"""Cancelling report runs, and reports produced on a schedule by RQ's cron scheduler."""

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from test_reports import seed_members

from conftest import login, run_flask, run_worker_burst
from factories import SYSTEM
from jobs.schedules import ScheduleError, build_cron, report_schedules, scheduled_parameters
from webapp.cli import create_user
from webapp.models import ReportRun
from webapp.models.report_run import ReportState

PASSWORD = "Chi-bo-2026!"


@pytest.mark.parametrize(
    ("schedules", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"report": "quality"}', "must be a JSON list"),
        ('[{"report": "nope", "cron": "0 2 * * *"}]', "unknown or unschedulable report 'nope'"),
        ('[{"report": "delegates", "cron": "0 2 * * *"}]', "unschedulable report 'delegates'"),
        ('[{"report": "quality", "cron": "every night"}]', "invalid cron expression"),
        ('[{"report": "quality", "cron": "0 2 * * *", "format": "doc"}]', "format must be"),
        ('[{"report": "quality", "cron": "0 2 * * *", "period": "weekly"}]', "period must be"),
    ],
)
def test_a_wrong_schedule_is_refused_with_its_reason(schedules, message):
    with pytest.raises(ScheduleError, match=message):
        report_schedules({"REPORT_SCHEDULES": schedules})


def test_default_schedules_are_valid_and_can_be_turned_off():
    assert [s["report"] for s in report_schedules({})] == [
        "increase-decrease",
        "quality",
        "completeness",
    ]
    assert report_schedules({"REPORT_SCHEDULES": "[]"}) == []


@pytest.mark.parametrize(
    ("period", "today", "expected"),
    [
        ("today", date(2026, 3, 15), {"as_of": "2026-03-15"}),
        ("previous_month", date(2026, 3, 1), {"from": "2026-02-01", "to": "2026-02-28"}),
        ("previous_month", date(2026, 1, 10), {"from": "2025-12-01", "to": "2025-12-31"}),
        ("year_to_date", date(2026, 7, 4), {"from": "2026-01-01", "to": "2026-07-04"}),
    ],
)
def test_scheduled_parameters(period, today, expected):
    assert scheduled_parameters(period, today) == expected


def test_scheduled_report_runs_on_a_real_worker_and_is_seen_within_scope(
    app, db_session, redis_conn
):
    tree = seed_members(db_session)
    schedules = [
        {"report": "completeness", "cron": "0 3 * * 1", "format": "pdf", "unit": "P.01"},
        {"report": "increase-decrease", "cron": "0 2 1 * *", "period": "year_to_date"},
    ]
    app.config["REPORT_SCHEDULES"] = json.dumps(schedules)
    try:
        scheduler = build_cron(app)
    finally:
        app.config["REPORT_SCHEDULES"] = None
    # The reports as configured, then the nightly worklist refresh (WORKLIST_CRON) and the
    # upward export (SYNC_CRON).
    jobs = scheduler.get_jobs()
    assert [job.cron for job in jobs] == ["0 3 * * 1", "0 2 1 * *", "30 1 * * *", "*/30 * * * *"]
    jobs = jobs[:2]
    for job in jobs:  # what the scheduler does when the time comes
        job.enqueue(redis_conn)
    worker = run_worker_burst()
    assert worker.returncode == 0, worker.stderr[-3000:]

    db_session.expire_all()
    runs = db_session.scalars(select(ReportRun).order_by(ReportRun.id)).all()
    assert [(run.report, run.unit.code, run.state) for run in runs] == [
        ("completeness", "P.01", ReportState.DONE),
        ("increase-decrease", "P", ReportState.DONE),  # every top-level unit
    ]
    assert all(run.requested_by_id is None for run in runs)
    assert Path(runs[0].file_path).read_bytes().startswith(b"%PDF")
    assert runs[1].parameters == {
        "from": f"{date.today().year}-01-01",
        "to": date.today().isoformat(),
    }

    # A district clerk sees the scheduled run of their district, not the province's.
    create_user("clerk_d1", "Clerk", "P.01", PASSWORD)
    client = app.test_client()
    login(client, "clerk_d1", PASSWORD)
    assert client.get(f"/reports/download/{runs[0].id}").status_code == 200
    assert client.get(f"/reports/download/{runs[1].id}").status_code == 404
    listing = client.get("/reports/list/").text
    assert "P.01" in listing
    assert tree["P"].name not in listing


def test_cron_command_lists_the_schedules():
    result = run_flask("cron", "--list")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "increase-decrease:top:0 2 1 * *" in result.stdout


def test_a_queued_run_can_be_cancelled(app, admin_client, db_session, redis_conn):
    tree = seed_members(db_session)
    admin_client.post(
        "/reports/request",
        data={"report": "member-list", "unit_id": tree["P"].id, "output_format": "pdf"},
    )
    run = db_session.scalar(select(ReportRun))
    assert run.state == ReportState.QUEUED
    page = admin_client.get(f"/reports/show/{run.id}").text
    assert 'id="run-cancel"' in page

    response = admin_client.post(f"/reports/cancel/{run.id}", follow_redirects=True)
    assert response.status_code == 200
    db_session.expire_all()
    assert db_session.get(ReportRun, run.id).state == ReportState.CANCELLED
    assert 'id="run-cancel"' not in admin_client.get(f"/reports/show/{run.id}").text

    worker = run_worker_burst()  # the job left the queue: nothing is rendered
    assert worker.returncode == 0
    db_session.expire_all()
    run = db_session.get(ReportRun, run.id)
    assert run.state == ReportState.CANCELLED and run.file_path is None
    assert admin_client.get(f"/reports/download/{run.id}").status_code == 404
    # A second cancel is refused with a message; the state does not change.
    response = admin_client.post(f"/reports/cancel/{run.id}", follow_redirects=True)
    assert "alert-danger" in response.text
    assert admin_client.get(f"/reports/status/{run.id}").json["state"] == "cancelled"


def test_a_run_cancelled_while_rendering_is_not_marked_done(app, db_session, redis_conn):
    """The render finishes after the cancel: its file is thrown away, the row stays cancelled."""
    from webapp.extensions import db
    from webapp.reports import REPORTS
    from webapp.reports.runs import execute_run, request_report

    tree = seed_members(db_session)
    run = request_report(db.session, SYSTEM, "completeness", "pdf", tree["P"].id, queue=False)
    spec = REPORTS["completeness"]

    def cancel_then_render(session, unit, parameters, output_format, path, progress):
        with db.engine.connect() as other:  # another request cancels meanwhile
            other.execute(
                ReportRun.__table__.update()
                .where(ReportRun.id == run.id)
                .values(state=ReportState.CANCELLED)
            )
            other.commit()
        return spec.render(session, unit, parameters, output_format, path, progress)

    REPORTS["completeness"] = type(spec)(**{**spec.__dict__, "render": cancel_then_render})
    try:
        execute_run(run.id)
    finally:
        REPORTS["completeness"] = spec
    db_session.expire_all()
    run = db_session.get(ReportRun, run.id)
    assert run.state == ReportState.CANCELLED and run.file_path is None
    folder = Path(app.config["DATA_DIR"]) / "reports" / str(run.id)
    name = spec.file_name("P", "pdf")
    assert not (folder / name).exists() and not (folder / f"{name}.part").exists()
