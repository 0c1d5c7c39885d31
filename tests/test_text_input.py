"""One text rule for every way in (issue 11 item 6): webapp/domain/text.py, then the member
form and every other form, the REST APIs, the CLI, and the member list rendered from a
row stored before the rule existed."""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from wtforms import Form

from factories import SYSTEM, make_member, make_tree
from helpers import vietnamese
from webapp.domain.errors import ValidationFailed
from webapp.domain.text import CONTROL_CHARACTER, LINE_BREAK, clean_text, without_disallowed
from webapp.models import DangVienUser, Member, Unit
from webapp.models.ledger import MemberEvent
from webapp.models.record import CatalogueEntry, WorkPeriod

NFD_NAME = unicodedata.normalize("NFD", "Nguyễn Thị Hường")
NFC_NAME = "Nguyễn Thị Hường"


def control(field, character, position):
    return [(CONTROL_CHARACTER, {"field": field, "character": character, "position": position})]


def line_break(field, position):
    return [(LINE_BREAK, {"field": field, "position": position})]


# (text, multi-line?, stored text or the refusal)
CASES = [
    ("Nguyễn Văn An", False, "Nguyễn Văn An"),
    ("  Nguyễn Văn An \n", False, "Nguyễn Văn An"),  # trimmed, the pasted line end too
    ("\x0bNguyễn\t", False, "Nguyễn"),  # whitespace controls at the ends are trimmed
    (NFD_NAME, False, NFC_NAME),
    ("", False, ""),
    (None, False, None),
    ("Nguyễn\x00Văn", False, control("name", "U+0000", 7)),
    ("Nguyễn\x0bVăn", False, control("name", "U+000B", 7)),
    ("A\x1bB", False, control("name", "U+001B", 2)),
    ("A\x7fB", False, control("name", "U+007F", 2)),
    ("A\x85B", False, control("name", "U+0085", 2)),  # C1
    ("A\x9fB", False, control("name", "U+009F", 2)),
    ("A\ud800B", False, control("name", "U+D800", 2)),  # lone surrogate (JSON "\ud800")
    ("A\uffffB", False, control("name", "U+FFFF", 2)),
    ("A\tB", False, control("name", "U+0009", 2)),  # no tab inside a single line
    ("Dòng 1\nDòng 2", False, line_break("name", 7)),
    ("Dòng 1\rDòng 2", False, line_break("name", 7)),
    ("Dòng 1\u2028Dòng 2", False, line_break("name", 7)),
    ("Dòng 1\r\nDòng 2\rDòng 3", True, "Dòng 1\nDòng 2\nDòng 3"),
    ("Cột 1\tCột 2\nDòng 2", True, "Cột 1\tCột 2\nDòng 2"),
    ("  Ghi chú\n\n", True, "Ghi chú"),
    ("Ghi\x00chú", True, control("name", "U+0000", 4)),
    ("Ghi\x0bchú", True, control("name", "U+000B", 4)),
    ("Ghi\x0cchú", True, control("name", "U+000C", 4)),
    ("Ghi\x85chú", True, control("name", "U+0085", 4)),
]


@pytest.mark.parametrize(("text", "multiline", "expected"), CASES)
def test_clean_text(text, multiline, expected):
    if isinstance(expected, list):
        with pytest.raises(ValidationFailed) as refused:
            clean_text(text, "name", multiline=multiline)
        assert refused.value.errors == {"name": expected}
        cleaned = without_disallowed(text, multiline=multiline)
        assert clean_text(cleaned, "name", multiline=multiline) == cleaned
    else:
        assert clean_text(text, "name", multiline=multiline) == expected


def test_the_message_names_the_field_by_its_label(app):
    with pytest.raises(ValidationFailed) as refused:
        clean_text("A\x0bB", "birth_name", label="Họ và tên khai sinh")
    assert refused.value.errors["birth_name"][0][1]["field"] == "Họ và tên khai sinh"
    message = vietnamese(
        app, CONTROL_CHARACTER, field="Họ và tên khai sinh", character="U+000B", position=2
    )
    assert "Họ và tên khai sinh" in message and "U+000B" in message
    assert "Họ và tên" in vietnamese(app, LINE_BREAK, field="Họ và tên", position=3)


