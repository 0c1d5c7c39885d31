"""Only what the rules allow is offered (issue 13, item 5): the screens ask the domain's
predicates, which the commands themselves use. A member who left is not offered a card
proposal nor the yearly supplement; the province root is not offered merge or dissolve;
the proposer of a card or badge batch does not see Approve (four-eyes)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from conftest import login
from factories import SYSTEM, make_member, make_tree
from helpers import vietnamese
from webapp.cli import create_user
from webapp.domain.cards import CARDS, CardRequest, propose_cards
from webapp.domain.commands import Requester, Role
from webapp.domain.errors import DomainError
from webapp.domain.events import EventInput, open_ledger, record_event
from webapp.domain.proposals import FOUR_EYES, decidable, decision_problem
from webapp.domain.records import NOT_ON_THE_ROLLS, SupplementInput, apply_supplement
from webapp.domain.units import may_dissolve_unit, may_merge_unit
from webapp.models import Member
from webapp.models.cards import CardProposal

PASSWORD = "Offers-Pass-123"
PATTERN = r"\d{6}[A-Z]{1,3}|\d{10}"
PROPOSE = 'id="propose-card-link"'
SUPPLEMENT = 'id="apply-supplement-link"'
RECORD_CARD = 'id="record-card-link"'


def entered(session, unit, **fields) -> Member:
    member = make_member(session, unit, **fields)
    open_ledger(session, SYSTEM, member.id)
    session.commit()
    return member


@pytest.fixture()
def world(app, db_session):
    tree = make_tree(db_session)
    active = entered(db_session, tree["C1"], birth_name="Đang Sinh Hoạt")
    left = entered(
        db_session,
        tree["C1"],
        birth_name="Ra Khỏi Đảng",
        admitted_on=date(1960, 1, 1),
        official_on=date(1961, 1, 1),
        birth_date=date(1935, 1, 1),
    )
    record_event(
        db_session, SYSTEM, left.id, EventInput(kind="resignation", effective_on=date(1966, 5, 1))
    )
    deceased = entered(db_session, tree["C1"], birth_name="Đã Từ Trần")
    record_event(
        db_session, SYSTEM, deceased.id, EventInput(kind="death", effective_on=date(2020, 5, 1))
    )
    db_session.commit()
    create_user("clerk_o", "Clerk", "P", PASSWORD)
    create_user("manager_o", "Manager", "P", PASSWORD)
    return {"tree": tree, "active": active, "left": left, "deceased": deceased}


def signed_in(app, username):
    client = app.test_client()
    login(client, username, PASSWORD)
    return client


def test_a_member_who_left_is_offered_no_card_and_no_supplement(app, db_session, world):
    clerk = signed_in(app, "clerk_o")
    page = clerk.get(f"/membermodelview/show/{world['active'].id}")
    assert page.status_code == 200
    assert PROPOSE in page.text and SUPPLEMENT in page.text and RECORD_CARD in page.text
    for name in ("left", "deceased"):
        page = clerk.get(f"/membermodelview/show/{world[name].id}")
        assert page.status_code == 200
        assert PROPOSE not in page.text, name
        assert SUPPLEMENT not in page.text, name
    # The card a deceased member held may still be entered from the paper record.
    assert RECORD_CARD not in clerk.get(f"/membermodelview/show/{world['left'].id}").text
    assert RECORD_CARD in clerk.get(f"/membermodelview/show/{world['deceased'].id}").text


def test_a_member_already_proposed_is_not_offered_another_proposal(app, db_session, world):
    clerk_id = app.appbuilder.sm.find_user(username="clerk_o").id
    clerk = Requester(user_id=clerk_id, roles=frozenset({Role.CLERK}), scope=None)
    propose_cards(db_session, clerk, world["tree"]["C1"].id, [CardRequest(world["active"].id)])
    page = signed_in(app, "clerk_o").get(f"/membermodelview/show/{world['active'].id}")
    assert PROPOSE not in page.text


def test_the_supplement_command_refuses_a_member_who_left(app, db_session, world):
    """The rule the member page asks is the command's own: the screen's post is refused."""
    left = world["left"]
    with pytest.raises(DomainError) as refused:
        apply_supplement(
            db_session,
            SYSTEM,
            left.id,
            SupplementInput(year=2024, declared_on=date(2024, 12, 1), values={}),
            member_number_pattern=PATTERN,
        )
    assert refused.value.message == NOT_ON_THE_ROLLS
    clerk = signed_in(app, "clerk_o")
    page = clerk.post(
        f"/supplements/apply/{left.id}",
        data={"year": "2024", "declared_on": "01/12/2024"},
        follow_redirects=True,
    )
    assert (
        vietnamese(app, NOT_ON_THE_ROLLS, name=left.display_name, number=left.member_number)
        in page.text
    )


def test_the_province_root_is_offered_neither_merge_nor_dissolve(app, db_session, world):
    tree = world["tree"]
    clerk = signed_in(app, "clerk_o")
    root = clerk.get(f"/unitmodelview/show/{tree['P'].id}")
    assert root.status_code == 200
    assert 'id="unit-merge"' not in root.text and 'id="unit-dissolve"' not in root.text
    # A cell with members may merge, not dissolve; an empty cell may do both.
    cell = clerk.get(f"/unitmodelview/show/{tree['C1'].id}")
    assert 'id="unit-merge"' in cell.text and 'id="unit-dissolve"' not in cell.text
    empty = clerk.get(f"/unitmodelview/show/{tree['C2'].id}")
    assert 'id="unit-merge"' in empty.text and 'id="unit-dissolve"' in empty.text
    # The same predicates, and the commands agree: the API refuses both on the root.
    requester = Requester(user_id=None, roles=frozenset({Role.CLERK}), scope=None)
    assert not may_merge_unit(db_session, requester, tree["P"])
    assert not may_dissolve_unit(db_session, requester, tree["P"])
    token = clerk.post(
        "/api/v1/security/login",
        json={"username": "clerk_o", "password": PASSWORD, "provider": "db"},
    ).json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    merged = clerk.post(
        f"/api/v1/units/{tree['P'].id}/merge",
        json={"into": tree["D1"].id, "effective_on": "2025-01-01"},
        headers=headers,
    )
    dissolved = clerk.post(
        f"/api/v1/units/{tree['P'].id}/dissolve",
        json={"effective_on": "2025-01-01"},
        headers=headers,
    )
    assert merged.status_code == 422 and dissolved.status_code == 422


def test_a_clerk_scoped_to_a_district_is_not_offered_merging_that_district(app, db_session, world):
    create_user("clerk_d1", "Clerk", "P.01", PASSWORD)
    page = signed_in(app, "clerk_d1").get(f"/unitmodelview/show/{world['tree']['D1'].id}")
    assert page.status_code == 200 and 'id="unit-merge"' not in page.text


def test_the_proposer_of_a_card_batch_does_not_see_approve(app, db_session, world):
    admin_id = app.appbuilder.sm.find_user(username="admin").id
    admin = Requester(user_id=admin_id, roles=frozenset({Role.ADMIN}), scope=None)
    batch = propose_cards(
        db_session, admin, world["tree"]["C1"].id, [CardRequest(world["active"].id)]
    )
    proposals = list(batch.proposals)
    assert decidable(admin, CARDS, proposals) == []
    assert decision_problem(admin, CARDS, proposals[0])[0] == FOUR_EYES

    proposer = app.test_client()
    login(proposer)
    page = proposer.get(f"/cards/show/{batch.id}")
    assert page.status_code == 200
    assert 'id="approve-selected"' not in page.text and 'id="reject-selected"' not in page.text
    assert 'id="four-eyes-note"' in page.text
    # Another person with the role sees it; once decided, nobody is offered it again.
    manager = signed_in(app, "manager_o")
    page = manager.get(f"/cards/show/{batch.id}")
    assert 'id="approve-selected"' in page.text and 'id="four-eyes-note"' not in page.text
    manager.post(
        f"/cards/decide/{batch.id}", data={"decision": "approve", "selected": proposals[0].id}
    )
    db_session.expire_all()
    assert (
        db_session.scalar(select(CardProposal.state).where(CardProposal.id == proposals[0].id))
        == "approved"
    )
    assert 'id="approve-selected"' not in manager.get(f"/cards/show/{batch.id}").text


def test_the_proposer_of_badges_does_not_see_approve_on_the_round(app, db_session, world):
    from webapp.domain.badges import propose_badges

    tree = world["tree"]
    thirty = entered(
        db_session,
        tree["C1"],
        birth_name="Ba Mươi Năm",
        birth_date=date(1971, 1, 1),
        admitted_on=date(1996, 5, 19),
        official_on=date(1997, 5, 1),
    )
    clerk_id = app.appbuilder.sm.find_user(username="clerk_o").id
    both = Requester(user_id=clerk_id, roles=frozenset({Role.CLERK, Role.MANAGER}), scope=None)
    propose_badges(db_session, both, date(2026, 5, 19), [thirty.id])
    round_url = f"/badges/round?occasion=2026-05-19&unit_id={tree['P'].id}"

    admin = app.test_client()
    login(admin)
    page = admin.get(round_url)
    assert page.status_code == 200 and thirty.member_number in page.text
    assert 'id="approve-badges"' in page.text  # someone else proposed it

    # The proposer, given the Manager role too, is not offered the decision.
    user = app.appbuilder.sm.find_user(username="clerk_o")
    user.roles.append(app.appbuilder.sm.find_role("Manager"))
    db_session.commit()
    page = signed_in(app, "clerk_o").get(round_url)
    assert page.status_code == 200 and thirty.member_number in page.text
    assert 'id="approve-badges"' not in page.text and 'id="four-eyes-note"' in page.text
