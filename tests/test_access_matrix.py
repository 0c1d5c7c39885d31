"""Access matrix: each role, scoped to district D1, against its own subtree, a sibling
district (D2) and the parent (the province): what works and what is refused — refused
meaning no data shown and nothing changed. Generated from one table."""

from datetime import date

import pytest
from sqlalchemy import func, select

from conftest import ADMIN_PASSWORD, login
from factories import SYSTEM, as_requester, make_member, make_tree
from webapp.cli import create_user
from webapp.domain.cards import CardRequest, propose_cards
from webapp.domain.commands import Requester
from webapp.domain.events import open_ledger
from webapp.extensions import db
from webapp.models import CardProposal, Member, MemberEvent, ReportRun
from webapp.reports.runs import request_report

PASSWORD = "Matrix-Pass-123"
ROLES = ["Clerk", "Manager", "Leader"]
READ = {"Clerk", "Manager", "Leader"}
WRITE = {"Clerk"}

# action → (targets it applies to, roles allowed on their own subtree)
ACTIONS = {
    "list": (("own", "sibling"), READ),
    "show": (("own", "sibling"), READ),
    "edit": (("own", "sibling"), WRITE),
    "api_get": (("own", "sibling"), READ),
    "api_put": (("own", "sibling"), WRITE),
    "record_event": (("own", "sibling"), WRITE),
    "unit_show": (("own", "sibling", "parent"), READ),
    "unit_roll": (("own", "sibling", "parent"), READ),
    "report": (("own", "sibling", "parent"), READ),
    "job_status": (("own",), set()),  # another person's run: never
    "delete": (("own", "sibling"), set()),  # members are not deleted (the ledger records leaving)
    "api_delete": (("own", "sibling"), set()),
    "card_propose": (("own", "sibling"), WRITE),
    "card_decide": (("own", "sibling"), {"Manager"}),
    "card_api_get": (("own", "sibling"), READ),
    "badge_eligible_api": (("own", "sibling", "parent"), READ),
}
MATRIX = [
    (role, target, action, role in allowed and target == "own")
    for action, (targets, allowed) in ACTIONS.items()
    for target in targets
    for role in ROLES
]


@pytest.fixture()
def world(app, db_session):
    tree = make_tree(db_session)
    own = make_member(db_session, tree["C1"], member_number="000101TN", birth_name="Đinh Văn Nhà")
    sibling = make_member(
        db_session, tree["C3"], member_number="000202TN", birth_name="Quách Thị Bên"
    )
    needing = {
        "own": make_member(db_session, tree["C1"], birth_name="Cần Thẻ Nhà"),
        "sibling": make_member(db_session, tree["C3"], birth_name="Cần Thẻ Bên"),
    }
    for member in (own, sibling, *needing.values()):
        open_ledger(db_session, SYSTEM, member.id)
    db_session.commit()
    # The admin proposed a card for each of own and sibling: a Manager may decide.
    proposals = {
        target: propose_cards(
            db_session, as_requester(1, None), member.unit_id, [CardRequest(member.id)]
        ).proposals[0]
        for target, member in (("own", own), ("sibling", sibling))
    }
    for role in ROLES:
        create_user(f"{role.lower()}_d1", role, "P.01", PASSWORD)
    admin_run = request_report(
        db.session, Requester.system(user_id=1), "member-list", "pdf", tree["D1"].id, queue=False
    )
    return {
        "members": {"own": own, "sibling": sibling},
        "units": {"own": tree["D1"], "sibling": tree["D2"], "parent": tree["P"]},
        "admin_run": admin_run,
        "needing": needing,
        "proposals": proposals,
    }


def client_for(app, role):
    client = app.test_client()
    login(client, f"{role.lower()}_d1", PASSWORD)
    return client


def token_for(client, role):
    response = client.post(
        "/api/v1/security/login",
        json={"username": f"{role.lower()}_d1", "password": PASSWORD, "provider": "db"},
    )
    return {"Authorization": f"Bearer {response.json['access_token']}"}


def member_form(member, name):
    return {
        "member_number": member.member_number,
        "birth_name": name,
        "sex": "male",
        "birth_date": "19/05/1980",
        "birth_date_precision": "day",
        "version_id": str(member.version_id),
    }