# ---------------------------------------------------------------- web forms


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


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def refusal(app, label_msgid, character, position):
    label = vietnamese(app, label_msgid)
    return vietnamese(app, CONTROL_CHARACTER, field=label, character=character, position=position)


def test_member_form_refuses_nul_and_vertical_tab_and_saves_nothing(app, admin_client, db_session):
    tree = make_tree(db_session)
    for character, code in (("\x00", "U+0000"), ("\x0b", "U+000B")):
        response = admin_client.post(
            "/membermodelview/add",
            data=member_form(tree["C1"], birth_name=f"Trần{character}Thị Ánh"),
        )
        assert response.status_code == 200
        assert refusal(app, "Full name at birth", code, 5) in response.text
        # Shown back without the character, ready to save again.
        assert 'value="TrầnThị Ánh"' in response.text
        assert count(db_session, Member) == 0
    # A NUL in a field the form's own check looks up in the database (the member number
    # is checked for duplicates) is refused too, not a server error.
    response = admin_client.post(
        "/membermodelview/add", data=member_form(tree["C1"], member_number="000\x00555TN")
    )
    assert response.status_code == 200
    assert refusal(app, "Member number", "U+0000", 4) in response.text
    assert count(db_session, Member) == 0

    saved = admin_client.post(
        "/membermodelview/add", data=member_form(tree["C1"], birth_name=f" {NFD_NAME}\n")
    )
    assert saved.status_code == 302
    assert db_session.scalar(select(Member.birth_name)) == NFC_NAME


def test_every_form_of_the_other_screens_refuses_control_characters(app, admin_client, db_session):
    tree = make_tree(db_session)
    member = make_member(db_session, tree["C1"])
    db_session.commit()
    units_before = count(db_session, Unit)
    catalogue_before = count(db_session, CatalogueEntry)

    cases = [
        (  # a row form of the member page
            f"/workperiodview/add?_flt_0_member={member.id}",
            {"starts_on": "01/09/2002", "ends_on": "", "description": "Công\x0bnhân"},
            "Position and workplace",
            5,
        ),
        (
            "/unitmodelview/add",
            {
                "code": "P.03",
                "name": "Đảng bộ\x00huyện Ba",
                "kind": "upper_grassroots_committee",
                "parent": str(tree["P"].id),
                "founded_on": "",
                "dissolved_on": "",
            },
            "Name",
            8,
        ),
        (
            "/catalogueentryview/add",
            {"kind": "religion", "code": "X", "name": "Đạo\x1bmới", "position": "99"},
            "Name",
            4,
        ),
        (  # a hand-written form (not generated by FAB)
            f"/memberevents/record/{member.id}",
            {"kind": "death", "effective_on": "05/05/2020", "decided_by": "Chi\x0bbộ"},
            "Decided by",
            4,
        ),
    ]
    for url, data, label, position in cases:
        character = next(ch for value in data.values() for ch in value if ord(ch) < 32)
        response = admin_client.post(url, data=data)
        assert response.status_code == 200, url
        assert refusal(app, label, f"U+{ord(character):04X}", position) in response.text, url
    assert count(db_session, WorkPeriod) == 0
    assert count(db_session, Unit) == units_before
    assert count(db_session, CatalogueEntry) == catalogue_before
    assert count(db_session, MemberEvent) == 0

    # The users screen (FAB's own form, given the rule by the project's subclass).
    response = admin_client.post(
        "/users/add",
        data={
            "first_name": "An",
            "last_name": "Nguyễn\x0bVăn",
            "username": "nva",
            "email": "nva@example.org",
            "active": "y",
            "roles": "1",
            "password": "Mat-khau-123",
            "conf_password": "Mat-khau-123",
        },
    )
    assert response.status_code == 200
    assert "U+000B" in response.text
    assert db_session.scalar(select(DangVienUser).filter_by(username="nva")) is None
    # … and "edit my details".
    response = admin_client.post(
        "/userinfoeditview/form", data={"first_name": "Quản\x00trị", "last_name": "Hệ thống"}
    )
    assert response.status_code == 200 and "U+0000" in response.text
    db_session.expire_all()
    assert db_session.scalar(select(DangVienUser).filter_by(username="admin")).first_name == (
        "Quản trị"
    )


