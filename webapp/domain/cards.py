"""Party card commands (DESIGN §5): propose a batch, decide, issue, record a card held
from the paper record, and withdraw the card of a leaver.

The workflow itself (lock order, scope, decisions, four-eyes, "only approved proposals")
is the one shared with badges in webapp/domain/proposals.py; this module adds what is a
card's own: who may get a card, numbering, revoking the old card on a re-issue.

One truth for the card number: the card registry (`PartyCard`). `Member.card_number`
and `Member.card_issued_on` are a copy of the member's current valid card, written only
here (`_hold`), and the database refuses a copy that is not one of the member's own
registry cards (migration 0011). Card numbers come from a counter row locked FOR UPDATE
and continue after the highest number of the prefix in the registry, so a number is
never handed out twice; the unique constraint on party_card.number is the last guard.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.domain.commands import Requester, command
from webapp.domain.errors import N_, DomainError, ValidationFailed
from webapp.domain.proposals import (
    Problem,
    Workflow,
    approved_proposals,
    decide,
    members_in_scope,
    refuse,
    who,
)
from webapp.domain.scope import find_in_scope, scope_clause, unit_in_scope, units_in
from webapp.domain.text import clean_text
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
CARD_NUMBER_PATTERN = re.compile(r"^\d{2}\.\d{6}$")
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
ALREADY_HAS_CARD = N_(
    "%(name)s (%(number)s) already has card %(card)s; propose a new one for a lost or damaged card or a changed name."
)
BEFORE_ADMISSION = N_(
    "%(name)s (%(number)s): the card cannot be issued before the date of admission."
)


def _official_only(proposal: CardProposal):
    member = proposal.member
    if member.status != MemberStatus.OFFICIAL:
        return NOT_FOR_A_CARD[member.status], who(member)
    return None


CARDS = Workflow(
    model=CardProposal,
    proposed=ProposalState.PROPOSED,
    approved=ProposalState.APPROVED,
    rejected=ProposalState.REJECTED,
    done=frozenset({ProposalState.ISSUED, ProposalState.REVOKED}),
    already={
        ProposalState.APPROVED: N_(
            "The proposal for %(name)s (%(number)s) has already been approved."
        ),
        ProposalState.REJECTED: N_(
            "The proposal for %(name)s (%(number)s) has already been rejected."
        ),
        ProposalState.ISSUED: N_("The card for %(name)s (%(number)s) has already been issued."),
        ProposalState.REVOKED: N_("The card for %(name)s (%(number)s) has already been revoked."),
    },
    not_approved=N_(
        "The proposal for %(name)s (%(number)s) is not approved; only approved proposals are issued."
    ),
    approval_problem=_official_only,
)


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


def card_proposal_problem(member: Member, proposed_already: bool) -> Problem | None:
    """Why `member` may not be proposed for a card whatever the reason (not official: a
    probationary member, or one who died, transferred out or left; a proposal still open),
    or None."""
    if member.status != MemberStatus.OFFICIAL:
        return NOT_FOR_A_CARD[member.status], who(member)
    if proposed_already:
        return N_("%(name)s (%(number)s) is already proposed for a card."), who(member)
    return None


def open_card_proposal(member_id):
    """The member's open card proposal, if any (a select of its id)."""
    return (
        select(CardProposal.id)
        .where(CardProposal.member_id == member_id, CardProposal.state.in_(OPEN_PROPOSAL_STATES))
        .limit(1)
    )


def has_open_card_proposal(session: Session, member_id: int) -> bool:
    return session.scalar(open_card_proposal(member_id)) is not None


def may_propose_card(
    session: Session, requester: Requester, member: Member, *, has_open: bool | None = None
) -> bool:
    """The member page offers "propose a card" only when the proposal could be made.
    `has_open`: whether the member has an open proposal, when the caller asked already."""
    if not requester.may("card.propose"):
        return False
    if has_open is None:
        has_open = has_open_card_proposal(session, member.id)
    return card_proposal_problem(member, has_open) is None


def card_record_problem(member: Member) -> Problem | None:
    """Why no held card can be entered for `member` (a status that holds none, a card
    entered already), or None."""
    if member.status not in HOLDS_A_CARD:
        return NOT_FOR_A_CARD[member.status], who(member)
    if member.card_number:
        return ALREADY_HAS_CARD, {**who(member), "card": member.card_number}
    return None


def may_record_card(requester: Requester, member: Member) -> bool:
    return requester.may("card.record") and card_record_problem(member) is None


