"""Party card commands (DESIGN §5): propose a batch, decide, issue, withdraw.

Each command checks scope, state and the four-eyes rule first and then writes in one
transaction; a refused command raises a DomainError and changes nothing. Proposals are
locked FOR UPDATE before their state is read, so two managers deciding or issuing the same
batch at once are serialised: the second sees the first one's result and is refused.
Card numbers come from a counter row locked FOR UPDATE; a number already on a card or on a
member record is skipped, and the unique constraint on party_card.number is the last guard.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.domain.errors import N_, DomainError, ValidationFailed
from webapp.domain.proposals import (
    decision_comment,
    lock_members,
    lock_proposals,
    refuse,
    who,
)
from webapp.domain.scope import scope_clause, unit_in_scope, units_in
from webapp.models.cards import (
    NEEDS_EXPLANATION,
    OPEN_PROPOSAL_STATES,
    CardNumberCounter,
    CardProposal,
    CardProposalBatch,
    CardReason,
    CardState,
    PartyCard,
    ProposalState,
)
from webapp.models.member import Member, MemberStatus
from webapp.models.unit import Unit

PREFIX_PATTERN = re.compile(r"^\d{2}$")
MAX_SERIAL = 999_999

NOT_FOR_A_CARD = {
    MemberStatus.PROBATIONARY: N_(
        "%(name)s (%(number)s) is a probationary member; cards are issued to official members only."
    ),
    MemberStatus.DECEASED: N_("%(name)s (%(number)s) has died; no card can be proposed."),
    MemberStatus.TRANSFERRED_OUT: N_(
        "%(name)s (%(number)s) has transferred out of this Party organisation; no card can be proposed."
    ),
    MemberStatus.LEFT: N_("%(name)s (%(number)s) has left the Party; no card can be proposed."),
}
ALREADY_DECIDED = {
    ProposalState.APPROVED: N_("The proposal for %(name)s (%(number)s) has already been approved."),
    ProposalState.REJECTED: N_("The proposal for %(name)s (%(number)s) has already been rejected."),
    ProposalState.ISSUED: N_("The card for %(name)s (%(number)s) has already been issued."),
    ProposalState.REVOKED: N_("The card for %(name)s (%(number)s) has already been revoked."),
}


@dataclass(frozen=True)
class CardRequest:
    member_id: int
    reason: str = CardReason.NEW_OFFICIAL
    explanation: str | None = None
    photo_reference: str | None = None


def needing_card_clause():
    """Official members without a card and without an open proposal."""
    return (
        (Member.status == MemberStatus.OFFICIAL)
        & Member.card_number.is_(None)
        & ~exists().where(
            CardProposal.member_id == Member.id, CardProposal.state.in_(OPEN_PROPOSAL_STATES)
        )
    )


def members_needing_card(session: Session, scope: str | None):
    """Select of the members of the scope's cells who need a first card (a member only
    temporarily active here gets the card from the home cell)."""
    query = select(Member).where(needing_card_clause(), scope_clause(Member, scope))
    if scope is not None:
        query = query.where(Member.unit_id.in_(units_in(scope)))
    return query


def propose_cards(
    session: Session,
    unit_id: int | None,
    requests: Sequence[CardRequest],
    *,
    user_id: int | None,
    scope: str | None,
    note: str | None = None,
    commit: bool = True,
) -> CardProposalBatch:
    """Create a proposal batch of `unit_id` with one proposal per request."""
    if unit_id is None or not unit_in_scope(session, unit_id, scope):
        raise ValidationFailed({"unit_id": [(N_("The unit does not exist."), {})]})
    if not requests:
        raise ValidationFailed({"members": [(N_("Choose at least one member."), {})]})
    if note is not None and len(note) > 500:
        raise ValidationFailed({"note": [(N_("At most %(limit)s characters."), {"limit": 500})]})
    ids = [r.member_id for r in requests]
    lock_members(session, ids)
    members = {
        m.id: m
        for m in session.scalars(
            select(Member)
            .where(Member.id.in_(ids), scope_clause(Member, scope))
            .execution_options(populate_existing=True)
        )
    }
    batch_unit = session.get(Unit, unit_id)
    open_ids = set(
        session.scalars(
            select(CardProposal.member_id).where(
                CardProposal.member_id.in_(ids), CardProposal.state.in_(OPEN_PROPOSAL_STATES)
            )
        )
    )
    problems: list[tuple[str, dict]] = []
    seen: set[int] = set()
    for request in requests:
        member = members.get(request.member_id)
        if member is None:
            problems.append((N_("The member does not exist."), {}))
            continue
        if not member.unit.path.startswith(batch_unit.path):
            problems.append(
                (
                    N_("%(name)s (%(number)s) does not belong to %(unit)s."),
                    {**who(member), "unit": batch_unit.name},
                )
            )
            continue
        if request.member_id in seen:
            problems.append((N_("%(name)s (%(number)s) is listed twice."), who(member)))
            continue
        seen.add(request.member_id)
        if request.reason not in set(CardReason):
            problems.append(
                (N_("%(name)s (%(number)s): choose the reason for the card."), who(member))
            )
            continue
        if member.status != MemberStatus.OFFICIAL:
            problems.append((NOT_FOR_A_CARD[member.status], who(member)))
            continue
        if member.id in open_ids:
            problems.append(
                (N_("%(name)s (%(number)s) is already proposed for a card."), who(member))
            )
            continue
        if request.reason == CardReason.NEW_OFFICIAL and member.card_number:
            problems.append(
                (
                    N_(
                        "%(name)s (%(number)s) already has card %(card)s; propose a new one for a lost or damaged card or a changed name."
                    ),
                    {**who(member), "card": member.card_number},
                )
            )
        if request.reason != CardReason.NEW_OFFICIAL and not member.card_number:
            problems.append(
                (N_("%(name)s (%(number)s) has no card yet; propose a first card."), who(member))
            )
        if request.reason in NEEDS_EXPLANATION:
            if not (request.explanation or "").strip():
                problems.append(
                    (
                        N_("%(name)s (%(number)s): explain how the card was lost or damaged."),
                        who(member),
                    )
                )
            if not (request.photo_reference or "").strip():
                problems.append(
                    (
                        N_("%(name)s (%(number)s): enter the reference of the photo handed in."),
                        who(member),
                    )
                )
        for text, limit in ((request.explanation, 1000), (request.photo_reference, 120)):
            if text and len(text) > limit:
                problems.append((N_("At most %(limit)s characters."), {"limit": limit}))
    refuse(problems)
    batch = CardProposalBatch(
        unit_id=unit_id, note=(note or "").strip() or None, proposed_by_id=user_id
    )
    session.add(batch)
    for request in requests:
        batch.proposals.append(
            CardProposal(
                member_id=request.member_id,
                reason=request.reason,
                explanation=(request.explanation or "").strip() or None,
                photo_reference=(request.photo_reference or "").strip() or None,
                state=ProposalState.PROPOSED,
                proposed_by_id=user_id,
            )
        )
    session.flush()
    if commit:
        session.commit()
    return batch


def decide_cards(
    session: Session,
    proposal_ids: Iterable[int],
    approve: bool,
    *,
    user_id: int | None,
    scope: str | None,
    comment: str | None = None,
    now: datetime | None = None,
    commit: bool = True,
) -> list[CardProposal]:
    """Approve or reject proposals (all or none). The decider is never the proposer."""
    comment = decision_comment(comment, approve)
    proposals = lock_proposals(session, CardProposal, proposal_ids, scope)
    problems: list[tuple[str, dict]] = []
    for proposal in proposals:
        if proposal.state != ProposalState.PROPOSED:
            problems.append((ALREADY_DECIDED[proposal.state], who(proposal.member)))
        elif approve and proposal.member.status != MemberStatus.OFFICIAL:
            problems.append((NOT_FOR_A_CARD[proposal.member.status], who(proposal.member)))
        elif user_id is not None and proposal.proposed_by_id == user_id:
            problems.append(
                (
                    N_(
                        "You proposed %(name)s (%(number)s) yourself; another person must decide (four-eyes rule)."
                    ),
                    who(proposal.member),
                )
            )
    refuse(problems)
    now = now or datetime.now()
    for proposal in proposals:
        proposal.state = ProposalState.APPROVED if approve else ProposalState.REJECTED
        proposal.decided_by_id = user_id
        proposal.decided_at = now
        proposal.comment = comment
    session.flush()
    if commit:
        session.commit()
    return proposals


def check_prefix(prefix: str) -> str:
    if not PREFIX_PATTERN.match(prefix or ""):
        raise DomainError(
            N_("The card number prefix %(prefix)s is not two digits; correct CARD_NUMBER_PREFIX."),
            prefix=prefix,
        )
    return prefix


def _counter(session: Session, prefix: str) -> CardNumberCounter:
    query = (
        select(CardNumberCounter)
        .where(CardNumberCounter.prefix == prefix)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    counter = session.scalar(query)
    if counter is None:
        try:
            with session.begin_nested():
                session.add(CardNumberCounter(prefix=prefix, last_serial=0))
        except IntegrityError:
            pass  # another transaction created it first
        counter = session.scalar(query)
    return counter


CHUNK = 5000  # IN lists stay well under the driver's parameter limit


def _chunks(values: Sequence, size: int = CHUNK):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def numbers_in_use(session: Session, numbers: Sequence[str]) -> set[str]:
    """Which of `numbers` are on a card row or typed on a member record already."""
    used: set[str] = set()
    with session.no_autoflush:
        for chunk in _chunks(list(numbers)):
            used.update(
                session.scalars(select(PartyCard.number).where(PartyCard.number.in_(chunk)))
            )
            used.update(
                session.scalars(select(Member.card_number).where(Member.card_number.in_(chunk)))
            )
    return used


def allocate_card_numbers(session: Session, prefix: str, count: int) -> list[str]:
    """The next `count` unused numbers NN.NNNNNN (numbers already used are skipped, never
    reused); the caller's transaction holds the counter lock until it commits."""
    counter = _counter(session, check_prefix(prefix))
    serial = counter.last_serial
    numbers: list[str] = []
    while len(numbers) < count:
        wanted = count - len(numbers)
        if serial + wanted > MAX_SERIAL:
            raise DomainError(N_("No card numbers are left for prefix %(prefix)s."), prefix=prefix)
        candidates = [f"{prefix}.{n:06d}" for n in range(serial + 1, serial + wanted + 1)]
        used = numbers_in_use(session, candidates)
        numbers.extend(n for n in candidates if n not in used)
        serial += wanted
    counter.last_serial = serial
    return numbers


