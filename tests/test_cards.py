"""Party cards: the commands' rules table by table, four-eyes, numbering, re-issue,
withdrawal on leaving, and two managers at once on PostgreSQL; then the screens, the API
and the CLI on top of the same commands."""

from __future__ import annotations

import csv
import re
import threading
import time
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conftest import DATABASE_URL, login, run_flask
from factories import SYSTEM, as_requester, make_member, make_tree
from helpers import vietnamese
from webapp.cli import create_user
from webapp.domain.cards import (
    CardRequest,
    allocate_card_number,
    decide_cards,
    issue_cards,
    propose_cards,
)
from webapp.domain.commands import transaction
from webapp.domain.errors import DomainError, Forbidden, NotFound, ValidationFailed
from webapp.domain.events import EventInput, open_ledger, record_event
from webapp.extensions import db
from webapp.models import AuditEntry, CardProposal, CardProposalBatch, Member, PartyCard
from webapp.models.cards import CardReason, CardState, ProposalState
from webapp.models.member import MemberStatus

PASSWORD = "Cards-Pass-123"
PREFIX = "37"


def user_id(app, username):
    return app.appbuilder.sm.find_user(username=username).id


@pytest.fixture()
def world(app, db_session):
    tree = make_tree(db_session)
    members = {
        "new": make_member(db_session, tree["C1"], birth_name="Nguyễn Thị Mới"),
        "new2": make_member(db_session, tree["C2"], birth_name="Trần Văn Hai"),
        "carded": make_member(
            db_session,
            tree["C1"],
            birth_name="Lê Văn Thẻ",
            card_number="37.000001",
            card_issued_on=date(2007, 5, 19),
        ),
        "probationary": make_member(
            db_session,
            tree["C1"],
            birth_name="Phạm Dự Bị",
            status=MemberStatus.PROBATIONARY,
            official_on=None,
            admitted_on=date(2025, 6, 1),
        ),
        "sibling": make_member(db_session, tree["C3"], birth_name="Quách Thị Bên"),
    }
    for member in members.values():
        open_ledger(db_session, SYSTEM, member.id)
    db_session.commit()
    create_user("clerk_c", "Clerk", "P.01", PASSWORD)
    create_user("manager_c", "Manager", "P.01", PASSWORD)
    create_user("manager_c2", "Manager", "P.01", PASSWORD)
    create_user("leader_c", "Leader", "P.01", PASSWORD)
    scope = tree["D1"].path
    return {"tree": tree, "members": members, "scope": scope}


def counts(session):
    session.expire_all()
    return (
        session.scalar(select(func.count(CardProposalBatch.id))),
        session.scalar(select(func.count(CardProposal.id))),
        session.scalar(select(func.count(PartyCard.id))),
    )


def ids(members, *names):
    return [members[n].id for n in names]


# --- Proposing: who may be proposed, and with what ------------------------------------

REFUSED_PROPOSALS = [
    # (member, reason, explanation, photo, expected msgid)
    (
        "probationary",
        CardReason.NEW_OFFICIAL,
        None,
        None,
        "%(name)s (%(number)s) is a probationary member; cards are issued to official members only.",
    ),
    (
        "deceased",
        CardReason.NEW_OFFICIAL,
        None,
        None,
        "%(name)s (%(number)s) has died; no card can be proposed.",
    ),
    (
        "transferred",
        CardReason.NEW_OFFICIAL,
        None,
        None,
        "%(name)s (%(number)s) has transferred out of this Party organisation; no card can be proposed.",
    ),
    (
        "left",
        CardReason.NEW_OFFICIAL,
        None,
        None,
        "%(name)s (%(number)s) has left the Party; no card can be proposed.",
    ),
    (
        "carded",
        CardReason.NEW_OFFICIAL,
        None,
        None,
        "%(name)s (%(number)s) already has card %(card)s; propose a new one for a lost or damaged card or a changed name.",
    ),
    (
        "new",
        CardReason.LOST,
        "Mất khi đi công tác",
        "ANH-01",
        "%(name)s (%(number)s) has no card yet; propose a first card.",
    ),
    (
        "carded",
        CardReason.LOST,
        "",
        "ANH-01",
        "%(name)s (%(number)s): explain how the card was lost or damaged.",
    ),
    (
        "carded",
        CardReason.DAMAGED,
        "Thẻ bị ướt",
        " ",
        "%(name)s (%(number)s): enter the reference of the photo handed in.",
    ),
    ("carded", "stolen", None, None, "%(name)s (%(number)s): choose the reason for the card."),
    ("sibling", CardReason.NEW_OFFICIAL, None, None, "The member does not exist."),
    (
        "other_cell",
        CardReason.NEW_OFFICIAL,
        None,
        None,
        "%(name)s (%(number)s) does not belong to %(unit)s.",
    ),
]


