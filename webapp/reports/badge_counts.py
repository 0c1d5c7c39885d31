"""Badge counters for the home page: eligible-but-not-proposed members per scope and
occasion, cached in Redis; for large scopes computed by a worker, not in the request
(`count_eligible_for_dashboard` is the job; it sits here, beside the reports, since a
screen asks for it and job entry points are not imported by screens).

The cache key carries the state of the badge proposals (the newest id and how many are
open), so a proposal, a decision or an award makes the next read a miss at once: nobody
has to remember to drop the counters (and the screens need not know this module)."""

from __future__ import annotations

import contextlib
import hashlib
from datetime import date

from sqlalchemy import select

from jobs import enqueue, fetch_job, redis_connection

CACHE_SECONDS = 600
KEY_PREFIX = "dangvien:badges:eligible:"


def proposals_generation() -> str:
    """Changes whenever a badge proposal is made, decided or awarded."""
    from sqlalchemy import func

    from webapp.extensions import db
    from webapp.models.badges import OPEN_BADGE_STATES, BadgeProposal

    newest, open_count = db.session.execute(
        select(
            func.coalesce(func.max(BadgeProposal.id), 0),
            func.count(BadgeProposal.id).filter(BadgeProposal.state.in_(OPEN_BADGE_STATES)),
        )
    ).one()
    return f"{newest}-{open_count}"


def cache_key(scope: str | None, occasion: date) -> str:
    return f"{KEY_PREFIX}{scope or 'all'}:{occasion.isoformat()}:{proposals_generation()}"


def cached_eligible_count(scope: str | None, occasion: date) -> int | None:
    try:
        value = redis_connection().get(cache_key(scope, occasion))
    except Exception:  # a dashboard never fails because the cache is away
        return None
    return int(value) if value is not None else None


def count_eligible_for_dashboard(scope: str | None, occasion_iso: str) -> int:
    """Count over the scope's top units, store the count for ten minutes, return it."""
    from webapp.domain.badges import count_eligible_not_proposed
    from webapp.domain.scope import scope_clause
    from webapp.extensions import db
    from webapp.models.unit import Unit

    occasion = date.fromisoformat(occasion_iso)
    key = cache_key(scope, occasion)  # before counting: a proposal meanwhile is a miss
    roots = db.session.scalars(
        select(Unit)
        .where(scope_clause(Unit, scope))
        .where(Unit.parent_id.is_(None) if scope is None else Unit.path == scope)
    ).all()
    total = sum(count_eligible_not_proposed(db.session, root, occasion) for root in roots)
    with contextlib.suppress(Exception):
        redis_connection().set(key, total, ex=CACHE_SECONDS)
    return total


def request_eligible_count(scope: str | None, occasion: date) -> None:
    """Queue the count once (a deterministic job id: reloading the page queues nothing more)."""
    digest = hashlib.sha1(cache_key(scope, occasion).encode()).hexdigest()[:16]
    job_id = f"badge-count-{digest}"
    job = fetch_job(job_id)
    if job is not None and job.get_status() in ("queued", "started", "deferred", "scheduled"):
        return
    if job is not None:
        job.delete()
    enqueue(
        count_eligible_for_dashboard,
        scope,
        occasion.isoformat(),
        queue="default",
        title=f"badge counter {occasion.isoformat()}",
        job_id=job_id,
    )