@command("card.propose")
def propose_cards(
    session: Session,
    requester: Requester,
    unit_id: int | None,
    requests: Sequence[CardRequest],
    *,
    note: str | None = None,
) -> CardProposalBatch:
    """Create a proposal batch of `unit_id` with one proposal per request."""
    if unit_id is None or not unit_in_scope(session, unit_id, requester.scope):
        raise ValidationFailed({"unit_id": [(N_("The unit does not exist."), {})]})
    if not requests:
        raise ValidationFailed({"members": [(N_("Choose at least one member."), {})]})
    if note is not None and len(note) > 500:
        raise ValidationFailed({"note": [(N_("At most %(limit)s characters."), {"limit": 500})]})
    ids = [r.member_id for r in requests]
    members = members_in_scope(session, ids, requester.scope)
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
        if (problem := card_proposal_problem(member, member.id in open_ids)) is not None:
            problems.append(problem)
            continue
        if request.reason == CardReason.NEW_OFFICIAL and member.card_number:
            problems.append((ALREADY_HAS_CARD, {**who(member), "card": member.card_number}))
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
        unit_id=unit_id,
        note=clean_text(note, "note", multiline=True) or None,
        proposed_by_id=requester.user_id,
    )
    session.add(batch)
    for request in requests:
        batch.proposals.append(
            CardProposal(
                member_id=request.member_id,
                reason=request.reason,
                explanation=clean_text(request.explanation, "explanation", multiline=True) or None,
                photo_reference=clean_text(request.photo_reference, "photo_reference") or None,
                state=ProposalState.PROPOSED,
                proposed_by_id=requester.user_id,
            )
        )
    session.flush()
    return batch


@command("card.decide")
def decide_cards(
    session: Session,
    requester: Requester,
    proposal_ids: Iterable[int],
    approve: bool,
    *,
    comment: str | None = None,
    now: datetime | None = None,
) -> list[CardProposal]:
    """Approve or reject card proposals (all or none); the decider is never the proposer,
    and only an official member's card is approved."""
    return decide(session, requester, CARDS, proposal_ids, approve, comment, now)


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


def lock_numbering(session: Session, numbers: Iterable[str]) -> None:
    """Wait for the numbering of these cards' prefixes, as `record_card` does for one (a
    bulk import records many cards at once), in a fixed order."""
    for prefix in sorted({number[:2] for number in numbers}):
        _counter(session, prefix)


def _highest_serial(session: Session, prefix: str) -> int:
    """The highest serial of `prefix` in the registry (a range on the unique index)."""
    with session.no_autoflush:
        highest = session.scalar(
            select(func.max(PartyCard.number)).where(
                PartyCard.number.between(f"{prefix}.000000", f"{prefix}.999999")
            )
        )
    return int(highest[3:]) if highest and CARD_NUMBER_PATTERN.match(highest) else 0


def allocate_card_numbers(session: Session, prefix: str, count: int) -> list[str]:
    """The next `count` numbers NN.NNNNNN after both the counter and every number of the
    prefix in the registry (cards recorded from paper included), so none is handed out
    twice; the caller's transaction holds the counter lock until it commits."""
    counter = _counter(session, check_prefix(prefix))
    serial = max(counter.last_serial, _highest_serial(session, prefix))
    if serial + count > MAX_SERIAL:
        raise DomainError(N_("No card numbers are left for prefix %(prefix)s."), prefix=prefix)
    counter.last_serial = serial + count
    return [f"{prefix}.{n:06d}" for n in range(serial + 1, serial + count + 1)]


def allocate_card_number(session: Session, prefix: str) -> str:
    return allocate_card_numbers(session, prefix, 1)[0]


def _hold(member: Member, card: PartyCard | None) -> None:
    """The member record's copy of the current valid card (the only writer of it)."""
    member.card_number = card.number if card is not None else None
    member.card_issued_on = card.issued_on if card is not None else None


def register_card(
    session: Session, member: Member, number: str, issued_on: date | None
) -> PartyCard:
    """A valid card row for `member`, held by the member record. For callers that have
    checked the rules already: the commands below, the demo generator, test factories."""
    card = PartyCard(member=member, number=number, issued_on=issued_on, state=CardState.VALID)
    session.add(card)
    _hold(member, card)
    return card


def _end_current_cards(
    session: Session, members: Sequence[Member], state: str, day: date, note: str | None
) -> None:
    """Revoke or withdraw the members' valid cards; the records no longer hold a card."""
    with session.no_autoflush:
        for chunk in _chunks([m.id for m in members]):
            for card in session.scalars(
                select(PartyCard).where(
                    PartyCard.member_id.in_(chunk), PartyCard.state == CardState.VALID
                )
            ):
                card.state = state
                card.ended_on = day
                card.end_note = note
    for member in members:
        _hold(member, None)


