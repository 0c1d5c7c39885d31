"""Property-based: whatever a client sends to the member and event APIs, the answer is a
clear 4xx or a success, never a 500, and a refused request writes nothing."""

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from test_api import auth

from factories import SYSTEM, make_member, make_tree
from webapp.domain.events import open_ledger
from webapp.models import Member, MemberEvent, MemberPeriod

MEMBER_KEYS = [
    "member_number",
    "birth_name",
    "sex",
    "birth_date",
    "admitted_on",
    "official_on",
    "status",
    "unit",
    "citizen_id",
    "card_number",
    "ethnicity",
    "religion",
    "general_education",
    "veteran",
    "youth_union_on",
]
EVENT_KEYS = [
    "member",
    "kind",
    "effective_on",
    "decision_on",
    "to_unit",
    "other_organisation",
    "arriving_as",
    "reverses",
    "note",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.text(min_size=60, max_size=300),
    st.dates(min_value=date(1800, 1, 1), max_value=date(2200, 1, 1)).map(date.isoformat),
    st.sampled_from(
        [
            "official",
            "probationary",
            "male",
            "female",
            "admission",
            "death",
            "transfer_within",
            "Kinh",
            "12/12",
            "27.000001",
            "037080000001",
            "000123TN",
            "1",
        ]
    ),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=5), scalars, max_size=2),
)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def fixed_tree(session):
    """One tree for all examples of a test (the database is cleaned per test, not per example)."""
    if "tree" not in session.info:
        session.info["tree"] = make_tree(session)
    return session.info["tree"]


def counts(session):
    session.expire_all()
    return tuple(
        session.scalar(select(func.count(model.id)))
        for model in (Member, MemberEvent, MemberPeriod)
    )


@FUZZ
@given(payload=st.dictionaries(st.sampled_from(MEMBER_KEYS), values, max_size=len(MEMBER_KEYS)))
def test_member_api_never_fails_and_never_half_writes(client, api_token, db_session, payload):
    tree = fixed_tree(db_session)
    if payload.get("unit") == "1":
        payload["unit"] = tree["C1"].id
    before = counts(db_session)
    response = client.post("/api/v1/members/", json=payload, headers=auth(api_token))
    assert response.status_code in (201, 400, 404, 422), (
        response.status_code,
        response.json,
        payload,
    )
    after = counts(db_session)
    if response.status_code == 201:
        assert after[0] == before[0] + 1 and after[1] > before[1]  # member and its opening events
    else:
        assert after == before


@FUZZ
@given(payload=st.dictionaries(st.sampled_from(EVENT_KEYS), values, max_size=len(EVENT_KEYS)))
def test_event_api_never_fails_and_never_half_writes(client, api_token, db_session, payload):
    tree = fixed_tree(db_session)
    member = db_session.info.get("member")
    if member is None:
        member = make_member(db_session, tree["C1"])
        open_ledger(db_session, SYSTEM, member.id)
        db_session.commit()
        db_session.info["member"] = member
    if payload.get("member") == "1":
        payload["member"] = member.id
    if payload.get("to_unit") == "1":
        payload["to_unit"] = tree["C2"].id
    before = counts(db_session)
    response = client.post("/api/v1/events/", json=payload, headers=auth(api_token))
    assert response.status_code in (201, 400, 404, 422), (
        response.status_code,
        response.json,
        payload,
    )
    if response.status_code != 201:
        assert counts(db_session) == before
