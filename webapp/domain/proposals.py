"""What card and badge proposals share: naming a member in a message, refusing with the
problems found, the decision's comment, and locking proposals in the one lock order."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.domain.errors import N_, NotFound, ValidationFailed
from webapp.domain.scope import scope_clause
from webapp.models.member import Member

MAX_TEXT = 1000  # comments, explanations, reasons


def who(member: Member) -> dict[str, str]:
    return {"name": member.display_name, "number": member.member_number}


def refuse(problems: list[tuple[str, dict]], field: str = "members") -> None:
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


def lock_proposals(session: Session, model: type, proposal_ids: Iterable[int], scope: str | None):
    """The proposals (CardProposal or BadgeProposal rows) in scope, read fresh (a concurrent
    decision shows) and locked.

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
