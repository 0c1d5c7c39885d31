"""The full member form: catalogues, repeating rows, completeness, yearly supplement and
the history of every changed field."""

from datetime import date

import pytest
from sqlalchemy import select
from test_api import auth

from factories import SYSTEM, make_member, make_tree
from helpers import vietnamese
from webapp.domain.catalogues import catalogue_names, seed_catalogues
from webapp.domain.completeness import FOUR_PAGE, INCOMPLETE, ONE_PAGE, completeness
from webapp.models import FamilyRelation, Member, MemberChange, MemberSupplement, WorkPeriod

FULL_ONE_PAGE = {
    "member_number": "000001TN",
    "birth_name": "Nguyễn Văn An",
    "sex": "male",
    "birth_date": date(1980, 1, 1),
    "birthplace": "Ninh Bình",
    "home_town": "Ninh Bình",
    "permanent_address": "Hoa Lư",
    "ethnicity": "Kinh",
    "religion": "Không",
    "admitted_on": date(2005, 1, 1),
    "admitting_cell": "Chi bộ thôn Đông",
    "introducer_1": "Trần Văn B",
    "introducer_2": "Lê Văn C",
    "unit_id": 1,
    "status": "probationary",
}
FULL_FOUR_PAGE = {
    **FULL_ONE_PAGE,
    "citizen_id": "037080000001",
    "general_education": "12/12",
    "professional_level": "Đại học",
    "political_theory": "Trung cấp",
    "occupation_at_admission": "Công nhân",
    "occupation": "Công nhân",
    "health": "Tốt",
}
ROWS = {"work_periods": 1, "family_relations": 2}


@pytest.mark.parametrize(
    ("values", "rows", "level", "missing"),
    [
        (FULL_FOUR_PAGE, ROWS, FOUR_PAGE, ()),
        (
            FULL_ONE_PAGE,
            ROWS,
            ONE_PAGE,
            (
                "citizen_id",
                "general_education",
                "professional_level",
                "political_theory",
                "occupation_at_admission",
                "occupation",
                "health",
            ),
        ),
        (FULL_FOUR_PAGE, {"work_periods": 1}, ONE_PAGE, ("family_relations",)),
        ({**FULL_FOUR_PAGE, "introducer_2": " "}, ROWS, INCOMPLETE, ("introducer_2",)),
        ({**FULL_FOUR_PAGE, "status": "official"}, ROWS, INCOMPLETE, ("official_on",)),
        (
            {**FULL_FOUR_PAGE, "status": "official", "official_on": date(2006, 1, 1)},
            ROWS,
            FOUR_PAGE,
            (),
        ),
    ],
)
def test_completeness_levels(values, rows, level, missing):
    result = completeness(values, rows)
    assert (result.level, result.missing) == (level, missing)


def test_catalogues_are_seeded_once_and_offer_the_54_ethnic_groups(db_session):
    assert seed_catalogues(db_session, SYSTEM) == 0  # `init` seeded them already
    ethnic = catalogue_names(db_session, "ethnicity")
    assert len(ethnic) == 55 and ethnic[0] == "Kinh"


def test_values_outside_the_catalogue_are_refused_but_old_ones_may_stay(
    app, admin_client, db_session
):
    tree = make_tree(db_session)
    form = {
        "member_number": "000900TN",
        "birth_name": "Hà Văn Chín",
        "sex": "male",
        "birth_date": "01/01/1970",
        "birth_date_precision": "day",
        "status": "official",
        "admitted_on": "01/01/1995",
        "official_on": "01/01/1996",
        "unit": str(tree["C1"].id),
        "ethnicity": "Người sao Hỏa",
    }
    refused = admin_client.post("/membermodelview/add", data=form)
    assert (
        vietnamese(
            app,
            "%(value)s is not in the catalogue; choose a value from the list.",
            value="Người sao Hỏa",
        )
        in refused.text
    )
    legacy = make_member(
        db_session, tree["C1"], member_number="000901TN", ethnicity="Mường Bi (ghi cũ)"
    )
    db_session.commit()
    edit = {
        **form,
        "member_number": "000901TN",
        "ethnicity": "Mường Bi (ghi cũ)",
        "version_id": "1",
    }
    del edit["unit"], edit["status"], edit["admitted_on"], edit["official_on"]
    assert admin_client.post(f"/membermodelview/edit/{legacy.id}", data=edit).status_code == 302


