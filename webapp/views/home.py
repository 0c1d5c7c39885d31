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


def work_counts(members_in_scope: int) -> dict:
    """What waits for the signed-in user: card and badge proposals to decide (Managers),
    members eligible for a badge on the next occasion and not yet proposed (Clerks)."""
    from datetime import date

    from flask import current_app

    from webapp.domain.badges import next_occasion_after
    from webapp.models.badges import BadgeProposal, BadgeProposalState
    from webapp.models.cards import CardProposal, ProposalState
    from webapp.reports.badge_counts import (
        cached_eligible_count,
        count_eligible_for_dashboard,
        request_eligible_count,
    )

    sm = current_app.appbuilder.sm
    scope = current_scope()
    counts: dict = {}
    if sm.has_access("can_decide", "CardBatchView"):
        # The three piles of proposals, counted in one query.
        piles = {
            "cards_to_decide": select(func.count(CardProposal.id)).where(
                CardProposal.state == ProposalState.PROPOSED, scope_clause(CardProposal, scope)
            ),
            "cards_to_issue": select(func.count(CardProposal.id)).where(
                CardProposal.state == ProposalState.APPROVED, scope_clause(CardProposal, scope)
            ),
            "badges_to_decide": select(func.count(BadgeProposal.id)).where(
                BadgeProposal.state == BadgeProposalState.PROPOSED,
                scope_clause(BadgeProposal, scope),
            ),
        }
        found = db.session.execute(select(*(q.scalar_subquery() for q in piles.values()))).one()
        counts.update(zip(piles, found, strict=True))
    if sm.has_access("can_propose", "BadgeRoundView"):
        occasion = next_occasion_after(db.session, date.today())
        if occasion is not None:
            counts["occasion"] = occasion
            count = cached_eligible_count(scope, occasion)
            if count is None:
                # A district counts in well under a second; a province takes seconds, so a
                # worker counts it and the page shows "…" until then.
                if members_in_scope <= current_app.config["BADGE_COUNTER_INLINE_MEMBERS"]:
                    count = count_eligible_for_dashboard(scope, occasion.isoformat())
                else:
                    request_eligible_count(scope, occasion)
            counts["eligible_not_proposed"] = count
    if sm.has_access("can_list", "WorklistView"):
        from webapp.domain.worklist import RULES, counted_unit, rule_counts

        # The counts the refresh keeps per unit subtree (work_count): a few rows.
        found = rule_counts(db.session, scope, counted_unit(db.session, scope))
        counts["worklist"] = [(rule, found[rule.key]) for rule in RULES if found.get(rule.key)]
        if scope is not None and sm.has_access("can_decide", "CardBatchView") and found:
            counts["worklist_by_unit"] = worklist_by_unit(scope, RULES)
    return counts


def worklist_by_unit(scope: str, rules) -> dict:
    """A Manager's worklist by unit: one line per child of their unit (and the unit itself
    for what it holds directly), the count per rule; read from the worklist table."""
    from webapp.domain.report_figures import ROOT_LINE, line_expression
    from webapp.models.worklist import WorkItem

    root = db.session.scalar(select(Unit).where(Unit.path == scope))
    if root is None:
        return {}
    line = line_expression(Unit.path, root, db.session.get_bind().dialect.name)
    by_line: dict[str, dict[str, int]] = {}
    for line_id, rule, count in db.session.execute(
        select(line, WorkItem.rule, func.count(WorkItem.id))
        .join(Unit, Unit.id == WorkItem.unit_id)
        .where(scope_clause(WorkItem, scope))
        .group_by(line, WorkItem.rule)
    ):
        by_line.setdefault(line_id, {})[rule] = count
    units = {
        str(unit.id): unit
        for unit in db.session.scalars(
            select(Unit).where(Unit.id.in_([int(i) for i in by_line if i.isdigit()]))
        )
    }
    units[ROOT_LINE] = root
    shown = [rule for rule in rules if any(rule.key in found for found in by_line.values())]
    lines = sorted(
        ((units[line_id], found) for line_id, found in by_line.items() if line_id in units),
        key=lambda pair: (pair[0].id != root.id, pair[0].code),
    )
    return {"rules": shown, "lines": lines}


class HomeView(IndexView):
    index_template = "home/index.html"

    @expose("/")
    def index(self):
        self.update_redirect()
        counts = dashboard_counts() if current_user.is_authenticated else None
        work = work_counts(counts["members"]) if current_user.is_authenticated else {}
        return self.render_template(
            self.index_template, appbuilder=self.appbuilder, counts=counts, work=work
        )
