"""Audit log (tamper-evident), login lock-out and security headers."""

from sqlalchemy import select, text

from conftest import ADMIN_PASSWORD, login
from factories import make_tree
from webapp.cli import create_user
from webapp.domain.audit import verify_log
from webapp.models import AuditEntry


def entries(db_session, **filters):
    db_session.expire_all()
    return db_session.scalars(select(AuditEntry).filter_by(**filters).order_by(AuditEntry.id)).all()


def test_changes_and_logins_are_logged_with_who_and_where(app, client, db_session):
    tree = make_tree(db_session)
    app.test_client().post("/login/", data={"username": "admin", "password": "wrong"})
    login(client)
    form = {
        "code": "P.01.001.09",
        "name": "Chi bộ Mới",
        "kind": "cell",
        "parent": str(tree["G1"].id),
        "founded_on": "",
        "dissolved_on": "",
    }
    assert client.post("/unitmodelview/add", data=form).status_code == 302
    created = entries(db_session, action="create", object_type="Unit")[-1]
    assert created.username == "admin" and created.address == "127.0.0.1"
    assert '"code": "P.01.001.09"' in created.after
    assert entries(db_session, action="login", username="admin")
    assert entries(db_session, action="login_failed", username="admin")
    count, broken = verify_log(db_session)
    assert count > 0 and broken is None


def test_verify_finds_the_first_altered_or_removed_entry(app, db_session):
    make_tree(db_session)  # produces audit entries
    runner = app.test_cli_runner()
    assert "intact" in runner.invoke(args=["audit", "verify"]).output
    rows = entries(db_session)
    victim = rows[len(rows) // 2]
    try:
        db_session.execute(
            text("UPDATE audit_entry SET after = :v WHERE id = :id"),
            {"v": '{"name": "forged"}', "id": victim.id},
        )
        db_session.commit()
        altered = runner.invoke(args=["audit", "verify"])
        assert altered.exit_code != 0 and f"entry {victim.id}" in altered.output
        db_session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": victim.id})
        db_session.commit()
        removed = runner.invoke(args=["audit", "verify"])
        assert removed.exit_code != 0 and f"entry {rows[len(rows) // 2 + 1].id}" in removed.output
    finally:
        # The log is append-only in the application; this test's own tampering is undone here.
        db_session.execute(text("DELETE FROM audit_entry"))
        db_session.commit()


def test_nobody_edits_the_log_and_only_admins_read_it(app, client, db_session):
    make_tree(db_session)
    create_user("cv_audit", "Clerk", "P.01", "Clerk-Pass-123")
    entry = entries(db_session)[-1]
    login(client)
    assert client.get("/auditentryview/list/").status_code == 200
    assert client.get(f"/auditentryview/edit/{entry.id}").status_code in (302, 403, 404, 405)
    assert client.get(f"/auditentryview/delete/{entry.id}").status_code in (302, 403, 404, 405)
    db_session.expire_all()
    assert db_session.get(AuditEntry, entry.id) is not None
    clerk = app.test_client()
    login(clerk, "cv_audit", "Clerk-Pass-123")
    assert "forged" not in clerk.get("/auditentryview/list/").text
    assert clerk.get("/auditentryview/list/").status_code in (302, 403)  # no access


def test_repeated_failed_logins_lock_the_account_for_a_while(app, client, db_session, redis_conn):
    make_tree(db_session)
    create_user("cv_lock", "Clerk", "P.01", "Right-Pass-123")
    for _ in range(5):
        client.post("/login/", data={"username": "cv_lock", "password": "wrong"})
    locked = app.test_client()
    locked.post(
        "/login/", data={"username": "cv_lock", "password": "Right-Pass-123"}, follow_redirects=True
    )
    assert locked.get("/membermodelview/list/").status_code == 302  # not signed in
    assert entries(db_session, action="login_locked", username="cv_lock")
    redis_conn.delete("dangvien:lockout:cv_lock")
    login(locked, "cv_lock", "Right-Pass-123")
    assert locked.get("/membermodelview/list/").status_code == 200


def test_security_headers(client, db_session):
    response = client.get("/login/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "http" not in csp


def test_sign_in_attempts_are_rate_limited_per_address(app, db_session, monkeypatch):
    from config import Config
    from webapp import create_app

    monkeypatch.setenv("LOGIN_RATE_LIMIT", "3 per minute")
    limited = create_app(Config())
    limited.config["WTF_CSRF_ENABLED"] = False
    client = limited.test_client()
    codes = [
        client.post("/login/", data={"username": "nobody", "password": "x"}).status_code
        for _ in range(4)
    ]
    assert codes[:3] != [429] * 3 and codes[3] == 429


def test_bad_input_is_refused_without_500(app, admin_client, db_session):
    tree = make_tree(db_session)
    # HTML and SQL in a name: stored as typed, shown escaped.
    name = "<script>alert(1)</script>'; DROP TABLE member; --"
    form = {
        "code": "P.01.001.07",
        "name": name,
        "kind": "cell",
        "parent": str(tree["G1"].id),
        "founded_on": "",
        "dissolved_on": "",
    }
    assert admin_client.post("/unitmodelview/add", data=form).status_code == 302
    page = admin_client.get("/unitmodelview/tree")
    assert (
        "<script>alert(1)</script>" not in page.text
        and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    )
    # An oversized body is refused before it is read.
    huge = admin_client.post(
        "/api/v1/members/",
        data=b"x" * (21 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code == 413


def test_posts_without_a_csrf_token_are_refused(app, db_session):
    tree = make_tree(db_session)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        client = app.test_client()
        client.post("/login/", data={"username": "admin", "password": ADMIN_PASSWORD})
        assert client.get("/membermodelview/list/").status_code in (
            302,
            401,
        )  # the login itself was refused
        form = {
            "code": "P.09",
            "name": "Không có mã CSRF",
            "kind": "cell",
            "parent": str(tree["G1"].id),
        }
        client.post("/unitmodelview/add", data=form)
        db_session.expire_all()
        from webapp.models import Unit

        assert db_session.scalar(select(Unit).where(Unit.code == "P.09")) is None
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_api_changes_are_logged_with_the_api_user(app, client, api_token, db_session):
    tree = make_tree(db_session)
    response = client.put(
        f"/api/v1/units/{tree['C1'].id}",
        json={"name": "Chi bộ đổi tên qua API"},
        headers={"Authorization": f"Bearer {api_token}"},
    )
    assert response.status_code == 200
    change = entries(db_session, action="update", object_type="Unit")[-1]
    assert change.username == "admin" and "Chi bộ đổi tên qua API" in change.after


def test_permission_changes_are_logged(app, db_session):
    # A copy of a real role: the per-test clean-up removes what a test added to FAB's
    # tables, so a permission taken from a real role and given back would be lost for
    # the tests after this one.
    sm = app.appbuilder.sm
    role = sm.add_role("Leader copy for the audit test")
    role.permissions = list(sm.find_role("Leader").permissions)
    db_session.commit()
    removed = role.permissions[-1]
    role.permissions = role.permissions[:-1]
    db_session.commit()
    change = entries(db_session, action="update", object_type="Role")[-1]
    assert str(removed) in change.before and str(removed) not in change.after
