"""Optional TOTP second factor for Admins and Managers: setup, the sign-in step, the API."""

import re

import pyotp

from conftest import login
from factories import make_tree
from webapp.cli import create_user
from webapp.models import DangVienUser

PASSWORD = "Manager-Pass-123"


def test_manager_turns_on_the_second_factor_and_sign_in_then_needs_the_code(
    app, db_session, redis_conn
):
    make_tree(db_session)
    create_user("tp_manager", "Manager", "P.01", PASSWORD)
    client = app.test_client()
    login(client, "tp_manager", PASSWORD)
    page = client.get("/second-factor/")
    assert page.status_code == 200 and 'id="totp-qr"' in page.text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text).group(1)
    assert client.post("/second-factor/", data={"code": "000000"}).status_code == 200
    db_session.expire_all()
    assert not db_session.query(DangVienUser).filter_by(username="tp_manager").one().totp_enabled
    client.post("/second-factor/", data={"code": pyotp.TOTP(secret).now()})
    db_session.expire_all()
    assert db_session.query(DangVienUser).filter_by(username="tp_manager").one().totp_enabled

    fresh = app.test_client()
    step = fresh.post("/login/", data={"username": "tp_manager", "password": PASSWORD})
    assert step.status_code == 302 and step.headers["Location"].endswith("/login/code")
    assert fresh.get("/membermodelview/list/").status_code in (302, 403)  # not signed in yet
    fresh.post(
        "/login/code", data={"code": "123456" if pyotp.TOTP(secret).now() != "123456" else "654321"}
    )
    assert fresh.get("/membermodelview/list/").status_code in (302, 403)
    fresh.post("/login/code", data={"code": pyotp.TOTP(secret).now()})
    assert fresh.get("/membermodelview/list/").status_code == 200

    api = app.test_client()
    payload = {"username": "tp_manager", "password": PASSWORD, "provider": "db"}
    assert api.post("/api/v1/security/login", json=payload).status_code == 401
    with_code = api.post(
        "/api/v1/security/login", json=payload, headers={"X-TOTP": pyotp.TOTP(secret).now()}
    )
    assert with_code.status_code == 200


def test_clerks_have_no_second_factor_screen(app, db_session):
    make_tree(db_session)
    create_user("tp_clerk", "Clerk", "P.01", PASSWORD)
    client = app.test_client()
    login(client, "tp_clerk", PASSWORD)
    assert client.get("/second-factor/").status_code in (302, 403)
