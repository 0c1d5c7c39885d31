"""Party badge commands (DESIGN §5): reference data, the eligible list of a round,
proposals (automatic, early, posthumous), decisions, awards and re-issue of a lost badge.

The rules themselves are the pure functions of webapp/domain/badge_eligibility.py; this
module feeds them the reference tables and the badges already held, and writes the results.
The proposal workflow (lock order, scope, decisions, four-eyes, "only approved proposals")
is the one shared with cards in webapp/domain/proposals.py. Every command takes the
Requester and runs in one transaction (webapp/domain/commands.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from webapp.domain.commands import Requester, command
from webapp.domain.errors import N_, ValidationFailed
from webapp.domain.events import member_state
from webapp.domain.party_age import party_age
from webapp.domain.proposals import (
    MAX_TEXT,
    Workflow,
    approved_proposals,
    decide,
    members_in_scope,
    refuse,
    who,
)
from webapp.domain.reports import subtree_units
from webapp.domain.scope import find_in_scope
from webapp.models.badges import (
    OPEN_BADGE_STATES,
    BadgeAward,
    BadgeMilestone,
    BadgeOccasion,
    BadgeProposal,
    BadgeProposalKind,
    BadgeProposalState,
    BadgeSetting,
)
from webapp.models.member import Member, MemberStatus
from webapp.models.unit import Unit

# Names of the DESIGN §5 occasions; the numbers themselves are BadgeRules.default().
OCCASION_NAMES = {
    (2, 3): "Kỷ niệm ngày thành lập Đảng (3/2)",
    (5, 19): "Kỷ niệm ngày sinh Chủ tịch Hồ Chí Minh (19/5)",
    (9, 2): "Quốc khánh (2/9)",
    (11, 7): "Kỷ niệm Cách mạng tháng Mười (7/11)",
}
WARNING_DEFERRAL = "warning_deferral_months"
DISMISSAL_DEFERRAL = "dismissal_deferral_months"
BADGE_NUMBER_PATTERN = re.compile(r"^[0-9A-Za-z./-]{1,20}$")

BADGES = Workflow(
    model=BadgeProposal,
    proposed=BadgeProposalState.PROPOSED,
    approved=BadgeProposalState.APPROVED,
    rejected=BadgeProposalState.REJECTED,
    done=frozenset({BadgeProposalState.AWARDED}),
    already={
        BadgeProposalState.APPROVED: N_(
            "The badge proposal for %(name)s (%(number)s) has already been approved."
        ),
        BadgeProposalState.REJECTED: N_(
            "The badge proposal for %(name)s (%(number)s) has already been rejected."
        ),
        BadgeProposalState.AWARDED: N_(
            "The badge for %(name)s (%(number)s) has already been awarded."
        ),
    },
    not_approved=N_(
        "The badge proposal for %(name)s (%(number)s) is not approved; only approved proposals are awarded."
    ),
)
ALREADY_HOLDS = N_("%(name)s (%(number)s) already holds the %(years)s-year badge.")
ALREADY_PROPOSED = N_("%(name)s (%(number)s) is already proposed for the %(years)s-year badge.")


# --- Reference data -----------------------------------------------------------------


def seed_badge_reference(session: Session) -> int:
    """Add the DESIGN §5 milestones, occasions and deferrals that are missing; never
    changes what an Admin has edited. Returns the number of rows added."""
    from webapp.domain.badge_eligibility import BadgeRules

    defaults = BadgeRules.default()
    added = 0
    have = set(session.scalars(select(BadgeMilestone.years)))
    for years in defaults.milestones:
        if years not in have:
            early = defaults.early_months.get(years, 0)
            session.add(BadgeMilestone(years=years, early_months=early, active=True))
            added += 1
    have_days = set(session.execute(select(BadgeOccasion.month, BadgeOccasion.day)).all())
    for month, day in defaults.occasions:
        if (month, day) not in have_days:
            name = OCCASION_NAMES.get((month, day), f"{day}/{month}")
            session.add(BadgeOccasion(month=month, day=day, name=name, active=True))
            added += 1
    have_keys = set(session.scalars(select(BadgeSetting.key)))
    settings = {
        WARNING_DEFERRAL: defaults.warning_deferral_months,
        DISMISSAL_DEFERRAL: defaults.dismissal_deferral_months,
    }
    for key, months in settings.items():
        if key not in have_keys:
            session.add(BadgeSetting(key=key, months=months))
            added += 1
    session.commit()
    return added


def rules_from_db(session: Session):
    """The BadgeRules the reference tables describe."""
    from webapp.domain.badge_eligibility import BadgeRules

    milestones = session.scalars(
        select(BadgeMilestone).where(BadgeMilestone.active.is_(True)).order_by(BadgeMilestone.years)
    ).all()
    occasions = session.execute(
        select(BadgeOccasion.month, BadgeOccasion.day)
        .where(BadgeOccasion.active.is_(True))
        .order_by(BadgeOccasion.month, BadgeOccasion.day)
    ).all()
    settings = dict(session.execute(select(BadgeSetting.key, BadgeSetting.months)).all())
    return BadgeRules(
        milestones=tuple(m.years for m in milestones),
        occasions=tuple((month, day) for month, day in occasions),
        early_months={m.years: m.early_months for m in milestones},
        warning_deferral_months=settings.get(WARNING_DEFERRAL, 6),
        dismissal_deferral_months=settings.get(DISMISSAL_DEFERRAL, 12),
    )


def occasion_days(session: Session) -> list[tuple[int, int]]:
    return [
        tuple(row)
        for row in session.execute(
            select(BadgeOccasion.month, BadgeOccasion.day)
            .where(BadgeOccasion.active.is_(True))
            .order_by(BadgeOccasion.month, BadgeOccasion.day)
        )
    ]


def check_occasion(session: Session, occasion: date | None) -> date:
    days = occasion_days(session)
    if occasion is None or (occasion.month, occasion.day) not in days:
        raise ValidationFailed(
            {
                "occasion": [
                    (
                        N_("Choose an occasion: %(days)s of a year."),
                        {"days": ", ".join(f"{d}/{m}" for m, d in days)},
                    )
                ]
            }
        )
    return occasion


def next_occasion_after(session: Session, day: date) -> date | None:
    """The first occasion on or after `day` (None when no occasion is configured)."""
    days = occasion_days(session)
    candidates = [date(day.year + k, m, d) for k in (0, 1) for m, d in days]
    later = [c for c in candidates if c >= day]
    return min(later) if later else None


def held_milestones(session: Session, member_ids=None) -> dict[int, frozenset[int]]:
    query = select(BadgeAward.member_id, BadgeAward.milestone)
    if member_ids is not None:
        query = query.where(BadgeAward.member_id.in_(member_ids))
    held: dict[int, set[int]] = {}
    for member_id, milestone in session.execute(query):
        held.setdefault(member_id, set()).add(milestone)
    return {k: frozenset(v) for k, v in held.items()}


def proposed_milestones(session: Session, member_ids=None) -> dict[int, frozenset[int]]:
    """Milestones with an open (proposed or approved) proposal, per member."""
    query = select(BadgeProposal.member_id, BadgeProposal.milestone).where(
        BadgeProposal.state.in_(OPEN_BADGE_STATES)
    )
    if member_ids is not None:
        query = query.where(BadgeProposal.member_id.in_(member_ids))
    found: dict[int, set[int]] = {}
    for member_id, milestone in session.execute(query):
        found.setdefault(member_id, set()).add(milestone)
    return {k: frozenset(v) for k, v in found.items()}


def _subtree_member_ids(root_unit: Unit):
    return select(Member.id).where(Member.unit_id.in_(subtree_units(root_unit)))


def eligible_for_badges(session: Session, root_unit: Unit, occasion: date) -> list:
    """Who in `root_unit`'s subtree is eligible for a badge on `occasion` (Eligibility rows)."""
    from webapp.domain.badge_eligibility import eligible_members

    held = held_milestones(session, _subtree_member_ids(root_unit))
    return eligible_members(session, root_unit, occasion, rules_from_db(session), held)


