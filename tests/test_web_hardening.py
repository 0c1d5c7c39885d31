"""Holes an outside review found in the web layer (issue 11): what a clerk of district D1
learns about district D2 from the APIs' _info, forged and impossible ids, duplicate entries,
unknown list actions, FAB's file download, and the API sign-in without a rate limit."""

from __future__ import annotations

import json
import uuid
from datetime import date

import pytest
from flask_appbuilder.baseviews import BaseCRUDView
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import func, select
from test_api import auth

from conftest import ADMIN_PASSWORD, login
from factories import SYSTEM, make_member, make_tree
from helpers import vietnamese
from webapp.cli import create_user
from webapp.domain.events import open_ledger
from webapp.domain.scope import scope_clause
from webapp.models import CatalogueEntry, Member, MemberEvent, Unit
from webapp.models.record import MEMBER_ROW_MODELS, WorkPeriod
from webapp.views.base import MAX_ID, DangVienModelRestApi
from webapp.views.guards import has_id_key

PASSWORD = "Hardening-Pass-123"
ROW_RESOURCES = [
    "work-periods",
    "training-courses",
    "commendations",
    "disciplines",
    "trips-abroad",
    "family-relations",
]


@pytest.fixture()
def world(app, db_session):
    tree = make_tree(db_session)
    own = make_member(db_session, tree["C1"], member_number="000101TN", birth_name="Đinh Văn Nhà")
    sibling = make_member(
        db_session, tree["C3"], member_number="000202TN", birth_name="Quách Thị Bên"
    )
    for member in (own, sibling):
        open_ledger(db_session, SYSTEM, member.id)
    db_session.add(
        WorkPeriod(member=sibling, starts_on=date(2001, 1, 1), description="Giáo viên bên")
    )
    db_session.commit()
    create_user("clerk_d1", "Clerk", "P.01", PASSWORD)
    return {"tree": tree, "own": own, "sibling": sibling}


def token(client, username, password=PASSWORD) -> dict:
    response = client.post(
        "/api/v1/security/login",
        json={"username": username, "password": password, "provider": "db"},
    )
    assert response.status_code == 200, response.json
    return auth(response.json["access_token"])


def rest_apis(app) -> list[DangVienModelRestApi]:
    return [v for v in app.appbuilder.baseviews if isinstance(v, DangVienModelRestApi)]


def crud_views(app) -> list[BaseCRUDView]:
    return [v for v in app.appbuilder.baseviews if isinstance(v, BaseCRUDView)]


def row_counts(session) -> tuple[int, ...]:
    session.expire_all()
    models = (Member, MemberEvent, Unit, CatalogueEntry, *MEMBER_ROW_MODELS)
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in models)


# --- 2. _info choices ---------------------------------------------------------------------


def test_info_offers_no_member_and_nothing_outside_the_callers_scope(
    app, client, db_session, world
):
    """For every REST API: the choices of each related field are rows of the clerk's scope,
    a page at most; members and users are never listed; nothing of D2 or the province
    shows anywhere in the answer."""
    headers = token(client, "clerk_d1")
    d1_path = world["tree"]["D1"].path
    checked = 0
    for api in rest_apis(app):
        response = client.get(f"{api.route_base}/_info", headers=headers)
        assert response.status_code == 200, (api.route_base, response.json)
        text = json.dumps(response.json, ensure_ascii=False)
        for leaked in ("Quách Thị Bên", "000202TN", "Đinh Văn Nhà", "000101TN", "P.02", "Hai"):
            assert leaked not in text, (api.route_base, leaked)
        assert "Thử nghiệm" not in text and "Quản trị" not in text, api.route_base
        assert "Project-Id-Version" not in text, "FAB's empty description is the PO header"
        for field in response.json.get("add_columns", []) + response.json.get("edit_columns", []):
            if "values" not in field:
                continue
            checked += 1
            related = api.datamodel.get_related_model(field["name"])
            assert len(field["values"]) <= api.page_size
            if issubclass(related, (Member, User)):
                assert field["values"] == [] and field["count"] == 0, (api.route_base, field)
                continue
            ids = {value["id"] for value in field["values"]}
            visible = set(
                db_session.scalars(
                    select(related.id).where(related.id.in_(ids), scope_clause(related, d1_path))
                )
            )
            assert ids == visible, (api.route_base, field["name"])
    assert checked >= 10  # the member rows, units, events, cards and badges were looked at