def test_hand_written_html_forms_refuse_control_characters(app, admin_client, db_session):
    """Screens that read request.form themselves (card proposals, cancelling an event)."""
    from webapp.domain.events import EventInput, record_event
    from webapp.domain.ledger import EventKind
    from webapp.models.cards import CardProposal, CardProposalBatch

    tree = make_tree(db_session)
    member = admitted_member(db_session, tree["C1"])
    record_event(
        db_session, SYSTEM, member.id, EventInput(EventKind.OFFICIAL_RECOGNITION, date(2011, 1, 5))
    )
    db_session.commit()
    batch = admin_client.post(
        "/cards/propose",
        data={"unit_id": str(tree["C1"].id), "selected": str(member.id), "note": "Đợt\x00một"},
        follow_redirects=True,
    )
    assert batch.status_code == 200
    assert (
        vietnamese(app, CONTROL_CHARACTER, field="note", character="U+0000", position=4)
        in batch.text
    )
    one = admin_client.post(
        f"/cards/propose-one/{member.id}",
        data={"reason": "new_official", "explanation": "", "photo_reference": "Ảnh\x0b1"},
    )
    assert one.status_code == 200 and "U+000B" in one.text
    assert count(db_session, CardProposalBatch) == 0 and count(db_session, CardProposal) == 0

    events = count(db_session, MemberEvent)
    admission = db_session.scalar(select(MemberEvent).order_by(MemberEvent.id.desc()))
    cancelled = admin_client.post(
        f"/memberevents/cancel/{admission.id}",
        data={"reason": "Ghi\x1bnhầm"},
        follow_redirects=True,
    )
    assert cancelled.status_code == 200 and "U+001B" in cancelled.text
    assert count(db_session, MemberEvent) == events


def test_search_panel_ignores_control_characters(admin_client, db_session):
    tree = make_tree(db_session)
    make_member(db_session, tree["C1"], birth_name="Trần Thị Bảy")
    db_session.commit()
    found = admin_client.get("/membermodelview/list/?_flt_0_search_key=tran%00+bay")
    assert found.status_code == 200 and "Trần Thị Bảy" in found.text
    # Any other filter of the search panel, on any list.
    for url in (
        "/membermodelview/list/?_flt_0_ethnicity=Ki%00nh",
        "/unitmodelview/list/?_flt_0_name=Chi%00b%E1%BB%99",
    ):
        assert admin_client.get(url).status_code == 200, url


# Views whose forms are FAB's own administration of permissions and roles (names an
# Admin picks, never shown in a report) or hold nothing but passwords.
FAB_ADMIN_VIEWS = {
    "PermissionModelView",
    "ViewMenuModelView",
    "PermissionViewModelView",
    "RoleModelView",
    "ResetPasswordView",
    "ResetMyPasswordView",
    "RegisterUserModelView",
    "UserGroupModelView",
}


def form_classes(app):
    """Every form class a registered screen shows, and every form class written in the
    project, by name."""
    found = {}
    for view in app.appbuilder.baseviews:
        name = type(view).__name__
        if name in FAB_ADMIN_VIEWS:
            continue
        for attribute in ("add_form", "edit_form", "form"):
            form = getattr(view, attribute, None)
            if isinstance(form, type) and issubclass(form, Form):
                found[f"{name}.{attribute}"] = form
    pending = list(Form.__subclasses__())
    while pending:
        form = pending.pop()
        pending.extend(form.__subclasses__())
        if form.__module__.startswith("webapp"):
            found.setdefault(f"{form.__module__}.{form.__name__}", form)
    return found


