"""Record pages (issue 13, items 7 and 8): member and unit pages are named after their
record (page title and heading); after adding a member or founding a unit the clerk is on
its page; units come in the natural order of their codes' parts in lists, the tree and
pick-lists; a unit's member counts say what they count and agree with the roll and tree."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select
from test_web_crud import member_form

from factories import SYSTEM, make_member, make_tree, make_unit
from helpers import vietnamese
from webapp.domain.events import EventInput, open_ledger, record_event
from webapp.domain.units import edit_unit, subtree_member_counts
from webapp.models import Member, Unit
from webapp.models.unit import UnitKind, code_sort_key


def page_title(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1).strip()


def heading(html: str) -> str:
    return re.search(r'<h4 class="panel-title">(.*?)</h4>', html, re.S).group(1).strip()


# --- Item 7: pages with a name -----------------------------------------------------------


def test_member_and_unit_pages_are_titled_with_the_record(app, admin_client, db_session):
    tree = make_tree(db_session)
    member = make_member(db_session, tree["C1"], birth_name="Trần Thị Ánh")
    db_session.commit()
    page = admin_client.get(f"/membermodelview/show/{member.id}")
    assert page.status_code == 200
    expected = f"Trần Thị Ánh ({member.member_number})"
    assert heading(page.text) == expected
    assert page_title(page.text).startswith(expected)
    unit = admin_client.get(f"/unitmodelview/show/{tree['C1'].id}")
    expected = "P.01.001.01 – Chi bộ thôn Đông"
    assert heading(unit.text) == expected
    assert page_title(unit.text).startswith(expected)


def test_after_adding_a_member_the_clerk_is_on_its_page(app, admin_client, db_session):
    tree = make_tree(db_session)
    response = admin_client.post("/membermodelview/add", data=member_form(tree["C1"]))
    member = db_session.scalar(select(Member).where(Member.member_number == "000555TN"))
    assert member is not None
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/membermodelview/show/{member.id}")
    page = admin_client.get(response.headers["Location"])
    assert heading(page.text) == f"Trần Thị Ánh ({member.member_number})"
    # A refused form stays on the form, as before.
    again = admin_client.post("/membermodelview/add", data=member_form(tree["C1"]))
    assert again.status_code == 200 and 'id="model_form"' in again.text


def test_after_founding_a_unit_the_clerk_is_on_its_page(app, admin_client, db_session):
    tree = make_tree(db_session)
    response = admin_client.post(
        "/unitmodelview/add",
        data={
            "code": "P.01.002",
            "name": "Đảng bộ xã Hai",
            "kind": "grassroots_committee",
            "parent": str(tree["D1"].id),
            "founded_on": "",
            "dissolved_on": "",
        },
    )
    unit = db_session.scalar(select(Unit).where(Unit.code == "P.01.002"))
    assert unit is not None, response.text
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/unitmodelview/show/{unit.id}")


def test_record_pages_keep_their_tab_per_record_not_fab_s_global_one(app, admin_client, db_session):
    """FAB's ab_keep_tab.js kept the last tab for every page; the record pages use their
    own, keyed by the page (the browser test shows its effect)."""
    tree = make_tree(db_session)
    member = make_member(db_session, tree["C1"])
    db_session.commit()
    for url in (f"/membermodelview/show/{member.id}", f"/unitmodelview/show/{tree['C1'].id}"):
        page = admin_client.get(url)
        assert "ab_keep_tab.js" not in page.text, url
        assert "js/record_tabs.js" in page.text, url
    script = admin_client.get("/static/js/record_tabs.js")
    assert script.status_code == 200
    assert "window.location.pathname" in script.text and "sessionStorage.setItem" in script.text


# --- Item 8: order and counts -------------------------------------------------------------


@pytest.mark.parametrize(
    "codes",
    [
        ["NB", "NB.01", "NB.03", "NB.10"],
        ["NB.01.003.01", "NB.01.003.02", "NB.01.003.10"],
        ["NB.2", "NB.02.1", "NB.10"],
        ["A", "A.1", "A-1", "AB"],
        ["NB.01", "NB.01.5", "NB.1A", "NB.A"],
    ],
)
def test_code_sort_key_orders_parts_naturally(codes):
    assert sorted(codes, key=code_sort_key) == codes
    assert sorted(reversed(codes), key=code_sort_key) == codes


@pytest.fixture()
def shuffled_tree(db_session):
    """Units founded out of order (ids do not follow codes), as a province grows."""
    province = make_unit(db_session, "NB", "Đảng bộ tỉnh Ninh Bình", UnitKind.PROVINCIAL_COMMITTEE)
    nb03 = make_unit(
        db_session, "NB.03", "Huyện ủy Ba", UnitKind.UPPER_GRASSROOTS_COMMITTEE, province
    )
    nb10 = make_unit(
        db_session, "NB.10", "Huyện ủy Mười", UnitKind.UPPER_GRASSROOTS_COMMITTEE, province
    )
    nb01 = make_unit(
        db_session, "NB.01", "Huyện ủy Một", UnitKind.UPPER_GRASSROOTS_COMMITTEE, province
    )
    g = make_unit(db_session, "NB.01.003", "Đảng bộ xã Ba", UnitKind.GRASSROOTS_COMMITTEE, nb01)
    c2 = make_unit(db_session, "NB.01.003.02", "Chi bộ thôn Hai", UnitKind.CELL, g)
    c1 = make_unit(db_session, "NB.01.003.01", "Chi bộ thôn Một", UnitKind.CELL, g)
    c10 = make_unit(db_session, "NB.03.10", "Chi bộ cơ sở Mười", UnitKind.GRASSROOTS_CELL, nb03)
    c9 = make_unit(db_session, "NB.03.9", "Chi bộ cơ sở Chín", UnitKind.GRASSROOTS_CELL, nb03)
    db_session.commit()
    return {u.code: u for u in (province, nb01, nb03, nb10, g, c1, c2, c9, c10)}


TREE_ORDER = [
    "NB",
    "NB.01",
    "NB.01.003",
    "NB.01.003.01",
    "NB.01.003.02",
    "NB.03",
    "NB.03.9",
    "NB.03.10",
    "NB.10",
]


def codes_in(html: str, codes) -> list[str]:
    """The codes as they appear in a page, in order."""
    found = re.findall(r"NB(?:\.[0-9]+)*", html)
    seen: list[str] = []
    for code in found:
        if code in codes and code not in seen:
            seen.append(code)
    return seen


def test_units_list_tree_and_pick_lists_follow_the_codes(
    app, admin_client, db_session, shuffled_tree
):
    listing = admin_client.get("/unitmodelview/list/?psize_UnitModelView=100")
    assert codes_in(listing.text, TREE_ORDER) == TREE_ORDER
    tree = admin_client.get("/unitmodelview/tree")
    assert re.findall(r'data-unit="([^"]+)"', tree.text) == TREE_ORDER
    # The parent pick-list of the unit form, the cell pick-list of the member form.
    form = admin_client.get("/unitmodelview/add")
    parents = re.search(r'<select[^>]*id="parent".*?</select>', form.text, re.S).group(0)
    assert codes_in(parents, TREE_ORDER) == ["NB", "NB.01", "NB.01.003", "NB.03", "NB.10"]
    form = admin_client.get("/membermodelview/add")
    cells = re.search(r'<select[^>]*id="unit".*?</select>', form.text, re.S).group(0)
    assert codes_in(cells, TREE_ORDER) == ["NB.01.003.01", "NB.01.003.02", "NB.03.9", "NB.03.10"]
    # The API lists in the same order.
    api = admin_client.get("/api/v1/units/?q=(page_size:100)")
    assert [u["code"] for u in api.json["result"]] == TREE_ORDER


def test_recoding_and_moving_reorder_the_whole_subtree(app, db_session, shuffled_tree):
    units = shuffled_tree
    edit_unit(db_session, SYSTEM, units["NB.01"].id, {"code": "NB.20"})
    edit_unit(db_session, SYSTEM, units["NB.03.9"].id, {"parent_id": units["NB.10"].id})
    db_session.expire_all()
    order = db_session.scalars(select(Unit.code).order_by(Unit.sort_path)).all()
    assert order == [
        "NB",
        "NB.03",
        "NB.03.10",
        "NB.10",
        "NB.03.9",
        "NB.20",
        "NB.01.003",
        "NB.01.003.01",
        "NB.01.003.02",
    ]


def test_a_unit_page_labels_its_counts_and_they_agree_with_roll_and_tree(
    app, admin_client, db_session
):
    tree = make_tree(db_session)
    cell = tree["C1"]
    living = [make_member(db_session, cell, birth_name=f"Đảng Viên {i}") for i in range(3)]
    gone = make_member(db_session, cell, birth_name="Đã Mất")
    for member in [*living, gone]:
        open_ledger(db_session, SYSTEM, member.id)
    record_event(
        db_session, SYSTEM, gone.id, EventInput(kind="death", effective_on=date(2024, 1, 5))
    )
    db_session.commit()

    page = admin_client.get(f"/unitmodelview/show/{cell.id}")
    on_rolls = re.search(r'id="count-on-rolls">(\d+)<', page.text).group(1)
    records = re.search(r'id="count-records">(\d+)<', page.text).group(1)
    assert (on_rolls, records) == ("3", "4")
    assert (
        vietnamese(
            app, "Records kept in this unit, including members who died, transferred out or left"
        )
        in page.text
    )
    assert (
        vietnamese(
            app, "Members on the rolls (this unit and its subunits, as in the tree and the roll)"
        )
        in page.text
    )
    # The members tab is labelled with what it lists, and lists all four records.
    assert (
        f"{vietnamese(app, 'Records kept in this unit, former members included')} (4)" in page.text
    )
    # The roll and the tree count the same 3.
    roll = admin_client.get(f"/unitmodelview/roll/{cell.id}")
    assert roll.text.count("Đảng Viên ") == 3 and "Đã Mất" not in roll.text
    assert subtree_member_counts(db_session)[cell.id] == 3
    tree_page = admin_client.get("/unitmodelview/tree")
    assert re.search(rf'data-unit="{cell.code}">3<', tree_page.text)
    # The grassroots committee above counts its subtree's rolls (and keeps no records).
    above = admin_client.get(f"/unitmodelview/show/{tree['G1'].id}")
    assert re.search(r'id="count-on-rolls">(\d+)<', above.text).group(1) == "3"
    assert 'id="count-records"' not in above.text
