"""The member-list report end to end: web request → RQ → real worker → PDF → download."""

import io

from pypdf import PdfReader
from sqlalchemy import select

from conftest import run_flask, run_worker_burst
from factories import SYSTEM, make_member, make_tree
from webapp.domain.events import open_ledger
from webapp.models import ReportRun
from webapp.models.report_run import ReportState


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def pdf_path_of(data: bytes) -> str:
    """Which of the two PDF paths drew a file: "xhtml2pdf" (short) or "platypus" (long)."""
    producer = PdfReader(io.BytesIO(data)).metadata.producer or ""
    return "xhtml2pdf" if "xhtml2pdf" in producer else "platypus"


def fonts_showing_text(data: bytes) -> set[str]:
    """Base fonts in effect whenever a text-showing operator runs (reportlab selects
    Helvetica once on every canvas without drawing with it, so resources alone mislead)."""
    from pypdf.generic import ContentStream

    used = set()
    reader = PdfReader(io.BytesIO(data))
    for page in reader.pages:
        names = {
            key: str(font.get_object()["/BaseFont"])
            for key, font in page["/Resources"]["/Font"].items()
        }
        current = None
        for operands, operator in ContentStream(page.get_contents(), reader).operations:
            if operator == b"Tf":
                current = names.get(str(operands[0]))
            elif operator in (b"Tj", b"TJ", b"'", b'"'):
                used.add(current)
    return used


def seed_members(db_session):
    """Four members entered as from the paper form: their ledgers open with the admission
    (and recognition), so they are on the rolls from their admission date."""
    tree = make_tree(db_session)
    members = [
        make_member(
            db_session,
            tree["C1"],
            birth_name="Nguyễn Thị Hường",
            member_number="000001TN",
            card_number="27.000001",
        ),
        make_member(db_session, tree["C1"], birth_name="Trần Văn Ấn", member_number="000002TN"),
        make_member(db_session, tree["C2"], birth_name="Lê Đức Thắng", member_number="000003TN"),
        make_member(db_session, tree["C3"], birth_name="Phạm Quỳnh Anh", member_number="000004TN"),
    ]
    for member in members:
        open_ledger(db_session, SYSTEM, member.id)
    db_session.commit()
    return tree


def test_report_requested_on_the_web_runs_on_a_real_worker(
    app, admin_client, db_session, redis_conn
):
    tree = seed_members(db_session)
    response = admin_client.post(
        "/reports/request",
        data={"report": "member-list", "unit_id": tree["D1"].id, "output_format": "pdf"},
    )
    assert response.status_code == 302
    run = db_session.scalar(select(ReportRun))
    assert run.state == ReportState.QUEUED
    status = admin_client.get(f"/reports/status/{run.id}").json
    assert status["state"] == "queued" and status["download_url"] is None

    # A double click while queued returns the same run: one render.
    admin_client.post(
        "/reports/request",
        data={"report": "member-list", "unit_id": tree["D1"].id, "output_format": "pdf"},
    )
    assert len(db_session.scalars(select(ReportRun)).all()) == 1

    worker = run_worker_burst()
    assert worker.returncode == 0, worker.stderr[-3000:]
    db_session.expire_all()  # requests share this test's session; a real request starts fresh

    status = admin_client.get(f"/reports/status/{run.id}").json
    assert status["state"] == "done", status
    assert status["progress"] == 100 and status["row_count"] == 3
    download = admin_client.get(status["download_url"])
    assert download.status_code == 200 and download.data.startswith(b"%PDF")
    text = pdf_text(download.data)
    for expected in (
        "ĐẢNG CỘNG SẢN VIỆT NAM",
        "DANH SÁCH ĐẢNG VIÊN",
        "Nguyễn Thị Hường",
        "Trần Văn Ấn",
        "Lê Đức Thắng",
        "Tổng số: 3 đảng viên",
        "27.000001",
    ):
        assert expected in text, expected
    assert "Phạm Quỳnh Anh" not in text  # another district
    # Units in tree order (C1 then C2), each by given name in Vietnamese order: Ấn < Hường.
    assert text.index("Trần Văn Ấn") < text.index("Nguyễn Thị Hường") < text.index("Lê Đức Thắng")
    fonts = fonts_showing_text(download.data)
    assert fonts and all("DejaVuSerif" in font for font in fonts), fonts