def test_rows_are_added_from_the_member_page_and_completeness_follows(
    app, admin_client, db_session
):
    tree = make_tree(db_session)
    member = make_member(
        db_session,
        tree["C1"],
        **{
            k: v
            for k, v in FULL_FOUR_PAGE.items()
            if k not in ("unit_id", "member_number", "status")
        },
    )
    db_session.commit()
    db_session.refresh(member)
    assert (
        member.completeness == ONE_PAGE and member.missing_fields == "work_periods,family_relations"
    )

    refused = admin_client.get("/workperiodview/add", follow_redirects=True)
    assert vietnamese(app, "Open the member's page and add the row from there.") in refused.text
    added = admin_client.post(
        f"/workperiodview/add?_flt_0_member={member.id}",
        data={"starts_on": "01/09/2002", "ends_on": "", "description": "Công nhân Nhà máy Xi măng"},
    )
    assert added.status_code == 302
    bad = admin_client.post(
        f"/familyrelationview/add?_flt_0_member={member.id}",
        data={
            "relation": "Bố",
            "full_name": "Nguyễn Văn Cha",
            "birth_year": "2090",
            "occupation": "",
            "notes": "",
        },
    )
    assert vietnamese(app, "The date cannot be in the future.") in bad.text
    admin_client.post(
        f"/familyrelationview/add?_flt_0_member={member.id}",
        data={
            "relation": "Bố",
            "full_name": "Nguyễn Văn Cha",
            "birth_year": "1950",
            "occupation": "Làm ruộng",
            "notes": "",
        },
    )
    db_session.expire_all()
    member = db_session.get(Member, member.id)
    assert member.completeness == FOUR_PAGE and member.missing_fields is None
    page = admin_client.get(f"/membermodelview/show/{member.id}")
    assert (
        "Công nhân Nhà máy Xi măng" in page.text and vietnamese(app, "4-page record") in page.text
    )


def test_yearly_supplement_changes_fields_and_keeps_their_history(app, admin_client, db_session):
    tree = make_tree(db_session)
    member = make_member(
        db_session, tree["C1"], political_theory="Sơ cấp", current_address="Thôn Đông"
    )
    db_session.commit()
    form = admin_client.get(f"/supplements/apply/{member.id}")
    assert form.status_code == 200 and "Thôn Đông" in form.text
    response = admin_client.post(
        f"/supplements/apply/{member.id}",
        data={
            "year": "2025",
            "declared_on": "15/01/2026",
            "political_theory": "Trung cấp",
            "current_address": "Phố Tràng An",
            "note": "Phiếu năm 2025",
        },
    )
    assert response.status_code == 302
    db_session.expire_all()
    member = db_session.get(Member, member.id)
    assert (member.political_theory, member.current_address) == ("Trung cấp", "Phố Tràng An")
    supplement = db_session.scalar(
        select(MemberSupplement).where(MemberSupplement.member_id == member.id)
    )
    changes = {
        c.field: (c.old_value, c.new_value, c.supplement_id)
        for c in db_session.scalars(select(MemberChange))
    }
    assert changes["political_theory"] == ("Sơ cấp", "Trung cấp", supplement.id)
    assert changes["current_address"] == ("Thôn Đông", "Phố Tràng An", supplement.id)
    page = admin_client.get(f"/membermodelview/show/{member.id}")
    assert "Phố Tràng An" in page.text and "2025" in page.text

    bad = admin_client.post(
        f"/supplements/apply/{member.id}",
        data={"year": "2025", "declared_on": "", "political_theory": "Cao cấp"},
    )
    assert bad.status_code == 200
    db_session.expire_all()
    assert db_session.get(Member, member.id).political_theory == "Trung cấp"


def test_every_edit_is_in_the_history_with_who(admin_client, db_session):
    tree = make_tree(db_session)
    member = make_member(db_session, tree["C1"], member_number="000950TN", birth_name="Lý Thị Năm")
    db_session.commit()
    form = {
        "member_number": "000950TN",
        "birth_name": "Lý Thị Năm",
        "name_in_use": "Lý Năm",
        "sex": "female",
        "birth_date": "19/05/1980",
        "birth_date_precision": "day",
        "version_id": "1",
    }
    assert admin_client.post(f"/membermodelview/edit/{member.id}", data=form).status_code == 302
    change = db_session.scalar(select(MemberChange).where(MemberChange.field == "name_in_use"))
    assert (change.old_value, change.new_value, change.changed_by.username) == (
        None,
        "Lý Năm",
        "admin",
    )


def test_rows_and_catalogues_through_the_api(client, api_token, db_session):
    tree = make_tree(db_session)
    member = make_member(db_session, tree["C1"])
    db_session.commit()
    headers = auth(api_token)
    created = client.post(
        "/api/v1/work-periods/",
        json={"member": member.id, "starts_on": "2010-01-01", "description": "Giáo viên"},
        headers=headers,
    )
    assert created.status_code == 201, created.json
    assert db_session.scalar(select(WorkPeriod.description)) == "Giáo viên"
    catalogues = client.get(
        "/api/v1/catalogues/?q=(filters:!((col:kind,opr:eq,value:religion)),page_size:100)",
        headers=headers,
    )
    assert catalogues.status_code == 200 and catalogues.json["count"] == 18
    assert (
        client.post(
            "/api/v1/family-relations/", json={"member": member.id}, headers=headers
        ).status_code
        == 422
    )
    assert db_session.scalar(select(FamilyRelation.id)) is None
