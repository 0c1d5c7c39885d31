"""Every card and badge command refuses, before it writes anything, a requester whose role
may not take its action (Forbidden) and a requester of the right role whose scope does
not hold the target (the target does not exist for them: NotFound, or for a proposal of
several members the member "does not exist"). One row per command; a command of
webapp/domain/cards.py or badges.py without a row fails the coverage test.

(The rows for the table of tests/test_commands_refuse.py; written apart until merged.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import func, select

from factories import SYSTEM, make_member, make_tree
from webapp.domain.badges import (
    award_badges,
    decide_badges,
    propose_badge_manually,
    propose_badges,
    reissue_badge,
)
from webapp.domain.cards import (
    CardRequest,
    decide_cards,
    issue_cards,
    propose_cards,
    record_card,
)
from webapp.domain.commands import COMMANDS, Requester, Role
from webapp.domain.errors import Forbidden, NotFound, ValidationFailed
from webapp.domain.events import EventInput, open_ledger, record_event
from webapp.models import (
    BadgeAward,
    BadgeProposal,
    CardProposal,
    CardProposalBatch,
    Member,
    PartyCard,
)

OCCASION = date(2026, 5, 19)
NOT_THERE = {"The member does not exist.", "The unit does not exist."}


@dataclass(frozen=True)
class Row:
    command: Callable
    role: str  # the role that may take the action
    run: Callable  # run(session, requester, world)


def _propose_cards(s, r, w):
    return propose_cards(s, r, w["G1"], [CardRequest(w["new"])])


def _decide_cards(s, r, w):
    return decide_cards(s, r, [w["card_proposed"]], True)


def _issue_cards(s, r, w):
    return issue_cards(s, r, [w["card_approved"]], prefix="37")


def _record_card(s, r, w):
    return record_card(s, r, w["new"], "37.000555", date(2010, 1, 1))


def _propose_badges(s, r, w):
    return propose_badges(s, r, OCCASION, [w["thirty"]])


def _propose_badge_manually(s, r, w):
    return propose_badge_manually(s, r, OCCASION, w["deceased"], 30, "posthumous", "Truy tặng")


def _decide_badges(s, r, w):
    return decide_badges(s, r, [w["badge_proposed"]], True)


def _award_badges(s, r, w):
    return award_badges(
        s,
        r,
        [w["badge_approved"]],
        decision_number="1-QĐ/TU",
        decision_on=date(2026, 5, 1),
        first_number="HH-000100",
    )


def _reissue_badge(s, r, w):
    return reissue_badge(
        s,
        r,
        w["award"],
        badge_number="HH-000200",
        decision_number="2-QĐ/TU",
        decision_on=date(2026, 5, 2),
        lost_on=None,
    )


ROWS = [
    Row(propose_cards, Role.CLERK, _propose_cards),
    Row(decide_cards, Role.MANAGER, _decide_cards),
    Row(issue_cards, Role.MANAGER, _issue_cards),
    Row(record_card, Role.CLERK, _record_card),
    Row(propose_badges, Role.CLERK, _propose_badges),
    Row(propose_badge_manually, Role.CLERK, _propose_badge_manually),
    Row(decide_badges, Role.MANAGER, _decide_badges),
    Row(award_badges, Role.MANAGER, _award_badges),
    Row(reissue_badge, Role.MANAGER, _reissue_badge),
]
OTHER_ROLES = [Role.CLERK, Role.MANAGER, Role.LEADER, Role.SYNC]
CASES = [
    (row, role) for row in ROWS for role in [*[r for r in OTHER_ROLES if r != row.role], "outside"]
]


@pytest.fixture()
def world(app, db_session):
    """D1 holds every target (members, proposals in each state, an award); D2 is the
    other district whose people must not reach them."""
    tree = make_tree(db_session)
    c1 = tree["C1"]
    people = {
        "new": make_member(db_session, c1, birth_name="Nguyễn Thị Mới"),
        "carded": make_member(db_session, c1, birth_name="Lê Văn Thẻ", card_number="37.000001"),
        "thirty": make_member(
            db_session,
            c1,
            birth_name="Trần Văn Ba Mươi",
            birth_date=date(1970, 1, 1),
            admitted_on=date(1996, 5, 19),
            official_on=date(1997, 5, 19),
        ),
        "forty": make_member(
            db_session,
            c1,
            birth_name="Phạm Thị Bốn Mươi",
            birth_date=date(1960, 1, 1),
            admitted_on=date(1986, 3, 1),
            official_on=date(1987, 3, 1),
        ),
        "fifty": make_member(
            db_session,
            c1,
            birth_name="Vũ Văn Năm Mươi",
            birth_date=date(1950, 1, 1),
            admitted_on=date(1976, 5, 1),
            official_on=date(1977, 5, 1),
        ),
        "deceased": make_member(
            db_session,
            c1,
            birth_name="Hoàng Văn Cố",
            birth_date=date(1960, 1, 1),
            admitted_on=date(1985, 2, 3),
            official_on=date(1986, 2, 3),
        ),
        "holder": make_member(
            db_session,
            c1,
            birth_name="Đỗ Thị Đã Có",
            birth_date=date(1970, 1, 1),
            admitted_on=date(1996, 1, 1),
            official_on=date(1997, 1, 1),
        ),
    }
    for member in people.values():
        open_ledger(db_session, SYSTEM, member.id)
    db_session.commit()
    record_event(
        db_session,
        SYSTEM,
        people["deceased"].id,
        EventInput(kind="death", effective_on=date(2024, 6, 1)),
    )
    system = Requester.system()
    batch = propose_cards(
        db_session, system, tree["G1"].id, [CardRequest(people["carded"].id, "name_change")]
    )
    approved = propose_cards(db_session, system, c1.id, [CardRequest(people["thirty"].id)])
    decide_cards(db_session, system, [approved.proposals[0].id], True)
    (badge_proposed,) = propose_badges(db_session, system, OCCASION, [people["forty"].id])
    (badge_approved,) = propose_badges(db_session, system, OCCASION, [people["fifty"].id])
    decide_badges(db_session, system, [badge_approved.id], True)
    award = BadgeAward(
        member_id=people["holder"].id,
        milestone=30,
        badge_number="HH-000001",
        decision_number="01-QĐ/TU",
        decision_on=date(2026, 1, 20),
        occasion_on=date(2026, 2, 3),
    )
    db_session.add(award)
    db_session.commit()
    return {
        **{name: m.id for name, m in people.items()},
        "G1": tree["G1"].id,
        "card_proposed": batch.proposals[0].id,
        "card_approved": approved.proposals[0].id,
        "badge_proposed": badge_proposed.id,
        "badge_approved": badge_approved.id,
        "award": award.id,
        "D1": tree["D1"].path,
        "D2": tree["D2"].path,
    }


def written(session) -> tuple:
    """Everything a card or badge command could change."""
    session.expire_all()
    count = lambda model: session.scalar(select(func.count(model.id)))  # noqa: E731
    return (
        count(CardProposalBatch),
        count(CardProposal),
        count(PartyCard),
        count(BadgeProposal),
        count(BadgeAward),
        tuple(session.execute(select(CardProposal.id, CardProposal.state).order_by("id"))),
        tuple(session.execute(select(BadgeProposal.id, BadgeProposal.state).order_by("id"))),
        tuple(session.execute(select(Member.id, Member.card_number).order_by("id"))),
        tuple(session.execute(select(BadgeAward.id, BadgeAward.lost_on).order_by("id"))),
    )


@pytest.mark.parametrize(
    ("row", "who"),
    CASES,
    ids=[f"{row.command.__name__}-{who}" for row, who in CASES],
)
def test_card_and_badge_commands_refuse_and_write_nothing(app, db_session, world, row, who):
    if who == "outside":  # the right role, the other district
        requester = Requester(user_id=None, roles=frozenset({row.role}), scope=world["D2"])
    else:  # the right district, a role that may not act
        requester = Requester(user_id=None, roles=frozenset({who}), scope=world["D1"])
    before = written(db_session)
    with pytest.raises((Forbidden, NotFound, ValidationFailed)) as refused:
        row.run(db_session, requester, world)
    db_session.rollback()
    if who == "outside":
        if isinstance(refused.value, ValidationFailed):  # a proposal's members, field by field
            messages = {m for msgs in refused.value.errors.values() for m, _ in msgs}
            assert messages <= NOT_THERE, refused.value.errors
        else:
            assert isinstance(refused.value, NotFound)
    else:
        assert isinstance(refused.value, Forbidden)
    assert written(db_session) == before


def test_the_same_requests_work_for_the_right_role_in_scope(app, db_session, world):
    """The rows are not refused for a reason of their own: the right role inside the
    scope runs every one of them."""
    for row in ROWS:
        requester = Requester(user_id=None, roles=frozenset({row.role}), scope=world["D1"])
        row.run(db_session, requester, world)


def test_every_card_and_badge_command_has_a_row():
    listed = {f"{row.command.__module__}.{row.command.__name__}" for row in ROWS}
    commands = {
        name
        for name in COMMANDS
        if name.startswith(("webapp.domain.cards.", "webapp.domain.badges."))
    }
    assert commands == listed
