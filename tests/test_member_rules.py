"""Member record rules, table-driven: each bad record yields exactly the expected error."""

from datetime import date

import pytest

from factories import make_member, make_tree, member_fields
from webapp.domain.members import age_on, check_member

PATTERN = r"\d{6}[A-Z]{1,3}|\d{10}"
TODAY = date(2026, 11, 25)


def values(unit, **overrides):
    fields = member_fields(unit, **overrides)
    unit_obj = fields.pop("unit")
    fields["unit_id"] = unit_obj.id if unit_obj is not None else None
    return fields


def errors_for(session, record, member_id=None):
    return check_member(
        record, session=session, member_number_pattern=PATTERN, member_id=member_id, today=TODAY
    ).as_dict()


def test_a_valid_record_has_no_errors(db_session):
    tree = make_tree(db_session)
    assert errors_for(db_session, values(tree["C1"])) == {}


@pytest.mark.parametrize(
    ("overrides", "field", "message_part"),
    [
        ({"admitted_on": date(1979, 1, 1)}, "admitted_on", "after the date of birth"),
        ({"admitted_on": date(1997, 5, 18)}, "admitted_on", "under %(age)s"),
        ({"official_on": date(2005, 1, 1)}, "official_on", "after the date of admission"),
        ({"birth_date": date(2027, 1, 1), "admitted_on": None}, "birth_date", "future"),
        (
            {"admitted_on": date(2026, 12, 1), "official_on": None, "status": "probationary"},
            "admitted_on",
            "future",
        ),
        ({"birth_name": ""}, "birth_name", "required"),
        ({"member_number": "12AB"}, "member_number", "format"),
        ({"citizen_id": "03720500001"}, "citizen_id", "12 digits"),
        ({"card_number": "27000001"}, "card_number", "NN.NNNNNN"),
        ({"status": "official", "official_on": None}, "official_on", "official member"),
        ({"status": "probationary"}, "status", "cannot be probationary"),
        ({"status": "bogus"}, "status", "membership status"),
        ({"sex": "x"}, "sex", "sex"),
        ({"youth_union_on": date(1979, 1, 1)}, "youth_union_on", "after the date of birth"),
        (
            {"card_issued_on": date(2004, 1, 1), "card_number": "27.000001"},
            "card_issued_on",
            "before the date of admission",
        ),
    ],
)
def test_bad_records_are_refused_on_the_right_field(db_session, overrides, field, message_part):
    tree = make_tree(db_session)
    errors = errors_for(db_session, values(tree["C1"], **overrides))
    assert field in errors, errors
    assert any(message_part in message for message, _ in errors[field])


def test_admission_on_the_18th_birthday_is_allowed_one_day_before_is_not(db_session):
    tree = make_tree(db_session)
    birth = date(1990, 3, 10)
    ok = errors_for(
        db_session,
        values(
            tree["C1"],
            birth_date=birth,
            admitted_on=date(2008, 3, 10),
            official_on=date(2009, 3, 10),
        ),
    )
    assert "admitted_on" not in ok
    too_young = errors_for(
        db_session,
        values(
            tree["C1"],
            birth_date=birth,
            admitted_on=date(2008, 3, 9),
            official_on=date(2009, 3, 10),
        ),
    )
    assert "admitted_on" in too_young


@pytest.mark.parametrize(
    ("field", "value"),
    [("member_number", "000777TN"), ("citizen_id", "037080000777"), ("card_number", "27.000777")],
)
def test_unique_numbers_are_refused_for_another_member_but_not_for_itself(db_session, field, value):
    tree = make_tree(db_session)
    existing = make_member(db_session, tree["C1"], **{field: value})
    assert field in errors_for(db_session, values(tree["C2"], **{field: value}))
    assert field not in errors_for(
        db_session, values(tree["C1"], **{field: value}), member_id=existing.id
    )


def test_members_belong_to_cells_only(db_session):
    tree = make_tree(db_session)
    assert "unit_id" in errors_for(db_session, values(tree["G1"]))
    assert "unit_id" not in errors_for(db_session, values(tree["C3"]))
    assert "unit_id" in errors_for(db_session, {**values(tree["C1"]), "unit_id": 999999})


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        (date(2000, 5, 19), date(2018, 5, 18), 17),
        (date(2000, 5, 19), date(2018, 5, 19), 18),
        (date(2000, 2, 29), date(2018, 2, 28), 17),
        (date(2000, 2, 29), date(2018, 3, 1), 18),
    ],
)
def test_age_on(birth, day, age):
    assert age_on(birth, day) == age


def test_a_member_number_refusal_says_what_the_format_is():
    from webapp.domain.errors import FieldErrors
    from webapp.domain.members import _check_formats

    default = r"\d{6}[A-Z]{1,3}|\d{10}"
    errors = FieldErrors()
    _check_formats({"member_number": "12AB"}, errors, default)
    ((message, params),) = errors.as_dict()["member_number"]
    assert "000123NB" in message and params == {"value": "12AB"}
    errors = FieldErrors()
    _check_formats({"member_number": "12AB"}, errors, r"[A-Z]{2}\d{4}")
    ((message, params),) = errors.as_dict()["member_number"]
    assert params == {"value": "12AB", "pattern": r"[A-Z]{2}\d{4}"}