@dataclass(frozen=True)
class RoundRow:
    eligibility: object  # badge_eligibility.Eligibility
    member: Member
    proposed: bool  # an open proposal for this milestone exists


def badge_round(session: Session, root_unit: Unit, occasion: date) -> list[RoundRow]:
    """The eligible list of a round with the members and whether each is proposed already."""
    found = eligible_for_badges(session, root_unit, occasion)
    ids = [e.member_id for e in found]
    members = {}
    for start in range(0, len(ids), 5000):  # bounded IN lists; units loaded with their members
        members.update(
            (m.id, m)
            for m in session.scalars(
                select(Member)
                .options(joinedload(Member.unit))
                .where(Member.id.in_(ids[start : start + 5000]))
            )
        )
    proposed = proposed_milestones(session, _subtree_member_ids(root_unit)) if ids else {}
    rows = [
        RoundRow(e, members[e.member_id], e.milestone in proposed.get(e.member_id, frozenset()))
        for e in found
        if e.member_id in members
    ]
    rows.sort(key=lambda r: (r.member.unit.path, r.member.sort_key, r.member.id))
    return rows


def count_eligible_not_proposed(session: Session, root_unit: Unit, occasion: date) -> int:
    return sum(1 for row in badge_round(session, root_unit, occasion) if not row.proposed)