@pytest.mark.parametrize(
    ("who", "reason", "explanation", "photo", "message"),
    REFUSED_PROPOSALS,
    ids=[f"{w}-{r}" for w, r, *_ in REFUSED_PROPOSALS],
)
def test_refused_proposals_change_nothing(
    app, db_session, world, who, reason, explanation, photo, message
):
    tree, members = world["tree"], world["members"]
    if who in ("deceased", "transferred", "left"):
        member = make_member(db_session, tree["C1"], birth_name=f"Người {who}")
        open_ledger(db_session, SYSTEM, member.id)
        kind = {"deceased": "death", "transferred": "transfer_out", "left": "resignation"}[who]
        record_event(
            db_session,
            SYSTEM,
            member.id,
            EventInput(kind=kind, effective_on=date(2024, 1, 1), other_organisation="Tỉnh khác"),
        )
        members = {**members, who: member}
    batch_unit = tree["C1"] if who == "other_cell" else tree["G1"]
    members = {**members, "other_cell": members["new2"]}  # a member of C2, in a batch of C1
    before = counts(db_session)
    with pytest.raises(ValidationFailed) as refused:
        propose_cards(
            db_session,
            as_requester(user_id(app, "clerk_c"), world["scope"]),
            batch_unit.id,
            [CardRequest(members[who].id, reason, explanation, photo)],
        )
    db_session.rollback()
    assert [m for m, _ in refused.value.errors["members"]] == [message]
    assert vietnamese(app, message, **refused.value.errors["members"][0][1])
    assert counts(db_session) == before


def test_a_member_already_proposed_and_an_empty_list_are_refused(app, db_session, world):
    members, tree = world["members"], world["tree"]
    clerk = user_id(app, "clerk_c")
    propose_cards(
        db_session,
        as_requester(clerk, world["scope"]),
        tree["G1"].id,
        [CardRequest(members["new"].id)],
    )
    before = counts(db_session)
    with pytest.raises(ValidationFailed) as refused:
        propose_cards(
            db_session,
            as_requester(clerk, world["scope"]),
            tree["G1"].id,
            [CardRequest(members["new"].id), CardRequest(members["new2"].id)],
        )
    db_session.rollback()
    assert refused.value.errors["members"] == [
        (
            "%(name)s (%(number)s) is already proposed for a card.",
            {"name": "Nguyễn Thị Mới", "number": members["new"].member_number},
        )
    ]
    with pytest.raises(ValidationFailed):
        propose_cards(db_session, as_requester(clerk, world["scope"]), tree["G1"].id, [])
    db_session.rollback()
    with pytest.raises(ValidationFailed):  # a unit outside the scope
        propose_cards(
            db_session,
            as_requester(clerk, world["scope"]),
            tree["D2"].id,
            [CardRequest(members["new2"].id)],
        )
    db_session.rollback()
    assert counts(db_session) == before


# --- Deciding and issuing --------------------------------------------------------------


def propose(app, db_session, world, *names, reason=CardReason.NEW_OFFICIAL, **extra):
    batch = propose_cards(
        db_session,
        as_requester(user_id(app, "clerk_c"), world["scope"]),
        world["tree"]["G1"].id,
        [CardRequest(world["members"][n].id, reason, **extra) for n in names],
    )
    return [p.id for p in batch.proposals]


