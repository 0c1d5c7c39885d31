"""Báo cáo khen thưởng, kỷ luật đảng viên in a period: totals by form, then the list."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from webapp.domain.errors import N_
from webapp.domain.report_figures import commendations_and_discipline
from webapp.models.unit import Unit
from webapp.reports.document import (
    DATE,
    INTEGER,
    TEXT,
    Column,
    DataTable,
    Section,
    TableReport,
    official_heading,
)
from webapp.reports.render import renders
from webapp.reports.spec import PERIOD, ReportSpec

TITLE = "Báo cáo khen thưởng, kỷ luật đảng viên"
KIND_NAMES = {"commendation": "Khen thưởng", "discipline": "Kỷ luật"}


def build(session: Session, unit: Unit, parameters: dict[str, Any]) -> TableReport:
    start, end = date.fromisoformat(parameters["from"]), date.fromisoformat(parameters["to"])
    groups, lines, counts = commendations_and_discipline(session, unit, start, end)
    summary_rows = []
    for kind, name in KIND_NAMES.items():
        summary_rows.append([name, "Cộng", sum(counts[kind].values())])
        summary_rows += [["", form, count] for form, count in sorted(counts[kind].items())]
    summary = DataTable(
        columns=[
            Column("Loại", TEXT, 10),
            Column("Hình thức", TEXT, 30),
            Column("Số lượt", INTEGER, 8),
        ],
        sections=[Section(None, summary_rows)],
        caption="I. Tổng hợp theo hình thức",
        sheet_name="Tổng hợp",
        counted=False,  # the run counts the decisions listed
    )
    names = {group.unit_id: f"{group.name} ({group.code})" for group in groups}
    sections: list[Section] = []
    for line in lines:
        if not sections or sections[-1].title != names[line.group_id]:
            sections.append(Section(names[line.group_id]))
        sections[-1].rows.append(
            [
                len(sections[-1].rows) + 1,
                line.member_name,
                line.member_number,
                line.unit_name,
                KIND_NAMES[line.kind],
                line.decided_on,
                line.form,
                line.level,
                line.decision_number,
                line.reason,
            ]
        )
    listing = DataTable(
        columns=[
            Column("STT", INTEGER, 3),
            Column("Họ và tên", TEXT, 14),
            Column("Số lý lịch", TEXT, 8),
            Column("Chi bộ", TEXT, 13),
            Column("Loại", TEXT, 7),
            Column("Ngày quyết định", DATE, 8),
            Column("Hình thức", TEXT, 14),
            Column("Cấp quyết định", TEXT, 10),
            Column("Số quyết định", TEXT, 8),
            Column("Lý do", TEXT, 16),
        ],
        sections=sections,
        caption="II. Danh sách",
        sheet_name="Danh sách",
    )
    return TableReport(
        heading=official_heading(unit, TITLE, parameters),
        tables=[summary, listing],
        notes=[] if lines else ["Không có quyết định khen thưởng, kỷ luật nào trong kỳ."],
    )


render = renders(build)


COMMENDATION_DISCIPLINE = ReportSpec(
    name="commendation-discipline",
    title=N_("Commendations and discipline"),
    formats=("pdf", "xlsx"),
    render=render,
    file_stem="khen-thuong-ky-luat",
    period=PERIOD,
)
