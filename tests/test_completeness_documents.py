"""The completeness report names the required dossier documents each record lacks: the
required types come from the document type reference data (an Admin may change them), a
document counts once a scan of it was accepted, and a 4-page record that lacks a required
document is listed too."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import photo_samples as samples
from openpyxl import load_workbook
from sqlalchemy import select, update
from test_reports import pdf_text

from factories import SYSTEM, make_member, make_tree
from webapp.domain.dossier import DocumentFields, DocumentLimits, attach_document, process_document
from webapp.domain.photos import Upload
from webapp.extensions import db
from webapp.filestore import FileStore
from webapp.models import DocumentType
from webapp.models.record import FamilyRelation, WorkPeriod
from webapp.reports.runs import execute_run, request_report

FULL = {
    "birthplace": "Ninh Bình",
    "home_town": "Ninh Bình",
    "permanent_address": "Ninh Bình",
    "religion": "Không",
    "admitting_cell": "Chi bộ thôn Đông",
    "introducer_1": "Người giới thiệu một",
    "introducer_2": "Người giới thiệu hai",
    "general_education": "12/12",
    "professional_level": "Đại học",
    "political_theory": "Trung cấp",
    "occupation_at_admission": "Giáo viên",
    "occupation": "Giáo viên",
    "health": "Tốt",
}


def four_page_member(session, unit, name: str, citizen_id: str):
    member = make_member(session, unit, birth_name=name, citizen_id=citizen_id, **FULL)
    session.add_all(
        [
            WorkPeriod(member=member, starts_on=date(2000, 1, 1), description="Giáo viên"),
            FamilyRelation(member=member, relation="Mẹ", full_name="Nguyễn Thị Mẹ"),
        ]
    )
    session.flush()
    return member


def scan_of(app, member, code: str, data: bytes | None = None, state: str = "done") -> None:
    """A scan of document type `code` in the member's dossier, checked as the job does."""
    kind = db.session.scalar(select(DocumentType).where(DocumentType.code == code))
    store = FileStore(app.config["DATA_DIR"])
    limits = DocumentLimits.from_config(app.config)
    version = attach_document(
        db.session,
        SYSTEM,
        member.id,
        DocumentFields(type_id=kind.id),
        Upload(data or samples.multi_page_pdf(1), f"{code}.pdf"),
        store,
        limits,
    )
    assert process_document(db.session, version.id, store, limits).state == state


def test_completeness_report_names_the_missing_required_documents(app, db_session):
    tree = make_tree(db_session)
    required = db_session.scalars(
        select(DocumentType).where(DocumentType.required).order_by(DocumentType.position)
    ).all()
    complete = four_page_member(db_session, tree["C1"], "Đủ Cả Hồ Sơ", "037000000001")
    lacking = four_page_member(db_session, tree["C1"], "Thiếu Một Tài Liệu", "037000000002")
    one_page = make_member(db_session, tree["C1"], birth_name="Mới Một Trang", **FULL)
    db_session.commit()
    assert (complete.completeness, lacking.completeness) == ("four_page", "four_page")
    assert one_page.completeness != "four_page"
    for kind in required:
        scan_of(app, complete, kind.code)
        if kind.code != "admission_decision":
            scan_of(app, lacking, kind.code)
    scan_of(app, one_page, "application")
    # A scan refused by the check does not count.
    scan_of(app, lacking, "admission_decision", b"not a scan at all", state="refused")
    db_session.commit()

    run = execute_run(
        request_report(db.session, SYSTEM, "completeness", "xlsx", tree["P"].id, queue=False).id
    )
    assert run.state == "done", run.error
    sheet = load_workbook(run.file_path)["Hồ sơ chưa đủ"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    header = next(row for row in rows if "Tài liệu bắt buộc còn thiếu" in row)
    docs = header.index("Tài liệu bắt buộc còn thiếu")
    by_name = {
        row[1]: row
        for row in rows
        if row[1] in {m.birth_name for m in (complete, lacking, one_page)}
    }
    assert "Đủ Cả Hồ Sơ" not in by_name  # 4-page and every required document: not listed
    assert by_name["Thiếu Một Tài Liệu"][docs] == "Quyết định kết nạp đảng viên"
    assert by_name["Thiếu Một Tài Liệu"][docs - 2] == "4 trang"
    names = [kind.name for kind in required if kind.code != "application"]
    assert by_name["Mới Một Trang"][docs] == "; ".join(names)

    # The required types are reference data: an Admin who stops requiring the admission
    # decision makes the record complete in the next report; the PDF says the same.
    db_session.execute(
        update(DocumentType).where(DocumentType.code == "admission_decision").values(required=False)
    )
    db_session.commit()
    run = execute_run(
        request_report(db.session, SYSTEM, "completeness", "pdf", tree["P"].id, queue=False).id
    )
    assert run.state == "done", run.error
    text = " ".join(pdf_text(Path(run.file_path).read_bytes()).split())
    assert "Tài liệu bắt buộc còn thiếu" in text
    assert "Thiếu Một Tài Liệu" not in text and "Đủ Cả Hồ Sơ" not in text
    assert "Mới Một Trang" in text and "Phiếu đảng viên (mẫu 2-HSĐV)" in text
