"""Jobs on the `default` queue: refresh the worklist and the quality checks.

Nightly for the whole instance (RQ cron, `WORKLIST_CRON`), and on demand for a user's
scope (the worklist page's button), as that user: the command checks the role and
computes only inside the requester's scope.
"""

from __future__ import annotations

from datetime import date

from jobs import enqueue, fetch_job, report_progress, run_in_job

WORKLIST_TIMEOUT = 1800


def refresh_worklist_job(user_id: int | None = None) -> dict:
    """Job entry point: the refresh for the user `user_id`, or the system's (nightly)."""
    from webapp.domain.commands import Requester
    from webapp.domain.worklist import refresh_worklist
    from webapp.extensions import db
    from webapp.models import DangVienUser
    from webapp.security import requester_for

    if user_id is None:
        requester = Requester.system()
    else:
        requester = requester_for(db.session.get(DangVienUser, user_id))
    result = run_in_job(
        lambda: refresh_worklist(
            db.session,
            requester,
            date.today(),
            progress=lambda done, total: report_progress(100 * done // max(total, 1)),
        )
    )
    return {"items": result.items, "failed": result.failed}


def queue_refresh(user_id: int | None, unit_id: int | None = None):
    """Queue a refresh; one per user at a time (a waiting or running one is returned)."""
    job_id = f"worklist-refresh-{user_id or 'system'}"
    waiting = fetch_job(job_id)
    if waiting is not None and waiting.get_status(refresh=True) in ("queued", "started"):
        return waiting
    return enqueue(
        "jobs.worklist.refresh_worklist_job",
        user_id,
        queue="default",
        title="worklist refresh",
        job_id=job_id,
        timeout=WORKLIST_TIMEOUT,
        user_id=user_id,
        unit_id=unit_id,
    )
