"""No GET changes data (issue 11, item 4): every route of the app that answers GET is
fetched as an Admin, with the CSRF check on as in production and ids of real records, and
the whole database (every row of every table, the audit log included) is the same after —
but for the audit log's record of a file taken: an export of members' data answers a GET
and is logged by design (who took which data, webapp/domain/audit.py `log_download`)."""

from __future__ import annotations

import hashlib
from datetime import date

from sqlalchemy import inspect, select, text
from test_csrf import page_token

from conftest import ADMIN_PASSWORD
from factories import SYSTEM, as_requester, make_member, make_tree
from webapp.cli import create_user
from webapp.domain.cards import CardRequest, decide_cards, issue_cards, propose_cards
from webapp.domain.events import open_ledger
from webapp.extensions import db
from webapp.models import Member, MemberEvent, ReportRun
from webapp.models.record import MEMBER_ROW_MODELS, MemberSupplement
from webapp.models.user import DangVienUser
from webapp.reports.runs import request_report

SAMPLE_TEXT = {"version": "v1", "locale": "vi", "filename": "x", "group_by": "x"}
INT_ARGUMENTS = {"member_id": Member, "event_id": MemberEvent}


def make_world(session):
    tree = make_tree(session)
    member = make_member(session, tree["C1"], birth_name="Lê Thị Đọc")
    other = make_member(session, tree["C3"], birth_name="Trần Văn Xem")
    for m in (member, other):
        open_ledger(session, SYSTEM, m.id)
    for model in MEMBER_ROW_MODELS:
        session.add(model(member=member, **required_values(model)))
    session.add(MemberSupplement(member=member, year=2024, declared_on=date(2024, 1, 2)))
    session.commit()
    create_user("manager_get", "Manager", "P", "Manager-Get-123")
    manager = session.scalar(select(DangVienUser.id).where(DangVienUser.username == "manager_get"))
    admin = session.scalar(select(DangVienUser.id).where(DangVienUser.username == "admin"))
    batch = propose_cards(
        session, as_requester(admin, None), member.unit_id, [CardRequest(member.id)]
    )
    ids = [p.id for p in batch.proposals]
    decide_cards(session, as_requester(manager, None), ids, True)
    issue_cards(session, as_requester(manager, None), ids, prefix="01")
    request_report(
        session, as_requester(admin, None), "member-list", "pdf", tree["D1"].id, queue=False
    )
    session.commit()
    return tree


def required_values(model) -> dict:
    """A value for every column a row must have."""
    values = {}
    for column in model.__table__.columns:
        if column.nullable or column.primary_key or column.foreign_keys or column.default:
            continue
        python_type = column.type.python_type
        values[column.key] = {str: "Mẫu", date: date(2001, 1, 1), int: 1990}[python_type]
    return values


# The audit log's entries of files taken (see the module's docstring).
NOT_DOWNLOADS = {"audit_entry": " WHERE action NOT IN ('download', 'export')"}


def total_rows(session, tables: list[str]) -> int:
    """Rows in the whole database, in one round trip (checked after every GET)."""
    counts = " + ".join(
        f'(SELECT count(*) FROM "{table}"{NOT_DOWNLOADS.get(table, "")})' for table in tables
    )
    total = session.scalar(text(f"SELECT {counts}"))
    session.rollback()
    return total


def snapshot(session) -> dict[str, str]:
    """A digest of every row of every table."""
    session.expire_all()
    digests = {}
    for table in inspect(db.engine).get_table_names():
        where = NOT_DOWNLOADS.get(table, "")
        rows = session.execute(text(f'SELECT * FROM "{table}"{where} ORDER BY 1')).all()
        digests[table] = hashlib.sha256(repr(rows).encode()).hexdigest()
    session.rollback()
    return digests


def first_id(session, model):
    key = inspect(model).primary_key[0]
    return session.scalar(select(key).order_by(key).limit(1)) or 1


def sample_path(app, session, rule, tree) -> str:
    view = getattr(app.view_functions[rule.endpoint], "__self__", None)
    model = getattr(getattr(view, "datamodel", None), "obj", None)
    values = {}
    for name in rule.arguments:
        if name == "pk":
            values[name] = first_id(session, ReportRun if model is None else model)
        elif name in INT_ARGUMENTS:
            values[name] = first_id(session, INT_ARGUMENTS[name])
        elif name == "name":
            values[name] = next(iter(getattr(view, "actions", {}) or {"x": None}))
        elif name == "code":
            values[name] = tree["C1"].code
        else:
            values[name] = SAMPLE_TEXT.get(name, "x")
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def test_no_get_of_any_route_changes_data(app, db_session):
    tree = make_world(db_session)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        client = app.test_client()
        token = page_token(client, "/login/")
        signed_in = client.post(
            "/login/", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token}
        )
        assert signed_in.status_code == 302
        rules = sorted(
            (r for r in app.url_map.iter_rules() if "GET" in r.methods),
            # Signing out last: the walk is an Admin's.
            key=lambda r: (r.endpoint.endswith(".logout"), r.rule),
        )
        before = snapshot(db_session)
        rows = total_rows(db_session, list(before))
        fetched, errors = [], []
        for rule in rules:
            path = sample_path(app, db_session, rule, tree)
            status = client.get(path).status_code
            fetched.append(path)
            # /healthz answers 503 by design while no worker or scheduler runs (here: none).
            if status >= 500 and not (rule.endpoint == "health.healthz" and status == 503):
                errors.append((path, status))
            assert total_rows(db_session, list(before)) == rows, f"GET {path} added or deleted rows"
        after = snapshot(db_session)
        assert [t for t in before if before[t] != after[t]] == [], "a GET changed these tables"
        assert not errors
        assert len(fetched) > 150
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
        # FAB's form views keep the field list of their first request for good (with the
        # csrf_token while CSRF was on here); the tests after this one run without CSRF.
        from flask_appbuilder.baseviews import BaseFormView

        for view in app.appbuilder.baseviews:
            if isinstance(view, BaseFormView):
                view.form_columns = type(view).form_columns