def allocate_card_number(session: Session, prefix: str) -> str:
    return allocate_card_numbers(session, prefix, 1)[0]


def _end_current_cards(
    session: Session, members: Sequence[Member], state: str, day: date, note: str | None
) -> None:
    """Revoke or withdraw the members' valid cards; a card typed in from the paper record
    (no card row yet) gets its row, so its number is never handed out again."""
    valid: dict[int, list[PartyCard]] = {m.id: [] for m in members}
    with session.no_autoflush:
        for chunk in _chunks([m.id for m in members]):
            for card in session.scalars(
                select(PartyCard).where(
                    PartyCard.member_id.in_(chunk), PartyCard.state == CardState.VALID
                )
            ):
                valid[card.member_id].append(card)
        typed = [
            m.card_number
            for m in members
            if m.card_number and all(c.number != m.card_number for c in valid[m.id])
        ]
        recorded = {
            n
            for chunk in _chunks(typed)
            for n in session.scalars(select(PartyCard.number).where(PartyCard.number.in_(chunk)))
        }
    for member in members:
        cards = valid[member.id]
        number = member.card_number
        if number and all(c.number != number for c in cards) and number not in recorded:
            legacy = PartyCard(
                member_id=member.id,
                number=number,
                issued_on=member.card_issued_on or member.official_on or member.admitted_on,
                state=CardState.VALID,
            )
            session.add(legacy)
            cards.append(legacy)
        for card in cards:
            card.state = state
            card.ended_on = day
            card.end_note = note


