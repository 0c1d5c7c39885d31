"""One truth for the card number (issue 12, item 7): the member's card number is the
registry's current valid card. The demo creates registry rows with the configured prefix
and cards issued later continue its numbering; the database refuses a number on a record
that is not the member's own card; the member form and API no longer edit it; a card the
member already holds is entered through its own command (screen and API)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from conftest import login
from factories import SYSTEM, as_requester, make_member, make_tree
from helpers import vietnamese
from webapp.cli import create_user
from webapp.domain.cards import CardRequest, decide_cards, issue_cards, propose_cards, record_card
from webapp.domain.commands import Requester
from webapp.domain.errors import Forbidden, NotFound, ValidationFailed
from webapp.domain.events import EventInput, open_ledger, record_event
from webapp.models import Member, PartyCard
from webapp.models.cards import CardState

PASSWORD = "Registry-Pass-123"


def held_copies_match_the_registry(session) -> None:
    """Every number on a record is that member's valid card, and every valid card is on
    its member's record, with its date."""
    session.expire_all()
    on_records = set(
        session.execute(
            select(Member.id, Member.card_number, Member.card_issued_on).where(
                Member.card_number.is_not(None)
            )
        ).all()
    )
    valid = set(
        session.execute(
            select(PartyCard.member_id, PartyCard.number, PartyCard.issued_on).where(
                PartyCard.state == CardState.VALID
            )
        ).all()
    )
    assert on_records == valid


def test_demo_cards_are_registry_rows_with_the_configured_prefix(app, db_session):
    from webapp.demo import generate_province
    from webapp.domain.cards import members_needing_card

    prefix = app.config["CARD_NUMBER_PREFIX"]
    generate_province(db_session, members=80, seed=5)
    held_copies_match_the_registry(db_session)
    numbers = db_session.scalars(select(PartyCard.number)).all()
    assert len(numbers) > 40 and all(n.startswith(f"{prefix}.") for n in numbers)
    # A card issued after the demo continues its numbering.
    member = db_session.scalars(
        members_needing_card(db_session, None).order_by(Member.id).limit(1)
    ).first()
    system = Requester.system()
    batch = propose_cards(db_session, system, member.unit_id, [CardRequest(member.id)])
    ids = [p.id for p in batch.proposals]
    decide_cards(db_session, system, ids, True)
    (card,) = issue_cards(db_session, system, ids, prefix=prefix)
    assert card.number == f"{prefix}.{int(max(numbers)[3:]) + 1:06d}"
    held_copies_match_the_registry(db_session)


@pytest.fixture()
def world(app, db_session):
    tree = make_tree(db_session)
    members = {
        "new": make_member(db_session, tree["C1"], birth_name="Nguyễn Văn Chuyển Đến"),
        "carded": make_member(
            db_session,
            tree["C1"],
            birth_name="Lê Thị Có Thẻ",
            card_number="27.000010",
            card_issued_on=date(2001, 2, 3),
        ),
        "probationary": make_member(
            db_session,
            tree["C1"],
            birth_name="Phạm Văn Dự Bị",
            status="probationary",
            official_on=None,
            admitted_on=date(2025, 6, 1),
        ),
        "sibling": make_member(db_session, tree["C3"], birth_name="Quách Văn Bên"),
    }
    for member in members.values():
        open_ledger(db_session, SYSTEM, member.id)
    db_session.commit()
    create_user("clerk_r", "Clerk", "P.01", PASSWORD)
    create_user("manager_r", "Manager", "P.01", PASSWORD)
    return {"tree": tree, "members": members}


def clerk_of(app, world):
    user = app.appbuilder.sm.find_user(username="clerk_r")
    return as_requester(user.id, world["tree"]["D1"].path)


def test_the_database_refuses_a_number_that_is_not_the_members_card(app, db_session, world):
    members = world["members"]
    for number in ("27.000999", "27.000010"):  # on no card; on another member's card
        member = db_session.get(Member, members["new"].id)
        member.card_number = number
        with pytest.raises(IntegrityError):
            db_session.commit()
        db_session.rollback()
    assert db_session.get(Member, members["new"].id).card_number is None
    held_copies_match_the_registry(db_session)