def test_info_pages_the_units_even_for_an_admin(app, client, api_token, world):
    response = client.get("/api/v1/members/_info", headers=auth(api_token))
    unit = next(f for f in response.json["add_columns"] if f["name"] == "unit")
    assert unit["count"] == 7 and len(unit["values"]) == 7
    paged = client.get(
        "/api/v1/members/_info?q=(add_columns:(unit:(page:0,page_size:2)))",
        headers=auth(api_token),
    )
    unit = next(f for f in paged.json["add_columns"] if f["name"] == "unit")
    assert unit["count"] == 7 and len(unit["values"]) == 2


# --- 8. no server errors --------------------------------------------------------------------


def id_rules(app):
    """Every route with an id in its path: `<int:…>` or FAB's `<pk>` of a model keyed by an
    integer (badge settings are keyed by name)."""
    for rule in app.url_map.iter_rules():
        view = getattr(app.view_functions[rule.endpoint], "__self__", None)
        ids = [
            name
            for name, converter in rule._converters.items()
            if type(converter).__name__ == "IdConverter" or (name == "pk" and has_id_key(view))
        ]
        if ids:
            yield rule, ids


def url_with(rule, ids: list[str], value) -> str:
    values = {name: "x" for name in rule.arguments}
    values.update(dict.fromkeys(ids, value))
    # Build the path by hand: the converters would refuse the out-of-range value.
    path = rule.rule
    for name in rule.arguments:
        path = path.replace(f"<{name}>", str(values[name]))
        for converter in ("int", "string", "path"):
            path = path.replace(f"<{converter}:{name}>", str(values[name]))
    assert "<" not in path, path
    return path


def test_an_id_beyond_the_id_range_is_404_on_every_route(app, client, api_token, db_session, world):
    """2^63 overflowed the database driver on every route with an id (63 of 91 on SQLite)."""
    login(client)
    headers = auth(api_token)
    before = row_counts(db_session)
    seen = 0
    for rule, ids in id_rules(app):
        path = url_with(rule, ids, 2**63)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method, headers=headers, json={})
            # No route takes the number; where another route has the same shape with a text
            # segment (members/<pk>/photo beside FAB's members/<pk>), the method is refused.
            assert response.status_code in (404, 405), (method, path, response.status_code)
            seen += 1
    assert seen > 90
    assert row_counts(db_session) == before


@pytest.mark.parametrize(
    "path", ["/reports/status/{}", "/membermodelview/show/{}", "/api/v1/units/{}"]
)
@pytest.mark.parametrize("value", [MAX_ID + 1, "abc", "-1"])
def test_the_id_range_ends_at_the_largest_id(admin_client, api_token, path, value):
    """The first id past the range, and what is no id at all, on an `<int:…>` route, a
    screen's and an API's `<pk>` (where only another method's route may match: 405)."""
    response = admin_client.put(path.format(value), headers=auth(api_token), json={})
    assert response.status_code in (404, 405)
    assert admin_client.get(path.format(value), headers=auth(api_token)).status_code in (404, 405)
    if isinstance(value, int):
        assert admin_client.get(path.format(value), headers=auth(api_token)).status_code == 404


@pytest.mark.parametrize("resource", ROW_RESOURCES)
def test_a_row_naming_a_missing_or_hidden_member_is_a_422(app, client, db_session, world, resource):
    """FAB would build an empty member for an unknown id and the insert would fail; a
    member of another district is answered the same way (it does not exist for the clerk)."""
    headers = token(client, "clerk_d1")
    before = row_counts(db_session)
    for member_id in (MAX_ID, world["sibling"].id):
        response = client.post(
            f"/api/v1/{resource}/",
            json={"member": member_id, "starts_on": "2001-01-01", "description": "Bên"},
            headers=headers,
        )
        assert response.status_code == 422, response.json
        assert response.json["message"] == {
            "member_id": [vietnamese(app, "The member does not exist.")]
        }
    assert row_counts(db_session) == before


def test_a_row_of_a_member_in_scope_is_still_added(app, client, world):
    response = client.post(
        "/api/v1/work-periods/",
        json={"member": world["own"].id, "starts_on": "2001-01-01", "description": "Nông dân"},
        headers=token(client, "clerk_d1"),
    )
    assert response.status_code == 201, response.json


