"""Party badges around the eligibility rules: reference data as data, the round of an
occasion read from the database, proposals (automatic, early, posthumous), four-eyes
decisions, awards with numbers, re-issue; then the round page, the API, the CLI and the
printables (PDFs read back)."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from conftest import login, run_flask
from factories import SYSTEM, as_requester, make_member, make_tree
from helpers import vietnamese
from webapp.cli import create_user
from webapp.domain.badge_eligibility import BadgeRules
from webapp.domain.badges import (
    award_badges,
    badge_round,
    decide_badges,
    eligible_for_badges,
    propose_badge_manually,
    propose_badges,
    reissue_badge,
    rules_from_db,
    seed_badge_reference,
)
from webapp.domain.commands import transaction
from webapp.domain.errors import Forbidden, NotFound, ValidationFailed
from webapp.domain.events import EventInput, open_ledger, record_event
from webapp.extensions import db
from webapp.models import BadgeAward, BadgeMilestone, BadgeProposal
from webapp.models.badges import BadgeProposalState
from webapp.reports.runs import execute_run, request_report

PASSWORD = "Badges-Pass-123"
OCCASION = date(2026, 5, 19)


def uid(app, username):
    return app.appbuilder.sm.find_user(username=username).id


def member(session, unit, name, admitted, **fields):
    found = make_member(
        session,
        unit,
        birth_name=name,
        birth_date=date(admitted.year - 25, 1, 1),
        admitted_on=admitted,
        official_on=date(admitted.year + 1, admitted.month, 1),
        **fields,
    )
    open_ledger(session, SYSTEM, found.id)
    return found


@pytest.fixture()
def world(app, db_session):
    tree = make_tree(db_session)
    c1, c2, c3 = tree["C1"], tree["C2"], tree["C3"]
    people = {
        "thirty": member(db_session, c1, "Nguyễn Văn Ba Mươi", date(1996, 5, 19)),
        "forty": member(db_session, c2, "Trần Thị Bốn Mươi", date(1986, 3, 1)),
        "later": member(db_session, c1, "Lê Văn Chưa Tới", date(1996, 10, 1)),
        "young": member(db_session, c1, "Phạm Văn Trẻ", date(2010, 1, 1)),
        "holder": member(db_session, c2, "Đỗ Thị Đã Có", date(1996, 1, 1)),
        "deceased": member(db_session, c1, "Hoàng Văn Cố", date(1985, 2, 3)),
        "sibling": member(db_session, c3, "Quách Văn Khác", date(1996, 2, 3)),
    }
    record_event(
        db_session,
        SYSTEM,
        people["deceased"].id,
        EventInput(kind="death", effective_on=date(2020, 6, 1)),
    )
    db_session.add(
        BadgeAward(
            member_id=people["holder"].id,
            milestone=30,
            badge_number="HH-000001",
            decision_number="01-QĐ/TU",
            decision_on=date(2026, 1, 20),
            occasion_on=date(2026, 2, 3),
        )
    )
    db_session.commit()
    create_user("clerk_b", "Clerk", "P.01", PASSWORD)
    create_user("manager_b", "Manager", "P.01", PASSWORD)
    create_user("manager_b2", "Manager", "P.02", PASSWORD)
    return {"tree": tree, "people": people, "scope": tree["D1"].path}


def eligible_set(session, unit, occasion=OCCASION):
    return {(e.member_id, e.milestone) for e in eligible_for_badges(session, unit, occasion)}


# --- Reference data -------------------------------------------------------------------


def test_reference_data_is_seeded_once_and_read_as_the_rules(app, db_session):
    assert rules_from_db(db_session) == BadgeRules.default()
    assert seed_badge_reference(db_session) == 0  # flask init ran it already: idempotent
    row = db_session.scalar(select(BadgeMilestone).where(BadgeMilestone.years == 45))
    row.active = False
    db_session.commit()
    try:
        assert 45 not in rules_from_db(db_session).milestones
        assert seed_badge_reference(db_session) == 0  # an Admin's change stays
    finally:
        row.active = True
        db_session.commit()


# --- The round ------------------------------------------------------------------------


def test_round_lists_exactly_who_is_eligible_in_scope(app, db_session, world):
    p, tree = world["people"], world["tree"]
    assert eligible_set(db_session, tree["D1"]) == {(p["thirty"].id, 30), (p["forty"].id, 40)}
    assert eligible_set(db_session, tree["P"]) == {
        (p["thirty"].id, 30),
        (p["forty"].id, 40),
        (p["sibling"].id, 30),
    }
    rows = badge_round(db_session, tree["D1"], OCCASION)
    reason = next(r for r in rows if r.member.id == p["thirty"].id).eligibility.reason
    assert "19/05/1996" in reason  # the reason names the admission date


def test_full_round_propose_decide_award(app, db_session, world):
    p, scope = world["people"], world["scope"]
    clerk, manager = uid(app, "clerk_b"), uid(app, "manager_b")
    proposals = propose_badges(
        db_session, as_requester(clerk, scope), OCCASION, [p["thirty"].id, p["forty"].id]
    )
    assert sorted((x.member_id, x.milestone) for x in proposals) == sorted(
        [(p["thirty"].id, 30), (p["forty"].id, 40)]
    )
    ids = [x.id for x in proposals]
    with pytest.raises(Forbidden):  # a Clerk does not decide
        decide_badges(db_session, as_requester(clerk, scope), ids, True)
    # The proposer holding the Manager role too still never decides their own (four-eyes).
    both = replace(as_requester(clerk, scope), roles=frozenset({"Clerk", "Manager"}))
    with pytest.raises(ValidationFailed) as refused:
        decide_badges(db_session, both, ids, True)
    db_session.rollback()
    assert "four-eyes" in refused.value.errors["members"][0][0]
    decide_badges(db_session, as_requester(manager, scope), ids, True)
    with pytest.raises(ValidationFailed) as refused:  # numbers that collide
        award_badges(
            db_session,
            as_requester(manager, scope),
            ids,
            decision_number="12-QĐ/TU",
            decision_on=date(2026, 5, 10),
            first_number="HH-000000",
        )
    db_session.rollback()
    assert refused.value.errors["first_number"] == [
        ("The badge number %(value)s is already used.", {"value": "HH-000001"})
    ]
    awards = award_badges(
        db_session,
        as_requester(manager, scope),
        ids,
        decision_number="12-QĐ/TU",
        decision_on=date(2026, 5, 10),
        first_number="HH-000100",
    )
    assert sorted(a.badge_number for a in awards) == ["HH-000100", "HH-000101"]
    db_session.expire_all()
    assert {x.state for x in db_session.scalars(select(BadgeProposal))} == {"awarded"}
    # now held: nobody left to propose on this occasion
    assert eligible_set(db_session, world["tree"]["D1"]) == set()
    with pytest.raises(ValidationFailed) as refused:
        award_badges(
            db_session,
            as_requester(manager, scope),
            ids,
            decision_number="12-QĐ/TU",
            decision_on=date(2026, 5, 10),
            first_number="HH-000200",
        )
    db_session.rollback()
    assert "already been awarded" in refused.value.errors["members"][0][0]


REFUSED_PROPOSALS = [
    # (who, manual kind or None, milestone, expected msgid)
    ("later", None, None, "%(name)s (%(number)s) is not eligible for a badge on %(occasion)s."),
    ("young", None, None, "%(name)s (%(number)s) is not eligible for a badge on %(occasion)s."),
    ("holder", "early", 30, "%(name)s (%(number)s) already holds the %(years)s-year badge."),
    ("thirty", "posthumous", 30, "%(name)s (%(number)s) is not recorded as deceased."),
    (
        "thirty",
        "early",
        40,
        "%(name)s (%(number)s) cannot be proposed early for the %(years)s-year badge on this occasion: outside the early window of %(months)s months, under a discipline deferral or holding a higher badge.",
    ),
    (
        "deceased",
        "posthumous",
        40,
        "%(name)s (%(number)s) had not come within %(months)s months of %(years)s years of Party age at death.",
    ),
    ("sibling", None, None, "The member does not exist."),
]


@pytest.mark.parametrize(("who", "kind", "milestone", "message"), REFUSED_PROPOSALS)
def test_refused_badge_proposals_change_nothing(
    app, db_session, world, who, kind, milestone, message
):
    target = world["people"][who]
    clerk = uid(app, "clerk_b")
    with pytest.raises((ValidationFailed, NotFound)) as refused:
        if kind is None:
            propose_badges(db_session, as_requester(clerk, world["scope"]), OCCASION, [target.id])
        else:
            propose_badge_manually(
                db_session,
                as_requester(clerk, world["scope"]),
                OCCASION,
                target.id,
                milestone,
                kind,
                "Ốm nặng, có xác nhận của bệnh viện",
            )
    db_session.rollback()
    errors = refused.value.errors
    msgid, params = next(iter(errors.values()))[0]
    assert msgid == message
    assert vietnamese(app, msgid, **params)
    assert db_session.scalar(select(func.count(BadgeProposal.id))) == 0


def test_early_and_posthumous_proposals_with_a_reason(app, db_session, world):
    p, scope, clerk = world["people"], world["scope"], uid(app, "clerk_b")
    with pytest.raises(ValidationFailed) as refused:
        propose_badge_manually(
            db_session, as_requester(clerk, scope), OCCASION, p["later"].id, 30, "early", " "
        )
    db_session.rollback()
    assert "reason" in refused.value.errors
    early = propose_badge_manually(
        db_session, as_requester(clerk, scope), OCCASION, p["later"].id, 30, "early", "Ốm nặng"
    )
    posthumous = propose_badge_manually(
        db_session,
        as_requester(clerk, scope),
        OCCASION,
        p["deceased"].id,
        30,
        "posthumous",
        "Truy tặng",
    )
    assert (early.kind, posthumous.kind) == ("early", "posthumous")
    with pytest.raises(ValidationFailed) as refused:  # proposing twice
        propose_badge_manually(
            db_session, as_requester(clerk, scope), OCCASION, p["later"].id, 30, "early", "Lần nữa"
        )
    db_session.rollback()
    assert "already proposed" in refused.value.errors["members"][0][0]
    with pytest.raises(ValidationFailed):  # not an occasion
        propose_badges(db_session, as_requester(clerk, scope), date(2026, 5, 20), [p["thirty"].id])
    db_session.rollback()


def test_a_lost_badge_is_reissued_once(app, db_session, world):
    holder = world["people"]["holder"]
    original = db_session.scalar(select(BadgeAward).where(BadgeAward.member_id == holder.id))
    manager, scope = uid(app, "manager_b"), world["scope"]
    common = dict(decision_number="30-QĐ/TU", decision_on=date(2026, 6, 1))
    with pytest.raises(ValidationFailed):  # number already used
        reissue_badge(
            db_session,
            as_requester(manager, scope),
            original.id,
            badge_number="HH-000001",
            lost_on=None,
            **common,
        )
    db_session.rollback()
    new = reissue_badge(
        db_session,
        as_requester(manager, scope),
        original.id,
        badge_number="HH-009999",
        lost_on=date(2026, 4, 1),
        **common,
    )
    db_session.expire_all()
    assert db_session.get(BadgeAward, original.id).lost_on == date(2026, 4, 1)
    assert (new.reissue_of_id, new.milestone) == (original.id, 30)
    with pytest.raises(ValidationFailed):
        reissue_badge(
            db_session,
            as_requester(manager, scope),
            original.id,
            badge_number="HH-009998",
            lost_on=None,
            **common,
        )
    db_session.rollback()
    with pytest.raises(NotFound):
        reissue_badge(
            db_session,
            as_requester(manager, world["tree"]["D2"].path),
            new.id,
            badge_number="HH-009997",
            lost_on=None,
            **common,
        )
    db_session.rollback()


# --- Round page, API, CLI, printables ---------------------------------------------------


def client_for(app, username):
    client = app.test_client()
    login(client, username, PASSWORD)
    return client


def test_round_page_clerk_proposes_manager_decides_and_awards(app, db_session, world, redis_conn):
    p = world["people"]
    unit_id = world["tree"]["D1"].id
    clerk = client_for(app, "clerk_b")
    page = clerk.get(f"/badges/round?occasion=2026-05-19&unit_id={unit_id}")
    assert page.status_code == 200
    assert "Nguyễn Văn Ba Mươi" in page.text and "Quách Văn Khác" not in page.text
    assert "19/05/1996" in page.text  # the reason per member
    assert "approve-badges" not in page.text
    page = clerk.post(
        "/badges/propose",
        data={"occasion": "2026-05-19", "unit_id": unit_id, "selected": [p["thirty"].id]},
        follow_redirects=True,
    )
    assert vietnamese(app, "The selected members have been proposed.") in page.text
    (proposal,) = db_session.scalars(select(BadgeProposal)).all()
    clerk.post(
        "/badges/decide",
        data={
            "occasion": "2026-05-19",
            "unit_id": unit_id,
            "proposal": [proposal.id],
            "decision": "approve",
        },
    )
    db_session.expire_all()
    assert db_session.get(BadgeProposal, proposal.id).state == BadgeProposalState.PROPOSED
    manager = client_for(app, "manager_b")
    assert 'id="count-badges-to-decide">1<' in manager.get("/").text
    page = manager.post(
        "/badges/decide",
        data={
            "occasion": "2026-05-19",
            "unit_id": unit_id,
            "proposal": [proposal.id],
            "decision": "approve",
        },
        follow_redirects=True,
    )
    assert vietnamese(app, "The selected proposals have been approved.") in page.text
    page = manager.post(
        "/badges/award",
        data={
            "occasion": "2026-05-19",
            "unit_id": unit_id,
            "proposal": [proposal.id],
            "decision_number": "15-QĐ/TU",
            "decision_on": "10/05/2026",
            "first_number": "abc",
        },
        follow_redirects=True,
    )
    assert (
        vietnamese(app, "Enter the first badge number, ending in digits (e.g. 012345).")
        in page.text
    )
    page = manager.post(
        "/badges/award",
        data={
            "occasion": "2026-05-19",
            "unit_id": unit_id,
            "proposal": [proposal.id],
            "decision_number": "15-QĐ/TU",
            "decision_on": "10/05/2026",
            "first_number": "HH-000500",
        },
        follow_redirects=True,
    )
    assert vietnamese(app, "The awards have been recorded.") in page.text
    assert (
        db_session.scalar(
            select(BadgeAward.badge_number).where(BadgeAward.member_id == p["thirty"].id)
        )
        == "HH-000500"
    )
    assert manager.get("/badges/round?occasion=garbage").status_code == 200


def test_clerk_dashboard_counts_eligible_not_proposed(app, db_session, world, redis_conn):
    from webapp.domain.badges import count_eligible_not_proposed, next_occasion_after

    occasion = next_occasion_after(db_session, date.today())
    expected = count_eligible_not_proposed(db_session, world["tree"]["D1"], occasion)
    assert expected >= 2
    clerk = client_for(app, "clerk_b")
    assert f'id="count-eligible-not-proposed">{expected}<' in clerk.get("/").text
    clerk.post(
        "/badges/propose",
        data={
            "occasion": occasion.isoformat(),
            "unit_id": world["tree"]["D1"].id,
            "selected": [world["people"]["forty"].id],
        },
    )
    # the proposal drops the cached counter at once
    assert f'id="count-eligible-not-proposed">{expected - 1}<' in clerk.get("/").text


def test_api_round(app, db_session, world):
    p, unit = world["people"], world["tree"]["D1"]
    client = app.test_client()

    def token(username):
        response = client.post(
            "/api/v1/security/login",
            json={"username": username, "password": PASSWORD, "provider": "db"},
        )
        return {"Authorization": f"Bearer {response.json['access_token']}"}

    clerk = token("clerk_b")
    listed = client.get(
        f"/api/v1/badge-proposals/eligible?occasion=2026-05-19&unit={unit.id}", headers=clerk
    )
    assert listed.status_code == 200
    assert {(r["member"], r["milestone"]) for r in listed.json["result"]} == {
        (p["thirty"].id, 30),
        (p["forty"].id, 40),
    }
    assert (
        client.get(
            "/api/v1/badge-proposals/eligible?occasion=2026-05-20&unit=1", headers=clerk
        ).status_code
        == 422
    )
    response = client.post(
        "/api/v1/badge-proposals/",
        json={"occasion": "2026-05-19", "members": [p["young"].id]},
        headers=clerk,
    )
    assert response.status_code == 422
    response = client.post(
        "/api/v1/badge-proposals/",
        json={"occasion": "2026-05-19", "members": [p["thirty"].id, p["forty"].id]},
        headers=clerk,
    )
    assert response.status_code == 201
    ids = response.json["ids"]
    response = client.post(
        "/api/v1/badge-proposals/",
        json={
            "occasion": "2026-05-19",
            "member": p["later"].id,
            "milestone": 30,
            "kind": "early",
            "reason": "Ốm nặng",
        },
        headers=clerk,
    )
    assert response.status_code == 201
    assert client.post(
        "/api/v1/badge-proposals/decide", json={"ids": ids, "approve": True}, headers=clerk
    ).status_code in (401, 403)
    other = token("manager_b2")
    assert (
        client.post(
            "/api/v1/badge-proposals/decide", json={"ids": ids, "approve": True}, headers=other
        ).status_code
        == 404
    )
    manager = token("manager_b")
    assert (
        client.post(
            "/api/v1/badge-proposals/decide", json={"ids": ids, "approve": True}, headers=manager
        ).status_code
        == 200
    )
    response = client.post(
        "/api/v1/badge-proposals/award",
        json={
            "ids": ids,
            "decision_number": "20-QĐ/TU",
            "decision_on": "2026-05-12",
            "first_number": "7001",
        },
        headers=manager,
    )
    assert response.status_code == 200
    assert sorted(a["number"] for a in response.json["awards"]) == ["7001", "7002"]


def test_cli_badges_eligible_file_read_back(app, db_session, world, tmp_path):
    p = world["people"]
    output = tmp_path / "eligible.csv"
    # dd/mm/yyyy or ISO: the one date parser (webapp/domain/dates.py).
    result = run_flask(
        "badges", "eligible", "--occasion", "19/05/2026", "--unit", "P.01", "-o", str(output)
    )
    assert result.returncode == 0, result.stderr
    with output.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["member_number"], r["milestone"]) for r in rows} == {
        (p["thirty"].member_number, "30"),
        (p["forty"].member_number, "40"),
    }
    thirty = next(r for r in rows if r["member_number"] == p["thirty"].member_number)
    assert thirty["admitted_on"] == "1996-05-19" and thirty["party_age"].startswith("30 năm")
    assert thirty["name"] == "Nguyễn Văn Ba Mươi" and thirty["reason"]
    for args, expected in (
        (["--occasion", "2026-05-20"], "3/2"),
        (["--occasion", "31/02/2026"], "--occasion: 31/02/2026"),
        (["--occasion", "2026-05-19", "--unit", "NOPE"], "Unknown unit code NOPE"),
    ):
        bad = run_flask("badges", "eligible", *args, "-o", str(output))
        assert bad.returncode != 0 and expected in bad.stderr, bad.stderr


def pdf_text(path) -> str:
    with open(path, "rb") as handle:
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(handle.read())).pages)


def test_badge_printables_show_the_round_in_vietnamese(app, db_session, world):
    p, unit = world["people"], world["tree"]["D1"]
    clerk, manager = uid(app, "clerk_b"), uid(app, "manager_b")
    ids = [
        x.id
        for x in propose_badges(
            db_session, as_requester(clerk, world["scope"]), OCCASION, [p["thirty"].id]
        )
    ]
    decide_badges(db_session, as_requester(manager, world["scope"]), ids, True)
    award_badges(
        db_session,
        as_requester(manager, world["scope"]),
        ids,
        decision_number="15-QĐ/TU",
        decision_on=date(2026, 5, 10),
        first_number="HH-000777",
    )
    for report, expected in (
        (
            "badge-proposals",
            ["DANH SÁCH ĐỀ NGHỊ TẶNG HUY HIỆU ĐẢNG", "Nguyễn Văn Ba Mươi", "30 năm"],
        ),
        ("badge-decision", ["QUYẾT ĐỊNH TẶNG HUY HIỆU ĐẢNG", "HH-000777", "Nguyễn Văn Ba Mươi"]),
    ):
        run = request_report(
            db.session, SYSTEM, report, "pdf", unit.id, {"occasion": "2026-05-19"}, queue=False
        )
        run = execute_run(run.id)
        text = pdf_text(run.file_path)
        for words in expected:
            assert words in text, (report, words, text[:500])


def test_admin_edits_reference_data_on_screen_with_checks(app, db_session, admin_client):
    milestone = db_session.scalar(select(BadgeMilestone).where(BadgeMilestone.years == 70))
    try:
        page = admin_client.post(
            f"/badgemilestoneview/edit/{milestone.id}",
            data={"years": "70", "early_months": "99", "active": "y"},
            follow_redirects=True,
        )
        assert (
            vietnamese(app, "Enter a whole number from %(low)s to %(high)s.", low=0, high=60)
            in page.text
        )
        db_session.expire_all()
        assert db_session.get(BadgeMilestone, milestone.id).early_months == 24
        admin_client.post(
            f"/badgemilestoneview/edit/{milestone.id}",
            data={"years": "70", "early_months": "18", "active": "y"},
        )
        db_session.expire_all()
        assert rules_from_db(db_session).early_months[70] == 18
        page = admin_client.post(
            "/badgeoccasionview/add",
            data={"day": "30", "month": "2", "name": "Ngày không có", "active": "y"},
            follow_redirects=True,
        )
        assert vietnamese(app, "The day does not exist in that month.") in page.text
    finally:
        db_session.rollback()
        row = db_session.get(BadgeMilestone, milestone.id)
        row.early_months = 24
        db_session.commit()
    make_tree(db_session)
    create_user("clerk_ref", "Clerk", "P.01", PASSWORD)
    clerk = client_for(app, "clerk_ref")
    response = clerk.post(
        f"/badgemilestoneview/edit/{milestone.id}",
        data={"years": "70", "early_months": "1", "active": "y"},
    )
    assert response.status_code in (302, 401, 403)
    db_session.expire_all()
    assert db_session.get(BadgeMilestone, milestone.id).early_months == 24


def test_large_scopes_are_counted_by_a_worker(app, db_session, world, redis_conn):
    from conftest import run_worker_burst
    from webapp.domain.badges import count_eligible_not_proposed, next_occasion_after

    occasion = next_occasion_after(db_session, date.today())
    expected = count_eligible_not_proposed(db_session, world["tree"]["D1"], occasion)
    previous = app.config["BADGE_COUNTER_INLINE_MEMBERS"]
    app.config["BADGE_COUNTER_INLINE_MEMBERS"] = 0  # every scope counts as large
    try:
        clerk = client_for(app, "clerk_b")
        assert 'id="count-eligible-not-proposed">…<' in clerk.get("/").text
        assert 'id="count-eligible-not-proposed">…<' in clerk.get("/").text
        from jobs import get_queue

        assert len(get_queue("default")) == 1  # a reload queues nothing more
        result = run_worker_burst()
        assert result.returncode == 0, result.stderr
        assert f'id="count-eligible-not-proposed">{expected}<' in clerk.get("/").text
    finally:
        app.config["BADGE_COUNTER_INLINE_MEMBERS"] = previous


@pytest.mark.server_only
def test_two_managers_approving_the_same_badge_proposals_one_wins(app, db_session, world):
    import threading
    import time

    from sqlalchemy.orm import Session

    from conftest import DATABASE_URL
    from webapp.domain.errors import DomainError
    from webapp.extensions import db

    if not (DATABASE_URL or "").startswith("postgresql"):
        pytest.skip("needs PostgreSQL")
    p = world["people"]
    create_user("manager_b3", "Manager", "P.01", PASSWORD)
    ids = [
        x.id
        for x in propose_badges(
            db_session,
            as_requester(uid(app, "clerk_b"), world["scope"]),
            OCCASION,
            [p["thirty"].id, p["forty"].id],
        )
    ]
    managers = [uid(app, "manager_b"), uid(app, "manager_b3")]
    requesters = {m: as_requester(m, world["scope"]) for m in managers}
    holding = threading.Event()
    results = {}

    def act(name, manager, hold):
        with app.app_context():
            session = Session(db.engine)
            try:
                if not hold:
                    holding.wait(10)
                with transaction(session):  # the command joins it: locks held to its end
                    decide_badges(session, requesters[manager], ids, True)
                    if hold:
                        holding.set()
                        time.sleep(0.5)
                results[name] = "ok"
            except DomainError as error:
                session.rollback()
                results[name] = error
            finally:
                session.close()

    threads = [
        threading.Thread(target=act, args=("first", managers[0], True)),
        threading.Thread(target=act, args=("second", managers[1], False)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results["first"] == "ok"
    assert isinstance(results["second"], ValidationFailed)
    assert {m for m, _ in results["second"].errors["members"]} == {
        "The badge proposal for %(name)s (%(number)s) has already been approved."
    }
    db_session.expire_all()
    assert {x.decided_by_id for x in db_session.scalars(select(BadgeProposal))} == {managers[0]}


@pytest.mark.server_only
def test_same_badge_number_awarded_twice_at_once_is_refused_not_a_crash(app, db_session, world):
    """Two managers record different awards with the same badge number at the same moment:
    the number check passes in both transactions, the unique index decides, and the loser
    gets a clear message (no 500), nothing of theirs saved."""
    import threading
    import time

    from conftest import DATABASE_URL
    from webapp.domain.errors import ConcurrentChange, DomainError
    from webapp.extensions import db

    if not (DATABASE_URL or "").startswith("postgresql"):
        pytest.skip("needs PostgreSQL")
    p, scope = world["people"], world["scope"]
    manager = uid(app, "manager_b")
    ids = [
        x.id
        for x in propose_badges(
            db_session,
            as_requester(uid(app, "clerk_b"), scope),
            OCCASION,
            [p["thirty"].id, p["forty"].id],
        )
    ]
    decide_badges(db_session, as_requester(manager, scope), ids, True)
    first_flushed = threading.Event()
    results = {}

    requester = as_requester(manager, scope)

    def award(name, proposal_id, hold):
        with app.app_context():
            try:
                if not hold:
                    first_flushed.wait(10)
                with transaction(db.session):  # the command joins it; the clash ends it
                    award_badges(
                        db.session,
                        requester,
                        [proposal_id],
                        decision_number="9-QĐ/TU",
                        decision_on=date(2026, 5, 10),
                        first_number="HH-000900",
                    )
                    if hold:
                        first_flushed.set()
                        time.sleep(0.5)  # the other one now waits on the unique index
                results[name] = "ok"
            except DomainError as error:
                results[name] = error
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=award, args=("first", ids[0], True)),
        threading.Thread(target=award, args=("second", ids[1], False)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results["first"] == "ok"
    assert isinstance(results["second"], ConcurrentChange)
    assert vietnamese(app, results["second"].message)
    db_session.expire_all()
    assert db_session.scalars(
        select(BadgeAward.badge_number).where(BadgeAward.badge_number == "HH-000900")
    ).all() == ["HH-000900"]
    assert db_session.get(BadgeProposal, ids[1]).state == BadgeProposalState.APPROVED


def test_reissue_is_offered_on_the_award_page_to_managers_only(app, db_session, world):
    holder = world["people"]["holder"]
    award = db_session.scalar(select(BadgeAward).where(BadgeAward.member_id == holder.id))
    manager = client_for(app, "manager_b")
    page = manager.get(f"/badgeawards/show/{award.id}")
    assert page.status_code == 200 and "HH-000001" in page.text
    assert "reissue" in page.text and '<form id="action_form"' in page.text
    # The action link posts the page's action form (GET is refused on action routes).
    assert manager.get(f"/badgeawards/action/reissue/{award.id}").status_code == 405
    response = manager.post(f"/badgeawards/action/reissue/{award.id}")
    assert response.status_code == 302 and f"/badgeawards/reissue/{award.id}" in response.location
    page = manager.post(
        f"/badgeawards/reissue/{award.id}",
        data={
            "lost_on": "01/04/2026",
            "badge_number": "HH-000002",
            "decision_number": "31-QĐ/TU",
            "decision_on": "02/05/2026",
        },
        follow_redirects=True,
    )
    assert vietnamese(app, "The badge has been re-issued.") in page.text
    clerk = client_for(app, "clerk_b")
    assert "reissue" not in clerk.get(f"/badgeawards/show/{award.id}").text
    before = db_session.scalar(select(func.count(BadgeAward.id)))
    clerk.post(
        f"/badgeawards/reissue/{award.id}",
        data={"badge_number": "HH-000003", "decision_number": "x", "decision_on": "02/05/2026"},
    )
    db_session.expire_all()
    assert db_session.scalar(select(func.count(BadgeAward.id))) == before
    other = create_user("manager_other", "Manager", "P.02", PASSWORD)
    assert other
    assert (
        client_for(app, "manager_other").get(f"/badgeawards/reissue/{award.id}").status_code == 404
    )


def test_card_and_badge_views_are_adapters_only():
    """Views reach the domain through commands: no import of jobs, nor of another view
    module's helpers, nor their own copy of a domain error (issue 12)."""
    import ast

    from conftest import ROOT

    for name in ("badges", "cards"):
        tree = ast.parse((ROOT / "webapp" / "views" / f"{name}.py").read_text())
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        } | {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
        assert not {m for m in imported if m == "jobs" or m.startswith("jobs.")}, name
        assert not {"webapp.views.cards", "webapp.views.badges"} & imported, name
        classes = {node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
        assert "ConcurrentChange" not in classes, name
