"""The printable phiếu đảng viên (report member-form, form 2-HSĐV): every section in the
form's order with the member's values and rows, the standard photo embedded as an image,
one member from the CLI or the member page, a unit's members, and scope refusals."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import photo_samples as samples
import pytest
from pypdf import PdfReader
from test_reports import pdf_text

from conftest import login, run_worker_burst
from factories import SYSTEM, as_requester, make_member, make_tree
from jobs.photos import queue_photo
from webapp.cli import create_user
from webapp.domain.errors import NotFound, ValidationFailed
from webapp.domain.imaging import PhotoLimits
from webapp.domain.photos import Upload, upload_photo
from webapp.extensions import db
from webapp.filestore import FileStore
from webapp.models import ReportRun
from webapp.models.record import (
    Commendation,
    Discipline,
    FamilyRelation,
    TrainingCourse,
    TripAbroad,
    WorkPeriod,
)
from webapp.reports.runs import execute_run, request_report

PASSWORD = "Member-Form-123"
# The items of 2-HSĐV as printed, in the form's order (the numbered captions).
SECTIONS = [
    "1. Họ và tên đang dùng",
    "2. Họ và tên khai sinh",
    "3. Bí danh",
    "4. Giới tính",
    "5. Sinh ngày",
    "6. Nơi sinh",
    "7. Quê quán",
    "8. Nơi thường trú",
    "10. Dân tộc",
    "11. Tôn giáo",
    "12. Số định danh cá nhân",
    "15. Trình độ hiện nay",
    "16. Ngày vào Đảng",
    "17. Người giới thiệu",
    "18. Ngày chính thức",
    "24. Là quân nhân, thương binh, gia đình liệt sĩ",
    "25. Tóm tắt quá trình công tác",
    "26. Đào tạo, bồi dưỡng",
    "27. Đi nước ngoài",
    "28. Khen thưởng",
    "29. Kỷ luật",
    "30. Hoàn cảnh gia đình",
]


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture()
def world(app, db_session, redis_conn):
    tree = make_tree(db_session)
    full = make_member(
        db_session,
        tree["C1"],
        member_number="123456TN",
        birth_name="Trần Thị Khai Sinh",
        name_in_use="Trần Thị Đang Dùng",
        alias="Chị Ba",
        sex="female",
        birth_date=date(1975, 3, 8),
        birthplace="Xã Yên Mô, huyện Yên Mô",
        home_town="Xã Khánh Hòa, huyện Yên Khánh, tỉnh Ninh Bình",
        permanent_address="Số 5 phố Lê Hồng Phong",
        ethnicity="Mường",
        religion="Công giáo",
        citizen_id="037175001234",
        general_education="12/12",
        professional_level="Đại học",
        professional_field="Sư phạm Toán",
        political_theory="Trung cấp",
        foreign_languages="Tiếng Anh B1",
        admitted_on=date(2001, 5, 19),
        admitting_cell="Chi bộ trường Tiểu học Yên Mô",
        introducer_1="Phạm Văn Giới",
        introducer_2="Lê Thị Thiệu",
        official_on=date(2002, 5, 19),
        occupation="Giáo viên",
        health="Tốt",
        martyr_family=True,
        card_number="01.234567",
        card_issued_on=date(2003, 2, 3),
    )
    rows = [
        WorkPeriod(
            member=full,
            starts_on=date(1997, 9, 1),
            ends_on=date(2010, 8, 31),
            description="Giáo viên trường Tiểu học Yên Mô",
        ),
        TrainingCourse(
            member=full,
            starts_on=date(1993, 9, 1),
            ends_on=date(1997, 6, 30),
            institution="Trường Đại học Sư phạm Hà Nội",
            field="Toán học",
            study_form="Chính quy",
            qualification="Cử nhân",
        ),
        TripAbroad(
            member=full,
            starts_on=date(2015, 4, 1),
            ends_on=date(2015, 4, 10),
            country="Nhật Bản",
            purpose="Học tập kinh nghiệm giáo dục",
        ),
        Commendation(
            member=full,
            awarded_on=date(2018, 11, 20),
            form="Bằng khen",
            level="UBND tỉnh",
            decision_number="1234/QĐ-UBND",
        ),
        Discipline(
            member=full,
            decided_on=date(2012, 6, 1),
            form="Khiển trách",
            level="Chi bộ",
            decision_number="05-QĐ/CB",
            reason="Vi phạm chế độ sinh hoạt",
        ),
        FamilyRelation(
            member=full,
            relation="Mẹ",
            full_name="Nguyễn Thị Mẹ Hiền",
            birth_year=1950,
            occupation="Nông dân",
        ),
    ]
    db_session.add_all(rows)
    plain = make_member(db_session, tree["C1"], birth_name="Lê Văn Không Ảnh")
    elsewhere = make_member(db_session, tree["C3"], birth_name="Hoàng Văn Huyện Khác")
    db_session.commit()
    create_user("clerk_d1", "Clerk", "P.01", PASSWORD)
    create_user("clerk_d2", "Clerk", "P.02", PASSWORD)
    return {"tree": tree, "full": full, "plain": plain, "elsewhere": elsewhere}


def give_photo(app, member_id: int) -> None:
    """The member's standard photo, processed by a real worker."""
    store = FileStore(app.config["DATA_DIR"])
    photo = upload_photo(
        db.session,
        SYSTEM,
        member_id,
        Upload(samples.jpeg(samples.quadrants(900, 1200)), "anh.jpg"),
        store,
        PhotoLimits.from_config(app.config),
    )
    queue_photo(photo.id)
    result = run_worker_burst()
    assert result.returncode == 0, result.stderr
    db.session.expire_all()