def test_a_duplicate_catalogue_entry_is_a_422_naming_it(app, client, api_token, db_session):
    entry = {"kind": "ethnicity", "code": "ZZ", "name": "Dân tộc thử"}
    first = client.post("/api/v1/catalogues/", json=entry, headers=auth(api_token))
    assert first.status_code == 201, first.json
    before = row_counts(db_session)
    again = client.post("/api/v1/catalogues/", json=entry, headers=auth(api_token))
    assert again.status_code == 422, again.json
    assert again.json["message"] == {
        "code": [vietnamese(app, "“%(value)s” is already used.", value="ZZ")],
        "name": [vietnamese(app, "“%(value)s” is already used.", value="Dân tộc thử")],
    }
    other = client.post(
        "/api/v1/catalogues/",
        json={**entry, "code": "ZY", "name": "Dân tộc khác"},
        headers=auth(api_token),
    )
    assert other.status_code == 201
    renamed = client.put(
        f"/api/v1/catalogues/{other.json['id']}",
        json={"name": "Dân tộc thử"},
        headers=auth(api_token),
    )
    assert renamed.status_code == 422, renamed.json
    assert list(renamed.json["message"]) == ["name"]
    assert row_counts(db_session)[3] == before[3] + 1


def test_a_unique_violation_the_checks_missed_is_a_422(
    app, client, api_token, db_session, monkeypatch
):
    """Two requests racing past the checks (the API's and the command's own): the database
    refuses inside the command, which answers the clash as such (409), nothing saved."""
    from webapp.domain import catalogues
    from webapp.domain.commands import CLASH
    from webapp.domain.errors import FieldErrors

    entry = {"kind": "ethnicity", "code": "ZX", "name": "Dân tộc đua"}
    assert (
        client.post("/api/v1/catalogues/", json=entry, headers=auth(api_token)).status_code == 201
    )
    monkeypatch.setattr(DangVienModelRestApi, "duplicates", lambda self, item, pk: FieldErrors())
    monkeypatch.setattr(catalogues, "check_entry", lambda session, values, entry_id: FieldErrors())
    again = client.post("/api/v1/catalogues/", json=entry, headers=auth(api_token))
    assert again.status_code == 409
    assert again.json["message"] == vietnamese(app, CLASH)


@pytest.mark.parametrize(
    "flt",
    [
        {"col": "member", "opr": "rel_o_m", "value": "abc"},
        {"col": "member", "opr": "rel_o_m", "value": 2**63},
        {"col": "description", "opr": "ct", "value": 5},
        {"col": "description", "opr": "ct", "value": ["a"]},
        {"col": "description", "opr": "in", "value": "a"},
        {"col": "description", "opr": "eq", "value": "a\x00b"},
    ],
)
def test_a_list_filter_the_column_cannot_take_is_a_400(app, client, api_token, db_session, flt):
    response = client.get(
        "/api/v1/work-periods/",
        query_string={"q": json.dumps({"filters": [flt]})},
        headers=auth(api_token),
    )
    assert response.status_code == 400, response.json
    assert response.json["message"] == vietnamese(
        app,
        "The filter on “%(column)s” has a value that does not fit the column.",
        column=flt["col"],
    )


def test_a_page_before_the_first_or_past_any_is_no_error(app, client, api_token, world):
    for page in (-8472, 2**63):
        response = client.get(
            "/api/v1/units/",
            query_string={"q": json.dumps({"page": page, "page_size": 2})},
            headers=auth(api_token),
        )
        assert response.status_code == 200, response.json
    info = client.get(
        "/api/v1/members/_info?q=(add_columns:(unit:(page:-1,page_size:2)))",
        headers=auth(api_token),
    )
    assert info.status_code == 200


def test_a_number_too_large_for_its_column_is_a_422(app, client, api_token, db_session):
    entry = {"kind": "ethnicity", "code": "ZW", "name": "Số lớn", "position": 10542932943281}
    response = client.post("/api/v1/catalogues/", json=entry, headers=auth(api_token))
    assert response.status_code == 422, response.json
    assert response.json["message"] == {
        "position": [
            vietnamese(
                app,
                "Enter a whole number from %(low)s to %(high)s.",
                low=-(2**31),
                high=2**31 - 1,
            )
        ]
    }


