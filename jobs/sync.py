"""The scheduled upward export (RQ cron, SYNC_CRON) and "export now": make the next
package and deliver every pending one. When the upstream cannot be reached the job fails
and RQ retries it later (SYNC_RETRY_INTERVALS); the packages stay pending meanwhile."""

from __future__ import annotations

from flask import current_app
from rq import Retry

from jobs import enqueue, run_in_job

SYNC_TIMEOUT = 3600


def retry_policy() -> Retry:
    raw = str(current_app.config.get("SYNC_RETRY_INTERVALS", "60,300,900,3600"))
    intervals = [int(value) for value in raw.split(",") if value.strip()]
    return Retry(max=len(intervals), interval=intervals)


def queue_sync(*, full: bool = False, user_id: int | None = None):
    """Hand the export and delivery to a worker on the sync queue."""
    return enqueue(
        "jobs.sync.sync_upstream",
        full,
        queue="sync",
        title="Export to the upstream",
        timeout=SYNC_TIMEOUT,
        user_id=user_id,
        retry=retry_policy(),
    )


def sync_upstream(full: bool = False) -> dict:
    """Export what changed since the last package and deliver what is pending (nothing to
    do on an instance without an identity or an upstream)."""
    from webapp.domain.commands import Requester
    from webapp.domain.sync_setup import identity, upstream
    from webapp.extensions import db
    from webapp.sync_push import deliver_pending, export_now

    if identity(db.session) is None or upstream(db.session) is None:
        return {"exported": None, "delivered": [], "written": [], "refused": []}
    requester = Requester.system()
    exported = run_in_job(lambda: export_now(db.session, requester, full=full))
    delivery = run_in_job(lambda: deliver_pending(db.session, requester))
    return {
        "exported": exported.sequence if exported is not None else None,
        "delivered": delivery.delivered,
        "written": delivery.written,
        "refused": delivery.refused,
    }