def images(data: bytes) -> list[tuple[int, int]]:
    """(width, height) of every image XObject on every page."""
    found = []
    for page in PdfReader(io.BytesIO(data)).pages:
        resources = page["/Resources"]
        xobjects = resources.get("/XObject") if "/XObject" in resources else None
        for ref in (xobjects or {}).values():
            xobject = ref.get_object()
            if xobject.get("/Subtype") == "/Image":
                found.append((int(xobject["/Width"]), int(xobject["/Height"])))
    return found


def test_cli_prints_every_section_in_form_order_with_values_and_photo(app, world, tmp_path):
    give_photo(app, world["full"].id)
    out = tmp_path / "phieu.pdf"
    result = app.test_cli_runner().invoke(
        args=["report", "member-form", "--member", "123456TN", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    text = flat(pdf_text(data))
    assert "PHIẾU ĐẢNG VIÊN" in text and "Mẫu 2-HSĐV" in text
    positions = [text.find(section) for section in SECTIONS]
    assert -1 not in positions, [s for s, p in zip(SECTIONS, positions, strict=True) if p < 0]
    assert positions == sorted(positions), "the sections are not in the form's order"
    for value in [
        "Số lý lịch: 123456TN",
        "Số thẻ đảng viên: 01.234567",
        "Trần Thị Đang Dùng",
        "Trần Thị Khai Sinh",
        "Chị Ba",
        "08/03/1975",
        "Xã Khánh Hòa, huyện Yên Khánh, tỉnh Ninh Bình",
        "Mường",
        "Công giáo",
        "037175001234",
        "Sư phạm Toán",
        "19/05/2001",
        "Chi bộ trường Tiểu học Yên Mô",
        "Phạm Văn Giới",
        "Gia đình liệt sĩ",
        "Giáo viên trường Tiểu học Yên Mô",
        "Trường Đại học Sư phạm Hà Nội",
        "Nhật Bản",
        "1234/QĐ-UBND",
        "Khiển trách",
        "Vi phạm chế độ sinh hoạt",
        "Nguyễn Thị Mẹ Hiền",
        # The organisations above the member, printed at the top.
        "Đảng bộ huyện Một",
        "Chi bộ thôn Đông",
    ]:
        assert value in text, value
    # Each row sits under its own section.
    assert text.find("Nhật Bản") > text.find("27. Đi nước ngoài")
    assert text.find("Khiển trách") > text.find("29. Kỷ luật") > text.find("1234/QĐ-UBND")
    # The standard photo (600 × 800) is embedded as an image.
    assert images(data) == [(600, 800)]
    run = db.session.query(ReportRun).one()
    assert run.report == "member-form" and run.row_count == 1
    assert run.unit_id == world["tree"]["C1"].id


def test_a_unit_prints_one_form_per_member_on_its_rolls(app, world):
    run = execute_run(
        request_report(
            db.session, SYSTEM, "member-form", "pdf", world["tree"]["G1"].id, queue=False
        ).id
    )
    assert run.state == "done", run.error
    assert run.row_count == 2
    reader = PdfReader(run.file_path)
    starts = [
        index for index, page in enumerate(reader.pages) if "PHIẾU ĐẢNG VIÊN" in page.extract_text()
    ]
    assert len(starts) == 2 and starts[0] == 0  # each form starts on its own page
    text = flat(pdf_text(Path(run.file_path).read_bytes()))
    assert "Lê Văn Không Ảnh" in text and "Trần Thị Đang Dùng" in text
    assert "Hoàng Văn Huyện Khác" not in text
    assert images(Path(run.file_path).read_bytes()) == []  # nobody has a photo yet
    assert "Ảnh 3 × 4 cm" in text


def test_another_districts_member_is_refused(app, world):
    d2_clerk = as_requester(_user_id("clerk_d2"), world["tree"]["D2"].path)
    # The member's own unit is outside the clerk's scope.
    with pytest.raises(NotFound):
        request_report(
            db.session,
            d2_clerk,
            "member-form",
            "pdf",
            world["full"].unit_id,
            {"member_ids": [world["full"].id]},
            queue=False,
        )
    # A unit in scope does not reach a member elsewhere.
    with pytest.raises(NotFound):
        request_report(
            db.session,
            d2_clerk,
            "member-form",
            "pdf",
            world["tree"]["C3"].id,
            {"member_ids": [world["full"].id]},
            queue=False,
        )
    with pytest.raises(ValidationFailed):
        request_report(
            db.session,
            d2_clerk,
            "member-form",
            "pdf",
            world["tree"]["C3"].id,
            {"member_ids": ["1; drop"]},
            queue=False,
        )
    db.session.rollback()
    assert db.session.query(ReportRun).count() == 0


def _user_id(username: str) -> int:
    from webapp.models.user import DangVienUser

    return db.session.query(DangVienUser).filter_by(username=username).one().id


def test_member_page_button_queues_the_form_for_the_clerk_in_scope_only(app, world, client):
    login(client, "clerk_d2", PASSWORD)
    page = client.get(f"/membermodelview/show/{world['elsewhere'].id}")
    assert page.status_code == 200 and 'id="print-member-form"' in page.text
    refused = client.post(f"/reports/member-form/{world['full'].id}")
    assert refused.status_code == 404
    assert db.session.query(ReportRun).count() == 0
    client.get("/logout/")

    login(client, "clerk_d1", PASSWORD)
    response = client.post(f"/reports/member-form/{world['full'].id}")
    assert response.status_code == 302 and "/reports/show/" in response.headers["Location"]
    run = db.session.query(ReportRun).one()
    assert run.parameters == {"member_ids": [world["full"].id]}
    assert run.requested_by_id == _user_id("clerk_d1")
    result = run_worker_burst()
    assert result.returncode == 0, result.stderr
    db.session.expire_all()
    run = db.session.get(ReportRun, run.id)
    assert run.state == "done", run.error
    download = client.get(f"/reports/download/{run.id}")
    assert download.status_code == 200
    assert "Trần Thị Đang Dùng" in flat(pdf_text(download.data))
