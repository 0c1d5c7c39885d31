"""Adding and editing members and units through the generated forms."""

from sqlalchemy import func, select

from factories import make_member, make_tree
from helpers import vietnamese
from webapp.models import Member, Unit


def member_form(unit, **overrides):
    form = {
        "member_number": "000555TN",
        "birth_name": "Trần Thị Ánh",
        "name_in_use": "",
        "sex": "female",
        "birth_date": "19/05/1985",
        "birth_date_precision": "day",
        "status": "official",
        "admitted_on": "03/02/2010",
        "official_on": "03/02/2011",
        "unit": str(unit.id),
        "citizen_id": "",
        "card_number": "",
    }
    form.update(overrides)
    return form


def count_members(session):
    session.expire_all()
    return session.scalar(select(func.count(Member.id)))


def test_clerk_form_adds_a_member_with_dd_mm_yyyy_dates(app, admin_client, db_session):
    tree = make_tree(db_session)
    response = admin_client.post(
        "/membermodelview/add", data=member_form(tree["C1"]), follow_redirects=True
    )
    assert response.status_code == 200
    member = db_session.scalar(select(Member).where(Member.member_number == "000555TN"))
    assert member is not None
    assert member.birth_date.isoformat() == "1985-05-19"
    assert member.unit_id == tree["C1"].id
    assert member.citizen_id is None and member.card_number is None  # blanks stored as NULL
    assert member.search_key.startswith("tran thi anh")


def test_invalid_dates_show_vietnamese_messages_and_save_nothing(app, admin_client, db_session):
    tree = make_tree(db_session)
    cases = {
        "admitted_on": (
            {"admitted_on": "01/01/1984"},
            "The date of admission must be after the date of birth.",
        ),
        "official_on": (
            {"official_on": "01/01/2010"},
            "The date of official recognition must be after the date of admission.",
        ),
        "birth_future": ({"birth_date": "01/01/2090"}, "The date cannot be in the future."),
        "under_18": (
            {"birth_date": "01/06/1993"},
            "The member was under %(age)s years old on the date of admission.",
        ),
        "bad_date": (
            {"birth_date": "19.05.1985"},  # an impossible day: tests/test_dates.py
            "Enter the date as dd/mm/yyyy, e.g. 19/05/1990.",
        ),
    }
    for overrides, msgid in cases.values():
        params = {"age": 18} if "%(age)s" in msgid else {}
        response = admin_client.post(
            "/membermodelview/add", data=member_form(tree["C1"], **overrides)
        )
        assert response.status_code == 200
        assert vietnamese(app, msgid, **params) in response.text, msgid
    assert count_members(db_session) == 0


def test_required_fields_and_duplicates_are_refused(app, admin_client, db_session):
    tree = make_tree(db_session)
    make_member(db_session, tree["C1"], member_number="000555TN")
    db_session.commit()
    response = admin_client.post("/membermodelview/add", data=member_form(tree["C1"]))
    assert (
        vietnamese(
            app, "The member number %(value)s is already used by another member.", value="000555TN"
        )
        in response.text
    )
    response = admin_client.post(
        "/membermodelview/add",
        data=member_form(tree["C1"], member_number="000556TN", birth_name="", birth_date=""),
    )
    assert vietnamese(app, "The date of birth is required.") in response.text
    assert count_members(db_session) == 1


def test_editing_a_member_keeps_rules(app, admin_client, db_session):
    tree = make_tree(db_session)
    member = make_member(db_session, tree["C1"], member_number="000600TN")
    db_session.commit()
    form = member_form(tree["C2"], member_number="000600TN", birth_name="Lê Văn Bình", sex="male")
    response = admin_client.post(
        f"/membermodelview/edit/{member.id}", data=form, follow_redirects=True
    )
    assert response.status_code == 200
    db_session.expire_all()
    member = db_session.get(Member, member.id)
    # Unit and status come from the ledger: the edit form neither shows nor changes them.
    assert (member.birth_name, member.unit_id, member.version_id) == (
        "Lê Văn Bình",
        tree["C1"].id,
        2,
    )
    edit_page = admin_client.get(f"/membermodelview/edit/{member.id}")
    assert 'name="birth_name"' in edit_page.text and 'name="unit"' not in edit_page.text
    # A birth date after the (ledger's) admission date is refused on the birth date field.
    bad = admin_client.post(
        f"/membermodelview/edit/{member.id}", data={**form, "birth_date": "01/01/2006"}
    )
    assert vietnamese(app, "The date of admission must be after the date of birth.") in bad.text
    db_session.expire_all()
    assert db_session.get(Member, member.id).birth_date.isoformat() == "1985-05-19"


def test_units_form_refuses_duplicate_codes_and_cells_as_parents(app, admin_client, db_session):
    tree = make_tree(db_session)
    base = {
        "code": "P.03",
        "name": "Đảng bộ huyện Ba",
        "kind": "upper_grassroots_committee",
        "parent": str(tree["P"].id),
        "founded_on": "",
        "dissolved_on": "",
    }
    response = admin_client.post("/unitmodelview/add", data={**base, "code": "P.01"})
    assert vietnamese(app, "The unit code %(code)s is already used.", code="P.01") in response.text
    response = admin_client.post(
        "/unitmodelview/add",
        data={**base, "founded_on": "01/01/2001", "dissolved_on": "01/01/2000"},
    )
    assert (
        vietnamese(app, "The dissolution date cannot be before the founding date.") in response.text
    )
    assert db_session.scalar(select(func.count(Unit.id)).where(Unit.code == "P.03")) == 0
    response = admin_client.post("/unitmodelview/add", data=base, follow_redirects=True)
    assert response.status_code == 200
    created = db_session.scalar(select(Unit).where(Unit.code == "P.03"))
    assert created.path == f"/{tree['P'].id}/{created.id}/"