def attempt(app, db_session, world, role, target, action) -> bool:
    """Perform the action; True when it worked. Refusals are checked to leak and change nothing."""
    client = client_for(app, role)
    member = world["members"].get(target)
    unit = world["units"].get(target)
    if action == "list":
        page = client.get(f"/membermodelview/list/?_flt_0_search_key={member.member_number}")
        return member.birth_name in page.text
    if action == "show":
        page = client.get(f"/membermodelview/show/{member.id}")
        return page.status_code == 200 and member.birth_name in page.text
    if action == "edit":
        response = client.post(
            f"/membermodelview/edit/{member.id}", data=member_form(member, "Tên Mới Sửa")
        )
        db_session.expire_all()
        changed = db_session.get(Member, member.id).birth_name == "Tên Mới Sửa"
        assert "Tên Mới Sửa" not in response.text or changed
        return changed
    if action == "api_get":
        response = client.get(f"/api/v1/members/{member.id}", headers=token_for(client, role))
        assert response.status_code in (200, 403, 404)
        return (
            response.status_code == 200
            and response.json["result"]["birth_name"] == member.birth_name
        )
    if action == "api_put":
        response = client.put(
            f"/api/v1/members/{member.id}",
            json={"alias": "Bí danh API"},
            headers=token_for(client, role),
        )
        db_session.expire_all()
        changed = db_session.get(Member, member.id).alias == "Bí danh API"
        assert changed == (response.status_code == 200)
        return changed
    if action == "record_event":
        before = db_session.scalar(select(func.count(MemberEvent.id)))
        client.post(
            f"/memberevents/record/{member.id}",
            data={"kind": "exemption", "effective_on": "01/01/2020"},
        )
        db_session.expire_all()
        return db_session.scalar(select(func.count(MemberEvent.id))) == before + 1
    if action == "unit_show":
        page = client.get(f"/unitmodelview/show/{unit.id}")
        return page.status_code == 200 and unit.name in page.text
    if action == "unit_roll":
        page = client.get(f"/unitmodelview/roll/{unit.id}?as_of={date.today():%d/%m/%Y}")
        return page.status_code == 200 and unit.name in page.text
    if action == "report":
        before = db_session.scalar(select(func.count(ReportRun.id)))
        client.post(
            "/reports/request",
            data={"report": "member-list", "unit_id": unit.id, "output_format": "pdf"},
        )
        db_session.expire_all()
        return db_session.scalar(select(func.count(ReportRun.id))) == before + 1
    if action in ("delete", "api_delete"):
        if action == "delete":
            client.post(f"/membermodelview/delete/{member.id}")
        else:
            client.delete(f"/api/v1/members/{member.id}", headers=token_for(client, role))
        db_session.expire_all()
        return db_session.get(Member, member.id) is None
    if action == "card_propose":
        needing = world["needing"][target]
        client.post("/cards/propose", data={"unit_id": needing.unit_id, "selected": needing.id})
        db_session.expire_all()
        return (
            db_session.scalar(select(CardProposal).where(CardProposal.member_id == needing.id))
            is not None
        )
    if action == "card_decide":
        proposal = world["proposals"][target]
        client.post(
            f"/cards/decide/{proposal.batch_id}",
            data={"decision": "approve", "selected": proposal.id},
        )
        db_session.expire_all()
        return db_session.get(CardProposal, proposal.id).state == "approved"
    if action == "card_api_get":
        proposal = world["proposals"][target]
        response = client.get(
            f"/api/v1/card-proposals/{proposal.id}", headers=token_for(client, role)
        )
        assert response.status_code in (200, 403, 404)
        return response.status_code == 200
    if action == "badge_eligible_api":
        response = client.get(
            f"/api/v1/badge-proposals/eligible?occasion=2026-05-19&unit={unit.id}",
            headers=token_for(client, role),
        )
        assert response.status_code in (200, 403, 404)
        return response.status_code == 200
    if action == "job_status":
        run = world["admin_run"]
        status = client.get(f"/reports/status/{run.id}")
        download = client.get(f"/reports/download/{run.id}")
        return status.status_code == 200 or download.status_code == 200
    raise AssertionError(action)


@pytest.mark.parametrize(
    ("role", "target", "action", "allowed"), MATRIX, ids=[f"{r}-{t}-{a}" for r, t, a, _ in MATRIX]
)
def test_access_matrix(app, db_session, redis_conn, world, role, target, action, allowed):
    assert attempt(app, db_session, world, role, target, action) is allowed


def test_admin_sees_everything(app, db_session, redis_conn, world):
    client = app.test_client()
    login(client, "admin", ADMIN_PASSWORD)
    for member in world["members"].values():
        assert member.birth_name in client.get(f"/membermodelview/show/{member.id}").text


def test_tampered_unit_on_save_is_refused(app, db_session, world):
    """A clerk of D1 posts the add form with a cell of D2: refused, nothing saved."""
    client = client_for(app, "Clerk")
    sibling_cell = world["members"]["sibling"].unit_id
    form = {
        "member_number": "000303TN",
        "birth_name": "Lò Văn Lạc",
        "sex": "male",
        "birth_date": "01/01/1990",
        "birth_date_precision": "day",
        "status": "official",
        "admitted_on": "01/01/2015",
        "official_on": "01/01/2016",
        "unit": str(sibling_cell),
    }
    client.post("/membermodelview/add", data=form)
    assert db_session.scalar(select(Member).where(Member.member_number == "000303TN")) is None
    headers = token_for(client, "Clerk")
    payload = {
        k: v for k, v in form.items() if k not in ("birth_date", "admitted_on", "official_on")
    }
    payload.update(
        {
            "birth_date": "1990-01-01",
            "admitted_on": "2015-01-01",
            "official_on": "2016-01-01",
            "unit": sibling_cell,
        }
    )
    response = client.post("/api/v1/members/", json=payload, headers=headers)
    assert response.status_code == 422 and "unit_id" in response.json["message"]
    assert db_session.scalar(select(Member).where(Member.member_number == "000303TN")) is None
