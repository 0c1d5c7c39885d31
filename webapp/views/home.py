"""The home page: a small dashboard of member and unit counts."""

from __future__ import annotations

from flask_appbuilder import IndexView, expose
from flask_login import current_user
from sqlalchemy import func, select

from webapp.domain.scope import scope_clause
from webapp.extensions import db
from webapp.models.member import ON_THE_ROLLS, Member, MemberStatus
from webapp.models.unit import Unit
from webapp.security import current_scope


def dashboard_counts() -> dict[str, int]:
    """Counts inside the signed-in user's scope."""
    scope = current_scope()
    by_status = dict(
        db.session.execute(
            select(Member.status, func.count())
            .where(scope_clause(Member, scope))
            .group_by(Member.status)
        ).all()
    )
    return {
        "members": sum(by_status.get(s, 0) for s in ON_THE_ROLLS),
        "official": by_status.get(MemberStatus.OFFICIAL, 0),
        "probationary": by_status.get(MemberStatus.PROBATIONARY, 0),
        "units": db.session.scalar(
            select(func.count(Unit.id)).where(
                Unit.dissolved_on.is_(None), scope_clause(Unit, scope)
            )
        ),
    }


ELIGIBLE_CACHE_SECONDS = 600


def work_counts() -> dict:
    """What waits for the signed-in user: card and badge proposals to decide (Managers),
    members eligible for a badge on the next occasion and not yet proposed (Clerks)."""
    from datetime import date

    from flask import current_app

    from webapp.domain.badges import next_occasion_after
    from webapp.models.badges import BadgeProposal, BadgeProposalState
    from webapp.models.cards import CardProposal, ProposalState

    sm = current_app.appbuilder.sm
    scope = current_scope()
    counts: dict = {}
    if sm.has_access("can_decide", "CardBatchView"):
        counts["cards_to_decide"] = db.session.scalar(
            select(func.count(CardProposal.id)).where(
                CardProposal.state == ProposalState.PROPOSED, scope_clause(CardProposal, scope)
            )
        )
        counts["cards_to_issue"] = db.session.scalar(
            select(func.count(CardProposal.id)).where(
                CardProposal.state == ProposalState.APPROVED, scope_clause(CardProposal, scope)
            )
        )
        counts["badges_to_decide"] = db.session.scalar(
            select(func.count(BadgeProposal.id)).where(
                BadgeProposal.state == BadgeProposalState.PROPOSED,
                scope_clause(BadgeProposal, scope),
            )
        )
    if sm.has_access("can_propose", "BadgeRoundView"):
        occasion = next_occasion_after(db.session, date.today())
        if occasion is not None:
            counts["occasion"] = occasion
            counts["eligible_not_proposed"] = _cached_eligible_count(scope, occasion)
    return counts


def _cached_eligible_count(scope: str | None, occasion) -> int:
    """Eligibility over a whole province takes seconds: computed at most every ten minutes
    per scope and occasion (Redis), so the home page stays fast."""
    from jobs import redis_connection

    roots = db.session.scalars(
        select(Unit)
        .where(scope_clause(Unit, scope))
        .where(Unit.parent_id.is_(None) if scope is None else Unit.path == scope)
    ).all()
    key = f"dangvien:badges:eligible:{scope or 'all'}:{occasion.isoformat()}"
    try:
        redis = redis_connection()
        cached = redis.get(key)
    except Exception:  # a dashboard never fails because the cache is away
        redis, cached = None, None
    if cached is not None:
        return int(cached)
    from webapp.domain.badges import count_eligible_not_proposed

    total = sum(count_eligible_not_proposed(db.session, root, occasion) for root in roots)
    if redis is not None:
        redis.set(key, total, ex=ELIGIBLE_CACHE_SECONDS)
    return total


def forget_eligible_counts() -> None:
    """After a badge proposal the cached counters are stale: drop them all."""
    from jobs import redis_connection

    try:
        redis = redis_connection()
        for key in redis.scan_iter("dangvien:badges:eligible:*"):
            redis.delete(key)
    except Exception:  # the counters then refresh within ten minutes anyway
        pass


class HomeView(IndexView):
    index_template = "home/index.html"

    @expose("/")
    def index(self):
        self.update_redirect()
        counts = dashboard_counts() if current_user.is_authenticated else None
        work = work_counts() if current_user.is_authenticated else {}
        return self.render_template(
            self.index_template, appbuilder=self.appbuilder, counts=counts, work=work
        )