def test_no_form_is_missed(app, db_session):
    """Every text field of every form (generated or written by hand) carries the rule, so
    a field or a screen added later cannot forget it."""
    from webapp.forms import TextRule, is_text_field

    make_tree(db_session)
    forms = form_classes(app)
    names = " ".join(forms)
    for expected in (
        "MemberModelView.add_form",
        "MemberModelView.edit_form",
        "WorkPeriodView.add_form",
        "FamilyRelationView.edit_form",
        "UnitModelView.add_form",
        "CatalogueEntryView.add_form",
        "DangVienUserDBModelView.add_form",
        "DangVienUserInfoEditView.form",
        "EventForm",
        "MergeForm",
        "SupplementForm",
    ):
        assert expected in names, expected
    unguarded = []
    with app.test_request_context():
        for name, form_class in forms.items():
            form = form_class()
            for field in form:
                if is_text_field(field) and not any(isinstance(f, TextRule) for f in field.filters):
                    unguarded.append(f"{name}.{field.name}")
    assert unguarded == []


# ---------------------------------------------------------------- REST APIs


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def member_payload(unit, **overrides):
    payload = {
        "member_number": "000901TN",
        "birth_name": "Đặng Thị Hoa",
        "sex": "female",
        "birth_date": "1990-04-30",
        "admitted_on": "2015-09-02",
        "official_on": "2016-09-02",
        "status": "official",
        "unit": unit.id,
    }
    payload.update(overrides)
    return payload


def test_member_api_applies_the_same_rule(app, client, api_token, db_session):
    tree = make_tree(db_session)
    for character, code in (("\x00", "U+0000"), ("\x0b", "U+000B")):
        refused = client.post(
            "/api/v1/members/",
            json=member_payload(tree["C1"], birth_name=f"Đặng{character}Thị Hoa"),
            headers=auth(api_token),
        )
        assert refused.status_code == 422
        assert refused.json["message"]["birth_name"] == [
            vietnamese(app, CONTROL_CHARACTER, field="birth_name", character=code, position=5)
        ]
    line = client.post(
        "/api/v1/members/",
        json=member_payload(tree["C1"], birth_name="Đặng Thị\nHoa"),
        headers=auth(api_token),
    )
    assert line.status_code == 422
    assert line.json["message"]["birth_name"] == [
        vietnamese(app, LINE_BREAK, field="birth_name", position=9)
    ]
    assert count(db_session, Member) == 0

    created = client.post(
        "/api/v1/members/",
        json=member_payload(tree["C1"], birth_name=f"  {NFD_NAME} "),
        headers=auth(api_token),
    )
    assert created.status_code == 201, created.json
    db_session.expire_all()
    assert db_session.get(Member, created.json["id"]).birth_name == NFC_NAME
    updated = client.put(
        f"/api/v1/members/{created.json['id']}",
        json={"name_in_use": "Ho\x85a"},
        headers=auth(api_token),
    )
    assert updated.status_code == 422 and "U+0085" in str(updated.json["message"])


def admitted_member(session, unit):
    from webapp.domain.events import EventInput, record_event
    from webapp.domain.ledger import EventKind

    member = make_member(session, unit, official_on=None)
    record_event(
        session,
        SYSTEM,
        member.id,
        EventInput(EventKind.ADMISSION, date(2010, 1, 5), to_unit_id=unit.id),
    )
    session.commit()
    return member


