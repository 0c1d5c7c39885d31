"""A page far down the member list is read by its ids first (webapp/views/filters.py,
PageLoadingInterface._deep_page): the same rows in the same order as the plain query, in
every order, within the user's scope."""

from __future__ import annotations

import re
from datetime import date

import pytest

from conftest import login
from factories import make_member, make_tree
from webapp.cli import create_user
from webapp.views import filters

PASSWORD = "Trang-sau-2026!"
NUMBER = re.compile(r"\b\d{6}TN\b")
GIVEN = ["An", "Bình", "Cúc", "Dũng", "Hà", "Hải", "Lan", "Minh", "Nga", "Sơn", "Tâm", "Yến"]


@pytest.fixture()
def members(db_session):
    tree = make_tree(db_session)
    for index in range(60):
        cell = tree["C1"] if index % 3 else tree["C3"]
        make_member(
            db_session,
            cell,
            member_number=f"{200000 + index}TN",
            birth_name=f"Nguyễn Văn {GIVEN[index % len(GIVEN)]}",  # names repeat: the id breaks ties
            birth_date=date(1960 + index % 7, 1 + index % 12, 1 + index % 28),
        )
    db_session.commit()
    create_user("clerk_deep", "Clerk", "P.01", PASSWORD)
    return tree


def numbers(client, **args) -> list[str]:
    response = client.get("/membermodelview/list/", query_string=args)
    assert response.status_code == 200
    table = response.text.split('class="table table-bordered', 1)
    return NUMBER.findall(table[1]) if len(table) > 1 else []


@pytest.mark.parametrize(
    "order",
    [
        {},
        {"_oc_MemberModelView": "birth_date", "_od_MemberModelView": "desc"},
        {"_oc_MemberModelView": "birth_date", "_od_MemberModelView": "asc"},
        {"_oc_MemberModelView": "member_number", "_od_MemberModelView": "desc"},
    ],
)
def test_a_deep_page_shows_what_the_plain_query_shows(client, members, monkeypatch, order):
    login(client, "admin")
    plain = [numbers(client, page_MemberModelView=page, **order) for page in (1, 2)]
    assert len(plain[0]) == 25 and len(plain[1]) == 10
    monkeypatch.setattr(filters, "DEEP_FROM", 1)
    assert [numbers(client, page_MemberModelView=page, **order) for page in (1, 2)] == plain


def test_a_clerk_s_deep_page_holds_only_their_scope(client, members, monkeypatch):
    login(client, "clerk_deep", PASSWORD)
    plain = numbers(client, page_MemberModelView=1)
    monkeypatch.setattr(filters, "DEEP_FROM", 1)
    deep = numbers(client, page_MemberModelView=1)
    assert deep == plain and len(deep) == 40 - 25  # P.01's 40 members, the second page
    cells = {(int(n[:6]) - 200000) % 3 for n in deep}
    assert 0 not in cells  # none of P.02's
