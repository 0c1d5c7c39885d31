"""Báo cáo tình trạng hồ sơ đảng viên: 4-page and 1-page records per unit, and what the
records that are not complete still miss: the form's fields and rows, and the required
documents of the scanned dossier (types marked required in the reference data)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.domain.completeness import FOUR_PAGE, INCOMPLETE, ONE_PAGE
from webapp.domain.dossier import (
    lacks_required_documents,
    missing_required_by_member,
    required_document_types,
)
from webapp.domain.errors import N_
from webapp.domain.report_figures import completeness_by_group
from webapp.domain.reports import subtree_units
from webapp.labels import MEMBER_COLUMNS
from webapp.models.member import ON_THE_ROLLS, Member
from webapp.models.unit import Unit
from webapp.reports.document import (
    INTEGER,
    PERCENT,
    TEXT,
    Column,
    DataTable,
    Section,
    TableReport,
    official_heading,
    percent,
)
from webapp.reports.render import renders
from webapp.reports.spec import NOW, ReportSpec

TITLE = "Báo cáo tình trạng hồ sơ đảng viên"
LEVEL_NAMES = {FOUR_PAGE: "4 trang", ONE_PAGE: "1 trang", INCOMPLETE: "Chưa đủ 1 trang"}


def field_names() -> dict[str, str]:
    """Column names of the member form, as printed (Vietnamese labels of the form)."""
    from flask_babel import force_locale, gettext

    with force_locale("vi"):
        names = {key: gettext(str(label)) for key, label in MEMBER_COLUMNS.items()}
    return {**names, "work_periods": "Quá trình công tác", "family_relations": "Quan hệ gia đình"}


def build(session: Session, unit: Unit, parameters: dict[str, Any]) -> TableReport:
    required = required_document_types(session)
    groups, counts, incomplete = completeness_by_group(
        session, unit, lacks_required_documents(required)
    )
    lacking = missing_required_by_member(
        session,
        select(Member.id).where(
            Member.unit_id.in_(subtree_units(unit)), Member.status.in_(ON_THE_ROLLS)
        ),
        required,
    )
    summary_rows = []
    totals = {level: 0 for level in LEVEL_NAMES}
    for group in groups:
        by_level = counts.get(group.unit_id)
        if not by_level:
            continue
        whole = sum(by_level.values())
        for level in LEVEL_NAMES:
            totals[level] += by_level[level]
        summary_rows.append(
            [
                len(summary_rows) + 1,
                f"{group.name} ({group.code})",
                whole,
                by_level[FOUR_PAGE],
                percent(by_level[FOUR_PAGE], whole),
                by_level[ONE_PAGE],
                by_level[INCOMPLETE],
            ]
        )
    whole = sum(totals.values())
    summary = DataTable(
        columns=[
            Column("STT", INTEGER, 3),
            Column("Đơn vị", TEXT, 20),
            Column("Tổng số hồ sơ", INTEGER, 8),
            Column("Hồ sơ 4 trang", INTEGER, 8),
            Column("Tỷ lệ 4 trang", PERCENT, 8),
            Column("Hồ sơ 1 trang", INTEGER, 8),
            Column("Chưa đủ 1 trang", INTEGER, 8),
        ],
        sections=[Section(None, summary_rows)],
        total=[
            "",
            "Tổng cộng",
            whole,
            totals[FOUR_PAGE],
            percent(totals[FOUR_PAGE], whole),
            totals[ONE_PAGE],
            totals[INCOMPLETE],
        ],
        caption="I. Tổng hợp theo đơn vị",
        sheet_name="Tổng hợp",
    )
    names = field_names()
    group_names = {group.unit_id: f"{group.name} ({group.code})" for group in groups}
    sections: list[Section] = []
    for record in incomplete:
        if not sections or sections[-1].title != group_names[record.group_id]:
            sections.append(Section(group_names[record.group_id]))
        missing = [
            names.get(key.strip(), key.strip())
            for key in record.missing_fields.split(",")
            if key.strip()
        ]
        sections[-1].rows.append(
            [
                len(sections[-1].rows) + 1,
                record.member_name,
                record.member_number,
                record.unit_name,
                LEVEL_NAMES.get(record.completeness, record.completeness),
                ", ".join(missing),
                "; ".join(kind.name for kind in lacking.get(record.member_id, ())),
            ]
        )
    listing = DataTable(
        columns=[
            Column("STT", INTEGER, 3),
            Column("Họ và tên", TEXT, 14),
            Column("Số lý lịch", TEXT, 8),
            Column("Chi bộ", TEXT, 12),
            Column("Hồ sơ", TEXT, 6),
            Column("Phiếu còn thiếu", TEXT, 24),
            Column("Tài liệu bắt buộc còn thiếu", TEXT, 24),
        ],
        sections=sections,
        caption="II. Hồ sơ chưa đủ 4 trang hoặc còn thiếu tài liệu bắt buộc",
        sheet_name="Hồ sơ chưa đủ",
    )
    return TableReport(
        heading=official_heading(unit, TITLE, parameters),
        tables=[summary, listing],
        notes=[
            "Tài liệu bắt buộc của hồ sơ đảng viên: "
            + ("; ".join(kind.name for kind in required) if required else "không có")
            + "."
        ],
        count=lambda: whole,  # the run counts the records, not the lines
    )


render = renders(build)


COMPLETENESS = ReportSpec(
    name="completeness",
    title=N_("Record completeness"),
    formats=("pdf", "xlsx"),
    render=render,
    file_stem="tinh-trang-ho-so",
    # Completeness has no history: the report is about the records as they are today.
    period=NOW,
)
