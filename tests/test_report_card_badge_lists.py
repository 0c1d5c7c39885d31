"""The cards-badges report: its lists and totals against raw SQL, after a real card round
and a real badge round; and an instance with no cards or badges yet."""

from datetime import date
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import text
from test_cards import PREFIX, propose, user_id, world  # noqa: F401 - fixture

from factories import SYSTEM, as_requester, make_member, make_tree
from webapp.domain.badges import award_badges, decide_badges, propose_badges
from webapp.domain.cards import decide_cards, issue_cards
from webapp.domain.events import open_ledger
from webapp.extensions import db
from webapp.reports.runs import execute_run, request_report

PERIOD = {"from": "2026-01-01", "to": date.today().isoformat()}


def sheets(path: str) -> dict[str, list[tuple]]:
    workbook = load_workbook(path)
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in workbook}


def member_rows(rows: list[tuple]) -> list[tuple]:
    return [row for row in rows if row and isinstance(row[0], int)]


def run_report(unit, output_format="xlsx", parameters=PERIOD) -> str:
    run = request_report(
        db.session, SYSTEM, "cards-badges", output_format, unit.id, parameters, queue=False
    )
    run = execute_run(run.id)
    assert run.state == "done", run.error
    return run.file_path


def test_lists_match_raw_sql_after_a_card_and_a_badge_round(app, db_session, world):  # noqa: F811
    tree, members = world["tree"], world["members"]
    manager = user_id(app, "manager_c")
    # Cards: two issued this year, one more proposed and waiting.
    issued_ids = propose(app, db_session, world, "new", "new2")
    decide_cards(db_session, as_requester(manager, world["scope"]), issued_ids, True)
    issue_cards(
        db_session,
        as_requester(manager, world["scope"]),
        issued_ids,
        prefix=PREFIX,
        issued_on=date(2026, 5, 19),
    )
    veteran = make_member(
        db_session,
        tree["C2"],
        birth_name="Đỗ Văn Lão",
        admitted_on=date(1976, 3, 1),
        official_on=date(1977, 3, 1),
        card_number="37.000900",
    )
    open_ledger(db_session, SYSTEM, veteran.id)
    db_session.commit()
    # Badges: the veteran reached 50 years on 01/03/2026, awarded on 19/05/2026.
    clerk = user_id(app, "clerk_c")
    proposals = propose_badges(
        db_session, as_requester(clerk, world["scope"]), date(2026, 5, 19), [veteran.id]
    )
    proposal_ids = [p.id for p in proposals]
    decide_badges(db_session, as_requester(manager, world["scope"]), proposal_ids, True)
    award_badges(
        db_session,
        as_requester(manager, world["scope"]),
        proposal_ids,
        decision_number="123-QĐ/TU",
        decision_on=date(2026, 5, 18),
        first_number="HH50-000001",
    )

    workbook = sheets(run_report(tree["D1"]))
    summary = {row[0]: row[1] for row in workbook["Tổng hợp"] if row and len(row) == 2}
    raw = db_session.execute(
        text(
            "SELECT "
            " (SELECT count(*) FROM party_card c JOIN member m ON m.id = c.member_id "
            "   JOIN unit u ON u.id = m.unit_id WHERE u.path LIKE :path "
            "   AND c.issued_on BETWEEN :start AND :end) AS issued,"
            " (SELECT count(*) FROM member m JOIN unit u ON u.id = m.unit_id "
            "   WHERE u.path LIKE :path AND m.status = 'official' AND m.card_number IS NULL "
            "   AND NOT EXISTS (SELECT 1 FROM card_proposal p WHERE p.member_id = m.id "
            "   AND p.state IN ('proposed', 'approved'))) AS needing,"
            " (SELECT count(*) FROM badge_award a JOIN member m ON m.id = a.member_id "
            "   JOIN unit u ON u.id = m.unit_id WHERE u.path LIKE :path "
            "   AND a.decision_on BETWEEN :start AND :end) AS awarded"
        ),
        {"path": tree["D1"].path + "%", "start": PERIOD["from"], "end": PERIOD["to"]},
    ).one()
    assert summary["Thẻ đảng viên đã cấp trong kỳ"] == raw.issued == 2
    assert summary["Đảng viên chính thức chưa có thẻ, chưa đề nghị"] == raw.needing
    assert summary["Huy hiệu Đảng đã trao trong kỳ"] == raw.awarded == 1
    issued_rows = member_rows(workbook["Thẻ đã cấp"])
    assert sorted(row[5] for row in issued_rows) == ["37.000002", "37.000003"]
    assert {row[1] for row in issued_rows} == {"Nguyễn Thị Mới", "Trần Văn Hai"}
    awarded = member_rows(workbook["Huy hiệu đã trao"])
    assert [(row[1], row[5], row[6]) for row in awarded] == [
        ("Đỗ Văn Lão", "50 năm", "HH50-000001")
    ]
    # The sibling district's member never shows up in D1's lists.
    everything = [cell for rows in workbook.values() for row in rows for cell in row]
    assert members["sibling"].birth_name not in everything

    # The member list shows the card, member and badge numbers in its eighth column.
    run = request_report(db.session, SYSTEM, "member-list", "xlsx", tree["D1"].id, queue=False)
    listed = {
        row[1]: row[7]
        for row in member_rows(sheets(execute_run(run.id).file_path)["Danh sách đảng viên"])
    }
    assert listed["Đỗ Văn Lão"] == f"37.000900\n{veteran.member_number}\nHH50-000001"
    assert listed["Nguyễn Thị Mới"] == f"37.000002\n{members['new'].member_number}"

    # The PDF of the same report: heading, sections and the awarded badge in Vietnamese.
    from test_reports import pdf_text

    pdf = pdf_text(Path(run_report(tree["D1"], "pdf")).read_bytes())
    for expected in (
        "DANH SÁCH THẺ ĐẢNG VIÊN VÀ HUY HIỆU ĐẢNG",
        "II. Thẻ đảng viên đã cấp trong kỳ",
        "V. Huy hiệu Đảng đã trao trong kỳ",
        "Đỗ Văn Lão",
        "HH50-000001",
    ):
        assert expected in pdf, expected


def test_no_cards_or_badges_yet_gives_empty_lists_not_an_error(app, db_session):
    tree = make_tree(db_session)
    db_session.commit()
    workbook = sheets(run_report(tree["P"]))
    summary = {row[0]: row[1] for row in workbook["Tổng hợp"] if row and len(row) == 2}
    assert summary["Thẻ đảng viên đã cấp trong kỳ"] == 0
    assert summary["Huy hiệu Đảng đã trao trong kỳ"] == 0
    for name in ("Thẻ đã cấp", "Đề nghị thẻ", "Huy hiệu đã trao", "Đủ điều kiện"):
        assert member_rows(workbook[name]) == []
    assert run_report(tree["P"], "pdf")
