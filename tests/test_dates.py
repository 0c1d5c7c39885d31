"""One date parser for every way in (webapp/domain/dates.py), and each way in using it."""

from datetime import date, datetime

import pytest

from webapp.domain.dates import (
    NOT_A_DAY,
    WRONG_FORMAT,
    YEAR_OUT_OF_RANGE,
    date_or_none,
    parse_date,
)
from webapp.domain.errors import ValidationFailed

RANGE = {"first": 1900, "last": 2100}

# (typed, the date, or the (msgid, params) refusing it)
CASES = [
    ("19/05/1990", date(1990, 5, 19)),
    ("01/09/2020", date(2020, 9, 1)),
    ("1/9/2020", date(2020, 9, 1)),
    ("  19/05/1990 ", date(1990, 5, 19)),
    ("1990-05-19", date(1990, 5, 19)),
    ("29/02/2020", date(2020, 2, 29)),  # leap year
    ("2000-02-29", date(2000, 2, 29)),  # divisible by 400: leap
    ("29/02/2021", (NOT_A_DAY, {"value": "29/02/2021"})),
    ("29/02/1900", (NOT_A_DAY, {"value": "29/02/1900"})),  # divisible by 100: not leap
    ("31/02/2020", (NOT_A_DAY, {"value": "31/02/2020"})),
    ("31/04/2020", (NOT_A_DAY, {"value": "31/04/2020"})),
    ("00/01/2020", (NOT_A_DAY, {"value": "00/01/2020"})),
    ("01/13/2020", (NOT_A_DAY, {"value": "01/13/2020"})),
    ("2020-02-30", (NOT_A_DAY, {"value": "2020-02-30"})),
    ("19/05/0199", (YEAR_OUT_OF_RANGE, RANGE)),
    ("19/05/1899", (YEAR_OUT_OF_RANGE, RANGE)),
    ("01/01/2101", (YEAR_OUT_OF_RANGE, RANGE)),
    ("9999-12-31", (YEAR_OUT_OF_RANGE, RANGE)),
    ("01/01/1900", date(1900, 1, 1)),
    ("31/12/2100", date(2100, 12, 31)),
    ("hôm qua", (WRONG_FORMAT, {})),
    ("19/05/90", (WRONG_FORMAT, {})),  # two-digit year: not guessed
    ("19.05.1990", (WRONG_FORMAT, {})),
    ("19-05-1990", (WRONG_FORMAT, {})),
    ("1990-5-19", (WRONG_FORMAT, {})),
    ("19900519", (WRONG_FORMAT, {})),  # Python's fromisoformat would take it
    ("2020-W01-1", (WRONG_FORMAT, {})),  # and this ISO week date
    ("1990-05-19T10:00", (WRONG_FORMAT, {})),
    ("١٩/٠٥/١٩٩٠", (WRONG_FORMAT, {})),  # Arabic-Indic digits: int() would take them
    ("19/05/1990\x00", (WRONG_FORMAT, {})),
    ("123/05/1990", (WRONG_FORMAT, {})),
    (19900519, (WRONG_FORMAT, {})),
    (True, (WRONG_FORMAT, {})),
    (["19/05/1990"], (WRONG_FORMAT, {})),
    ("", None),
    ("   ", None),
    (None, None),
    (date(2020, 2, 29), date(2020, 2, 29)),
    (datetime(2020, 2, 29, 13, 45), date(2020, 2, 29)),
]


@pytest.mark.parametrize(("typed", "expected"), CASES, ids=[repr(c[0]) for c in CASES])
def test_parse_date(typed, expected):
    if isinstance(expected, tuple):
        with pytest.raises(ValidationFailed) as refused:
            parse_date(typed, "birth_date")
        assert refused.value.errors == {"birth_date": [expected]}
        assert date_or_none(typed) is None
    else:
        assert parse_date(typed, "birth_date") == expected
        assert date_or_none(typed) == expected


