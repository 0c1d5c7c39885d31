"""Deleting a member (issue 13, item 1): a record with a history is not deleted — the list
offers no delete button for it, the screen says why and the API answers 409 with the same
reason, pointing to the leaving events; a record entered by mistake and never used is
deleted by an Admin, through the domain command, and the audit log keeps it."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from conftest import login
from factories import SYSTEM, make_member, make_tree
from helpers import vietnamese
from webapp.cli import create_user
from webapp.domain.commands import Requester, Role
from webapp.domain.errors import InUse
from webapp.domain.events import EventInput, open_ledger, record_event
from webapp.domain.members import delete_member, deletion_refusals, may_delete_member
from webapp.domain.records import SupplementInput, apply_supplement
from webapp.models import Member
from webapp.models.audit import AuditEntry
from webapp.models.ledger import MemberEvent

PASSWORD = "Delete-Pass-123"
PATTERN = r"\d{6}[A-Z]{1,3}|\d{10}"
MOVEMENTS = (
    "%(name)s (%(number)s) has movements in the ledger and is not deleted. "
    "A member who leaves is recorded by an event: death, removal from the rolls, "
    "expulsion, resignation or transfer out."
)
CARDS_BADGES = (
    "%(name)s (%(number)s) has Party card or badge records and is not deleted. "
    "A member who leaves is recorded by an event: death, removal from the rolls, "
    "expulsion, resignation or transfer out."
)
HISTORY = (
    "%(name)s (%(number)s) has a history of changes (edits, yearly supplements) and "
    "is not deleted. A member who leaves is recorded by an event: death, removal "
    "from the rolls, expulsion, resignation or transfer out."
)


def entered(session, unit, **fields) -> Member:
    """A record as the form enters it: the member and the opening events of its ledger."""
    member = make_member(session, unit, **fields)
    open_ledger(session, SYSTEM, member.id)
    session.commit()
    return member


@pytest.fixture()
def world(app, db_session):
    tree = make_tree(db_session)
    mistake = entered(db_session, tree["C1"], birth_name="Nhập Nhầm")
    moved = entered(db_session, tree["C1"], birth_name="Đã Chuyển")
    record_event(
        db_session,
        SYSTEM,
        moved.id,
        EventInput(kind="transfer_within", effective_on=date(2015, 3, 1), to_unit_id=tree["C2"].id),
    )
    carded = entered(db_session, tree["C1"], birth_name="Có Thẻ", card_number="01.000001")
    db_session.commit()
    return {"tree": tree, "mistake": mistake, "moved": moved, "carded": carded}


def who(member) -> dict:
    return {"name": member.display_name, "number": member.member_number}


def test_rule_keeps_every_used_record_and_names_why(app, db_session, world):
    """The rule itself, case by case: opening events alone are not a use; a movement, a
    card, a change of a field or a supplement is."""
    changed = entered(db_session, world["tree"]["C1"], birth_name="Đã Sửa")
    changed.alias = "Bí danh mới"  # a change lands in the member's history
    db_session.commit()
    supplemented = entered(db_session, world["tree"]["C1"], birth_name="Có Phiếu")
    apply_supplement(
        db_session,
        SYSTEM,
        supplemented.id,
        SupplementInput(year=2024, declared_on=date(2024, 12, 1), values={}),
        member_number_pattern=PATTERN,
    )
    members = [world["mistake"], world["moved"], world["carded"], changed, supplemented]
    refusals = deletion_refusals(db_session, [m.id for m in members])
    assert refusals == {
        world["moved"].id: (MOVEMENTS, who(world["moved"])),
        world["carded"].id: (CARDS_BADGES, who(world["carded"])),
        changed.id: (HISTORY, who(changed)),
        supplemented.id: (HISTORY, who(supplemented)),
    }
    admin = Requester(user_id=None, roles=frozenset({Role.ADMIN}), scope=None)
    clerk = Requester(user_id=None, roles=frozenset({Role.CLERK}), scope=None)
    assert may_delete_member(db_session, admin, [m.id for m in members]) == {world["mistake"].id}
    assert may_delete_member(db_session, clerk, [m.id for m in members]) == set()
    with pytest.raises(InUse) as refused:
        delete_member(db_session, admin, world["moved"].id)
    assert refused.value.status_code == 409
    assert db_session.get(Member, world["moved"].id) is not None


def test_admin_list_offers_delete_only_for_the_record_entered_by_mistake(
    app, admin_client, db_session, world
):
    page = admin_client.get("/membermodelview/list/")
    assert page.status_code == 200
    for name, offered in (("mistake", True), ("moved", False), ("carded", False)):
        member = world[name]
        link = f"/membermodelview/delete/{member.id}"
        assert (link in page.text) is offered, name


def test_screen_refuses_a_member_with_a_ledger_and_says_why(app, admin_client, db_session, world):
    """The crash of the issue: the confirmation led to an IntegrityError on member_event."""
    moved = world["moved"]
    before = db_session.scalar(select(func.count(MemberEvent.id)))
    page = admin_client.post(f"/membermodelview/delete/{moved.id}", follow_redirects=True)
    assert page.status_code == 200
    assert vietnamese(app, MOVEMENTS, **who(moved)) in page.text
    db_session.expire_all()
    assert db_session.get(Member, moved.id) is not None
    assert db_session.scalar(select(func.count(MemberEvent.id))) == before


def test_api_answers_409_with_the_reason(app, client, db_session, world, api_token):
    headers = {"Authorization": f"Bearer {api_token}"}
    for name, msgid in (("moved", MOVEMENTS), ("carded", CARDS_BADGES)):
        member = world[name]
        response = client.delete(f"/api/v1/members/{member.id}", headers=headers)
        assert response.status_code == 409, response.text
        assert response.json["message"] == vietnamese(app, msgid, **who(member))
        db_session.expire_all()
        assert db_session.get(Member, member.id) is not None


def test_admin_deletes_a_record_entered_by_mistake_and_the_log_keeps_it(
    app, admin_client, db_session, world
):
    mistake = world["mistake"]
    member_id, number = mistake.id, mistake.member_number
    page = admin_client.post(f"/membermodelview/delete/{member_id}", follow_redirects=True)
    assert page.status_code == 200
    assert not re.search(r"alert-danger", page.text)
    db_session.expire_all()
    assert db_session.get(Member, member_id) is None
    assert (
        db_session.scalar(
            select(func.count(MemberEvent.id)).where(MemberEvent.member_id == member_id)
        )
        == 0
    )
    entry = db_session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "delete",
            AuditEntry.object_type == "Member",
            AuditEntry.object_id == str(member_id),
        )
    )
    assert entry is not None and entry.username == "admin"
    assert json.loads(entry.before)["member_number"] == number


def test_api_deletes_a_record_entered_by_mistake(app, client, db_session, world, api_token):
    mistake = world["mistake"]
    response = client.delete(
        f"/api/v1/members/{mistake.id}", headers={"Authorization": f"Bearer {api_token}"}
    )
    assert response.status_code == 200, response.text
    db_session.expire_all()
    assert db_session.get(Member, mistake.id) is None


def test_a_clerk_is_offered_no_delete_and_may_not(app, db_session, world):
    create_user("clerk_del", "Clerk", "P", PASSWORD)
    clerk = app.test_client()
    login(clerk, "clerk_del", PASSWORD)
    page = clerk.get("/membermodelview/list/")
    assert page.status_code == 200 and world["mistake"].member_number in page.text
    assert "/membermodelview/delete/" not in page.text
    token = clerk.post(
        "/api/v1/security/login",
        json={"username": "clerk_del", "password": PASSWORD, "provider": "db"},
    ).json["access_token"]
    response = clerk.delete(
        f"/api/v1/members/{world['mistake'].id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code in (403, 405), response.text
    db_session.expire_all()
    assert db_session.get(Member, world["mistake"].id) is not None


UNIT_KEPT = (
    "The unit %(code)s has subunits, members, movements, proposals or users; dissolve or "
    "merge it instead."
)


def test_units_too_offer_delete_only_when_entered_by_mistake(
    app, admin_client, db_session, world, api_token
):
    """The same kind of defect on the unit list: a unit with members had a trash icon."""
    from factories import make_unit

    tree = world["tree"]
    spare = make_unit(db_session, "P.09", "Gõ nhầm", parent=tree["P"], kind="grassroots_cell")
    db_session.commit()
    page = admin_client.get("/unitmodelview/list/?psize_UnitModelView=100")
    assert f"/unitmodelview/delete/{spare.id}" in page.text
    for name in ("P", "D1", "G1", "C1", "C2"):
        assert f"/unitmodelview/delete/{tree[name].id}" not in page.text, name
    response = admin_client.delete(
        f"/api/v1/units/{tree['C1'].id}", headers={"Authorization": f"Bearer {api_token}"}
    )
    assert response.status_code == 409, response.text
    assert response.json["message"] == vietnamese(app, UNIT_KEPT, code="P.01.001.01")
    spare_id = spare.id
    gone = admin_client.post(f"/unitmodelview/delete/{spare_id}", follow_redirects=True)
    assert gone.status_code == 200 and "alert-danger" not in gone.text
    db_session.expire_all()
    assert db_session.get(type(spare), spare_id) is None