def test_full_round_numbers_cards_and_records_them_on_the_member(app, db_session, world):
    proposal_ids = propose(app, db_session, world, "new", "new2")
    manager = user_id(app, "manager_c")
    decide_cards(
        db_session,
        as_requester(manager, world["scope"]),
        proposal_ids,
        True,
        comment="Đủ điều kiện",
    )
    cards = issue_cards(
        db_session,
        as_requester(manager, world["scope"]),
        proposal_ids,
        prefix=PREFIX,
        issued_on=date(2026, 5, 19),
    )
    # 37.000001 is the number on a paper record: skipped, never handed out twice.
    assert [c.number for c in cards] == ["37.000002", "37.000003"]
    db_session.expire_all()
    for name, number in (("new", "37.000002"), ("new2", "37.000003")):
        member = db_session.get(Member, world["members"][name].id)
        assert (member.card_number, member.card_issued_on) == (number, date(2026, 5, 19))
    states = set(db_session.scalars(select(CardProposal.state)))
    assert states == {ProposalState.ISSUED}
    audited = set(
        db_session.execute(
            select(AuditEntry.object_type, AuditEntry.action).where(
                AuditEntry.object_type.in_(["CardProposal", "CardProposalBatch", "PartyCard"])
            )
        ).all()
    )
    assert audited >= {
        ("CardProposalBatch", "create"),
        ("CardProposal", "create"),
        ("CardProposal", "update"),
        ("PartyCard", "create"),
    }


def test_four_eyes_the_proposer_never_decides(app, db_session, world):
    proposal_ids = propose(app, db_session, world, "new")
    # The clerk who proposed may not decide at all (the role table) …
    with pytest.raises(Forbidden):
        decide_cards(
            db_session, as_requester(user_id(app, "clerk_c"), world["scope"]), proposal_ids, True
        )
    # … and someone whose role may both propose and decide (an Admin) never decides
    # their own proposal.
    admin = as_requester(user_id(app, "admin"), None)
    batch = propose_cards(
        db_session, admin, world["tree"]["G1"].id, [CardRequest(world["members"]["new2"].id)]
    )
    with pytest.raises(ValidationFailed) as refused:
        decide_cards(db_session, admin, [batch.proposals[0].id], True)
    db_session.rollback()
    assert "four-eyes" in refused.value.errors["members"][0][0]
    assert db_session.get(CardProposal, proposal_ids[0]).state == ProposalState.PROPOSED
    assert db_session.get(CardProposal, batch.proposals[0].id).state == ProposalState.PROPOSED


ILLEGAL_TRANSITIONS = [
    # (steps before, command, expected msgid)
    (["approve"], "approve", "The proposal for %(name)s (%(number)s) has already been approved."),
    (["reject"], "approve", "The proposal for %(name)s (%(number)s) has already been rejected."),
    (["approve"], "reject", "The proposal for %(name)s (%(number)s) has already been approved."),
    (
        [],
        "issue",
        "The proposal for %(name)s (%(number)s) is not approved; only approved proposals are issued.",
    ),
    (
        ["reject"],
        "issue",
        "The proposal for %(name)s (%(number)s) is not approved; only approved proposals are issued.",
    ),
    (["approve", "issue"], "issue", "The card for %(name)s (%(number)s) has already been issued."),
    (
        ["approve", "issue"],
        "approve",
        "The card for %(name)s (%(number)s) has already been issued.",
    ),
]


@pytest.mark.parametrize(("before", "command", "message"), ILLEGAL_TRANSITIONS)
def test_illegal_transitions_are_refused(app, db_session, world, before, command, message):
    proposal_ids = propose(app, db_session, world, "new")
    manager = user_id(app, "manager_c")

    def run(step):
        if step == "approve":
            decide_cards(db_session, as_requester(manager, world["scope"]), proposal_ids, True)
        elif step == "reject":
            decide_cards(
                db_session,
                as_requester(manager, world["scope"]),
                proposal_ids,
                False,
                comment="Thiếu ảnh",
            )
        else:
            issue_cards(
                db_session, as_requester(manager, world["scope"]), proposal_ids, prefix=PREFIX
            )

    for step in before:
        run(step)
    db_session.expire_all()
    state = db_session.get(CardProposal, proposal_ids[0]).state
    cards = db_session.scalar(select(func.count(PartyCard.id)))
    with pytest.raises(ValidationFailed) as refused:
        run(command)
    db_session.rollback()
    assert refused.value.errors["members"][0][0] == message
    db_session.expire_all()
    assert db_session.get(CardProposal, proposal_ids[0]).state == state
    assert db_session.scalar(select(func.count(PartyCard.id))) == cards


