"""The leaders' dashboard figures, from the same functions as the reports (so a figure on
the dashboard equals the one printed): the rolls and their composition from `quality`,
the movements from `increase_decrease`, for this year to date against the same days of
last year. Plain data (JSON-able), so a job can compute it once and the page read it."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.domain.party_age import add_years
from webapp.domain.report_figures import (
    AGE_BANDS,
    AGE_OVER,
    DIMENSIONS,
    PROBATIONARY,
    _age_band,
    increase_decrease,
    on_rolls,
    quality,
)
from webapp.domain.scope import UNRESTRICTED, scope_clause
from webapp.models.badges import OPEN_BADGE_STATES, BadgeProposal
from webapp.models.cards import OPEN_PROPOSAL_STATES, CardProposal
from webapp.models.ledger import MemberPeriod
from webapp.models.member import Member
from webapp.models.report_run import ReportRun, ReportState
from webapp.models.unit import Unit

# The composition charts, in the order of the quality report's dimensions.
CHARTED = ("general_education", "political_theory", "occupation", "ethnicity", "party_age")


def roots_of(session: Session, scope: str | None) -> list[Unit]:
    """The top units of a scope: the user's unit, or every top-level unit for an Admin."""
    query = select(Unit).where(Unit.dissolved_on.is_(None))
    if scope is UNRESTRICTED:
        query = query.where(Unit.parent_id.is_(None))
    else:
        query = query.where(Unit.path == scope)
    return list(session.scalars(query.order_by(Unit.code)))


def age_pyramid(session: Session, root: Unit, day: date) -> dict[str, Counter]:
    """Members on the rolls on `day` by age band (the quality report's bands) and sex."""
    band = _age_band(Member.birth_date, day)
    rows = session.execute(
        select(band, Member.sex, func.count())
        .select_from(MemberPeriod)
        .join(Member, Member.id == MemberPeriod.member_id)
        .join(Unit, Unit.id == MemberPeriod.unit_id)
        .where(Unit.path.startswith(root.path, autoescape=True), on_rolls(day))
        .group_by(band, Member.sex)
    )
    pyramid: dict[str, Counter] = {label: Counter() for _, label in AGE_BANDS}
    pyramid[AGE_OVER] = Counter()
    for label, sex, count in rows:
        pyramid[label][sex] += count
    return pyramid


def _movements(lines) -> dict[str, Any]:
    total = next(line for line in lines if line.group is None)
    return {
        "increases": dict(total.increases),
        "decreases": dict(total.decreases),
        "increase_total": total.increase_total,
        "decrease_total": total.decrease_total,
        "opening": total.opening,
        "closing": total.closing,
    }


def _merge(target: dict, part: dict) -> None:
    for key, value in part.items():
        if isinstance(value, dict):
            _merge(target.setdefault(key, {}), value)
        else:
            target[key] = target.get(key, 0) + value


def dashboard_figures(session: Session, scope: str | None, day: date) -> dict[str, Any]:
    """Everything the dashboard shows for `scope` on `day`."""
    this_start = date(day.year, 1, 1)
    last_day = add_years(day, -1)
    last_start = date(last_day.year, 1, 1)
    figures: dict[str, Any] = {
        "day": day.isoformat(),
        "members": 0,
        "probationary": 0,
        "this_year": {},
        "last_year": {},
        "composition": {},
        "pyramid": {},
        "units": [],
    }
    roots = roots_of(session, scope)
    # With one top unit every count links to its members (the drill-down of the reports).
    figures["root_id"] = roots[0].id if len(roots) == 1 else None
    for root in roots:
        found = quality(session, root, day)
        members = sum(found.totals.values())
        figures["members"] += members
        figures["probationary"] += sum(found.counts["party_age"].get(PROBATIONARY, {}).values())
        for key in CHARTED:
            composition = figures["composition"].setdefault(key, {})
            for category, per_group in found.counts[key].items():
                composition[category] = composition.get(category, 0) + sum(per_group.values())
        for label, by_sex in age_pyramid(session, root, day).items():
            entry = figures["pyramid"].setdefault(label, {"male": 0, "female": 0})
            for sex, count in by_sex.items():
                entry[sex] = entry.get(sex, 0) + count
        this_lines = increase_decrease(session, root, this_start, day)
        _merge(figures["this_year"], _movements(this_lines))
        _merge(
            figures["last_year"], _movements(increase_decrease(session, root, last_start, last_day))
        )
        by_group = {line.group.unit_id: line for line in this_lines if line.group is not None}
        for group in found.groups:
            if group.unit_id == root.id and not found.totals.get(root.id):
                continue  # the root holds no members itself: no line of its own
            line = by_group.get(group.unit_id)
            figures["units"].append(
                {
                    "id": group.unit_id,
                    "code": group.code,
                    "name": group.name,
                    "members": found.totals.get(group.unit_id, 0),
                    "increases": line.increase_total if line else 0,
                    "decreases": line.decrease_total if line else 0,
                }
            )
    figures["official"] = figures["members"] - figures["probationary"]
    figures["pending"] = {
        "cards": session.scalar(
            select(func.count(CardProposal.id)).where(
                CardProposal.state.in_(OPEN_PROPOSAL_STATES), scope_clause(CardProposal, scope)
            )
        ),
        "badges": session.scalar(
            select(func.count(BadgeProposal.id)).where(
                BadgeProposal.state.in_(OPEN_BADGE_STATES), scope_clause(BadgeProposal, scope)
            )
        ),
    }
    figures["failed_reports"] = session.scalar(
        select(func.count(ReportRun.id)).where(
            ReportRun.state == ReportState.FAILED,
            scope_clause(ReportRun, scope),
            ReportRun.created_at >= date(day.year, day.month, 1),
        )
    )
    figures["dimensions"] = {d.key: d.title for d in DIMENSIONS if d.key in CHARTED}
    return figures