def test_failed_run_records_the_reason(app, admin_client, db_session, redis_conn):
    tree = seed_members(db_session)
    admin_client.post(
        "/reports/request",
        data={"report": "member-list", "unit_id": tree["C1"].id, "output_format": "pdf"},
    )
    run = db_session.scalar(select(ReportRun))
    # A report withdrawn by an upgrade while its run was queued: the job must fail cleanly.
    run.report = "withdrawn-report"
    db_session.commit()
    worker = run_worker_burst()
    assert worker.returncode == 0
    db_session.expire_all()
    status = admin_client.get(f"/reports/status/{run.id}").json
    assert status["state"] == "failed"
    assert "KeyError" in status["error"] and "withdrawn-report" in status["error"]
    assert admin_client.get(f"/reports/download/{run.id}").status_code == 404
    assert admin_client.get(f"/reports/show/{run.id}").status_code == 200


def test_request_for_unknown_unit_or_format_is_refused(app, admin_client, db_session, redis_conn):
    make_tree(db_session)
    response = admin_client.post(
        "/reports/request",
        data={"report": "member-list", "unit_id": 999999, "output_format": "pdf"},
    )
    assert response.status_code == 200 and "alert-danger" in response.text
    response = admin_client.post(
        "/reports/request", data={"report": "nope", "unit_id": 1, "output_format": "pdf"}
    )
    assert response.status_code == 200
    assert db_session.scalar(select(ReportRun)) is None


def test_cli_report_in_process_and_xlsx(app, db_session, tmp_path):
    seed_members(db_session)
    output = tmp_path / "list.pdf"
    result = run_flask(
        "report",
        "member-list",
        "--unit",
        "P",
        "--format",
        "pdf",
        "-o",
        str(output),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Phạm Quỳnh Anh" in pdf_text(output.read_bytes())

    from openpyxl import load_workbook

    xlsx = tmp_path / "list.xlsx"
    result = run_flask(
        "report",
        "member-list",
        "--unit",
        "P.01",
        "--format",
        "xlsx",
        "-o",
        str(xlsx),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sheet = load_workbook(xlsx).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "ĐẢNG CỘNG SẢN VIỆT NAM" and rows[2][0] == "DANH SÁCH ĐẢNG VIÊN"
    header = next(index for index, row in enumerate(rows) if row[0] == "STT")
    assert rows[header][1].startswith("Họ và tên") and len(rows[header]) == 14
    assert sheet.freeze_panes == f"A{header + 2}"
    members = [row for row in rows[header + 1 :] if isinstance(row[0], int)]
    assert [row[1] for row in members] == ["Trần Văn Ấn", "Nguyễn Thị Hường", "Lê Đức Thắng"]
    assert [row[0] for row in members] == [1, 2, 3]
    assert rows[-1][0] == "Tổng số: 3 đảng viên"


def test_cli_report_unknown_unit_is_a_clear_error(app, db_session):
    result = run_flask("report", "member-list", "--unit", "NOPE")
    assert result.returncode != 0 and "Unknown unit code NOPE" in result.stderr


def test_long_reports_are_drawn_with_platypus_in_the_same_layout(
    app, db_session, monkeypatch, tmp_path
):
    """Past LONG_REPORT_CELLS cells a table report is drawn with platypus (xhtml2pdf's time
    grows too fast with table length): same heading, the two header rows with their spans,
    the figures, the total line, notes, signature and page numbers, in DejaVu."""
    from datetime import date

    import webapp.reports.render as render
    from webapp.reports.increase_decrease import build

    tree = seed_members(db_session)
    report = build(db_session, tree["P"], {"from": "2000-01-01", "to": date.today().isoformat()})
    monkeypatch.setattr(render, "LONG_REPORT_CELLS", 0)
    path = tmp_path / "long.pdf"
    assert render.write_report(report, "pdf", path) == 2
    data = path.read_bytes()
    assert pdf_path_of(data) == "platypus"
    text = " ".join(pdf_text(data).split())  # narrow header cells wrap their words
    for expected in (
        "ĐẢNG CỘNG SẢN VIỆT NAM",
        "BÁO CÁO TĂNG, GIẢM ĐẢNG VIÊN",
        "Tăng",
        "Giảm",
        "Kết nạp",
        "Đảng bộ huyện Một (P.01)",
        "Tổng cộng",
        "Số cuối kỳ = số đầu kỳ + cộng tăng − cộng giảm.",
        "T/M BAN TỔ CHỨC",
        "Trang 1/1",
    ):
        assert expected in text, expected
    fonts = fonts_showing_text(data)
    assert fonts and all("DejaVu" in font for font in fonts), fonts
    # The same report under the threshold goes through xhtml2pdf, with the same footer.
    monkeypatch.setattr(render, "LONG_REPORT_CELLS", 500)
    render.write_report(report, "pdf", path)
    assert pdf_path_of(path.read_bytes()) == "xhtml2pdf"
    # Its lines of reconciliation and their note (issue 13) may push the signature over.
    pages = PdfReader(io.BytesIO(path.read_bytes())).pages
    for number, page in enumerate(pages, start=1):
        assert f"Trang {number}/{len(pages)}" in page.extract_text(), number