def test_every_message_is_translated(app):
    from helpers import vietnamese

    assert "dd/mm/yyyy" in vietnamese(app, WRONG_FORMAT)
    assert "31/02/2020" in vietnamese(app, NOT_A_DAY, value="31/02/2020")
    assert "1900" in vietnamese(app, YEAR_OUT_OF_RANGE, **RANGE)


# ---------------------------------------------------------------- every way in


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def on_the_rolls(session, unit, name="Nguyễn Văn Hôm Nay"):
    from factories import SYSTEM, make_member
    from webapp.domain.events import EventInput, record_event
    from webapp.domain.ledger import EventKind

    member = make_member(session, unit, birth_name=name, official_on=None)
    record_event(
        session,
        SYSTEM,
        member.id,
        EventInput(EventKind.ADMISSION, date(2010, 1, 5), to_unit_id=unit.id),
    )
    session.commit()
    return member


def test_form_field(app, admin_client, db_session):
    from sqlalchemy import func, select
    from test_web_crud import member_form

    from factories import make_tree
    from helpers import vietnamese
    from webapp.models import Member

    tree = make_tree(db_session)
    refused = admin_client.post(
        "/membermodelview/add", data=member_form(tree["C1"], birth_date="31/02/1985")
    )
    assert refused.status_code == 200
    assert vietnamese(app, NOT_A_DAY, value="31/02/1985") in refused.text
    assert 'value="31/02/1985"' in refused.text  # what was typed stays in the box
    wrong = admin_client.post(
        "/membermodelview/add", data=member_form(tree["C1"], birth_date="19.05.1985")
    )
    assert vietnamese(app, WRONG_FORMAT) in wrong.text
    assert db_session.scalar(select(func.count(Member.id))) == 0
    saved = admin_client.post(
        "/membermodelview/add",
        data=member_form(tree["C1"], birth_date="1985-05-19", admitted_on="3/2/2010"),
    )
    assert saved.status_code == 302
    member = db_session.scalar(select(Member))
    assert (member.birth_date, member.admitted_on) == (date(1985, 5, 19), date(2010, 2, 3))


def test_list_filter(admin_client, db_session):
    from factories import make_member, make_tree

    tree = make_tree(db_session)
    make_member(db_session, tree["C1"], birth_name="Trần Thị Năm", birth_date=date(1980, 5, 19))
    make_member(db_session, tree["C1"], birth_name="Lê Văn Sáu", birth_date=date(1981, 6, 20))
    db_session.commit()
    for word in ("19/05/1980", "19/5/1980", "1980-05-19"):
        found = admin_client.get(f"/membermodelview/list/?_flt_0_search_key={word}")
        assert "Trần Thị Năm" in found.text and "Lê Văn Sáu" not in found.text, word
    impossible = admin_client.get("/membermodelview/list/?_flt_0_search_key=31/02/1980")
    assert impossible.status_code == 200
    assert "Trần Thị Năm" not in impossible.text and "Lê Văn Sáu" not in impossible.text


def test_api(app, client, api_token, db_session):
    from test_api import member_payload

    from factories import make_tree
    from helpers import vietnamese
    from webapp.models import Member

    tree = make_tree(db_session)
    refused = client.post(
        "/api/v1/members/",
        json=member_payload(tree["C1"], birth_date="31/02/1990"),
        headers=auth(api_token),
    )
    assert refused.status_code == 422
    assert refused.json["message"]["birth_date"] == [vietnamese(app, NOT_A_DAY, value="31/02/1990")]
    wrong = client.post(
        "/api/v1/members/",
        json=member_payload(tree["C1"], birth_date="19900430"),
        headers=auth(api_token),
    )
    assert wrong.json["message"]["birth_date"] == [vietnamese(app, WRONG_FORMAT)]
    created = client.post(
        "/api/v1/members/",
        json=member_payload(tree["C1"], birth_date="30/04/1990"),
        headers=auth(api_token),
    )
    assert created.status_code == 201, created.json
    db_session.expire_all()
    assert db_session.get(Member, created.json["id"]).birth_date == date(1990, 4, 30)

    member = on_the_rolls(db_session, tree["C2"])
    event = client.post(
        "/api/v1/events/",
        json={"member": member.id, "kind": "death", "effective_on": "2016-02-30"},
        headers=auth(api_token),
    )
    assert event.status_code == 422
    assert event.json["message"]["effective_on"] == [vietnamese(app, NOT_A_DAY, value="2016-02-30")]