def test_a_card_held_already_is_recorded_and_shown_on_the_record(app, db_session, world):
    members = world["members"]
    clerk = clerk_of(app, world)
    card = record_card(db_session, clerk, members["new"].id, " 27.004321 ", date(2009, 9, 2))
    db_session.expire_all()
    member = db_session.get(Member, members["new"].id)
    assert (card.number, card.state) == ("27.004321", CardState.VALID)
    assert (member.card_number, member.card_issued_on) == ("27.004321", date(2009, 9, 2))
    assert "27.004321" in member.search_key  # found by its card number
    held_copies_match_the_registry(db_session)
    # A member who has died held a card too; the paper record may not have its date.
    deceased = make_member(db_session, world["tree"]["C2"], birth_name="Hoàng Văn Cố")
    open_ledger(db_session, SYSTEM, deceased.id)
    record_event(
        db_session, SYSTEM, deceased.id, EventInput(kind="death", effective_on=date(2020, 1, 1))
    )
    card = record_card(db_session, clerk, deceased.id, "27.004322")
    assert card.issued_on is None
    assert db_session.get(Member, deceased.id).card_number == "27.004322"
    held_copies_match_the_registry(db_session)


REFUSED_RECORDS = [
    # (member, number, issued on, error, field, msgid)
    ("new", "274321", None, ValidationFailed, "number", "NN.NNNNNN"),
    ("new", "27.000010", None, ValidationFailed, "number", "already in the card registry"),
    ("carded", "27.000011", None, ValidationFailed, "members", "already has card"),
    ("probationary", "27.000012", None, ValidationFailed, "members", "probationary"),
    ("new", "27.000013", date(2099, 1, 1), ValidationFailed, "issued_on", "future"),
    ("new", "27.000014", date(1990, 1, 1), ValidationFailed, "issued_on", "before the date"),
    ("sibling", "27.000015", None, NotFound, None, "does not exist"),
]


@pytest.mark.parametrize(("who", "number", "issued_on", "error", "field", "words"), REFUSED_RECORDS)
def test_refused_records_write_nothing(
    app, db_session, world, who, number, issued_on, error, field, words
):
    member_id = world["members"][who].id
    before = db_session.scalar(select(func.count(PartyCard.id)))
    with pytest.raises(error) as refused:
        record_card(db_session, clerk_of(app, world), member_id, number, issued_on)
    db_session.rollback()
    if field is None:
        assert words in refused.value.message
    else:
        ((msgid, params),) = refused.value.errors[field]
        assert words in msgid
        assert vietnamese(app, msgid, **params)
    assert db_session.scalar(select(func.count(PartyCard.id))) == before
    held_copies_match_the_registry(db_session)


def test_a_manager_does_not_record_cards(app, db_session, world):
    user = app.appbuilder.sm.find_user(username="manager_r")
    with pytest.raises(Forbidden):
        record_card(
            db_session,
            as_requester(user.id, world["tree"]["D1"].path),
            world["members"]["new"].id,
            "27.000020",
        )


def test_leaving_withdraws_the_card_and_clears_the_record(app, db_session, world):
    member = world["members"]["carded"]
    record_event(
        db_session, SYSTEM, member.id, EventInput(kind="resignation", effective_on=date(2025, 3, 1))
    )
    held_copies_match_the_registry(db_session)
    card = db_session.scalar(select(PartyCard).where(PartyCard.number == "27.000010"))
    assert card.state == CardState.WITHDRAWN


def client_for(app, username):
    client = app.test_client()
    login(client, username, PASSWORD)
    return client


