"""The proposal workflow that Party cards and Party badges share (DESIGN §5):

    propose → decide (approve | reject, four-eyes) → act on the approved (issue | award)

A `Workflow` names what differs — the proposal model, its states and the messages that
mention them, and any extra check before approving. Everything else lives here once: the
lock order, reading proposals inside the requester's scope, the decision and its comment
rule, the four-eyes rule, and the "only approved proposals" rule of the final step.
webapp/domain/cards.py and webapp/domain/badges.py hold only what is their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.domain.commands import Requester
from webapp.domain.errors import N_, NotFound, ValidationFailed
from webapp.domain.scope import scope_clause
from webapp.models.member import Member

MAX_TEXT = 1000  # comments, explanations, reasons
FOUR_EYES = N_(
    "You proposed %(name)s (%(number)s) yourself; another person must decide (four-eyes rule)."
)

Problem = tuple[str, dict]


@dataclass(frozen=True)
class Workflow:
    """What one kind of proposal (cards, badges) brings to the shared workflow."""

    model: type  # CardProposal or BadgeProposal
    proposed: str
    approved: str
    rejected: str
    done: frozenset[str]  # states after the final step (issued, revoked / awarded)
    already: Mapping[str, str]  # a state other than proposed → "has already been …"
    not_approved: str  # the final step asked for a proposal that is not approved
    # Why a proposal may not be approved (beyond its state), or None.
    approval_problem: Callable[[Any], Problem | None] = lambda proposal: None


def who(member: Member) -> dict[str, str]:
    return {"name": member.display_name, "number": member.member_number}


def refuse(problems: list[Problem], field: str = "members") -> None:
    if problems:
        raise ValidationFailed({field: problems})


def decision_comment(comment: str | None, approve: bool) -> str | None:
    """The decision's comment, trimmed; a rejection must say why."""
    comment = (comment or "").strip() or None
    if comment and len(comment) > MAX_TEXT:
        raise ValidationFailed(
            {"comment": [(N_("At most %(limit)s characters."), {"limit": MAX_TEXT})]}
        )
    if not approve and not comment:
        raise ValidationFailed({"comment": [(N_("Give the reason for the rejection."), {})]})
    return comment


def lock_members(session: Session, member_ids) -> None:
    """Lock member rows in id order (the first lock every card and badge command takes)."""
    session.execute(
        select(Member.id).where(Member.id.in_(member_ids)).order_by(Member.id).with_for_update()
    )


def members_in_scope(
    session: Session, member_ids: Sequence[int], scope: str | None
) -> dict[int, Member]:
    """The members among `member_ids` inside `scope`, locked and read fresh; a member
    outside the scope is simply absent (the caller says "does not exist")."""
    ids = [i for i in member_ids if isinstance(i, int)]
    lock_members(session, ids)
    return {
        m.id: m
        for m in session.scalars(
            select(Member)
            .where(Member.id.in_(ids), scope_clause(Member, scope))
            .execution_options(populate_existing=True)
        )
    }


def lock_proposals(session: Session, model: type, proposal_ids: Iterable[int], scope: str | None):
    """The proposals (CardProposal or BadgeProposal rows) in scope, read fresh (a concurrent
    decision shows) and locked; NotFound when any of them is missing or outside the scope.

    Lock order everywhere: members (by id), then proposals, then the card counter, then
    the audit log's lock at the first flush, so concurrent commands queue, never deadlock."""
    ids = sorted(set(proposal_ids))
    if not ids:
        raise ValidationFailed({"members": [(N_("Choose at least one proposal."), {})]})
    lock_members(session, select(model.member_id).where(model.id.in_(ids)).scalar_subquery())
    proposals = list(
        session.scalars(
            select(model)
            .where(model.id.in_(ids), scope_clause(model, scope))
            .order_by(model.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    if len(proposals) != len(ids):
        raise NotFound(N_("The proposal does not exist."))
    return proposals


def decision_problem(
    requester: Requester, flow: Workflow, proposal, *, approve: bool = False
) -> Problem | None:
    """Why `requester` may not decide `proposal` (already decided; for an approval, the
    flow's own check; proposed by the requester: four-eyes), or None."""
    if proposal.state != flow.proposed:
        return flow.already[proposal.state], who(proposal.member)
    if approve and (problem := flow.approval_problem(proposal)) is not None:
        return problem
    if requester.user_id is not None and proposal.proposed_by_id == requester.user_id:
        return FOUR_EYES, who(proposal.member)
    return None


def decidable(requester: Requester, flow: Workflow, proposals: Iterable) -> list:
    """The proposals among `proposals` that `requester` may approve or reject: open ones
    someone else proposed. A screen offers Approve/Reject only when there is one."""
    return [p for p in proposals if decision_problem(requester, flow, p) is None]


def decide(
    session: Session,
    requester: Requester,
    flow: Workflow,
    proposal_ids: Iterable[int],
    approve: bool,
    comment: str | None,
    now: datetime | None = None,
) -> list:
    """Approve or reject proposals, all or none. Only proposed ones are decided, and
    never by the person who proposed them (four-eyes)."""
    comment = decision_comment(comment, approve)
    proposals = lock_proposals(session, flow.model, proposal_ids, requester.scope)
    problems = [
        problem
        for proposal in proposals
        if (problem := decision_problem(requester, flow, proposal, approve=approve)) is not None
    ]
    refuse(problems)
    now = now or datetime.now()
    for proposal in proposals:
        proposal.state = flow.approved if approve else flow.rejected
        proposal.decided_by_id = requester.user_id
        proposal.decided_at = now
        proposal.comment = comment
    session.flush()
    return proposals


def approved_proposals(
    session: Session,
    requester: Requester,
    flow: Workflow,
    proposal_ids: Iterable[int],
    check: Callable[[Any], Problem | None] | None = None,
) -> list:
    """The proposals for the final step (issue, award), locked: every one approved and
    passing `check`, or the command is refused with every problem found."""
    proposals = lock_proposals(session, flow.model, proposal_ids, requester.scope)
    problems: list[Problem] = []
    for proposal in proposals:
        if proposal.state in flow.done:
            problems.append((flow.already[proposal.state], who(proposal.member)))
        elif proposal.state != flow.approved:
            problems.append((flow.not_approved, who(proposal.member)))
        elif check is not None and (problem := check(proposal)) is not None:
            problems.append(problem)
    refuse(problems)
    return proposals
