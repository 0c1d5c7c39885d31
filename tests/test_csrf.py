"""Cross-site requests cannot change data (issue 11, item 4): every state-changing route is
POST with the page's CSRF token (Flask-WTF's CSRFProtect on the whole app); FAB's delete
routes no longer answer GET; the REST API signed in by the browser's session cookie needs
the token too, a call with a bearer token does not. These run with the CSRF check on, as
in production."""

from __future__ import annotations

import re
from datetime import date

import pytest
from flask_appbuilder.baseviews import BaseCRUDView
from sqlalchemy import func, select
from test_api import auth

from conftest import ADMIN_PASSWORD
from factories import make_member, make_tree
from helpers import vietnamese
from webapp.cli import create_user
from webapp.models import WorkPeriod
from webapp.models.user import DangVienUser

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


@pytest.fixture()
def csrf_on(app, db_session):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        yield app
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def page_token(client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    match = TOKEN.search(page.text)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def signed_in(app, username="admin", password=ADMIN_PASSWORD):
    """A browser: it reads the sign-in page, posts the form with its token."""
    client = app.test_client()
    token = page_token(client, "/login/")
    response = client.post(
        "/login/", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.text
    return client


@pytest.fixture()
def member_with_row(db_session):
    tree = make_tree(db_session)
    member = make_member(db_session, tree["C1"], birth_name="Đoàn Thị Xóa")
    row = WorkPeriod(member=member, starts_on=date(2001, 1, 1), description="Thợ may")
    db_session.add(row)
    db_session.commit()
    return member, row


def row_exists(db_session, row_id: int) -> bool:
    db_session.expire_all()
    return db_session.get(WorkPeriod, row_id) is not None


def test_a_get_of_a_delete_route_is_refused_and_deletes_nothing(
    csrf_on, db_session, member_with_row
):
    _, row = member_with_row
    client = signed_in(csrf_on)
    response = client.get(f"/workperiodview/delete/{row.id}")
    assert response.status_code == 405 and response.headers["Allow"] == "POST"
    assert (
        vietnamese(csrf_on, "This address does not accept this kind of request.") in response.text
    )
    assert row_exists(db_session, row.id)


def test_a_delete_without_the_token_is_refused(csrf_on, db_session, member_with_row):
    _, row = member_with_row
    client = signed_in(csrf_on)
    response = client.post(f"/workperiodview/delete/{row.id}")
    assert response.status_code == 400
    assert vietnamese(csrf_on, "The form has expired; please submit it again.") in response.text
    forged = client.post(f"/workperiodview/delete/{row.id}", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    assert row_exists(db_session, row.id)


def test_the_delete_button_of_the_member_page_posts_with_the_token(
    csrf_on, db_session, member_with_row
):
    """What FAB's delete button sends (its hidden form on the page, posted to the button's
    address): the row is deleted."""
    member, row = member_with_row
    client = signed_in(csrf_on)
    page = client.get(f"/membermodelview/show/{member.id}")
    delete_url = f"/workperiodview/delete/{row.id}"
    assert delete_url in page.text  # the button
    assert re.search(r'<form id="(delete|action)_form"[^>]*method="POST"', page.text)
    token = TOKEN.search(page.text)
    response = client.post(delete_url, data={"csrf_token": token.group(1) or token.group(2)})
    assert response.status_code == 302
    assert not row_exists(db_session, row.id)


def test_an_admin_session_cannot_delete_a_user_with_a_link(csrf_on, db_session):
    """/users/delete/<id> in an Admin's session, e.g. as an <img src> on another site."""
    make_tree(db_session)
    create_user("victim", "Clerk", "P.01", "Victim-Pass-123")
    victim = db_session.scalar(select(DangVienUser).where(DangVienUser.username == "victim"))
    client = signed_in(csrf_on)
    assert client.get(f"/users/delete/{victim.id}").status_code == 405
    assert client.post(f"/users/delete/{victim.id}").status_code == 400
    db_session.expire_all()
    assert db_session.get(DangVienUser, victim.id) is not None
    # The Security screen's own button still works.
    token = page_token(client, "/users/list/")
    assert client.post(f"/users/delete/{victim.id}", data={"csrf_token": token}).status_code == 302
    db_session.expire_all()
    assert db_session.get(DangVienUser, victim.id) is None


def test_no_fab_delete_or_action_route_answers_get(csrf_on, db_session, member_with_row):
    client = signed_in(csrf_on)
    checked = 0
    for rule in csrf_on.url_map.iter_rules():
        view = getattr(csrf_on.view_functions[rule.endpoint], "__self__", None)
        name = rule.endpoint.rsplit(".", 1)[-1]
        if not isinstance(view, BaseCRUDView) or name not in ("delete", "action"):
            continue
        path = rule.rule.replace("<string:name>", "anything").replace("<pk>", "1")
        assert client.get(path).status_code == 405, path
        checked += 1
    assert checked >= 40


def rows(db_session) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count(WorkPeriod.id)))


def test_the_api_signed_in_by_the_browser_needs_the_token(csrf_on, db_session, member_with_row):
    """allow_browser_login: the session cookie signs API calls in. A page on another site
    cannot read the token, so it cannot add one to a cross-site request."""
    member, row = member_with_row
    client = signed_in(csrf_on)
    body = {"member": member.id, "starts_on": "2002-01-01", "description": "Thợ mộc"}
    before = rows(db_session)
    refused = client.post("/api/v1/work-periods/", json=body)
    assert refused.status_code == 400
    assert refused.json["message"] == vietnamese(
        csrf_on,
        "A change through the API signed in by the browser needs the page's CSRF token in "
        "the X-CSRFToken header; scripts sign in with a token instead.",
    )
    assert client.delete(f"/api/v1/work-periods/{row.id}").status_code == 400
    assert (
        client.put(f"/api/v1/work-periods/{row.id}", json={"description": "x"}).status_code == 400
    )
    assert rows(db_session) == before and row_exists(db_session, row.id)
    # Reading needs no token; a page of the app (which has the token) may write.
    assert client.get("/api/v1/work-periods/").status_code == 200
    token = page_token(client, f"/membermodelview/show/{member.id}")
    allowed = client.post("/api/v1/work-periods/", json=body, headers={"X-CSRFToken": token})
    assert allowed.status_code == 201, allowed.json
    assert rows(db_session) == before + 1


def test_the_api_signed_in_with_a_bearer_token_needs_no_csrf_token(
    csrf_on, db_session, member_with_row
):
    member, _ = member_with_row
    client = csrf_on.test_client()
    login = client.post(
        "/api/v1/security/login",
        json={"username": "admin", "password": ADMIN_PASSWORD, "provider": "db"},
    )
    assert login.status_code == 200
    created = client.post(
        "/api/v1/work-periods/",
        json={"member": member.id, "starts_on": "2003-01-01", "description": "Lái xe"},
        headers=auth(login.json["access_token"]),
    )
    assert created.status_code == 201, created.json
