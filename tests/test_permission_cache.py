"""FAB's permission checks are answered from the roles' permissions, read once per
request (webapp/security.py request_permissions): one query instead of one per menu entry
and button, and a right taken away is gone from the next request on."""

from sqlalchemy import event

from conftest import login
from factories import make_tree
from webapp.cli import create_user
from webapp.extensions import db
from webapp.security import request_permissions

PASSWORD = "Clerk-Pass-123"


def permission_queries(app, client, url, **kwargs):
    seen = []

    def note(conn, cursor, statement, *args):
        seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        response = client.get(url, **kwargs)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return response, [s for s in seen if "ab_permission_view_role" in s]


def clerk_with_own_role(app, username):
    """A Clerk whose role is a copy of Clerk's: the test takes rights from the copy (the
    database is cleaned back to `init` by removing rows added since, so a right taken
    from the real role and given back would be lost for the tests after)."""
    sm = app.appbuilder.sm
    create_user(username, "Clerk", "P.01", PASSWORD)
    role = sm.add_role(f"Clerk copy {username}", list(sm.find_role("Clerk").permissions))
    sm.find_user(username=username).roles = [role]
    db.session.commit()
    return role.name


def take_away(sm, role_name, view_name, *permission_names):
    role = sm.find_role(role_name)
    role.permissions = [
        pv
        for pv in role.permissions
        if not (pv.view_menu.name == view_name and pv.permission.name in permission_names)
    ]
    db.session.commit()


def test_a_page_reads_the_permissions_once(app, client, db_session):
    make_tree(db_session)
    create_user("cv_cache", "Clerk", "P.01", PASSWORD)
    login(client, "cv_cache", PASSWORD)
    response, queries = permission_queries(app, client, "/membermodelview/list/")
    assert response.status_code == 200
    # The menu's ~30 entries and the list's buttons: FAB asked one EXISTS query each.
    assert len(queries) == 1, queries
    assert 'href="/unitmodelview/tree"' in response.text  # the menu is still drawn


def test_a_right_taken_away_is_gone_on_the_next_request(app, client, db_session):
    make_tree(db_session)
    role = clerk_with_own_role(app, "cv_revoked")
    login(client, "cv_revoked", PASSWORD)
    token = client.post(
        "/api/v1/security/login",
        json={"username": "cv_revoked", "password": PASSWORD, "provider": "db"},
    ).json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    sm = app.appbuilder.sm
    assert client.get("/membermodelview/list/").status_code == 200
    assert 'href="/unitmodelview/tree"' in client.get("/").text
    assert client.get("/api/v1/members/", headers=headers).status_code == 200
    take_away(sm, role, "MemberModelView", "can_list")
    take_away(sm, role, "Organisation tree", "menu_access")
    take_away(sm, role, "MemberApi", "can_get")
    assert client.get("/membermodelview/list/").status_code == 403
    assert 'href="/unitmodelview/tree"' not in client.get("/").text
    assert client.get("/api/v1/members/", headers=headers).status_code == 403
    # Given back: from the next request on too.
    sm.find_role(role).permissions = list(sm.find_role("Clerk").permissions)
    db.session.commit()
    assert client.get("/membermodelview/list/").status_code == 200
    assert 'href="/unitmodelview/tree"' in client.get("/").text


def test_a_change_in_the_request_is_seen_by_that_request(app, db_session):
    make_tree(db_session)
    sm = app.appbuilder.sm
    role = sm.find_role(clerk_with_own_role(app, "cv_same_request"))
    pair = ("can_list", "MemberModelView")
    with app.test_request_context("/"):
        assert pair in request_permissions(sm, [role.id])
        take_away(sm, role.name, "MemberModelView", "can_list")
        assert pair not in request_permissions(sm, [role.id])
        role.permissions = list(sm.find_role("Clerk").permissions)
        db.session.commit()
        assert pair in request_permissions(sm, [role.id])
    with app.app_context():  # outside a request: not kept, FAB asks the database
        assert request_permissions(sm, [role.id]) is None