def issue_cards(
    session: Session,
    proposal_ids: Iterable[int],
    *,
    user_id: int | None,
    scope: str | None,
    prefix: str,
    issued_on: date | None = None,
    today: date | None = None,
    commit: bool = True,
) -> list[PartyCard]:
    """Number and issue the cards of approved proposals; the old card of a re-issue is revoked."""
    today = today or date.today()
    issued_on = issued_on or today
    if issued_on > today:
        raise ValidationFailed({"issued_on": [(N_("The date cannot be in the future."), {})]})
    check_prefix(prefix)
    proposals = lock_proposals(session, CardProposal, proposal_ids, scope)
    problems: list[tuple[str, dict]] = []
    for proposal in proposals:
        member = proposal.member
        if proposal.state in (ProposalState.ISSUED, ProposalState.REVOKED):
            problems.append((ALREADY_DECIDED[proposal.state], who(member)))
        elif proposal.state != ProposalState.APPROVED:
            problems.append(
                (
                    N_(
                        "The proposal for %(name)s (%(number)s) is not approved; only approved proposals are issued."
                    ),
                    who(member),
                )
            )
        elif member.status != MemberStatus.OFFICIAL:
            problems.append((NOT_FOR_A_CARD[member.status], who(member)))
        elif member.admitted_on and issued_on < member.admitted_on:
            problems.append(
                (
                    N_(
                        "%(name)s (%(number)s): the card cannot be issued before the date of admission."
                    ),
                    who(member),
                )
            )
    refuse(problems)
    _counter(session, prefix)  # lock the counter before anything is flushed
    members = [p.member for p in proposals]
    _end_current_cards(session, members, CardState.REVOKED, issued_on, "Cấp lại thẻ")
    with session.no_autoflush:
        issued_ids = {p.id for p in proposals}
        for chunk in _chunks([m.id for m in members]):
            for old in session.scalars(
                select(CardProposal).where(
                    CardProposal.member_id.in_(chunk), CardProposal.state == ProposalState.ISSUED
                )
            ):
                if old.id not in issued_ids:
                    old.state = ProposalState.REVOKED  # its card is revoked just above
    numbers = allocate_card_numbers(session, prefix, len(proposals))
    now = datetime.now()
    cards = []
    for proposal, number in zip(proposals, numbers, strict=True):
        member = proposal.member
        card = PartyCard(
            member_id=member.id, number=number, issued_on=issued_on, state=CardState.VALID
        )
        session.add(card)
        member.card_number = number
        member.card_issued_on = issued_on
        proposal.state = ProposalState.ISSUED
        proposal.card = card
        proposal.issued_by_id = user_id
        proposal.issued_at = now
        cards.append(card)
    session.flush()
    if commit:
        session.commit()
    return cards


def withdraw_card_of_leaver(session: Session, member: Member, day: date) -> None:
    """Called when the ledger takes a member off the Party's rolls for good (LEFT): the
    card is recorded as withdrawn and leaves the member record; open proposals are rejected."""
    if member.status != MemberStatus.LEFT:
        return
    _end_current_cards(session, [member], CardState.WITHDRAWN, day, "Ra khỏi Đảng: thu hồi thẻ")
    member.card_number = None
    member.card_issued_on = None
    for proposal in session.scalars(
        select(CardProposal).where(
            CardProposal.member_id == member.id, CardProposal.state.in_(OPEN_PROPOSAL_STATES)
        )
    ):
        proposal.state = ProposalState.REJECTED
        proposal.comment = "Đảng viên đã ra khỏi Đảng"
        proposal.decided_at = datetime.now()
