"""Phân tích chất lượng đảng viên: members on the rolls by sex, age, ethnicity, religion,
education, professional level, political theory, occupation and Party age, for the whole
subtree and each child unit (models: forms 1-TCTW, 3-TCTW, 4-TCTW)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from webapp.domain.errors import N_
from webapp.domain.report_figures import DIMENSIONS, SEX_NAMES, quality
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
from webapp.reports.spec import AS_OF, ReportSpec

TITLE = "Báo cáo phân tích chất lượng đảng viên"
COLUMNS = [
    Column("Tiêu chí", TEXT, 14),
    Column("Phân loại", TEXT, 22),
    Column("Số lượng", INTEGER, 7),
    Column("Tỷ lệ", PERCENT, 7),
]


def build(session: Session, unit: Unit, parameters: dict[str, Any]) -> TableReport:
    as_of = date.fromisoformat(parameters["as_of"])
    figures = quality(session, unit, as_of)
    sections = []
    # The whole subtree first, then each child unit that has members.
    scopes = [(None, f"Toàn đảng bộ: {unit.name}")] + [
        (group.unit_id, f"{group.name} ({group.code})")
        for group in figures.groups
        if figures.totals[group.unit_id] and (group.unit_id != unit.id or len(figures.groups) > 1)
    ]
    for group_id, title in scopes:
        whole = sum(figures.totals.values()) if group_id is None else figures.totals[group_id]
        rows: list[list[Any]] = [["Tổng số đảng viên", "", whole, percent(whole, whole)]]
        for dimension in DIMENSIONS:
            for index, (category, by_group) in enumerate(figures.counts[dimension.key].items()):
                count = sum(by_group.values()) if group_id is None else by_group[group_id]
                label = SEX_NAMES.get(category, category) if dimension.key == "sex" else category
                rows.append(
                    [dimension.title if index == 0 else "", label, count, percent(count, whole)]
                )
        sections.append(Section(title, rows))
    return TableReport(
        heading=official_heading(unit, TITLE, parameters, orientation="portrait"),
        tables=[DataTable(columns=COLUMNS, sections=sections, sheet_name="Chất lượng")],
        notes=[
            "Tuổi đời và tuổi đảng tính đến ngày báo cáo; trình độ, nghề nghiệp theo hồ sơ "
            "hiện hành. Tỷ lệ tính trên tổng số đảng viên của đơn vị."
        ],
    )


render = renders(build)


QUALITY = ReportSpec(
    name="quality",
    title=N_("Party member quality analysis"),
    formats=("pdf", "xlsx"),
    render=render,
    file_stem="chat-luong-dang-vien",
    period=AS_OF,
)