def test_a_member_who_dies_before_the_decision_is_not_approved(app, db_session, world):
    proposal_ids = propose(app, db_session, world, "new")
    record_event(
        db_session,
        SYSTEM,
        world["members"]["new"].id,
        EventInput(kind="death", effective_on=date(2026, 1, 5)),
    )
    with pytest.raises(ValidationFailed) as refused:
        decide_cards(
            db_session, as_requester(user_id(app, "manager_c"), world["scope"]), proposal_ids, True
        )
    db_session.rollback()
    assert refused.value.errors["members"][0][0] == (
        "%(name)s (%(number)s) has died; no card can be proposed."
    )
    # rejecting it stays possible
    decide_cards(
        db_session,
        as_requester(user_id(app, "manager_c"), world["scope"]),
        proposal_ids,
        False,
        comment="Đã từ trần",
    )
    assert db_session.get(CardProposal, proposal_ids[0]).state == ProposalState.REJECTED


def test_rejection_needs_a_reason_and_outsiders_find_nothing(app, db_session, world):
    proposal_ids = propose(app, db_session, world, "new")
    with pytest.raises(ValidationFailed) as refused:
        decide_cards(
            db_session, as_requester(user_id(app, "manager_c"), world["scope"]), proposal_ids, False
        )
    assert refused.value.errors["comment"][0][0] == "Give the reason for the rejection."
    db_session.rollback()
    with pytest.raises(NotFound):
        decide_cards(
            db_session,
            as_requester(user_id(app, "manager_c"), world["tree"]["D2"].path),
            proposal_ids,
            True,
        )
    db_session.rollback()


def test_lost_card_is_reissued_and_the_old_one_revoked(app, db_session, world):
    proposal_ids = propose(
        app,
        db_session,
        world,
        "carded",
        reason=CardReason.LOST,
        explanation="Mất khi đi công tác",
        photo_reference="ANH-2026-04",
    )
    manager = user_id(app, "manager_c")
    decide_cards(db_session, as_requester(manager, world["scope"]), proposal_ids, True)
    (card,) = issue_cards(
        db_session, as_requester(manager, world["scope"]), proposal_ids, prefix=PREFIX
    )
    db_session.expire_all()
    member = db_session.get(Member, world["members"]["carded"].id)
    old = db_session.scalar(select(PartyCard).where(PartyCard.number == "37.000001"))
    assert member.card_number == card.number == "37.000002"
    assert old.state == CardState.REVOKED and old.member_id == member.id
    # and the next number after a revoked one is still new
    assert allocate_card_number(db_session, PREFIX) == "37.000003"
    db_session.rollback()


def test_a_card_of_a_member_who_leaves_is_withdrawn(app, db_session, world):
    member = world["members"]["carded"]
    record_event(
        db_session, SYSTEM, member.id, EventInput(kind="resignation", effective_on=date(2025, 3, 1))
    )
    db_session.expire_all()
    card = db_session.scalar(select(PartyCard).where(PartyCard.number == "37.000001"))
    assert (card.state, card.ended_on) == (CardState.WITHDRAWN, date(2025, 3, 1))
    assert db_session.get(Member, member.id).card_number is None


def test_bad_prefix_is_refused(app, db_session, world):
    proposal_ids = propose(app, db_session, world, "new")
    manager = user_id(app, "manager_c")
    decide_cards(db_session, as_requester(manager, world["scope"]), proposal_ids, True)
    with pytest.raises(DomainError) as refused:
        issue_cards(db_session, as_requester(manager, world["scope"]), proposal_ids, prefix="7")
    db_session.rollback()
    assert "CARD_NUMBER_PREFIX" in refused.value.message
    assert db_session.get(CardProposal, proposal_ids[0]).state == ProposalState.APPROVED


# --- Two managers at once (parallel transactions on PostgreSQL) ------------------------


def _in_own_session(app, work):
    """Run `work(session)` in a fresh session on its own connection; return result or error."""
    from webapp.extensions import db

    with app.app_context():
        session = Session(db.engine)
        try:
            return work(session)
        except DomainError as error:
            session.rollback()
            return error
        finally:
            session.close()