def test_the_member_form_and_api_no_longer_edit_the_card_number(app, db_session, world):
    member = world["members"]["carded"]
    clerk = client_for(app, "clerk_r")
    page = clerk.get(f"/membermodelview/edit/{member.id}")
    assert page.status_code == 200 and 'name="card_number"' not in page.text
    assert 'name="card_issued_on"' not in page.text
    assert 'name="card_number"' not in clerk.get("/membermodelview/add").text
    clerk.post(
        f"/membermodelview/edit/{member.id}",
        data={
            "member_number": member.member_number,
            "birth_name": member.birth_name,
            "sex": "male",
            "birth_date": "19/05/1980",
            "birth_date_precision": "day",
            "card_number": "27.000999",
            "version_id": str(member.version_id),
        },
    )
    db_session.expire_all()
    assert db_session.get(Member, member.id).card_number == "27.000010"
    # The member page still shows it, from the registry's copy; search finds it.
    assert "27.000010" in clerk.get(f"/membermodelview/show/{member.id}").text
    found = clerk.get("/membermodelview/list/?_flt_0_search_key=27.000010")
    assert member.birth_name in found.text
    response = clerk.post(
        "/api/v1/security/login",
        json={"username": "clerk_r", "password": PASSWORD, "provider": "db"},
    )
    headers = {"Authorization": f"Bearer {response.json['access_token']}"}
    response = clerk.put(
        f"/api/v1/members/{member.id}", json={"card_number": "27.000999"}, headers=headers
    )
    assert response.status_code in (400, 422)
    db_session.expire_all()
    assert db_session.get(Member, member.id).card_number == "27.000010"
    shown = clerk.get(f"/api/v1/members/{member.id}", headers=headers).json["result"]
    assert shown["card_number"] == "27.000010"


def test_recording_on_screen_and_in_the_api(app, db_session, world):
    members = world["members"]
    clerk = client_for(app, "clerk_r")
    show = clerk.get(f"/membermodelview/show/{members['new'].id}")
    assert "record-card-link" in show.text
    page = clerk.post(
        f"/partycards/record/{members['new'].id}",
        data={"number": "27-000030", "issued_on": "03/02/2007"},
    )
    assert page.status_code == 200
    assert (
        vietnamese(app, "The card number must be written NN.NNNNNN (2 digits, a dot, 6 digits).")
        in page.text
    )
    response = clerk.post(
        f"/partycards/record/{members['new'].id}",
        data={"number": "27.000030", "issued_on": "03/02/2007"},
        follow_redirects=True,
    )
    assert vietnamese(app, "The card has been entered in the card registry.") in response.text
    db_session.expire_all()
    assert db_session.get(Member, members["new"].id).card_number == "27.000030"
    assert clerk.get(f"/partycards/record/{members['sibling'].id}").status_code == 404
    manager = client_for(app, "manager_r")
    assert "record-card-link" not in manager.get(f"/membermodelview/show/{members['new'].id}").text

    # The API: the same command, the same answers.
    response = clerk.post(
        "/api/v1/security/login",
        json={"username": "clerk_r", "password": PASSWORD, "provider": "db"},
    )
    headers = {"Authorization": f"Bearer {response.json['access_token']}"}
    tree = world["tree"]
    transferred = make_member(db_session, tree["C2"], birth_name="Đinh Văn Mang Thẻ")
    open_ledger(db_session, SYSTEM, transferred.id)
    db_session.commit()
    for payload, status in (
        ([1], 400),
        ({"member": transferred.id, "number": "x"}, 422),
        ({"member": members["sibling"].id, "number": "27.000031"}, 404),
        ({"member": transferred.id, "number": "27.000031", "issued_on": "2008-05-06"}, 201),
        ({"member": transferred.id, "number": "27.000032"}, 422),  # holds one now
    ):
        response = clerk.post("/api/v1/party-cards/record", json=payload, headers=headers)
        assert response.status_code == status, (payload, response.json)
    listed = clerk.get("/api/v1/party-cards/", headers=headers).json["result"]
    assert {r["number"] for r in listed} == {"27.000010", "27.000030", "27.000031"}
    held_copies_match_the_registry(db_session)
