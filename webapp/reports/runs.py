"""The life cycle of a ReportRun: request (dedupe + enqueue) and execution in the worker."""

from __future__ import annotations

import hashlib
import json
import logging
import traceback
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import and_, false, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from jobs import enqueue, fetch_job, redis_connection, report_progress
from webapp.domain.audit import Download, log_download
from webapp.domain.commands import Requester, Role, after_commit, command
from webapp.domain.errors import N_, DomainError, NotFound
from webapp.domain.scope import UNRESTRICTED, scope_clause, unit_in_scope, user_scope
from webapp.extensions import db
from webapp.models.report_run import ACTIVE_STATES, ReportRun, ReportState
from webapp.models.unit import Unit
from webapp.models.user import DangVienUser
from webapp.reports import REPORTS
from webapp.reports.spec import REQUESTER_SCOPE, check_parameters

# The worker's entry point, named rather than imported: jobs/reports.py calls execute_run
# below, and the job modules sit above the code they run (pyproject.toml contracts).
RENDER_JOB = "jobs.reports.render_report"

log = logging.getLogger(__name__)


def dedupe_key(
    report: str, output_format: str, unit_id: int, parameters: dict, user_id: int | None
) -> str:
    payload = json.dumps(
        [report, output_format, unit_id, parameters, user_id], sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def validate_request(
    report: str,
    output_format: str,
    unit_id: int | None,
    scope: str | None = UNRESTRICTED,
    raw_parameters: Mapping[str, Any] | None = None,
    *,
    session: Session | None = None,
) -> tuple[Unit, dict[str, Any]]:
    """The unit and the checked parameters of a request, or a DomainError saying what is
    wrong (nothing is queued then)."""
    session = session or db.session
    spec = REPORTS.get(report)
    if spec is None:
        raise DomainError(N_("Unknown report %(name)s."), name=report)
    if output_format not in spec.formats:
        raise DomainError(N_("The report cannot be produced as %(format)s."), format=output_format)
    unit = session.get(Unit, unit_id) if isinstance(unit_id, int) else None
    if unit is None or not unit_in_scope(session, unit.id, scope):
        raise NotFound(N_("The unit does not exist."))
    raw_parameters = raw_parameters or {}
    parameters = check_parameters(spec, raw_parameters, date.today())
    if spec.check_extra is not None:
        parameters.update(spec.check_extra(raw_parameters))
    if spec.check_selection is not None:
        spec.check_selection(session, unit, parameters)
    if spec.takes_delegates:
        delegates = raw_parameters.get("delegates")
        if not delegates:
            raise DomainError(
                N_("Upload the list of delegates (XLSX) or enter their member numbers.")
            )
        parameters["delegates"] = delegates
    return unit, parameters


@command("report.request")
def request_report(
    session: Session,
    requester: Requester,
    report: str,
    output_format: str,
    unit_id: int | None,
    parameters: Mapping[str, Any] | None = None,
    *,
    queue: bool = True,
) -> ReportRun:
    """Create a run for a unit in the requester's scope and enqueue it once committed; the
    same request still queued or running is returned instead, so a double click renders
    once."""
    user_id = requester.user_id
    unit, parameters = validate_request(
        report, output_format, unit_id, requester.scope, parameters, session=session
    )
    key = dedupe_key(report, output_format, unit.id, parameters, user_id)
    active = session.scalar(
        select(ReportRun).where(ReportRun.dedupe_key == key, ReportRun.state.in_(ACTIVE_STATES))
    )
    if active is not None:
        return active
    run = ReportRun(
        report=report,
        output_format=output_format,
        unit_id=unit.id,
        parameters=parameters,
        dedupe_key=key,
        state=ReportState.QUEUED,
        requested_by_id=user_id,
    )
    session.add(run)
    session.flush()
    if queue:
        run.job_id = f"report-{run.id}"
        title = f"{report} {unit.code} ({output_format})"
        timeout = current_app.config["REPORT_JOB_TIMEOUT"]
        # The worker must find the row: the job is handed over after the commit.
        after_commit(
            session,
            lambda: enqueue(
                RENDER_JOB,
                run.id,
                queue="reports",
                title=title,
                job_id=run.job_id,
                timeout=timeout,
                user_id=user_id,
                unit_id=unit.id,
            ),
        )
    return run


def runs_of(requester: Requester) -> ColumnElement[bool]:
    """The report runs a requester follows: their own, and the scheduled runs (requested
    by nobody) on units in their scope; the system sees every run."""
    if Role.SYSTEM in requester.roles:
        return true()
    own = false() if requester.user_id is None else ReportRun.requested_by_id == requester.user_id
    return or_(
        own,
        and_(ReportRun.requested_by_id.is_(None), scope_clause(ReportRun, requester.scope)),
    )


def report_path(run: ReportRun) -> Path:
    spec = REPORTS[run.report]
    folder = Path(current_app.config["DATA_DIR"]) / "reports" / str(run.id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / spec.file_name(run.unit.code, run.output_format)


def requester_scope(run: ReportRun) -> str | None:
    """The scope of the user who asked for the run, as it is now. A run of nobody (the
    CLI, a schedule) is shown to every user whose scope covers its unit, so it sees only
    that unit's subtree."""
    # The project's user class (the run's relationship loads FAB's, which has no unit).
    user = db.session.get(DangVienUser, run.requested_by_id) if run.requested_by_id else None
    if user is None:
        return run.unit.path
    return user_scope(user, current_app.config["AUTH_ROLE_ADMIN"])


def execute_run(run_id: int) -> ReportRun:
    """Render the run in this process; record done or failed (with the reason) on the row."""
    run = db.session.get(ReportRun, run_id)
    if run is None:
        raise NotFound(N_("The report run does not exist."))
    if run.state == ReportState.CANCELLED:
        return run  # cancelled while it waited in the queue
    run.state = ReportState.RUNNING
    run.started_at = datetime.now()
    run.error = None
    db.session.commit()
    try:
        spec = REPORTS[run.report]
        path = report_path(run)
        partial = path.with_suffix(path.suffix + ".part")
        parameters = {**(run.parameters or {}), REQUESTER_SCOPE: requester_scope(run)}
        row_count = spec.render(
            db.session, run.unit, parameters, run.output_format, partial, report_progress
        )
        db.session.refresh(run)
        if run.state == ReportState.CANCELLED:
            partial.unlink(missing_ok=True)
            return run
        partial.replace(path)
        run.row_count = row_count
        run.file_path = str(path)
        run.file_name = path.name
        run.state = ReportState.DONE
        run.finished_at = datetime.now()
        db.session.commit()
    except BaseException as error:  # timeouts included: the row must say why it stopped
        db.session.rollback()
        log.error("report run %s failed: %s", run_id, traceback.format_exc())
        run = db.session.get(ReportRun, run_id)
        if run.state == ReportState.CANCELLED:
            raise
        run.state = ReportState.FAILED
        run.error = f"{type(error).__name__}: {error}"[:2000]
        run.finished_at = datetime.now()
        db.session.commit()
        raise
    return run


def live_progress(run: ReportRun) -> int:
    """Progress 0–100: from the job's meta while running, settled values otherwise.

    A run whose job vanished or failed without the worker updating the row (killed
    work horse) is marked failed here, so it never shows as running forever."""
    if run.state == ReportState.DONE:
        return 100
    if run.state not in ACTIVE_STATES or not run.job_id:
        return 0
    job = fetch_job(run.job_id)
    if job is None or job.is_failed or job.is_stopped or job.is_canceled:
        reason = "job lost" if job is None else f"job {job.get_status()}"
        run.state = ReportState.FAILED
        run.error = f"The worker stopped before finishing ({reason})."
        run.finished_at = datetime.now()
        db.session.commit()
        return 0
    return int(job.get_meta(refresh=True).get("progress", 0))


def run_download(run: ReportRun, file_name: str | None = None) -> Download:
    """What a run's file holds, for the audit log."""
    return Download(
        what=run.report,
        output_format=run.output_format,
        rows=run.row_count,
        unit_id=run.unit_id,
        unit_code=run.unit.code,
        parameters=run.parameters or {},
        file_name=file_name or run.file_name,
    )


@command("report.download")
def download_run(session: Session, requester: Requester, run_id: int) -> ReportRun:
    """A finished run's file for someone who follows the run (runs_of), written to the
    audit log with the report, unit, day or period, format and rows, at every download."""
    run = session.scalar(select(ReportRun).where(ReportRun.id == run_id, runs_of(requester)))
    if (
        run is None
        or run.state != ReportState.DONE
        or not run.file_path
        or not Path(run.file_path).is_file()
    ):
        raise NotFound(N_("The report has no file to download."))
    log_download(session, requester, run_download(run), object_type="ReportRun", object_id=run.id)
    return run


@command("report.cancel")
def cancel_run(session: Session, requester: Requester, run_id: int) -> ReportRun:
    """Stop a queued or running run: the row says cancelled, and once that is committed the
    job leaves the queue or its work horse is stopped; no partial file is left behind."""
    run = session.scalar(
        select(ReportRun)
        .where(ReportRun.id == run_id, runs_of(requester))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if run is None:
        raise NotFound(N_("The report run does not exist."))
    if run.state not in ACTIVE_STATES:
        raise DomainError(N_("Only a queued or running report can be cancelled."))
    was_running = run.state == ReportState.RUNNING
    run.state = ReportState.CANCELLED
    run.finished_at = datetime.now()
    run.error = None
    session.flush()
    folder = Path(current_app.config["DATA_DIR"]) / "reports" / str(run.id)
    after_commit(session, lambda: _stop_job(run.job_id, was_running, folder))
    return run


def _stop_job(job_id: str | None, was_running: bool, folder: Path) -> None:
    from rq.command import send_stop_job_command
    from rq.exceptions import InvalidJobOperation

    job = fetch_job(job_id) if job_id else None
    if job is not None:
        try:
            if was_running or job.get_status() == "started":
                send_stop_job_command(redis_connection(), job.id)
            else:
                job.cancel()
        except InvalidJobOperation:
            pass  # it finished or stopped meanwhile; the row already says cancelled
    for partial in folder.glob("*.part"):
        partial.unlink(missing_ok=True)