@pytest.mark.server_only
@pytest.mark.skipif(not (DATABASE_URL or "").startswith("postgresql"), reason="needs PostgreSQL")
@pytest.mark.parametrize("command", ["approve", "issue"])
def test_two_managers_on_the_same_batch_one_wins(app, db_session, world, command):
    proposal_ids = propose(app, db_session, world, "new", "new2")
    if command == "issue":
        decide_cards(
            db_session, as_requester(user_id(app, "manager_c"), world["scope"]), proposal_ids, True
        )
    db_session.commit()
    cards_before = db_session.scalar(select(func.count(PartyCard.id)))  # the carded member's
    managers = [
        as_requester(user_id(app, name), world["scope"]) for name in ("manager_c", "manager_c2")
    ]
    first_holds_lock = threading.Event()
    results = {}

    def act(session, manager, hold):
        with transaction(session):  # the commands join it: the locks last until its end
            if command == "approve":
                decide_cards(session, manager, proposal_ids, True)
            else:
                issue_cards(session, manager, proposal_ids, prefix=PREFIX)
            if hold:
                first_holds_lock.set()
                time.sleep(0.5)  # the other manager is now waiting on the row locks
        return "ok"

    def first():
        results["first"] = _in_own_session(app, lambda s: act(s, managers[0], True))

    def second():
        first_holds_lock.wait(10)
        results["second"] = _in_own_session(app, lambda s: act(s, managers[1], False))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results["first"] == "ok"
    assert isinstance(results["second"], ValidationFailed)
    expected = {
        "approve": "The proposal for %(name)s (%(number)s) has already been approved.",
        "issue": "The card for %(name)s (%(number)s) has already been issued.",
    }[command]
    assert {m for m, _ in results["second"].errors["members"]} == {expected}
    db_session.expire_all()
    numbers = db_session.scalars(
        select(PartyCard.number).where(PartyCard.state == CardState.VALID)
    ).all()
    assert len(numbers) == len(set(numbers))
    if command == "issue":
        assert db_session.scalar(select(func.count(PartyCard.id))) == cards_before + 2


