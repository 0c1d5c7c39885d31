"""The dashboard's figures, cached in Redis per scope and day; a large scope is computed
by a worker (`compute_dashboard` is the job), a small one in the request.

The cache key carries the state of the ledger and the records (the newest event, the
newest change of a member, how many proposals are open), so an event recorded or a
proposal decided makes the next read a miss: nobody has to remember to drop it."""

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select

from jobs import enqueue, fetch_job, redis_connection

CACHE_SECONDS = 24 * 3600
# A large scope's figures are refreshed at most this often; the last ones are shown meanwhile.
REFRESH_SECONDS = 300
KEY_PREFIX = "dangvien:dashboard:"


# Changes of records; of these kinds, none changes the dashboard's figures.
CHANGES = ("create", "update", "delete")
NOT_FIGURES = ("ReportRun", "DangVienUser", "Role")


def generation() -> str:
    """What the cached figures were computed from: the last ledger event and the last
    audit entry of a record the figures count (every change through the commands, the
    import and sync writes one). Both are read off the end of a primary key: a cache hit
    costs a millisecond (the member table's latest update time was a scan, 80 ms at
    province scale)."""
    from webapp.extensions import db
    from webapp.models.audit import AuditEntry
    from webapp.models.ledger import MemberEvent

    row = db.session.execute(
        select(
            select(func.coalesce(func.max(MemberEvent.id), 0)).scalar_subquery(),
            select(func.coalesce(func.max(AuditEntry.id), 0))
            .where(AuditEntry.action.in_(CHANGES), AuditEntry.object_type.not_in(NOT_FIGURES))
            .scalar_subquery(),
        )
    ).one()
    return hashlib.sha1(repr(tuple(row)).encode()).hexdigest()[:12]


def cache_key(scope: str | None, day: date) -> str:
    return f"{KEY_PREFIX}{scope or 'all'}:{day.isoformat()}:{generation()}"


def cached_figures(scope: str | None, day: date) -> dict[str, Any] | None:
    try:
        value = redis_connection().get(cache_key(scope, day))
    except Exception:  # noqa: BLE001 - a dashboard never fails because the cache is away
        return None
    return json.loads(value) if value is not None else None


def compute_dashboard(scope: str | None, day_iso: str) -> dict[str, Any]:
    """Compute, store for the day, return (the job, and the inline path for small scopes)."""
    from webapp.domain.dashboard import dashboard_figures
    from webapp.extensions import db

    day = date.fromisoformat(day_iso)
    key = cache_key(scope, day)  # before computing: a change meanwhile is a miss
    figures = dashboard_figures(db.session, scope, day)
    with contextlib.suppress(Exception):
        redis_connection().set(key, json.dumps(figures), ex=CACHE_SECONDS)
        latest = {"figures": figures, "computed_at": datetime.now().strftime("%H:%M")}
        redis_connection().set(latest_key(scope, day), json.dumps(latest), ex=CACHE_SECONDS)
    return figures


def latest_key(scope: str | None, day: date) -> str:
    return f"{KEY_PREFIX}latest:{scope or 'all'}:{day.isoformat()}"


def latest_figures(scope: str | None, day: date) -> tuple[dict[str, Any] | None, str | None]:
    """The figures last computed for the scope today, whatever has changed since, and the
    time they were computed at (HH:MM); (None, None) if there are none."""
    try:
        value = redis_connection().get(latest_key(scope, day))
    except Exception:  # noqa: BLE001 - as cached_figures
        return None, None
    if value is None:
        return None, None
    latest = json.loads(value)
    return latest["figures"], latest["computed_at"]


def refresh_dashboard(scope: str | None, day: date) -> None:
    """Queue a refresh of a large scope's figures, at most once every REFRESH_SECONDS.
    Every save changes the figures' key, and a province's figures take seconds of the
    worker and the database: recomputed after every save, they kept both busy under a
    crowd of clerks (docs/production.md, "Load test")."""
    try:
        first = redis_connection().set(
            f"{KEY_PREFIX}refresh:{scope or 'all'}:{day.isoformat()}",
            1,
            nx=True,
            ex=REFRESH_SECONDS,
        )
    except Exception:  # noqa: BLE001 - as cached_figures
        return
    if first:
        request_dashboard(scope, day)


def request_dashboard(scope: str | None, day: date) -> None:
    """Queue the computation once (a deterministic job id)."""
    digest = hashlib.sha1(cache_key(scope, day).encode()).hexdigest()[:16]
    job_id = f"dashboard-{digest}"
    job = fetch_job(job_id)
    if job is not None and job.get_status() in ("queued", "started", "deferred", "scheduled"):
        return
    if job is not None:
        job.delete()
    enqueue(
        compute_dashboard,
        scope,
        day.isoformat(),
        queue="reports",
        title=f"dashboard {day.isoformat()}",
        job_id=job_id,
    )