def test_member_list_search_sort_and_pagination(app, admin_client, db_session):
    tree = make_tree(db_session)
    for index, name in enumerate(
        ["Nguyễn Thị Hường", "Trần Văn An", "Lê Thị Bích", "Phạm Văn Đức"]
    ):
        make_member(db_session, tree["C1"], birth_name=name, member_number=f"00070{index}TN")
    for index in range(30):
        make_member(
            db_session, tree["C2"], birth_name="Hoàng Văn Khải", member_number=f"0008{index:02d}TN"
        )
    make_member(
        db_session,
        tree["C1"],
        birth_name="Tạ Văn Số",
        member_number="000900TN",
        card_number="27.123456",
        citizen_id="037080123456",
    )
    db_session.commit()
    found = admin_client.get("/membermodelview/list/?_flt_0_search_key=nguyen+thi+huong")
    assert "Nguyễn Thị Hường" in found.text and "Trần Văn An" not in found.text
    for number in ("27.123456", "037080123456"):
        by_id = admin_client.get(f"/membermodelview/list/?_flt_0_search_key={number}")
        assert "Tạ Văn Số" in by_id.text and "Nguyễn Thị Hường" not in by_id.text
    by_birth_date = admin_client.get("/membermodelview/list/?_flt_0_search_key=19/05/1980+huong")
    assert "Nguyễn Thị Hường" in by_birth_date.text and "Trần Văn An" not in by_birth_date.text
    by_number = admin_client.get("/membermodelview/list/?_flt_0_search_key=000701tn")
    assert "Trần Văn An" in by_number.text and "Nguyễn Thị Hường" not in by_number.text
    first_page = admin_client.get("/membermodelview/list/?_flt_0_search_key=van")
    # Given-name order: An < Đức < Khải …; 25 rows a page.
    text = first_page.text
    assert text.index("Trần Văn An") < text.index("Phạm Văn Đức") < text.index("Hoàng Văn Khải")
    assert text.count("Hoàng Văn Khải") < 30


def test_pages_render_in_vietnamese_and_english(app, admin_client, db_session):
    make_tree(db_session)
    page = admin_client.get("/membermodelview/list/")
    assert vietnamese(app, "Party members") in page.text
    admin_client.get("/lang/en")
    page = admin_client.get("/membermodelview/list/")
    assert "Party members" in page.text and "Logout" in page.text


def test_unknown_member_gives_not_found_not_500(admin_client, db_session):
    assert admin_client.get("/membermodelview/show/987654").status_code in (302, 404)
    assert admin_client.get("/api/v1/members/987654").status_code == 404


def test_unit_page_offers_its_member_list_report_and_lists_its_members(
    app, admin_client, db_session
):
    tree = make_tree(db_session)
    make_member(db_session, tree["C1"], birth_name="Võ Thị Sáu", member_number="000321TN")
    db_session.commit()
    page = admin_client.get(f"/unitmodelview/show/{tree['C1'].id}")
    assert page.status_code == 200
    assert f"/reports/request?report=member-list&amp;unit_id={tree['C1'].id}" in page.text
    assert "Võ Thị Sáu" in page.text  # the related members tab
    assert vietnamese(app, "Cancel") in page.text  # FAB's confirm dialog, translated


def test_second_of_two_concurrent_edits_is_refused(app, admin_client, db_session):
    tree = make_tree(db_session)
    member = make_member(db_session, tree["C1"], member_number="000610TN", birth_name="Đỗ Văn Mười")
    db_session.commit()
    page = admin_client.get(f"/membermodelview/edit/{member.id}")
    assert 'name="version_id" type="hidden" value="1"' in page.text
    form = member_form(tree["C1"], member_number="000610TN", sex="male")
    first = admin_client.post(
        f"/membermodelview/edit/{member.id}",
        data={**form, "birth_name": "Đỗ Văn Mười Một", "version_id": "1"},
    )
    assert first.status_code == 302
    second = admin_client.post(
        f"/membermodelview/edit/{member.id}",
        data={**form, "birth_name": "Đỗ Văn Hai", "version_id": "1"},
    )
    assert second.status_code == 200
    assert (
        vietnamese(
            app,
            "Someone else saved this record after you opened it. Your changes were not saved: open the record again to see the current values.",
        )
        in second.text
    )
    db_session.expire_all()
    saved = db_session.get(Member, member.id)
    assert (saved.birth_name, saved.version_id) == ("Đỗ Văn Mười Một", 2)


def test_api_update_with_an_old_version_is_a_conflict(client, api_token, db_session):
    tree = make_tree(db_session)
    unit = tree["C1"]
    headers = {"Authorization": f"Bearer {api_token}"}
    ok = client.put(
        f"/api/v1/units/{unit.id}",
        json={"name": "Chi bộ thôn Đông A", "version_id": 1},
        headers=headers,
    )
    assert ok.status_code == 200, ok.json
    stale = client.put(
        f"/api/v1/units/{unit.id}", json={"name": "Chi bộ khác", "version_id": 1}, headers=headers
    )
    assert stale.status_code == 409
    db_session.expire_all()
    assert db_session.get(Unit, unit.id).name == "Chi bộ thôn Đông A"