def test_an_unknown_list_action_is_refused_on_every_screen(app, admin_client, world):
    views = crud_views(app)
    assert len(views) >= 20
    for view in views:
        base = view.route_base
        posted = admin_client.post(f"{base}/action_post", data={"action": "no-such-action"})
        assert posted.status_code == 400, (base, posted.status_code)
        assert vietnamese(app, "The request is not valid.") in posted.text
        by_name = admin_client.post(f"{base}/action/no-such-action/1")
        assert by_name.status_code == 404, base
        assert admin_client.get(f"{base}/action/no-such-action/1").status_code == 405, base


def test_a_real_action_on_a_record_outside_the_screen_is_404(app, client, world):
    """FAB fetches an action's records without the screen's filters: the guard does not."""
    login(client, "clerk_d1", PASSWORD)
    view = next(v for v in crud_views(app) if v.actions)
    name = next(iter(view.actions))
    assert client.post(f"{view.route_base}/action/{name}/{MAX_ID}").status_code == 404
    assert (
        client.post(
            f"{view.route_base}/action_post", data={"action": name, "rowid": [str(MAX_ID)]}
        ).status_code
        == 404
    )


def test_there_is_no_file_download_on_any_screen(app, admin_client, db_session):
    for view in crud_views(app):
        endpoint = f"{view.endpoint}.download"
        if endpoint not in app.view_functions or "<int:" in str(
            next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
        ):
            continue  # a screen's own download (report files), tested with the reports
        response = admin_client.get(f"{view.route_base}/download/secret_key")
        assert response.status_code == 404, view.route_base
        assert vietnamese(app, "The page or record was not found.") in response.text


def test_an_uncaught_error_is_a_page_without_traceback(monkeypatch, db_session):
    """Outside the tests (no TESTING) an error nobody caught: logged, answered in Vietnamese
    with no detail, in HTML and in JSON."""
    from config import Config
    from webapp import create_app

    production = create_app(Config())
    production.config["WTF_CSRF_ENABLED"] = False

    def broken():
        raise RuntimeError("secret detail")

    production.add_url_rule("/boom", "boom", broken)
    production.add_url_rule("/api/v1/boom", "api_boom", broken)
    client = production.test_client()
    page = client.get("/boom")
    api = client.get("/api/v1/boom")
    assert page.status_code == api.status_code == 500
    assert "secret detail" not in page.text and "Traceback" not in page.text
    expected = vietnamese(
        production,
        "Something went wrong on the server. It has been logged; please try again later.",
    )
    assert expected in page.text and api.json == {"message": expected}
    assert client.get("/no-such-page").status_code == 404


# --- 5. the API sign-in is rate-limited like the web sign-in --------------------------------


@pytest.fixture()
def limited_app(monkeypatch, db_session):
    """The app as configured by default (10 sign-in attempts a minute per address), with
    its own counters in Redis."""
    from config import Config
    from webapp import create_app

    monkeypatch.delenv("LOGIN_RATE_LIMIT", raising=False)
    config = Config()
    config.RATELIMIT_KEY_PREFIX = f"test-{uuid.uuid4().hex}"
    limited = create_app(config)
    limited.config["WTF_CSRF_ENABLED"] = False
    return limited


def api_login(client, username="nobody", password="wrong"):
    # Not "admin": five failures would lock the account for the tests that follow.
    return client.post(
        "/api/v1/security/login",
        json={"username": username, "password": password, "provider": "db"},
    )


def test_api_sign_in_gets_429_after_ten_failures(app, limited_app):
    client = limited_app.test_client()
    answers = [api_login(client) for _ in range(13)]
    assert [a.status_code for a in answers] == [401] * 10 + [429] * 3
    assert answers[-1].json == {
        "message": vietnamese(
            app, "Too many attempts from your address; wait a minute and try again."
        )
    }
    # Even the right password waits: the limit is on attempts, not on failures.
    assert api_login(client, "admin", ADMIN_PASSWORD).status_code == 429
    # Other API calls from the address are not limited.
    assert client.get("/api/v1/members/").status_code == 401


def test_web_and_api_sign_in_share_one_budget(app, limited_app):
    client = limited_app.test_client()
    web = [
        client.post("/login/", data={"username": "nobody", "password": "wrong"}).status_code
        for _ in range(6)
    ]
    api = [api_login(client).status_code for _ in range(5)]
    assert 429 not in web and api == [401] * 4 + [429]
    refused = client.post("/login/", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert refused.status_code == 429
    assert vietnamese(app, "Too many attempts from your address; wait a minute and try again.") in (
        refused.text
    )
