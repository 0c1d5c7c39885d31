"""Issue 11 item 1: the member-row APIs wrote across scope. A Clerk of district D1 posts
each kind of row for a member of district D2, or moves a row of theirs onto that member:
refused (404/422), nothing written — like the web form, because both go through the
same command (webapp/domain/records.py)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from factories import make_member, make_tree
from webapp.cli import create_user
from webapp.models.record import (
    Commendation,
    Discipline,
    FamilyRelation,
    TrainingCourse,
    TripAbroad,
    WorkPeriod,
)

PASSWORD = "Row-Scope-123"
# resource → (model, a valid row without its member)
ROWS = {
    "work-periods": (WorkPeriod, {"starts_on": "2010-01-01", "description": "Giáo viên"}),
    "training-courses": (
        TrainingCourse,
        {"starts_on": "2008-09-01", "institution": "Trường Chính trị tỉnh"},
    ),
    "commendations": (Commendation, {"awarded_on": "2015-05-19", "form": "Giấy khen"}),
    "disciplines": (
        Discipline,
        {"decided_on": "2016-03-01", "form": "Khiển trách", "reason": "Vi phạm sinh hoạt"},
    ),
    "trips-abroad": (TripAbroad, {"starts_on": "2019-04-01", "country": "Lào"}),
    "family-relations": (FamilyRelation, {"relation": "Bố", "full_name": "Nguyễn Văn Cha"}),
}


@pytest.fixture()
def world(app, db_session, client):
    tree = make_tree(db_session)
    own = make_member(db_session, tree["C1"], birth_name="Đinh Văn Nhà")
    other = make_member(db_session, tree["C3"], birth_name="Quách Thị Bên")
    db_session.commit()
    create_user("clerk_rows_d1", "Clerk", "P.01", PASSWORD)
    token = client.post(
        "/api/v1/security/login",
        json={"username": "clerk_rows_d1", "password": PASSWORD, "provider": "db"},
    ).json["access_token"]
    return {"own": own, "other": other, "headers": {"Authorization": f"Bearer {token}"}}


def rows_of(db_session, model, member_id) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count(model.id)).where(model.member_id == member_id))


@pytest.mark.parametrize("resource", ROWS)
def test_a_row_for_a_member_outside_the_scope_is_refused(client, db_session, world, resource):
    model, row = ROWS[resource]
    response = client.post(
        f"/api/v1/{resource}/", json={"member": world["other"].id, **row}, headers=world["headers"]
    )
    assert response.status_code in (404, 422), response.json
    assert rows_of(db_session, model, world["other"].id) == 0


@pytest.mark.parametrize("resource", ROWS)
def test_a_row_cannot_be_moved_to_a_member_outside_the_scope(client, db_session, world, resource):
    model, row = ROWS[resource]
    created = client.post(
        f"/api/v1/{resource}/", json={"member": world["own"].id, **row}, headers=world["headers"]
    )
    assert created.status_code == 201, created.json
    moved = client.put(
        f"/api/v1/{resource}/{created.json['id']}",
        json={"member": world["other"].id},
        headers=world["headers"],
    )
    assert moved.status_code in (404, 422), moved.json
    assert rows_of(db_session, model, world["other"].id) == 0
    assert rows_of(db_session, model, world["own"].id) == 1


def test_the_row_command_itself_refuses_moving_a_row_out_of_scope(db_session, world):
    """Below the API (whose schema has no "member" to edit): the command checks the new
    member too, for whoever calls it."""
    from webapp.domain.commands import Requester, Role
    from webapp.domain.errors import NotFound
    from webapp.domain.records import edit_member_row
    from webapp.models import Unit

    row = WorkPeriod(member_id=world["own"].id, starts_on=date(2010, 1, 1), description="Kỹ sư")
    db_session.add(row)
    db_session.commit()
    d1 = db_session.scalar(select(Unit).where(Unit.code == "P.01"))
    clerk = Requester(None, frozenset({Role.CLERK}), d1.path)
    with pytest.raises(NotFound):
        edit_member_row(db_session, clerk, WorkPeriod, row.id, {"member_id": world["other"].id})
    assert rows_of(db_session, WorkPeriod, world["own"].id) == 1
    assert rows_of(db_session, WorkPeriod, world["other"].id) == 0
