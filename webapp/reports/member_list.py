"""Danh sách đảng viên: the members of a unit's subtree, grouped by unit."""

from __future__ import annotations

from datetime import date
from itertools import groupby
from pathlib import Path
from typing import Any

from flask import current_app
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy.orm import Session

from webapp.domain.errors import N_
from webapp.domain.reports import count_subtree_members, iter_subtree_members
from webapp.labels import SEX_LABELS, STATUS_LABELS, format_birth_date, format_date, label_for
from webapp.models.member import Member
from webapp.models.unit import Unit
from webapp.reports.pdf import render_pdf
from webapp.reports.spec import ProgressCallback, ReportSpec, report_context, templates

TITLE = "Danh sách đảng viên"
COLUMNS = [
    "STT",
    "Họ và tên",
    "Họ tên khai sinh",
    "Ngày sinh",
    "Giới tính",
    "Dân tộc",
    "Tôn giáo",
    "Quê quán",
    "Ngày vào Đảng",
    "Ngày chính thức",
    "Số thẻ đảng viên",
    "Số lý lịch",
    "Tình trạng",
    "Chi bộ",
]


def member_row(number: int, member: Member) -> dict[str, Any]:
    return {
        "number": number,
        "name": member.display_name,
        "birth_name": member.birth_name,
        "birth_date": format_birth_date(member.birth_date, member.birth_date_precision),
        "sex": label_for(SEX_LABELS, member.sex),
        "ethnicity": member.ethnicity or "",
        "religion": member.religion or "",
        "home_town": member.home_town or "",
        "admitted_on": format_date(member.admitted_on),
        "official_on": format_date(member.official_on),
        "card_number": member.card_number or "",
        "member_number": member.member_number,
        "status": label_for(STATUS_LABELS, member.status),
    }


def render(
    session: Session,
    unit: Unit,
    parameters: dict[str, Any],
    output_format: str,
    path: Path,
    progress: ProgressCallback,
) -> int:
    total = count_subtree_members(session, unit) or 0
    done = 0

    def rows_by_unit():
        nonlocal done
        for group_unit, pairs in groupby(
            iter_subtree_members(session, unit), key=lambda pair: pair[0]
        ):
            rows = []
            for _, member in pairs:
                done += 1
                rows.append(member_row(done, member))
                if done % 500 == 0 and total:
                    progress(int(90 * done / total))
            yield group_unit, rows

    if output_format == "pdf":
        groups = [
            {"unit_code": u.code, "unit_name": u.name, "rows": rows} for u, rows in rows_by_unit()
        ]
        html = templates.get_template("member_list.html").render(
            report_context(
                title=TITLE,
                subtitle=f"{unit.name} – tính đến ngày {format_date(date.today())}",
                orientation="landscape",
                issuing_committee=current_app.config["ISSUING_COMMITTEE"],
                place=current_app.config["ISSUING_PLACE"],
                issued_on=date.today(),
                unit_name=unit.name,
                unit_code=unit.code,
                document_number="……/DS-BTC",
                signer_title="T/M BAN TỔ CHỨC",
                groups=groups,
                total=done,
            )
        )
        progress(92)
        with path.open("wb") as output:
            render_pdf(html, output)
    else:
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(TITLE[:31])
        sheet.freeze_panes = "A2"
        for index, width in enumerate([6, 28, 28, 12, 9, 12, 12, 30, 13, 13, 14, 12, 14, 30]):
            sheet.column_dimensions[chr(65 + index)].width = width
        bold = Font(bold=True)
        header = []
        for title in COLUMNS:
            cell = WriteOnlyCell(sheet, value=title)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        for group_unit, rows in rows_by_unit():
            for row in rows:
                sheet.append(
                    [
                        *(
                            row[key]
                            for key in (
                                "number",
                                "name",
                                "birth_name",
                                "birth_date",
                                "sex",
                                "ethnicity",
                                "religion",
                                "home_town",
                                "admitted_on",
                                "official_on",
                                "card_number",
                                "member_number",
                                "status",
                            )
                        ),
                        group_unit.name,
                    ]
                )
        workbook.save(path)
    progress(100)
    return done


MEMBER_LIST = ReportSpec(
    name="member-list",
    title=N_("Party member list"),
    formats=("pdf", "xlsx"),
    render=render,
    file_stem="danh-sach-dang-vien",
)
