"""Property-based: whatever a client sends to the member and event APIs, the answer is a
clear 4xx or a success, never a 500, and a refused request writes nothing; and over the
whole OpenAPI spec (schemathesis, seeded and bounded), never a 5xx."""

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


# --- The whole OpenAPI spec (issue 11): every operation, as an Admin and as a district clerk.
FUZZ_SEED = 20260511
SPEC_EXAMPLES = 4  # per operation, per generation mode and role: bounds the run time
CLERK_PASSWORD = "Fuzz-Clerk-123"


def spec_world(session):
    from datetime import date as day

    from webapp.cli import create_user
    from webapp.models.record import WorkPeriod

    tree = make_tree(session)
    for unit, name in ((tree["C1"], "Đặng Văn Mờ"), (tree["C3"], "Vũ Thị Lạ")):
        member = make_member(session, unit, birth_name=name)
        open_ledger(session, SYSTEM, member.id)
        session.add(WorkPeriod(member=member, starts_on=day(2001, 1, 1), description="Làm ruộng"))
    session.commit()
    create_user("clerk_fuzz", "Clerk", "P.01", CLERK_PASSWORD)


def spec_operations(app, headers):
    import schemathesis

    schema = schemathesis.openapi.from_wsgi("/api/v1/_openapi", app, headers=headers)
    return [result.ok() for result in schema.get_all_operations()]


def server_errors(operations, headers) -> list[str]:
    """Each operation with bounded, seeded examples (valid and invalid inputs); the first
    5xx of each, as method, path and what was sent."""
    from hypothesis import Phase, seed
    from schemathesis import GenerationMode

    failures = []
    for operation in operations:
        strategies = [operation.as_strategy(mode) for mode in GenerationMode]

        @seed(FUZZ_SEED)
        @settings(
            max_examples=SPEC_EXAMPLES * len(strategies),
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=st.one_of(*strategies))
        def check(case):
            response = case.call(headers=headers)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} query={case.query} body={case.body!r} "
                f"→ {response.status_code} {response.text[:200]}"
            )

        try:
            check()
        except AssertionError as error:
            failures.append(str(error).splitlines()[0])
    return failures


def test_the_whole_api_never_answers_5xx(app, client, api_token, db_session):
    """Property-based over every operation of the OpenAPI spec: as an Admin and as a clerk of
    district D1, whatever is sent, never a server error."""
    spec_world(db_session)
    admin = auth(api_token)
    clerk_login = client.post(
        "/api/v1/security/login",
        json={"username": "clerk_fuzz", "password": CLERK_PASSWORD, "provider": "db"},
    )
    clerk = auth(clerk_login.json["access_token"])
    operations = spec_operations(app, admin)
    assert len(operations) >= 70
    failures = server_errors(operations, admin) + server_errors(operations, clerk)
    assert not failures, "\n".join(failures)