# --- Proposals ----------------------------------------------------------------------


@command("badge.propose")
def propose_badges(
    session: Session, requester: Requester, occasion: date | None, member_ids: Sequence[int]
) -> list[BadgeProposal]:
    """Propose the chosen members for the milestone the rules find them eligible for on
    the occasion (re-checked here, whatever the client sent)."""
    occasion = check_occasion(session, occasion)
    if not member_ids:
        raise ValidationFailed({"members": [(N_("Choose at least one member."), {})]})
    rules = rules_from_db(session)
    members = members_in_scope(session, member_ids, requester.scope)
    held = held_milestones(session, list(members))
    open_ = proposed_milestones(session, list(members))
    problems: list[tuple[str, dict]] = []
    planned = []
    # Each member as the round of the member's own unit finds them, all in a few queries.
    from webapp.domain.badge_eligibility import eligible_in_own_units

    eligible = eligible_in_own_units(session, list(members), occasion, rules, held)
    for member_id in dict.fromkeys(member_ids):
        member = members.get(member_id)
        if member is None:
            problems.append((N_("The member does not exist."), {}))
            continue
        found = eligible.get(member_id)
        if found is None:
            problems.append(
                (
                    N_("%(name)s (%(number)s) is not eligible for a badge on %(occasion)s."),
                    {**who(member), "occasion": occasion.strftime("%d/%m/%Y")},
                )
            )
        elif found.milestone in open_.get(member_id, frozenset()):
            problems.append((ALREADY_PROPOSED, {**who(member), "years": found.milestone}))
        else:
            planned.append((member, found))
    refuse(problems)
    proposals = []
    for member, found in planned:
        proposal = BadgeProposal(
            member_id=member.id,
            milestone=found.milestone,
            occasion_on=occasion,
            kind=BadgeProposalKind.AUTOMATIC,
            reason=found.reason[:MAX_TEXT],
            state=BadgeProposalState.PROPOSED,
            proposed_by_id=requester.user_id,
        )
        session.add(proposal)
        proposals.append(proposal)
    session.flush()
    return proposals


