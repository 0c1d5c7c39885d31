"""REST API: JWT login, list, create and update with the same rules as the forms."""

import pytest
from sqlalchemy import func, select

from factories import make_member, make_tree
from helpers import vietnamese
from webapp.models import Member, Unit


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def member_payload(unit, **overrides):
    payload = {
        "member_number": "000901TN",
        "birth_name": "Đặng Thị Hoa",
        "sex": "female",
        "birth_date": "1990-04-30",
        "admitted_on": "2015-09-02",
        "official_on": "2016-09-02",
        "status": "official",
        "unit": unit.id,
    }
    payload.update(overrides)
    return payload


def test_login_and_list_members(client, api_token, db_session):
    tree = make_tree(db_session)
    make_member(db_session, tree["C1"], birth_name="Nguyễn Văn Bảy", member_number="000100TN")
    db_session.commit()
    response = client.get("/api/v1/members/", headers=auth(api_token))
    assert response.status_code == 200
    assert response.json["count"] == 1
    row = response.json["result"][0]
    assert row["birth_name"] == "Nguyễn Văn Bảy" and row["unit"]["code"] == "P.01.001.01"


def test_unauthenticated_api_is_refused(client, db_session):
    assert client.get("/api/v1/members/").status_code == 401


def test_create_update_and_validation_errors(app, client, api_token, db_session):
    tree = make_tree(db_session)
    created = client.post(
        "/api/v1/members/", json=member_payload(tree["C1"]), headers=auth(api_token)
    )
    assert created.status_code == 201, created.json
    member_id = created.json["id"]

    bad = client.post(
        "/api/v1/members/",
        json=member_payload(tree["C1"], member_number="000902TN", admitted_on="1989-01-01"),
        headers=auth(api_token),
    )
    assert bad.status_code == 422
    assert bad.json["message"]["admitted_on"] == [
        vietnamese(app, "The date of admission must be after the date of birth.")
    ]

    duplicate = client.post(
        "/api/v1/members/", json=member_payload(tree["C2"]), headers=auth(api_token)
    )
    assert duplicate.status_code == 422 and "member_number" in duplicate.json["message"]

    not_a_cell = client.post(
        "/api/v1/members/",
        json=member_payload(tree["G1"], member_number="000903TN"),
        headers=auth(api_token),
    )
    assert not_a_cell.status_code == 422 and "unit_id" in not_a_cell.json["message"]

    missing = client.post(
        "/api/v1/members/", json={"birth_name": "Thiếu Dữ Liệu"}, headers=auth(api_token)
    )
    assert missing.status_code == 422

    not_json = client.post(
        "/api/v1/members/",
        data="x",
        headers={**auth(api_token), "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400
    list_body = client.post("/api/v1/members/", json=[1, 2], headers=auth(api_token))
    assert list_body.status_code == 400

    update = client.put(
        f"/api/v1/members/{member_id}", json={"official_on": "2014-01-01"}, headers=auth(api_token)
    )
    assert update.status_code == 422 and "official_on" in update.json["message"]
    db_session.expire_all()
    assert db_session.get(Member, member_id).official_on.isoformat() == "2016-09-02"
    assert db_session.scalar(select(func.count(Member.id))) == 1

    ok = client.put(
        f"/api/v1/members/{member_id}", json={"name_in_use": "Đặng Hoa"}, headers=auth(api_token)
    )
    assert ok.status_code == 200
    db_session.expire_all()
    assert db_session.get(Member, member_id).search_key.startswith("dang thi hoa dang hoa")


def test_units_api_refuses_unknown_parent_and_duplicate_code(client, api_token, db_session):
    tree = make_tree(db_session)
    payload = {
        "code": "P.09",
        "name": "Đảng bộ huyện Chín",
        "kind": "upper_grassroots_committee",
        "parent": tree["P"].id,
    }
    assert (
        client.post(
            "/api/v1/units/", json={**payload, "parent": 999999}, headers=auth(api_token)
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/api/v1/units/", json={**payload, "code": "P.01"}, headers=auth(api_token)
        ).status_code
        == 422
    )
    created = client.post("/api/v1/units/", json=payload, headers=auth(api_token))
    assert created.status_code == 201
    assert db_session.get(Unit, created.json["id"]).path == f"/{tree['P'].id}/{created.json['id']}/"


def test_openapi_spec_lists_units_and_members(client, api_token, db_session):
    spec = client.get("/api/v1/_openapi", headers=auth(api_token))
    assert spec.status_code == 200
    paths = spec.json["paths"]
    assert "/api/v1/members/" in paths and "/api/v1/units/" in paths


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/members/",
        "/api/v1/events/",
        "/api/v1/units/{unit}/merge",
        "/api/v1/card-proposals/",
        "/api/v1/card-proposals/decide",
        "/api/v1/card-proposals/issue",
        "/api/v1/badge-proposals/",
        "/api/v1/badge-proposals/decide",
        "/api/v1/badge-proposals/award",
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(client, api_token, db_session, path):
    tree = make_tree(db_session)
    db_session.commit()
    for body in ([1, 2], "text", None):
        response = client.post(path.format(unit=tree["C1"].id), json=body, headers=auth(api_token))
        assert response.status_code == 400, (path, body, response.text)
        assert response.json["message"] == "Nội dung yêu cầu phải là một đối tượng JSON."