def test_cli_report_as_of(app, db_session):
    from sqlalchemy import func, select

    from factories import make_tree
    from helpers import vietnamese
    from webapp.models import ReportRun

    make_tree(db_session)
    runner = app.test_cli_runner()
    refused = runner.invoke(
        args=["report", "member-list", "--unit", "P", "--format", "xlsx", "--as-of", "31/02/2020"]
    )
    assert refused.exit_code != 0
    assert f"--as-of: {vietnamese(app, NOT_A_DAY, value='31/02/2020')}" in refused.output
    year = runner.invoke(args=["report", "quality", "--unit", "P", "--as-of", "01/01/0202"])
    assert f"--as-of: {vietnamese(app, YEAR_OUT_OF_RANGE, **RANGE)}" in year.output
    assert db_session.scalar(select(func.count(ReportRun.id))) == 0
    done = runner.invoke(
        args=["report", "member-list", "--unit", "P", "--format", "xlsx", "--as-of", "30/6/2024"]
    )
    assert done.exit_code == 0, done.output
    assert db_session.scalar(select(ReportRun.parameters)) == {"as_of": "2024-06-30"}
    occasion = runner.invoke(
        args=["badges", "eligible", "--occasion", "31/02/2025", "-o", "/dev/null"]
    )
    assert occasion.exit_code != 0
    assert f"--occasion: {vietnamese(app, NOT_A_DAY, value='31/02/2025')}" in occasion.output


def test_roll_page_refuses_a_bad_date_instead_of_showing_today(app, admin_client, db_session):
    from factories import make_tree
    from helpers import vietnamese

    tree = make_tree(db_session)
    on_the_rolls(db_session, tree["C1"])
    today = admin_client.get(f"/unitmodelview/roll/{tree['D1'].id}")
    assert today.status_code == 200 and "Nguyễn Văn Hôm Nay" in today.text
    for typed, message in (
        ("31/02/2020", vietnamese(app, NOT_A_DAY, value="31/02/2020")),
        ("hôm qua", vietnamese(app, WRONG_FORMAT)),
    ):
        bad = admin_client.get(
            f"/unitmodelview/roll/{tree['D1'].id}", query_string={"as_of": typed}
        )
        assert bad.status_code == 400
        assert message in bad.text
        assert f'value="{typed}"' in bad.text  # the typed text, not today's date
        assert "Nguyễn Văn Hôm Nay" not in bad.text and 'id="roll-table"' not in bad.text
    ok = admin_client.get(f"/unitmodelview/roll/{tree['D1'].id}?as_of=2020-01-01")
    assert ok.status_code == 200 and "Nguyễn Văn Hôm Nay" in ok.text


def test_member_page_as_of(app, admin_client, db_session):
    from factories import make_tree
    from helpers import vietnamese

    tree = make_tree(db_session)
    member = on_the_rolls(db_session, tree["C1"])
    bad = admin_client.get(f"/membermodelview/show/{member.id}?as_of=29/02/2021")
    assert vietnamese(app, NOT_A_DAY, value="29/02/2021") in bad.text
    iso = admin_client.get(f"/membermodelview/show/{member.id}?as_of=2009-12-31")
    assert vietnamese(app, "Not yet a member") in iso.text  # admitted on 05/01/2010