@command("badge.propose")
def propose_badge_manually(
    session: Session,
    requester: Requester,
    occasion: date | None,
    member_id: int | None,
    milestone: int | None,
    kind: str,
    reason: str | None,
) -> BadgeProposal:
    """An early proposal (seriously ill, within the milestone's early window) or a
    posthumous one (deceased member), with the reason written by the proposer."""
    occasion = check_occasion(session, occasion)
    rules = rules_from_db(session)
    errors: dict[str, list[tuple[str, dict]]] = {}
    if kind not in (BadgeProposalKind.EARLY, BadgeProposalKind.POSTHUMOUS):
        errors.setdefault("kind", []).append((N_("Choose early or posthumous."), {}))
    if milestone not in rules.milestones:
        errors.setdefault("milestone", []).append((N_("Choose a milestone."), {}))
    reason = (reason or "").strip()
    if not reason:
        errors.setdefault("reason", []).append(
            (N_("Give the reason for an early or posthumous proposal."), {})
        )
    elif len(reason) > MAX_TEXT:
        errors.setdefault("reason", []).append(
            (N_("At most %(limit)s characters."), {"limit": MAX_TEXT})
        )
    member = (
        members_in_scope(session, [member_id], requester.scope).get(member_id)
        if member_id
        else None
    )
    if member is None:
        errors.setdefault("member", []).append((N_("The member does not exist."), {}))
    if errors:
        raise ValidationFailed(errors)
    if milestone in held_milestones(session, [member.id]).get(member.id, frozenset()):
        refuse([(ALREADY_HOLDS, {**who(member), "years": milestone})])
    if milestone in proposed_milestones(session, [member.id]).get(member.id, frozenset()):
        refuse([(ALREADY_PROPOSED, {**who(member), "years": milestone})])
    from webapp.domain.badge_eligibility import (
        early_window_opens,
        load_candidates,
        may_propose_early,
    )

    held = held_milestones(session, [member.id])
    if kind == BadgeProposalKind.EARLY:
        candidate = next(
            (
                c
                for c in load_candidates(session, member.unit, occasion, held, rules=rules)
                if c.member_id == member.id
            ),
            None,
        )
        if candidate is None:
            refuse(
                [
                    (
                        N_("%(name)s (%(number)s) is not an official member on the rolls."),
                        who(member),
                    )
                ]
            )
        if not may_propose_early(candidate, milestone, occasion, rules):
            refuse(
                [
                    (
                        N_(
                            "%(name)s (%(number)s) cannot be proposed early for the %(years)s-year badge on this occasion: outside the early window of %(months)s months, under a discipline deferral or holding a higher badge."
                        ),
                        {
                            **who(member),
                            "years": milestone,
                            "months": rules.early_months.get(milestone, 0),
                        },
                    )
                ]
            )
    else:
        if member.status != MemberStatus.DECEASED:
            refuse([(N_("%(name)s (%(number)s) is not recorded as deceased."), who(member))])
        state = member_state(session, member.id)
        age = party_age(
            state,
            occasion,
            admission_decision_on=member.admitted_on,
            card_issued_on=member.card_issued_on,
        )
        if age is None or early_window_opens(age.reaches(milestone), milestone, rules) > age.as_of:
            refuse(
                [
                    (
                        N_(
                            "%(name)s (%(number)s) had not come within %(months)s months of %(years)s years of Party age at death."
                        ),
                        {
                            **who(member),
                            "years": milestone,
                            "months": rules.early_months.get(milestone, 0),
                        },
                    )
                ]
            )
    proposal = BadgeProposal(
        member_id=member.id,
        milestone=milestone,
        occasion_on=occasion,
        kind=kind,
        reason=reason,
        state=BadgeProposalState.PROPOSED,
        proposed_by_id=requester.user_id,
    )
    session.add(proposal)
    session.flush()
    return proposal


@command("badge.decide")
def decide_badges(
    session: Session,
    requester: Requester,
    proposal_ids: Iterable[int],
    approve: bool,
    *,
    comment: str | None = None,
) -> list[BadgeProposal]:
    """Approve or reject badge proposals (all or none); the decider is never the proposer."""
    return decide(session, requester, BADGES, proposal_ids, approve, comment)


def badge_numbers(first: str, count: int) -> list[str]:
    """`count` consecutive numbers from `first`, keeping its width and any prefix
    (e.g. 'HH-000123' → 'HH-000123', 'HH-000124', …)."""
    match = re.match(r"^(.*?)(\d+)$", first or "")
    if not match or not BADGE_NUMBER_PATTERN.match(first):
        raise ValidationFailed(
            {
                "first_number": [
                    (N_("Enter the first badge number, ending in digits (e.g. 012345)."), {})
                ]
            }
        )
    head, digits = match.groups()
    start = int(digits)
    return [f"{head}{start + i:0{len(digits)}d}" for i in range(count)]


def _check_decision(decision_number: str | None, decision_on: date | None, today: date) -> None:
    errors: dict[str, list[tuple[str, dict]]] = {}
    if not (decision_number or "").strip():
        errors["decision_number"] = [(N_("The decision number is required."), {})]
    elif len(decision_number) > 60:
        errors["decision_number"] = [(N_("At most %(limit)s characters."), {"limit": 60})]
    if decision_on is None:
        errors["decision_on"] = [(N_("The decision date is required."), {})]
    elif decision_on > today:
        errors["decision_on"] = [(N_("The date cannot be in the future."), {})]
    if errors:
        raise ValidationFailed(errors)


