"""The clerk's worklist and the data-quality checks: each rule of RULES with a member that
violates it and one that satisfies it, built through the real ledger where the rule reads
it; the refresh's scope, its failed checks, the scores, the settings and the screens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from factories import SYSTEM, as_requester, make_member, make_tree
from webapp.cli import create_user
from webapp.domain import worklist
from webapp.domain.badge_eligibility import add_months
from webapp.domain.errors import Forbidden, ValidationFailed
from webapp.domain.events import open_ledger
from webapp.models import (
    DocumentType,
    FamilyRelation,
    Member,
    MemberDocument,
    MemberDocumentVersion,
    MemberEvent,
    MemberSupplement,
    WorkPeriod,
)
from webapp.models.badges import BadgeProposal
from webapp.models.worklist import CheckRun, QualityScore, WorkItem, WorklistSetting

DAY = date(2026, 12, 2)
PASSWORD = "Worklist-Pass-123"


def member_with_ledger(session, unit, **fields) -> Member:
    member = make_member(session, unit, **fields)
    session.commit()
    open_ledger(session, SYSTEM, member.id)
    return member


def probationary(session, unit, admitted_on: date) -> Member:
    return member_with_ledger(
        session, unit, admitted_on=admitted_on, official_on=None, status="probationary"
    )


def full_record(session, unit, **fields) -> Member:
    member = member_with_ledger(
        session,
        unit,
        citizen_id=fields.pop("citizen_id", "001080000123"),
        birthplace="Ninh Bình",
        home_town="Ninh Bình",
        permanent_address="Ninh Bình",
        religion="Không",
        admitting_cell="Chi bộ thôn Đông",
        introducer_1="Trần Văn Một",
        introducer_2="Lê Thị Hai",
        general_education="12/12",
        professional_level="Đại học",
        political_theory="Trung cấp",
        occupation_at_admission="Giáo viên",
        occupation="Giáo viên",
        health="Tốt",
        **fields,
    )
    session.add_all(
        [
            WorkPeriod(member_id=member.id, starts_on=date(2002, 9, 1), description="Giáo viên"),
            FamilyRelation(member_id=member.id, relation="Bố", full_name="Nguyễn Văn Bố"),
        ]
    )
    session.commit()
    member.alias = "An"  # saving the member recomputes its completeness
    session.commit()
    assert member.completeness == "four_page", member.missing_fields
    return member


def with_every_required_document(session, unit) -> Member:
    member = member_with_ledger(session, unit)
    for type_id in session.scalars(select(DocumentType.id).where(DocumentType.required)):
        document = MemberDocument(member_id=member.id, type_id=type_id)
        session.add(document)
        session.flush()
        session.add(
            MemberDocumentVersion(
                document_id=document.id,
                number=1,
                sha256="0" * 64,
                path="documents/x",
                size=1,
                state="done",
            )
        )
    session.commit()
    return member


def waiting_badge_proposal(days: int):
    def build(session, unit) -> Member:
        member = member_with_ledger(session, unit, admitted_on=date(1990, 1, 1))
        session.add(
            BadgeProposal(
                member_id=member.id,
                milestone=30,
                occasion_on=date(2027, 2, 3),
                reason="30 năm tuổi Đảng",
                proposed_at=datetime.combine(DAY - timedelta(days=days), datetime.min.time()),
            )
        )
        session.commit()
        return member

    return build


def with_supplement(session, unit) -> Member:
    member = member_with_ledger(session, unit)
    session.add(MemberSupplement(member_id=member.id, year=DAY.year, declared_on=DAY))
    session.commit()
    return member


def born(years_before_next_month: int):
    def build(session, unit) -> Member:
        birthday = add_months(DAY + timedelta(days=10), -12 * years_before_next_month)
        return member_with_ledger(
            session, unit, birth_date=birthday, admitted_on=add_months(birthday, 12 * 25)
        )

    return build


def with_processed_photo(session, unit) -> Member:
    import photo_samples
    from flask import current_app

    from jobs.photos import process_photo_job
    from webapp.domain import photos
    from webapp.domain.imaging import PhotoLimits
    from webapp.filestore import FileStore

    member = member_with_ledger(session, unit)
    photo = photos.upload_photo(
        session,
        SYSTEM,
        member.id,
        photos.Upload(photo_samples.jpeg(photo_samples.quadrants()), "a.jpg"),
        FileStore(current_app.config["DATA_DIR"]),
        PhotoLimits(),
    )
    process_photo_job(photo.id)
    return member


def with_bad_card_number(session, unit) -> Member:
    # A card entered from an old paper record, numbered before today's rule.
    return member_with_ledger(session, unit, card_number="12345")


def with_event_before_admission(session, unit) -> Member:
    member = member_with_ledger(session, unit, admitted_on=date(2005, 2, 3))
    # An event typed before the ledger checked dates (the ledger refuses it today).
    session.add(
        MemberEvent(member_id=member.id, kind="transfer_within", effective_on=date(2001, 1, 1))
    )
    session.commit()
    return member


def in_dissolved_unit(session, unit) -> Member:
    member = member_with_ledger(session, unit)
    unit.dissolved_on = date(2025, 7, 1)
    session.commit()
    return member


def twice(session, unit) -> Member:
    first = member_with_ledger(session, unit, birth_name="Đỗ Văn Trùng", home_town="Yên Mô")
    member_with_ledger(session, unit, birth_name="ĐỖ VĂN TRÙNG", home_town="yên mô")
    return first


def transferred_out(days_ago: int):
    """Transferred out of the instance `days_ago` days before DAY (no receipt recorded:
    there is no sync yet, so nothing confirms the arrival)."""

    def build(session, unit) -> Member:
        from webapp.domain.events import EventInput, record_event

        member = member_with_ledger(session, unit)
        record_event(
            session,
            SYSTEM,
            member.id,
            EventInput(
                kind="transfer_out",
                effective_on=DAY - timedelta(days=days_ago),
                other_organisation="Đảng bộ tỉnh Thanh Hóa",
            ),
            today=DAY,
        )
        session.commit()
        return member

    return build


def transferred_out_then_reversed(session, unit) -> Member:
    from webapp.domain.events import cancel_event

    member = transferred_out(60)(session, unit)
    event = session.scalar(
        select(MemberEvent).where(
            MemberEvent.member_id == member.id, MemberEvent.kind == "transfer_out"
        )
    )
    cancel_event(session, SYSTEM, event.id, today=DAY)
    session.commit()
    return member


def on_temporary_transfer(days_ago: int):
    def build(session, unit) -> Member:
        from webapp.domain.events import EventInput, record_event

        member = member_with_ledger(session, unit)
        record_event(
            session,
            SYSTEM,
            member.id,
            EventInput(
                kind="temporary_transfer",
                effective_on=DAY - timedelta(days=days_ago),
                other_organisation="Đảng bộ Công ty X (Hà Nội)",
            ),
            today=DAY,
        )
        session.commit()
        return member

    return build


def plain(session, unit) -> Member:
    return member_with_ledger(session, unit, birth_name="Đỗ Văn Khác", home_town="Yên Khánh")


@dataclass(frozen=True)
class Case:
    violates: Callable
    satisfies: Callable
    own_unit: bool = False  # the builder changes its unit: give it a cell of its own


CASES: dict[str, Case] = {
    "probation_ending": Case(
        lambda s, u: probationary(s, u, add_months(DAY, -12) + timedelta(days=20)),
        lambda s, u: probationary(s, u, add_months(DAY, -3)),
    ),
    "badge_occasion": Case(
        lambda s, u: member_with_ledger(
            s, u, admitted_on=date(1996, 12, 1), official_on=date(1997, 12, 1)
        ),
        lambda s, u: member_with_ledger(s, u, admitted_on=date(2005, 1, 1)),
    ),
    "proposals_waiting": Case(waiting_badge_proposal(60), waiting_badge_proposal(2)),
    "transfer_unconfirmed": Case(transferred_out(45), transferred_out(10)),
    "temporary_transfer_long": Case(on_temporary_transfer(400), on_temporary_transfer(100)),
    "supplement_missing": Case(member_with_ledger, with_supplement),
    "birthdays": Case(born(85), born(50)),
    "incomplete_record": Case(member_with_ledger, full_record),
    "documents_missing": Case(member_with_ledger, with_every_required_document),
    "duplicate_person": Case(twice, plain),
    "impossible_dates": Case(
        lambda s, u: member_with_ledger(s, u, birth_date=date(1990, 1, 1)),  # admitted at 15
        member_with_ledger,
    ),
    "dissolved_unit": Case(in_dissolved_unit, member_with_ledger, own_unit=True),
    "no_photo": Case(member_with_ledger, with_processed_photo),
    "card_number_format": Case(
        with_bad_card_number, lambda s, u: member_with_ledger(s, u, card_number="01.000123")
    ),
    "events_out_of_order": Case(with_event_before_admission, member_with_ledger),
}


def test_every_rule_has_a_case():
    assert set(CASES) == set(worklist.RULES_BY_KEY)


def items_of(session, rule: str) -> set[int]:
    session.expire_all()
    return set(session.scalars(select(WorkItem.member_id).where(WorkItem.rule == rule)))


@pytest.mark.parametrize("rule", sorted(CASES))
def test_the_rule_finds_the_member_who_violates_it_and_not_the_other(
    app, db_session, redis_conn, rule
):
    from factories import make_unit

    tree = make_tree(db_session)
    case = CASES[rule]
    bad_unit = make_unit(db_session, "P.01.001.07", "Chi bộ thôn Bảy", parent=tree["G1"])
    good_unit = make_unit(db_session, "P.01.001.08", "Chi bộ thôn Tám", parent=tree["G1"])
    db_session.commit()
    bad = case.violates(db_session, bad_unit if case.own_unit else tree["C1"])
    good = case.satisfies(db_session, good_unit if case.own_unit else tree["C2"])
    result = worklist.refresh_worklist(db_session, SYSTEM, DAY, rules=[rule])
    assert result.failed == {}
    found = items_of(db_session, rule)
    assert bad.id in found
    assert good.id not in found
    run = db_session.scalar(select(CheckRun).where(CheckRun.rule == rule))
    assert run.state == "done" and run.items == len(found) and run.as_of == DAY


def test_probation_item_carries_its_end_day_and_disappears_once_recognised(
    app, db_session, redis_conn
):
    from webapp.domain.events import EventInput, record_event

    tree = make_tree(db_session)
    admitted = add_months(DAY, -12) - timedelta(days=5)  # ended five days ago
    member = probationary(db_session, tree["C1"], admitted)
    worklist.refresh_worklist(db_session, SYSTEM, DAY, rules=["probation_ending"])
    item = db_session.scalar(select(WorkItem).where(WorkItem.member_id == member.id))
    assert item.due_on == add_months(admitted, 12) and item.details == {"overdue": True}
    record_event(
        db_session,
        SYSTEM,
        member.id,
        EventInput(kind="official_recognition", effective_on=add_months(admitted, 12)),
        today=DAY,
    )
    worklist.refresh_worklist(db_session, SYSTEM, DAY, rules=["probation_ending"])
    assert member.id not in items_of(db_session, "probation_ending")


def test_a_transfer_out_is_followed_up_from_30_days_until_a_year_unless_cancelled(
    app, db_session, redis_conn
):
    tree = make_tree(db_session)
    recent = transferred_out(45)(db_session, tree["C1"])
    old = transferred_out(400)(db_session, tree["C1"])
    cancelled = transferred_out_then_reversed(db_session, tree["C2"])
    result = worklist.refresh_worklist(db_session, SYSTEM, DAY, rules=["transfer_unconfirmed"])
    assert result.items == {"transfer_unconfirmed": 1}
    item = db_session.scalar(select(WorkItem).where(WorkItem.rule == "transfer_unconfirmed"))
    assert item.member_id == recent.id and item.unit_id == tree["C1"].id
    transferred_on = DAY - timedelta(days=45)
    assert item.due_on == transferred_on + timedelta(days=30)
    assert item.details == {
        "since": transferred_on.isoformat(),
        "to": "Đảng bộ tỉnh Thanh Hóa",
    }
    assert {old.id, cancelled.id}.isdisjoint(items_of(db_session, "transfer_unconfirmed"))
    # The window is Admin reference data.
    worklist.configure_worklist(db_session, SYSTEM, {"transfer_follow_up_days": 500})
    worklist.refresh_worklist(db_session, SYSTEM, DAY, rules=["transfer_unconfirmed"])
    assert items_of(db_session, "transfer_unconfirmed") == {recent.id, old.id}


def test_a_refresh_keeps_the_items_found_again_and_replaces_the_changed_ones(
    app, db_session, redis_conn
):
    tree = make_tree(db_session)
    kept = member_with_ledger(db_session, tree["C1"])
    changed = member_with_ledger(db_session, tree["C1"])
    worklist.refresh_worklist(db_session, SYSTEM, DAY, rules=["incomplete_record"])
    before = {
        item.member_id: (item.id, item.details)
        for item in db_session.scalars(select(WorkItem).where(WorkItem.rule == "incomplete_record"))
    }
    assert "birthplace" in before[changed.id][1]["fields"]
    changed.birthplace = "Ninh Bình"  # saving the member recomputes its missing fields
    db_session.commit()
    later = DAY + timedelta(days=1)
    result = worklist.refresh_worklist(db_session, SYSTEM, later, rules=["incomplete_record"])
    assert result.items == {"incomplete_record": 2}
    db_session.expire_all()
    after = {
        item.member_id: item
        for item in db_session.scalars(select(WorkItem).where(WorkItem.rule == "incomplete_record"))
    }
    if db_session.get_bind().dialect.name == "postgresql":  # a diff; SQLite rewrites them
        assert after[kept.id].id == before[kept.id][0] and after[kept.id].found_on == DAY
    assert after[changed.id].id != before[changed.id][0] and after[changed.id].found_on == later
    assert "birthplace" not in after[changed.id].details["fields"]


def test_documents_missing_names_the_required_documents_without_a_scan(app, db_session, redis_conn):
    tree = make_tree(db_session)
    required = db_session.execute(
        select(DocumentType.id, DocumentType.name)
        .where(DocumentType.required, DocumentType.active)
        .order_by(DocumentType.position, DocumentType.id)
    ).all()
    assert len(required) >= 2
    none = member_with_ledger(db_session, tree["C1"])
    one = member_with_ledger(db_session, tree["C1"])
    other = member_with_ledger(db_session, tree["C2"])
    for member, (type_id, _) in ((one, required[0]), (other, required[1])):
        document = MemberDocument(member_id=member.id, type_id=type_id)
        db_session.add(document)
        db_session.flush()
        db_session.add(
            MemberDocumentVersion(
                document_id=document.id, number=1, sha256="0" * 64, path="d/x", size=1, state="done"
            )
        )
    db_session.commit()
    worklist.refresh_worklist(db_session, SYSTEM, DAY, rules=["documents_missing"])
    found = {
        item.member_id: item.details["documents"]
        for item in db_session.scalars(select(WorkItem).where(WorkItem.rule == "documents_missing"))
    }
    assert found[none.id] == [name for _, name in required]
    assert sorted(found[one.id]) == sorted(name for _, name in required[1:])
    assert required[0][1] in found[other.id] and required[1][1] not in found[other.id]


def test_counts_per_unit_subtree_follow_the_items(app, db_session, redis_conn):
    from webapp.models.worklist import WorkCount

    tree = make_tree(db_session)
    for unit in ("C1", "C1", "C3"):
        member_with_ledger(db_session, tree[unit])
    worklist.refresh_worklist(db_session, SYSTEM, DAY, rules=["supplement_missing"])
    counts = dict(
        db_session.execute(
            select(WorkCount.unit_id, WorkCount.items).where(WorkCount.rule == "supplement_missing")
        ).all()
    )
    assert counts[tree["C1"].id] == 2 and counts[tree["C3"].id] == 1
    assert counts[tree["G1"].id] == 2  # C1's grassroots organisation
    root = worklist.counted_unit(db_session, worklist.UNRESTRICTED)
    assert worklist.rule_counts(db_session, None, root)["supplement_missing"] == 3


def clerk(db_session, username: str, unit_code: str, role: str = "Clerk"):
    from webapp.models import DangVienUser
    from webapp.models.unit import Unit

    create_user(username, role, unit_code, PASSWORD)
    user_id = db_session.scalar(select(DangVienUser.id).where(DangVienUser.username == username))
    unit = db_session.scalar(select(Unit).where(Unit.code == unit_code))
    return as_requester(user_id, unit.path)


def test_a_clerks_refresh_computes_their_scope_only_and_leaves_the_others(
    app, db_session, redis_conn
):
    tree = make_tree(db_session)
    mine = member_with_ledger(db_session, tree["C1"])
    theirs = member_with_ledger(db_session, tree["C3"])
    worklist.refresh_worklist(db_session, SYSTEM, DAY, rules=["supplement_missing"])
    assert items_of(db_session, "supplement_missing") == {mine.id, theirs.id}
    # Both record their supplement; the clerk of D1 checks again: only D1's item goes.
    for member in (mine, theirs):
        db_session.add(MemberSupplement(member_id=member.id, year=DAY.year, declared_on=DAY))
    db_session.commit()
    d1_clerk = clerk(db_session, "clerk_wl_d1", "P.01")
    worklist.refresh_worklist(db_session, d1_clerk, DAY, rules=["supplement_missing"])
    assert items_of(db_session, "supplement_missing") == {theirs.id}


def test_a_leader_may_not_refresh_and_a_clerk_may_not_configure(app, db_session, redis_conn):
    make_tree(db_session)
    leader = clerk(db_session, "leader_wl", "P.01", role="Leader")
    with pytest.raises(Forbidden):
        worklist.refresh_worklist(db_session, leader, DAY)
    d1_clerk = clerk(db_session, "clerk_wl_cfg", "P.01")
    with pytest.raises(Forbidden):
        worklist.configure_worklist(db_session, d1_clerk, {"birthday_age": 70})


def test_a_failing_check_is_reported_and_the_others_still_run(
    app, db_session, redis_conn, monkeypatch
):
    tree = make_tree(db_session)
    member = member_with_ledger(db_session, tree["C1"])

    def broken(session, ctx):
        session.execute(select(Member.id).where(Member.id / 0 == 1)).all()  # noqa: B018
        raise RuntimeError("the check's query is wrong")

    bad_rule = worklist.Rule("broken", worklist.QUALITY, "Broken", "high", "test", broken)
    monkeypatch.setattr(worklist, "RULES", (*worklist.RULES, bad_rule))
    monkeypatch.setitem(worklist.RULES_BY_KEY, "broken", bad_rule)
    result = worklist.refresh_worklist(
        db_session, SYSTEM, DAY, rules=["broken", "supplement_missing"]
    )
    assert "broken" in result.failed
    assert items_of(db_session, "supplement_missing") == {member.id}
    run = db_session.scalar(select(CheckRun).where(CheckRun.rule == "broken"))
    assert run.state == "failed" and run.reason


def test_scores_are_the_share_of_members_without_a_quality_problem_and_are_kept(
    app, db_session, redis_conn
):
    tree = make_tree(db_session)
    full_record(db_session, tree["C1"], citizen_id="001080000001")
    member_with_ledger(db_session, tree["C1"])  # incomplete
    worklist.refresh_worklist(db_session, SYSTEM, DAY, rules=["incomplete_record"])
    score = db_session.scalar(select(QualityScore).where(QualityScore.unit_id == tree["C1"].id))
    assert (score.month, score.members, score.clean) == (date(2026, 12, 1), 2, 1)
    assert worklist.score_percent(score.members, score.clean) == 50.0
    # The next month adds a row; this month's stays for the trend.
    worklist.refresh_worklist(db_session, SYSTEM, date(2027, 1, 5), rules=["incomplete_record"])
    months = db_session.scalars(
        select(QualityScore.month).where(QualityScore.unit_id == tree["C1"].id)
    ).all()
    assert sorted(months) == [date(2026, 12, 1), date(2027, 1, 1)]


def test_thresholds_outside_their_range_are_refused_and_nothing_is_saved(
    app, db_session, redis_conn
):
    with pytest.raises(ValidationFailed) as refused:
        worklist.configure_worklist(
            db_session, SYSTEM, {"birthday_age": 75, "probation_warning_days": 500}
        )
    assert set(refused.value.errors) == {"probation_warning_days"}
    assert db_session.scalars(select(WorklistSetting)).all() == []
    worklist.configure_worklist(db_session, SYSTEM, {"birthday_age": 75, "rule:no_photo": 0})
    settings = worklist.current_settings(db_session)
    assert settings["birthday_age"] == 75 and settings["rule:no_photo"] == 0
    result = worklist.refresh_worklist(db_session, SYSTEM, DAY)
    assert "no_photo" not in result.items


# --- The screens --------------------------------------------------------------------------


def login(client, username: str) -> None:
    response = client.post(
        "/login/", data={"username": username, "password": PASSWORD}, follow_redirects=True
    )
    assert response.status_code == 200


def test_the_worklist_page_shows_the_clerks_items_and_a_tampered_unit_is_a_404(
    app, db_session, redis_conn
):
    tree = make_tree(db_session)
    mine = probationary(db_session, tree["C1"], add_months(DAY, -12))
    theirs = probationary(db_session, tree["C3"], add_months(DAY, -12))
    worklist.refresh_worklist(db_session, SYSTEM, DAY)
    clerk(db_session, "clerk_wl_page", "P.01")
    client = app.test_client()
    login(client, "clerk_wl_page")
    page = client.get("/worklist/?rule=probation_ending")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'data-member="{mine.id}"' in html
    assert f'data-member="{theirs.id}"' not in html
    assert "Hết thời gian dự bị" in html  # the rule's title, in Vietnamese
    assert client.get(f"/worklist/?unit={tree['C3'].id}").status_code == 404
    assert client.get("/worklist/?unit=99999999999").status_code == 404
    assert client.get("/worklist/?rule=nonsense").status_code == 404
    home = client.get("/").get_data(as_text=True)
    assert 'id="home-worklist"' in home
    quality = client.get("/worklist/quality")
    assert quality.status_code == 200
    assert tree["C3"].code not in quality.get_data(as_text=True)
    # Settings are an Admin's: the clerk is refused.
    assert client.get("/worklist/settings").status_code in (302, 403)


def test_the_settings_screen_refuses_a_bad_value_in_vietnamese_and_saves_nothing(
    app, db_session, redis_conn
):
    from conftest import ADMIN_PASSWORD

    client = app.test_client()
    client.post("/login/", data={"username": "admin", "password": ADMIN_PASSWORD})
    form = {key: str(t.default) for key, t in worklist.THRESHOLDS.items()}
    form["birthday_age"] = "5"
    response = client.post("/worklist/settings", data=form, follow_redirects=True)
    assert response.status_code == 200
    assert "Nhập số nguyên từ 60 đến 110" in response.get_data(as_text=True)
    assert db_session.scalars(select(WorklistSetting)).all() == []


def test_a_transfer_closed_by_the_partners_receipt_is_not_followed_up(app, db_session, redis_conn):
    from datetime import datetime

    from webapp.domain.sync_envelope import generate_key, public_key
    from webapp.models.sync import SyncPeer
    from webapp.models.transfer import OutgoingTransfer, TransferState

    tree = make_tree(db_session)
    confirmed = transferred_out(45)(db_session, tree["C1"])
    waiting = transferred_out(45)(db_session, tree["C1"])
    partner = SyncPeer(kind="partner", unit_code="TH", public_key=public_key(generate_key()))
    db_session.add(partner)
    db_session.flush()
    for member, state in ((confirmed, TransferState.CLOSED), (waiting, TransferState.PENDING)):
        event = db_session.scalar(
            select(MemberEvent).where(
                MemberEvent.member_id == member.id, MemberEvent.kind == "transfer_out"
            )
        )
        db_session.add(
            OutgoingTransfer(
                transfer_id=f"t-{member.id}",
                member_id=member.id,
                peer_id=partner.id,
                event_id=event.id,
                package_sha256="0" * 64,
                package_size=1,
                state=state,
                created_at=datetime(2026, 1, 1),
                expires_on=DAY + timedelta(days=30),
            )
        )
    db_session.commit()
    worklist.refresh_worklist(db_session, SYSTEM, DAY, rules=["transfer_unconfirmed"])
    assert items_of(db_session, "transfer_unconfirmed") == {waiting.id}


# --- badge eligibility: the SQL rule against the Python rule ------------------------------


def badge_member(session, cell, admitted: str, official: str | None = "auto", **fields):
    """An official member (recognised a year after admission) with an opened ledger."""
    from webapp.domain.party_age import add_years

    admitted_on = date.fromisoformat(admitted)
    if official == "auto":
        official = add_years(admitted_on, 1).isoformat()
    return member_with_ledger(
        session,
        cell,
        admitted_on=admitted_on,
        official_on=date.fromisoformat(official) if official else None,
        status="official" if official else "probationary",
        birth_date=date(admitted_on.year - 20, 1, 1),
        **fields,
    )


# name: (cell, admitted, official, events (kind, day, to cell), disciplines (day, form),
# badges held, milestone of an open proposal). Days are for the rounds of BADGE_DAYS.
BADGE_CASES: dict[str, tuple] = {
    "day_before_next": ("C1", "1997-09-01", "auto", (), (), (), None),
    "on_next": ("C1", "1997-09-02", "auto", (), (), (), None),
    "on_occasion": ("C2", "1997-05-19", "auto", (), (), (), None),
    "round_of_3_2": ("C2", "1997-01-20", "auto", (), (), (), None),
    "missed_40_45": ("C1", "1980-01-01", "auto", (), (), (30,), None),
    "holds_30": ("C1", "1997-05-01", "auto", (), (), (30,), None),
    "proposed_30": ("C1", "1997-05-01", "auto", (), (), (), 30),
    "proposed_for_another": ("C2", "1987-05-01", "auto", (), (), (30,), 30),
    "gap_in": (
        "C1",
        "1995-03-01",
        "auto",
        (("removal", "2001-01-01", None), ("readmission", "2003-07-04", "C2")),
        (),
        (),
        None,
    ),
    "gap_out": (
        "C1",
        "1995-03-01",
        "auto",
        (("removal", "2001-01-01", None), ("readmission", "2003-07-06", "C2")),
        (),
        (),
        None,
    ),
    "restored": (
        "C2",
        "1997-05-01",
        "auto",
        (("removal", "2005-01-01", None), ("restoration", "2006-01-01", None)),
        (),
        (),
        None,
    ),
    "resigned_readmitted": (
        "C1",
        "1985-02-01",
        "auto",
        (("resignation", "1990-06-01", None), ("readmission", "1992-06-01", "C1")),
        (),
        (30,),
        None,
    ),
    "transferred_out_and_back": (
        "C2",
        "1997-05-01",
        "auto",
        (("transfer_out", "2010-01-01", None), ("transfer_in", "2010-03-01", "C2")),
        (),
        (),
        None,
    ),
    "warning_ended": ("C1", "1997-05-19", "auto", (), (("2026-11-19", "Cảnh cáo"),), (), None),
    "warning_running": ("C1", "1997-05-19", "auto", (), (("2026-11-20", "Cảnh cáo"),), (), None),
    "dismissal_running": (
        "C2",
        "1997-05-19",
        "auto",
        (),
        (("2026-11-19", "Cách chức"),),
        (),
        None,
    ),
    "reprimand": ("C2", "1997-05-19", "auto", (), (("2027-05-01", "Khiển trách"),), (), None),
    "free_text_discipline": ("C2", "1997-05-19", "auto", (), (("2027-01-10", "miệng"),), (), None),
    "deceased": ("C1", "1990-01-01", "auto", (("death", "2027-03-01", None),), (), (), None),
    "transferred_out": (
        "C1",
        "1990-01-01",
        "auto",
        (("transfer_out", "2027-03-01", None),),
        (),
        (),
        None,
    ),
    "probationary": ("C1", "1997-05-01", None, (), (), (), None),
    "moved_in": (
        "C3",
        "1997-05-19",
        "auto",
        (("transfer_within", "2020-01-01", "C1"),),
        (),
        (),
        None,
    ),
    "moved_away": (
        "C1",
        "1997-05-19",
        "auto",
        (("transfer_within", "2020-01-01", "C3"),),
        (),
        (),
        None,
    ),
    "sibling_district": ("C3", "1997-06-01", "auto", (), (), (), None),
    "leap_day": ("C3", "1988-02-29", "auto", (), (), (30,), None),
    "ninety": ("C3", "1937-08-01", "auto", (), (), (80, 85), None),
    "young": ("C1", "2010-01-01", "auto", (), (), (), None),
}
# The rounds compared: 03/02/2027 (from 20/11/2026), 19/05/2027 (from 10/05 and 19/05
# itself) and 02/09/2027 (from 01/06/2027).
BADGE_DAYS = ("2026-11-20", "2027-05-10", "2027-05-19", "2027-06-01")


def build_badge_cases(session, tree) -> dict[int, str]:
    from webapp.domain.events import EventInput, record_event
    from webapp.models.badges import BadgeAward
    from webapp.models.record import Discipline

    names = {}
    for number, (name, case) in enumerate(BADGE_CASES.items()):
        cell, admitted, official, events, disciplines, held, proposed = case
        member = badge_member(session, tree[cell], admitted, official)
        for kind, day, to_cell in events:
            record_event(
                session,
                SYSTEM,
                member.id,
                EventInput(
                    kind=kind,
                    effective_on=date.fromisoformat(day),
                    to_unit_id=tree[to_cell].id if to_cell else None,
                    other_organisation="Tỉnh khác" if kind == "transfer_out" else None,
                ),
                today=date(2027, 5, 19),
            )
            if kind == "readmission":  # recognised anew a year later
                record_event(
                    session,
                    SYSTEM,
                    member.id,
                    EventInput(
                        kind="official_recognition",
                        effective_on=add_months(date.fromisoformat(day), 12),
                    ),
                    today=date(2027, 5, 19),
                )
        for day, form in disciplines:
            session.add(
                Discipline(
                    member_id=member.id,
                    decided_on=date.fromisoformat(day),
                    form=form,
                    reason="Vi phạm",
                )
            )
        for milestone in held:
            session.add(
                BadgeAward(
                    member_id=member.id,
                    milestone=milestone,
                    badge_number=f"HH-{number:03d}-{milestone}",
                    decision_number="1-QĐ/TU",
                    decision_on=date(2020, 1, 1),
                    occasion_on=date(2020, 2, 3),
                )
            )
        if proposed is not None:
            session.add(
                BadgeProposal(
                    member_id=member.id,
                    milestone=proposed,
                    occasion_on=date(2027, 5, 19),
                    reason="Tuổi Đảng",
                )
            )
        session.commit()
        names[member.id] = name
    return names


@pytest.mark.server_only
def test_the_badge_rule_in_sql_gives_the_items_of_the_python_rule(app, db_session, redis_conn):
    """The refresh runs badge eligibility in PostgreSQL (badge_eligibility.eligible_select);
    the ledger replayed in Python (badge_occasion_replayed, the rule of SQLite instances)
    finds the same members, units, occasions and milestones, round after round, for the
    province and for a district's scope."""
    from webapp.domain.commands import Requester, Role
    from webapp.domain.scope import units_in

    tree = make_tree(db_session)
    names = build_badge_cases(db_session, tree)
    seen = {}
    for text in BADGE_DAYS:
        day = date.fromisoformat(text)
        for scope in (None, tree["D1"].path):
            ctx = worklist.Context(
                day=day, settings=worklist.current_settings(db_session), scope=scope
            )
            python = {
                (f.member_id, f.unit_id, f.due_on, f.details["milestone"])
                for f in worklist.badge_occasion_replayed(db_session, ctx)
            }
            db_session.execute(WorkItem.__table__.delete())
            clerk = Requester(user_id=None, roles=frozenset({Role.CLERK}), scope=scope)
            result = worklist.refresh_worklist(
                db_session, SYSTEM if scope is None else clerk, day, rules=["badge_occasion"]
            )
            assert result.failed == {}
            db_session.expire_all()
            stored = {
                (item.member_id, item.unit_id, item.due_on, item.details["milestone"])
                for item in db_session.scalars(
                    select(WorkItem).where(WorkItem.rule == "badge_occasion")
                )
            }
            assert stored == python, (text, scope)
            if scope is not None:
                inside = set(db_session.scalars(units_in(scope)))
                assert {unit for _, unit, _, _ in stored} <= inside
            seen[(text, scope)] = {names[m]: milestone for m, _, _, milestone in stored}
    # Not an agreement on nothing: the round of 19/05/2027 for the province as the rules
    # read it (DESIGN §5; tests/test_badge_eligibility.py), the district's part of it, and
    # the members whose deferral ends or who come due in the next rounds.
    may = {
        **dict.fromkeys(
            ("day_before_next", "on_occasion", "round_of_3_2", "gap_in", "restored"), 30
        ),
        **dict.fromkeys(
            ("transferred_out_and_back", "warning_ended", "reprimand", "free_text_discipline"),
            30,
        ),
        **dict.fromkeys(("moved_in", "moved_away", "sibling_district"), 30),
        "missed_40_45": 45,
        "resigned_readmitted": 40,
        "proposed_for_another": 40,
        "ninety": 90,
    }
    assert seen[("2027-05-10", None)] == may == seen[("2027-05-19", None)]
    assert seen[("2027-05-10", tree["D1"].path)] == {
        name: m
        for name, m in may.items()
        if name not in ("moved_away", "sibling_district", "ninety")
    }
    assert seen[("2026-11-20", None)] == {
        "round_of_3_2": 30,
        "restored": 30,
        "transferred_out_and_back": 30,
        "missed_40_45": 45,
        "resigned_readmitted": 40,
        "proposed_for_another": 40,
    }
    assert set(seen[("2027-06-01", None)]) - set(may) == {"warning_running", "on_next", "gap_out"}
