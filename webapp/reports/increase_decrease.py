"""Báo cáo tăng, giảm đảng viên: movements in a period per child unit (model: form 1-TCTW)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from webapp.domain.errors import N_
from webapp.domain.report_figures import MovementLine, increase_decrease
from webapp.models.unit import Unit
from webapp.reports.document import (
    INTEGER,
    TEXT,
    Column,
    DataTable,
    HeaderCell,
    Section,
    TableReport,
    official_heading,
)
from webapp.reports.render import renders
from webapp.reports.spec import PERIOD, ReportSpec

TITLE = "Báo cáo tăng, giảm đảng viên"
INCREASES = (
    ("admission", "Kết nạp"),
    ("readmission", "Kết nạp lại"),
    ("transfer_in", "Chuyển đến từ ngoài tỉnh"),
    ("transfer_within", "Chuyển đến trong tỉnh"),
    ("restoration", "Khôi phục đảng tịch"),
    ("other", "Khác"),
)
DECREASES = (
    ("death", "Từ trần"),
    ("removal", "Xóa tên"),
    ("not_recognised", "Không công nhận chính thức"),
    ("expulsion", "Khai trừ"),
    ("resignation", "Xin ra khỏi Đảng"),
    ("transfer_out", "Chuyển đi ngoài tỉnh"),
    ("transfer_within", "Chuyển đi trong tỉnh"),
    ("other", "Khác"),
)
MEMO = (
    ("official_recognition", "Công nhận chính thức"),
    ("temporary_out", "Sinh hoạt tạm thời đi"),
    ("temporary_in", "Sinh hoạt tạm thời đến"),
)


SUM_OF_LINES = "Cộng các dòng trên"
BETWEEN_LINES = "Trong đó: chuyển giữa các đơn vị trực thuộc"
BETWEEN_LINES_NOTE = (
    "Dòng “{between}”: đảng viên chuyển sinh hoạt (chính thức hoặc tạm thời) từ một đơn vị "
    "trực thuộc sang một đơn vị trực thuộc khác của {unit}. Mỗi lượt được tính tăng ở đơn vị "
    "đến và giảm ở đơn vị đi, nhưng không làm thay đổi số đảng viên của toàn đảng bộ, nên "
    "không tính vào dòng “Tổng cộng”. Ở từng cột: Tổng cộng = {sum} − {between_short}."
)


def line_values(number: Any, name: str, line: MovementLine, *, balance: bool = True) -> list[Any]:
    """A printed line; without `balance` the opening and closing stay blank (movements
    between lines have no rolls of their own)."""
    return [
        number,
        name,
        line.opening if balance else "",
        *(line.increases[key] for key, _ in INCREASES),
        line.increase_total,
        *(line.decreases[key] for key, _ in DECREASES),
        line.decrease_total,
        line.closing if balance else "",
        *(line.memo[key] for key, _ in MEMO),
    ]


def sum_of_lines(lines: list[MovementLine]) -> MovementLine:
    """The lines added up column by column (what a reader would add by hand)."""
    added = MovementLine(None)
    for line in lines:
        added.opening += line.opening
        added.closing += line.closing
        added.increases.update(line.increases)
        added.decreases.update(line.decreases)
        added.memo.update(line.memo)
    return added


def build(session: Session, unit: Unit, parameters: dict[str, Any]) -> TableReport:
    start, end = date.fromisoformat(parameters["from"]), date.fromisoformat(parameters["to"])
    lines = increase_decrease(session, unit, start, end)
    columns = [
        Column("STT", TEXT, 3),
        Column("Đơn vị", TEXT, 16),
        Column("Đầu kỳ", INTEGER, 5),
        *(Column(label, INTEGER, 4.5) for _, label in INCREASES),
        Column("Cộng tăng", INTEGER, 4.5),
        *(Column(label, INTEGER, 4.5) for _, label in DECREASES),
        Column("Cộng giảm", INTEGER, 4.5),
        Column("Cuối kỳ", INTEGER, 5),
        *(Column(label, INTEGER, 4.5) for _, label in MEMO),
    ]
    header = [
        [
            HeaderCell("STT", rowspan=2),
            HeaderCell("Đơn vị", rowspan=2),
            HeaderCell("Số đảng viên đầu kỳ", rowspan=2),
            HeaderCell("Tăng", colspan=len(INCREASES) + 1),
            HeaderCell("Giảm", colspan=len(DECREASES) + 1),
            HeaderCell("Số đảng viên cuối kỳ", rowspan=2),
            HeaderCell("Ghi chú (không tính vào tổng số)", colspan=len(MEMO)),
        ],
        [
            *(HeaderCell(label) for _, label in INCREASES),
            HeaderCell("Cộng"),
            *(HeaderCell(label) for _, label in DECREASES),
            HeaderCell("Cộng"),
            *(HeaderCell(label) for _, label in MEMO),
        ],
    ]
    *groups, total = lines
    rows = [
        line_values(number, f"{line.group.name} ({line.group.code})", line)
        for number, line in enumerate(groups, start=1)
    ]
    notes = [
        "Số cuối kỳ = số đầu kỳ + cộng tăng − cộng giảm. Đảng viên sinh hoạt tạm thời "
        "được tính ở đảng bộ, chi bộ nơi sinh hoạt chính thức."
    ]
    # With several lines the total is not their sum: a transfer between two child units
    # is an increase of one and a decrease of the other, not a movement of the whole. The
    # sum and those transfers are printed, so each column visibly reconciles.
    summary = []
    if len(groups) > 1:
        summary = [
            line_values("", SUM_OF_LINES, sum_of_lines(groups)),
            line_values("", BETWEEN_LINES, total.between_lines, balance=False),
        ]
        notes.append(
            BETWEEN_LINES_NOTE.format(
                between=BETWEEN_LINES,
                unit=f"{unit.name} ({unit.code})",
                sum=SUM_OF_LINES.lower(),
                between_short="chuyển giữa các đơn vị trực thuộc",
            )
        )
    return TableReport(
        heading=official_heading(unit, TITLE, parameters),
        tables=[
            DataTable(
                columns=columns,
                sections=[Section(None, rows)],
                header_rows=header,
                summary=summary,
                total=line_values("", "Tổng cộng", total),
                sheet_name="Tăng giảm",
            )
        ],
        notes=notes,
    )


render = renders(build)


INCREASE_DECREASE = ReportSpec(
    name="increase-decrease",
    title=N_("Increase and decrease of Party members"),
    formats=("pdf", "xlsx"),
    render=render,
    file_stem="tang-giam-dang-vien",
    period=PERIOD,
)