def _refuse_used_numbers(session: Session, numbers: Sequence[str]) -> None:
    duplicates = {n for n in numbers if numbers.count(n) > 1}
    used = (
        set(
            session.scalars(
                select(BadgeAward.badge_number).where(BadgeAward.badge_number.in_(numbers))
            )
        )
        | duplicates
    )
    refuse(
        [(N_("The badge number %(value)s is already used."), {"value": n}) for n in sorted(used)],
        field="first_number",
    )


@command("badge.award")
def award_badges(
    session: Session,
    requester: Requester,
    proposal_ids: Iterable[int],
    *,
    decision_number: str | None,
    decision_on: date | None,
    first_number: str | None = None,
    numbers: Mapping[int, str] | None = None,
    today: date | None = None,
) -> list[BadgeAward]:
    """Record the awards of approved proposals under one decision, with consecutive badge
    numbers from `first_number` (or one number per proposal id in `numbers`)."""
    today = today or date.today()
    _check_decision(decision_number, decision_on, today)
    proposals = approved_proposals(session, requester, BADGES, proposal_ids)
    held = held_milestones(session, [p.member_id for p in proposals])
    refuse(
        [
            (ALREADY_HOLDS, {**who(p.member), "years": p.milestone})
            for p in proposals
            if p.milestone in held.get(p.member_id, frozenset())
        ]
    )
    if numbers is not None:
        chosen = [(numbers.get(p.id) or "").strip() for p in proposals]
        if not all(BADGE_NUMBER_PATTERN.match(n) for n in chosen):
            raise ValidationFailed(
                {"first_number": [(N_("Enter a badge number for every member."), {})]}
            )
    else:
        chosen = badge_numbers((first_number or "").strip(), len(proposals))
    _refuse_used_numbers(session, chosen)
    awards = []
    for proposal, number in zip(proposals, chosen, strict=True):
        award = BadgeAward(
            member_id=proposal.member_id,
            milestone=proposal.milestone,
            badge_number=number,
            decision_number=decision_number.strip(),
            decision_on=decision_on,
            occasion_on=proposal.occasion_on,
            posthumous=proposal.kind == BadgeProposalKind.POSTHUMOUS,
            proposal_id=proposal.id,
            recorded_by_id=requester.user_id,
        )
        session.add(award)
        proposal.state = BadgeProposalState.AWARDED
        awards.append(award)
    session.flush()
    return awards


@command("badge.reissue")
def reissue_badge(
    session: Session,
    requester: Requester,
    award_id: int | None,
    *,
    badge_number: str | None,
    decision_number: str | None,
    decision_on: date | None,
    lost_on: date | None,
    today: date | None = None,
) -> BadgeAward:
    """A lost badge: the original is marked lost and a new award with a new number replaces it."""
    today = today or date.today()
    _check_decision(decision_number, decision_on, today)
    if lost_on is not None and lost_on > today:
        raise ValidationFailed({"lost_on": [(N_("The date cannot be in the future."), {})]})
    original = find_in_scope(session, BadgeAward, award_id, requester.scope, lock=True)
    if original.lost_on is not None:
        refuse(
            [(N_("Badge %(value)s has already been re-issued."), {"value": original.badge_number})],
            field="badge_number",
        )
    number = (badge_number or "").strip()
    if not BADGE_NUMBER_PATTERN.match(number):
        raise ValidationFailed({"badge_number": [(N_("Enter the badge number."), {})]})
    if session.scalar(select(BadgeAward.id).where(BadgeAward.badge_number == number)):
        refuse(
            [(N_("The badge number %(value)s is already used."), {"value": number})], "badge_number"
        )
    original.lost_on = lost_on or today
    award = BadgeAward(
        member_id=original.member_id,
        milestone=original.milestone,
        badge_number=number,
        decision_number=decision_number.strip(),
        decision_on=decision_on,
        occasion_on=original.occasion_on,
        posthumous=original.posthumous,
        reissue_of_id=original.id,
        recorded_by_id=requester.user_id,
    )
    session.add(award)
    session.flush()
    return award