def test_command_api_keeps_line_breaks_in_notes_only(app, client, api_token, db_session):
    tree = make_tree(db_session)
    member = admitted_member(db_session, tree["C1"])
    events_before = count(db_session, MemberEvent)
    base = {"member": member.id, "kind": "death", "effective_on": "2016-01-01"}
    refused = client.post(
        "/api/v1/events/", json={**base, "decided_by": "Chi\x0bbộ"}, headers=auth(api_token)
    )
    assert refused.status_code == 422
    assert refused.json["message"]["decided_by"] == [
        vietnamese(app, CONTROL_CHARACTER, field="decided_by", character="U+000B", position=4)
    ]
    one_line = client.post(
        "/api/v1/events/", json={**base, "decision_number": "12\n-QĐ"}, headers=auth(api_token)
    )
    assert one_line.status_code == 422 and "decision_number" in one_line.json["message"]
    assert count(db_session, MemberEvent) == events_before
    noted = client.post(
        "/api/v1/events/",
        json={**base, "note": "Dòng 1\r\nDòng 2\tcột"},
        headers=auth(api_token),
    )
    assert noted.status_code == 201, noted.json
    db_session.expire_all()
    assert db_session.get(MemberEvent, noted.json["id"]).note == "Dòng 1\nDòng 2\tcột"


# ---------------------------------------------------------------- CLI


def test_cli_refuses_control_characters_in_options_and_import_rows(app, db_session, tmp_path):
    make_tree(db_session)
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=["users", "create", "--username", "cv\x0bxa", "--role", "Clerk", "--unit", "P.01"]
    )
    assert created.exit_code != 0
    assert (
        vietnamese(app, CONTROL_CHARACTER, field="--username", character="U+000B", position=3)
        in created.output
    )
    unit = runner.invoke(
        args=["users", "create", "--username", "cv", "--role", "Clerk", "--unit", "P.0\x001"]
    )
    assert unit.exit_code != 0 and "U+0000" in unit.output and "Traceback" not in unit.output

    rows = tmp_path / "users.csv"
    rows.write_text(
        "username,role,unit,full_name\n"
        "bt_xa1,Leader,P.01.001,Nguyễn Văn Bí Thư\n"
        "cv_xa2,Clerk,P.02.001,Trần\x0bVăn Hai\n",
        encoding="utf-8",
    )
    refused = runner.invoke(args=["users", "import", str(rows)])
    assert refused.exit_code != 0
    assert (
        "line 3: "
        + vietnamese(app, CONTROL_CHARACTER, field="full_name", character="U+000B", position=5)
        in refused.output
    )
    db_session.expire_all()
    assert db_session.scalar(select(func.count(DangVienUser.id))) == 1  # the admin only

    rows.write_text(
        f"username,role,unit,full_name\n bt_xa1 ,Leader,P.01.001,{NFD_NAME}\n", encoding="utf-8"
    )
    imported = runner.invoke(args=["users", "import", str(rows)])
    assert imported.exit_code == 0, imported.output
    user = db_session.scalar(select(DangVienUser).filter_by(username="bt_xa1"))
    assert f"{user.last_name} {user.first_name}" == NFC_NAME


# ---------------------------------------------------------------- stored before the rule


def test_member_list_renders_a_legacy_name_with_control_characters(app, db_session):
    """A name stored before the rule (PostgreSQL cannot hold NUL, but a vertical tab or an
    escape got in) still renders: the member list of the cell and of every unit above."""
    from test_reports import pdf_text

    from webapp.reports.runs import execute_run, request_report

    tree = make_tree(db_session)
    member = admitted_member(db_session, tree["C1"])
    # Stored as an old row is: straight into the table, past every way in.
    db_session.execute(
        Member.__table__.update()
        .where(Member.__table__.c.id == member.id)
        .values(birth_name="Lê\x0bVăn\x1bCũ")
    )
    db_session.commit()
    for unit in ("C1", "P"):
        xlsx = execute_run(
            request_report(db_session, SYSTEM, "member-list", "xlsx", tree[unit].id, queue=False).id
        )
        assert xlsx.error is None, xlsx.error
        cells = [
            cell
            for row in load_workbook(xlsx.file_path, read_only=True).active.iter_rows(
                values_only=True
            )
            for cell in row
            if isinstance(cell, str)
        ]
        assert any("Lê" in cell and "Cũ" in cell for cell in cells), unit
        pdf = execute_run(
            request_report(db_session, SYSTEM, "member-list", "pdf", tree[unit].id, queue=False).id
        )
        assert pdf.error is None, pdf.error
        assert "Cũ" in pdf_text(Path(pdf.file_path).read_bytes()), unit
