"""Increase/decrease report (issue 13, item 2): transfers between two child units are an
increase of one line and a decrease of another, but no movement of the whole, so the
"Tổng cộng" row is not the sum of the lines. The report prints the sum of the lines and a
line "Trong đó: chuyển giữa các đơn vị trực thuộc", so that in every column
sum of the lines − between = total, and says why in a footnote. Checked on the files
parsed back (XLSX with openpyxl, PDF with pypdf) against a recount from the raw ledger.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text
from test_report_files import flat, xlsx_rows
from test_reports import pdf_text

from factories import SYSTEM, make_member, make_tree, make_unit
from webapp.domain.events import EventInput, record_event
from webapp.domain.ledger import EventKind as K
from webapp.extensions import db
from webapp.models.unit import UnitKind
from webapp.reports.increase_decrease import BETWEEN_LINES, SUM_OF_LINES
from webapp.reports.runs import execute_run, request_report

START, END = date(2024, 1, 1), date(2024, 12, 31)
# The printed columns after STT and the unit: opening, 6 increases, their sum, 8
# decreases, their sum, closing, 3 memo columns.
FIGURES = 21
OPENING, TRANSFER_IN_WITHIN, INCREASES, TRANSFER_OUT_WITHIN, DECREASES, CLOSING = (
    0,
    4,
    7,
    14,
    16,
    17,
)
TEMPORARY_OUT, TEMPORARY_IN = 19, 20


@pytest.fixture()
def world(db_session):
    """Province P with district 1 (cells C1, C2) and district 2 (C3, C4): three members
    go from one district to the other, one moves inside district 1, one is admitted, one
    stays temporarily in the other district."""
    tree = make_tree(db_session)
    tree["C4"] = make_unit(db_session, "P.02.002", "Chi bộ Trạm Y tế", UnitKind.CELL, tree["D2"])
    db_session.commit()
    people = {}
    for name, cell in (
        ("Nguyễn Văn An", "C1"),
        ("Trần Thị Bình", "C1"),
        ("Lê Văn Cường", "C1"),
        ("Phạm Thị Dung", "C3"),
        ("Hoàng Văn Em", "C3"),
    ):
        member = make_member(db_session, tree[cell], birth_name=name, official_on=None)
        record_event(
            db_session,
            SYSTEM,
            member.id,
            EventInput(K.ADMISSION, date(2020, 3, 1), to_unit_id=tree[cell].id),
        )
        record_event(
            db_session, SYSTEM, member.id, EventInput(K.OFFICIAL_RECOGNITION, date(2021, 3, 1))
        )
        people[name] = member
    newcomer = make_member(db_session, tree["C2"], birth_name="Vũ Thị Giang", official_on=None)
    record_event(
        db_session,
        SYSTEM,
        newcomer.id,
        EventInput(K.ADMISSION, date(2024, 2, 1), to_unit_id=tree["C2"].id),
    )
    for name, day, cell, kind in (
        ("Nguyễn Văn An", date(2024, 3, 1), "C3", K.TRANSFER_WITHIN),  # district 1 → 2
        ("Trần Thị Bình", date(2024, 4, 1), "C4", K.TRANSFER_WITHIN),  # district 1 → 2
        ("Phạm Thị Dung", date(2024, 5, 1), "C2", K.TRANSFER_WITHIN),  # district 2 → 1
        ("Lê Văn Cường", date(2024, 6, 1), "C2", K.TRANSFER_WITHIN),  # inside district 1
        ("Hoàng Văn Em", date(2024, 7, 1), "C1", K.TEMPORARY_TRANSFER),  # 2 → 1, temporary
    ):
        record_event(
            db_session, SYSTEM, people[name].id, EventInput(kind, day, to_unit_id=tree[cell].id)
        )
    db_session.commit()
    return tree


def recount_between_districts(session, tree) -> Counter:
    """From the raw ledger: events of the period that take a member from one district of
    the province to the other (official or temporary), not cancelled."""
    rows = session.execute(
        text(
            "SELECT e.kind, f.path, t.path FROM member_event e "
            "JOIN unit f ON f.id = e.from_unit_id JOIN unit t ON t.id = e.to_unit_id "
            "WHERE e.effective_on BETWEEN :start AND :end "
            "AND NOT EXISTS (SELECT 1 FROM member_event r WHERE r.reverses_id = e.id)"
        ),
        {"start": START, "end": END},
    ).all()
    districts = [tree["D1"].path, tree["D2"].path]

    def district(path):
        return next((d for d in districts if path.startswith(d)), None)

    found = Counter()
    for kind, source, target in rows:
        if district(source) and district(target) and district(source) != district(target):
            found[kind] += 1
    return found


def as_numbers(values) -> list[int]:
    """Printed figures; a blank cell (the between line has no rolls of its own) is 0."""
    return [0 if value in (None, "") else int(value) for value in values]


def reconcile(lines: dict[str, list[int]], total: list[int], added: list[int], between):
    for column in range(FIGURES):
        assert added[column] == sum(line[column] for line in lines.values()), column
        assert added[column] - between[column] == total[column], column


def render(tree, output_format: str) -> Path:
    run = request_report(
        db.session,
        SYSTEM,
        "increase-decrease",
        output_format,
        tree["P"].id,
        {"from": START.isoformat(), "to": END.isoformat()},
        queue=False,
    )
    return Path(execute_run(run.id).file_path)


def test_workbook_shows_the_transfers_between_districts_and_reconciles(world, db_session):
    recount = recount_between_districts(db_session, world)
    assert recount == {"transfer_within": 3, "temporary_transfer": 1}
    rows = xlsx_rows(render(world, "xlsx"))
    by_label = {row[1]: row for row in rows if len(row) > 2 and isinstance(row[1], str)}
    lines = {
        row[1]: as_numbers(row[2:]) for row in rows if len(row) > 2 and isinstance(row[0], int)
    }
    assert set(lines) == {f"{world[code].name} ({world[code].code})" for code in ("D1", "D2")}, (
        lines
    )
    between_row = by_label[BETWEEN_LINES]
    # Opening and closing are blank on the between line: it has no rolls of its own.
    assert between_row[2 + OPENING] is None and between_row[2 + CLOSING] is None
    between = as_numbers(between_row[2:])
    added = as_numbers(by_label[SUM_OF_LINES][2:])
    total = as_numbers(by_label["Tổng cộng"][2:])
    reconcile(lines, total, added, between)
    # The between line is the recount from the ledger, in and out alike.
    assert between[TRANSFER_IN_WITHIN] == between[TRANSFER_OUT_WITHIN] == 3
    assert between[INCREASES] == between[DECREASES] == recount["transfer_within"]
    assert between[TEMPORARY_OUT] == between[TEMPORARY_IN] == recount["temporary_transfer"]
    # The whole province gained one member (the admission) and lost none.
    assert (total[OPENING], total[INCREASES], total[DECREASES], total[CLOSING]) == (5, 1, 0, 6)
    assert (added[INCREASES], added[DECREASES]) == (4, 3)
    notes = [row[0] for row in rows if row and isinstance(row[0], str)]
    assert any(BETWEEN_LINES in note and "Tổng cộng = " in note for note in notes), notes


def numbers_after(words: str, label: str, count: int) -> list[int]:
    tail = words[words.index(label) + len(label) :].split()
    return [int(token.replace(".", "")) for token in tail[:count]]


def test_pdf_shows_the_transfers_between_districts_and_reconciles(world, db_session):
    words = flat(pdf_text(render(world, "pdf").read_bytes()))
    lines = {code: numbers_after(words, f"({world[code].code})", FIGURES) for code in ("D1", "D2")}
    added = numbers_after(words, SUM_OF_LINES, FIGURES)
    # Blank opening and closing on the between line: its 19 printed figures, put back in
    # their columns.
    printed = numbers_after(words, BETWEEN_LINES, FIGURES - 2)
    between = [0, *printed[: CLOSING - 1], 0, *printed[CLOSING - 1 :]]
    total = numbers_after(words, "Tổng cộng", FIGURES)
    reconcile(lines, total, added, between)
    recount = recount_between_districts(db_session, world)
    assert between[INCREASES] == between[DECREASES] == recount["transfer_within"] == 3
    assert between[TEMPORARY_IN] == recount["temporary_transfer"] == 1
    assert "không tính vào dòng “Tổng cộng”" in words


def test_a_single_line_report_has_no_between_lines(world):
    """A district with one cell line each: no sum or between line when the report has a
    single line (nothing can move between lines)."""
    run = request_report(
        db.session,
        SYSTEM,
        "increase-decrease",
        "xlsx",
        world["C1"].id,
        {"from": START.isoformat(), "to": END.isoformat()},
        queue=False,
    )
    rows = xlsx_rows(Path(execute_run(run.id).file_path))
    labels = {row[1] for row in rows if len(row) > 2}
    assert "Tổng cộng" in labels
    assert BETWEEN_LINES not in labels and SUM_OF_LINES not in labels