CHUNK = 5000  # IN lists stay well under the driver's parameter limit


def _chunks(values: Sequence, size: int = CHUNK):
    for start in range(0, len(values), size):
        yield values[start : start + size]


@command("card.issue")
def issue_cards(
    session: Session,
    requester: Requester,
    proposal_ids: Iterable[int],
    *,
    prefix: str,
    issued_on: date | None = None,
    today: date | None = None,
) -> list[PartyCard]:
    """Number and issue the cards of approved proposals; the old card of a re-issue is revoked."""
    today = today or date.today()
    issued_on = issued_on or today
    if issued_on > today:
        raise ValidationFailed({"issued_on": [(N_("The date cannot be in the future."), {})]})
    check_prefix(prefix)

    def issuable(proposal: CardProposal):
        member = proposal.member
        if member.status != MemberStatus.OFFICIAL:
            return NOT_FOR_A_CARD[member.status], who(member)
        if member.admitted_on and issued_on < member.admitted_on:
            return BEFORE_ADMISSION, who(member)
        return None

    proposals = approved_proposals(session, requester, CARDS, proposal_ids, issuable)
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
        card = register_card(session, proposal.member, number, issued_on)
        proposal.state = ProposalState.ISSUED
        proposal.card = card
        proposal.issued_by_id = requester.user_id
        proposal.issued_at = now
        cards.append(card)
    session.flush()
    return cards


# A member on the paper record may hold a card already: transferred in with it, or
# entered from the paper form. Not a new number: the one printed on the card.
HOLDS_A_CARD = frozenset(
    {MemberStatus.OFFICIAL, MemberStatus.DECEASED, MemberStatus.TRANSFERRED_OUT}
)


@command("card.record")
def record_card(
    session: Session,
    requester: Requester,
    member_id: int | None,
    number: str | None,
    issued_on: date | None = None,
    *,
    today: date | None = None,
) -> PartyCard:
    """Enter in the registry the card a member holds already (from the paper record or
    brought along on a transfer in); the member record then shows it."""
    today = today or date.today()
    member = find_in_scope(session, Member, member_id, requester.scope, lock=True)
    number = (number or "").strip()
    check_card_entry(member, number, issued_on, today)
    _counter(session, number[:2])  # the numbering of this prefix waits for us, and we for it
    with session.no_autoflush:
        taken = session.scalar(select(PartyCard.id).where(PartyCard.number == number))
    if taken is not None:
        refuse_taken(number)
    card = register_card(session, member, number, issued_on)
    session.flush()
    return card


def refuse_taken(number: str) -> None:
    refuse(
        [(N_("The card number %(value)s is already in the card registry."), {"value": number})],
        field="number",
    )


def check_card_entry(member: Member, number: str, issued_on: date | None, today: date) -> None:
    """The rules of `record_card` that need no registry: the number's form, the date, the
    member's standing and card (an import checks its rows by them in memory)."""
    if not CARD_NUMBER_PATTERN.match(number):
        raise ValidationFailed(
            {
                "number": [
                    (
                        N_(
                            "The card number must be written NN.NNNNNN (2 digits, a dot, 6 digits)."
                        ),
                        {},
                    )
                ]
            }
        )
    if issued_on is not None and issued_on > today:
        raise ValidationFailed({"issued_on": [(N_("The date cannot be in the future."), {})]})
    if (problem := card_record_problem(member)) is not None:
        refuse([problem])
    if issued_on is not None and member.admitted_on and issued_on < member.admitted_on:
        refuse([(BEFORE_ADMISSION, who(member))], field="issued_on")


def withdraw_card_of_leaver(session: Session, member: Member, day: date) -> None:
    """Called when the ledger takes a member off the Party's rolls for good (LEFT), inside
    that event's transaction: the card is recorded as withdrawn and leaves the member
    record; open proposals are rejected."""
    if member.status != MemberStatus.LEFT:
        return
    _end_current_cards(session, [member], CardState.WITHDRAWN, day, "Ra khỏi Đảng: thu hồi thẻ")
    for proposal in session.scalars(
        select(CardProposal).where(
            CardProposal.member_id == member.id, CardProposal.state.in_(OPEN_PROPOSAL_STATES)
        )
    ):
        proposal.state = ProposalState.REJECTED
        proposal.comment = "Đảng viên đã ra khỏi Đảng"
        proposal.decided_at = datetime.now()
