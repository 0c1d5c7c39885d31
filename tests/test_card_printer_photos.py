"""The card printer's export as a ZIP: the XLSX data file and each member's standard photo
named by member number; members without a photo are named so in the data file; only the
requested unit's subtree, and a unit outside the requester's scope is refused."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import photo_samples as samples
import pytest
from openpyxl import load_workbook
from PIL import Image

from factories import SYSTEM, as_requester, make_member, make_tree
from webapp.cli import create_user
from webapp.domain.errors import NotFound
from webapp.domain.imaging import PhotoLimits
from webapp.domain.photos import Upload, process_photo, upload_photo
from webapp.extensions import db
from webapp.filestore import FileStore
from webapp.models.user import DangVienUser
from webapp.reports.runs import execute_run, request_report


def with_photo(app, member) -> bytes:
    """The member's standard photo (processed as the job does); its stored bytes."""
    store = FileStore(app.config["DATA_DIR"])
    limits = PhotoLimits.from_config(app.config)
    photo = upload_photo(
        db.session,
        SYSTEM,
        member.id,
        Upload(samples.jpeg(samples.quadrants(600, 800)), "scan.jpg"),
        store,
        limits,
    )
    photo = process_photo(db.session, photo.id, store, limits)
    assert photo.state == "done" and photo.current
    return store.read_bytes(photo.standard_path)


def test_zip_holds_the_data_file_and_photos_named_by_member_number(app, db_session):
    tree = make_tree(db_session)
    day = date(2020, 5, 19)
    an = make_member(
        db_session, tree["C1"], birth_name="Có Ảnh An", card_number="01.000101", card_issued_on=day
    )
    binh = make_member(
        db_session,
        tree["C2"],
        birth_name="Có Ảnh Bình",
        card_number="01.000102",
        card_issued_on=day,
    )
    chi = make_member(
        db_session,
        tree["C1"],
        birth_name="Chưa Ảnh Chi",
        card_number="01.000103",
        card_issued_on=day,
    )
    other = make_member(
        db_session, tree["C3"], birth_name="Huyện Khác", card_number="01.000104", card_issued_on=day
    )
    db_session.commit()
    photos = {m.member_number: with_photo(app, m) for m in (an, binh, other)}
    create_user("clerk_d1", "Clerk", "P.01", "Printer-Pass-123")
    clerk_id = db.session.query(DangVienUser).filter_by(username="clerk_d1").one().id
    clerk = as_requester(clerk_id, tree["D1"].path)

    run = execute_run(
        request_report(db.session, clerk, "card-printer-data", "zip", tree["D1"].id, queue=False).id
    )
    assert run.state == "done", run.error
    assert run.file_name.endswith(".zip") and run.row_count == 3
    with zipfile.ZipFile(run.file_path) as archive:
        names = sorted(archive.namelist())
        assert names == sorted(
            ["du-lieu-in-the.xlsx", f"anh/{an.member_number}.jpg", f"anh/{binh.member_number}.jpg"]
        )
        for member in (an, binh):
            data = archive.read(f"anh/{member.member_number}.jpg")
            assert data == photos[member.member_number]
            assert Image.open(io.BytesIO(data)).size == (600, 800)
        sheet = load_workbook(io.BytesIO(archive.read("du-lieu-in-the.xlsx"))).active
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    assert header[0] == "Số thẻ" and header[-1] == "Ảnh"
    number = header.index("Số lý lịch")
    photo_of = {row[number]: row[-1] for row in rows[1:]}
    assert photo_of == {
        an.member_number: f"anh/{an.member_number}.jpg",
        binh.member_number: f"anh/{binh.member_number}.jpg",
        chi.member_number: "Chưa có ảnh",
    }
    assert other.member_number not in photo_of  # another district's member is not exported

    # The plain data file is unchanged: no photo column.
    plain = execute_run(
        request_report(
            db.session, clerk, "card-printer-data", "xlsx", tree["D1"].id, queue=False
        ).id
    )
    assert (
        list(load_workbook(plain.file_path).active.iter_rows(values_only=True))[0][-1] == "Chi bộ"
    )

    # A unit outside the clerk's scope is refused; nothing is queued.
    with pytest.raises(NotFound):
        request_report(db.session, clerk, "card-printer-data", "zip", tree["D2"].id, queue=False)