@pytest.mark.server_only
@pytest.mark.skipif(not (DATABASE_URL or "").startswith("postgresql"), reason="needs PostgreSQL")
def test_parallel_issues_of_different_batches_never_share_a_number(app, db_session, world):
    tree = world["tree"]
    extra = [make_member(db_session, tree["C1"], birth_name=f"Đảng Viên {i}") for i in range(8)]
    db_session.commit()
    clerk, manager = user_id(app, "clerk_c"), user_id(app, "manager_c")
    batches = []
    for chunk in (extra[:4], extra[4:]):
        batch = propose_cards(
            db_session,
            as_requester(clerk, world["scope"]),
            tree["G1"].id,
            [CardRequest(m.id) for m in chunk],
        )
        decide_cards(
            db_session, as_requester(manager, world["scope"]), [p.id for p in batch.proposals], True
        )
        batches.append([p.id for p in batch.proposals])
    barrier = threading.Barrier(2)
    results = []

    def issue(proposal_ids):
        def work(session):
            barrier.wait(10)
            cards = issue_cards(
                session, as_requester(manager, world["scope"]), proposal_ids, prefix=PREFIX
            )
            return [c.number for c in cards]

        results.append(_in_own_session(app, work))

    threads = [threading.Thread(target=issue, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    numbers = [n for r in results for n in r]
    assert len(numbers) == 8 and len(set(numbers)) == 8
    assert all(re.fullmatch(r"37\.\d{6}", n) for n in numbers)
    assert "37.000001" not in numbers


# --- Screens, API and CLI: the same commands behind them --------------------------------


def client_for(app, username):
    client = app.test_client()
    login(client, username, PASSWORD)
    return client


def token_for(app, username):
    client = app.test_client()
    response = client.post(
        "/api/v1/security/login",
        json={"username": username, "password": PASSWORD, "provider": "db"},
    )
    return client, {"Authorization": f"Bearer {response.json['access_token']}"}


def test_screens_clerk_proposes_manager_decides_and_issues(app, db_session, world):
    members, tree = world["members"], world["tree"]
    clerk = client_for(app, "clerk_c")
    page = clerk.get("/cards/needing")
    assert page.status_code == 200
    assert "Nguyễn Thị Mới" in page.text and "Quách Thị Bên" not in page.text  # scope
    assert "Phạm Dự Bị" not in page.text and "Lê Văn Thẻ" not in page.text
    response = clerk.post(
        "/cards/propose",
        data={"unit_id": tree["G1"].id, "selected": ids(members, "new", "new2")},
    )
    batch = db_session.scalar(select(CardProposalBatch))
    assert response.status_code == 302 and f"/cards/show/{batch.id}" in response.location
    page = clerk.get(f"/cards/show/{batch.id}")
    assert "Nguyễn Thị Mới" in page.text and "approve-selected" not in page.text
    proposal_ids = [str(p.id) for p in batch.proposals]
    # the clerk cannot decide (no permission): nothing changes
    clerk.post(f"/cards/decide/{batch.id}", data={"decision": "approve", "selected": proposal_ids})
    db_session.expire_all()
    assert {p.state for p in db_session.get(CardProposalBatch, batch.id).proposals} == {
        ProposalState.PROPOSED
    }
    manager = client_for(app, "manager_c")
    assert f"/cards/show/{batch.id}" in manager.get("/cards/list/").text
    leader = client_for(app, "leader_c")
    page = leader.get(f"/cards/show/{batch.id}")
    assert "Nguyễn Thị Mới" in page.text and "approve-selected" not in page.text
    assert leader.get("/cards/needing").status_code != 200
    home = manager.get("/")
    assert 'id="count-cards-to-decide">2<' in home.text
    page = manager.get(f"/cards/show/{batch.id}")
    assert "approve-selected" in page.text and "issue-selected" in page.text
    page = manager.post(
        f"/cards/decide/{batch.id}",
        data={"decision": "approve", "selected": proposal_ids, "comment": "Đồng ý"},
        follow_redirects=True,
    )
    assert vietnamese(app, "The selected proposals have been approved.") in page.text
    # approving twice: a clear message, nothing changed
    page = manager.post(
        f"/cards/decide/{batch.id}",
        data={"decision": "approve", "selected": proposal_ids},
        follow_redirects=True,
    )
    assert (
        vietnamese(
            app,
            "The proposal for %(name)s (%(number)s) has already been approved.",
            name="Nguyễn Thị Mới",
            number=members["new"].member_number,
        )
        in page.text
    )
    page = manager.post(
        f"/cards/issue/{batch.id}",
        data={"selected": proposal_ids, "issued_on": "19/05/2026"},
        follow_redirects=True,
    )
    assert vietnamese(app, "The cards have been issued.") in page.text
    assert "37.000002" not in page.text  # the instance's prefix is the configured one
    db_session.expire_all()
    number = db_session.get(Member, members["new"].id).card_number
    assert re.fullmatch(r"\d{2}\.\d{6}", number) and number in page.text
    member_page = manager.get(f"/membermodelview/show/{members['new'].id}")
    assert number in member_page.text


def test_bad_input_on_the_screens_answers_with_a_message(app, db_session, world):
    members, tree = world["members"], world["tree"]
    before = counts(db_session)  # (0, 0, 1): the carded member's card is in the registry
    clerk = client_for(app, "clerk_c")
    page = clerk.post(
        "/cards/propose",
        data={"unit_id": tree["G1"].id, "selected": ids(members, "probationary")},
        follow_redirects=True,
    )
    assert page.status_code == 200
    assert "dự bị" in page.text.lower()
    page = clerk.post(
        "/cards/propose",
        data={"unit_id": "abc", "selected": ["x", "99999999999"]},
        follow_redirects=True,
    )
    assert page.status_code == 200
    page = clerk.post(
        f"/cards/propose-one/{members['carded'].id}",
        data={"reason": "lost", "explanation": "", "photo_reference": ""},
    )
    assert page.status_code == 200
    assert (
        vietnamese(
            app,
            "%(name)s (%(number)s): explain how the card was lost or damaged.",
            name="Lê Văn Thẻ",
            number=members["carded"].member_number,
        )
        in page.text
    )
    assert counts(db_session) == before == (0, 0, 1)
    assert clerk.get(f"/cards/propose-one/{members['sibling'].id}").status_code == 404
    # from the member page, a lost card with its explanation and photo reference
    assert "propose-card-link" in clerk.get(f"/membermodelview/show/{members['carded'].id}").text
    response = clerk.post(
        f"/cards/propose-one/{members['carded'].id}",
        data={"reason": "lost", "explanation": "Mất khi đi lũ", "photo_reference": "ANH-12"},
    )
    assert response.status_code == 302
    proposal = db_session.scalar(select(CardProposal))
    assert (proposal.reason, proposal.explanation, proposal.photo_reference) == (
        "lost",
        "Mất khi đi lũ",
        "ANH-12",
    )
    manager = client_for(app, "manager_c")
    assert (
        "propose-card-link" not in manager.get(f"/membermodelview/show/{members['carded'].id}").text
    )
    assert clerk.get("/cards/show/999999").status_code == 404


def test_api_proposes_decides_and_issues_with_the_same_rules(app, db_session, world):
    members, tree = world["members"], world["tree"]
    clerk, clerk_headers = token_for(app, "clerk_c")
    response = clerk.post(
        "/api/v1/card-proposals/",
        json={"unit": tree["G1"].id, "proposals": [{"member": members["probationary"].id}]},
        headers=clerk_headers,
    )
    assert response.status_code == 422
    assert "dự bị" in str(response.json["message"]).lower()
    response = clerk.post(
        "/api/v1/card-proposals/",
        json={
            "unit": tree["G1"].id,
            "proposals": [
                {"member": members["new"].id},
                {
                    "member": members["carded"].id,
                    "reason": "damaged",
                    "explanation": "Thẻ bị rách",
                    "photo_reference": "ANH-7",
                },
            ],
        },
        headers=clerk_headers,
    )
    assert response.status_code == 201, response.json
    proposal_ids = response.json["ids"]
    response = clerk.post(
        "/api/v1/card-proposals/decide",
        json={"ids": proposal_ids, "approve": True},
        headers=clerk_headers,
    )
    assert response.status_code in (401, 403)
    manager, manager_headers = token_for(app, "manager_c")
    for payload in (
        {"ids": proposal_ids},
        {"ids": "x", "approve": True},
        {"ids": [None], "approve": True},
        {"ids": [None, proposal_ids[0]], "approve": True},
        {"ids": [""], "approve": True},
        [1, 2],
    ):
        response = manager.post(
            "/api/v1/card-proposals/decide", json=payload, headers=manager_headers
        )
        assert response.status_code in (400, 422)
    response = manager.post(
        "/api/v1/card-proposals/decide",
        json={"ids": proposal_ids, "approve": True},
        headers=manager_headers,
    )
    assert response.status_code == 200
    response = manager.post(
        "/api/v1/card-proposals/issue",
        json={"ids": proposal_ids, "issued_on": "2099-01-01"},
        headers=manager_headers,
    )
    assert response.status_code == 422
    response = manager.post(
        "/api/v1/card-proposals/issue", json={"ids": proposal_ids}, headers=manager_headers
    )
    assert response.status_code == 200
    numbers = [c["number"] for c in response.json["cards"]]
    assert len(set(numbers)) == 2
    listed = manager.get("/api/v1/card-proposals/", headers=manager_headers).json
    assert {r["state"] for r in listed["result"]} == {"issued"}
    # outside the scope: not found
    leader_other = create_user("manager_d2", "Manager", "P.02", PASSWORD)
    assert leader_other
    other, other_headers = token_for(app, "manager_d2")
    assert (
        other.get(f"/api/v1/card-proposals/{proposal_ids[0]}", headers=other_headers).status_code
        == 404
    )
    response = other.post(
        "/api/v1/card-proposals/decide",
        json={"ids": proposal_ids, "approve": False, "comment": "x"},
        headers=other_headers,
    )
    assert response.status_code == 404


def test_cli_cards_pending_writes_the_waiting_members(app, db_session, world, tmp_path):
    members = world["members"]
    propose(app, db_session, world, "new")
    output = tmp_path / "pending.csv"
    result = run_flask("cards", "pending", "--unit", "P.01", "-o", str(output))
    assert result.returncode == 0, result.stderr
    with output.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    by_number = {r["member_number"]: r for r in rows}
    assert by_number[members["new"].member_number]["state"] == "proposed"
    assert by_number[members["new2"].member_number]["state"] == "not_proposed"
    assert members["sibling"].member_number not in by_number
    assert members["probationary"].member_number not in by_number
    bad = run_flask("cards", "pending", "--unit", "NOPE", "-o", str(output))
    assert bad.returncode != 0 and "Unknown unit code NOPE" in bad.stderr


def pdf_text(path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_printables_from_the_batch_page_run_on_a_real_worker(
    app, db_session, world, redis_conn, tmp_path
):
    from openpyxl import load_workbook

    from conftest import run_worker_burst
    from webapp.models import ReportRun
    from webapp.reports.runs import execute_run, request_report

    proposal_ids = propose(app, db_session, world, "new", "new2")
    manager = user_id(app, "manager_c")
    decide_cards(db_session, as_requester(manager, world["scope"]), proposal_ids, True)
    cards = issue_cards(
        db_session, as_requester(manager, world["scope"]), proposal_ids, prefix=PREFIX
    )
    batch_id = db_session.get(CardProposal, proposal_ids[0]).batch_id
    client = client_for(app, "manager_c")
    response = client.post(f"/cards/print/{batch_id}", data={"report": "card-decision"})
    assert response.status_code == 302
    run = db_session.scalar(select(ReportRun).where(ReportRun.report == "card-decision"))
    assert run.parameters == {"batch_id": batch_id}
    assert client.post(f"/cards/print/{batch_id}", data={"report": "nope"}).status_code == 400
    # print selected: only the chosen rows
    client.post(
        f"/cards/print/{batch_id}", data={"report": "card-handover", "selected": proposal_ids[1]}
    )
    selected_run = db_session.scalar(select(ReportRun).where(ReportRun.report == "card-handover"))
    assert selected_run.parameters == {"batch_id": batch_id, "proposal_ids": [proposal_ids[1]]}
    result = run_worker_burst()
    assert result.returncode == 0, result.stderr
    db_session.expire_all()
    run = db_session.get(ReportRun, run.id)
    assert run.state == "done", run.error
    selected_text = pdf_text(db_session.get(ReportRun, selected_run.id).file_path)
    assert cards[1].number in selected_text and cards[0].number not in selected_text
    assert "Trần Văn Hai" in selected_text and "Nguyễn Thị Mới" not in selected_text
    text = pdf_text(run.file_path)
    assert "QUYẾT ĐỊNH VỀ VIỆC CẤP THẺ ĐẢNG VIÊN" in text
    assert "Nguyễn Thị Mới" in text and cards[0].number in text
    unit_id = world["tree"]["G1"].id
    for report, words in (
        ("card-proposals", ["DANH SÁCH ĐỀ NGHỊ CẤP THẺ ĐẢNG VIÊN", "Đảng viên mới chính thức"]),
        ("card-handover", ["DANH SÁCH GIAO NHẬN THẺ ĐẢNG VIÊN", "Ký nhận", cards[1].number]),
    ):
        done = execute_run(
            request_report(
                db.session, SYSTEM, report, "pdf", unit_id, {"batch_id": batch_id}, queue=False
            ).id
        )
        text = pdf_text(done.file_path)
        for word in words:
            assert word in text, (report, word)
    done = execute_run(
        request_report(
            db.session,
            SYSTEM,
            "card-printer-data",
            "xlsx",
            unit_id,
            {"batch_id": batch_id},
            queue=False,
        ).id
    )
    sheet = load_workbook(done.file_path).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Số thẻ" and {r[0] for r in rows[1:]} == {c.number for c in cards}
    done = execute_run(
        request_report(db.session, SYSTEM, "card-printer-data", "csv", unit_id, queue=False).id
    )
    with open(done.file_path, encoding="utf-8-sig") as handle:
        assert {r["Số thẻ"] for r in csv.DictReader(handle)} >= {c.number for c in cards}


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ({"batch_id": "3", "as_of": "2026-01-01"}, {"batch_id": 3}),
        ({"proposal_ids": ["2", 1]}, {"proposal_ids": [1, 2]}),
        ({"occasion": "2026-05-19", "batch_id": ""}, {"occasion": "2026-05-19"}),
        ({"batch_id": "x"}, None),
        ({"proposal_ids": ["1", None]}, None),
        # The one date parser takes dd/mm/yyyy too.
        ({"occasion": "19/05/2026"}, {"occasion": "2026-05-19"}),
        ({"occasion": "31/02/2026"}, None),
    ],
)
def test_report_parameters_of_cards_and_badges_are_checked(raw, kept):
    from webapp.reports.cards_badges import card_and_badge_parameters

    if kept is None:
        with pytest.raises(ValidationFailed):
            card_and_badge_parameters(raw)
    else:
        assert card_and_badge_parameters(raw) == kept
