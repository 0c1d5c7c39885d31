"""Thẩm tra tư cách đại biểu: a congress's delegate list checked against the rolls.

The list comes as an XLSX file (a header row naming at least the member-number column) or
as member numbers typed in; it is read and checked when the report is requested, so a bad
file is refused with its row numbers and no job is queued.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import IO, Any

from sqlalchemy import and_, exists, false, or_, select, true
from sqlalchemy.orm import Session

from webapp.domain.errors import N_, DomainError, FieldErrors
from webapp.domain.party_age import PartyAge
from webapp.domain.report_figures import on_rolls
from webapp.domain.scope import NOWHERE, UNRESTRICTED, scope_clause, units_in
from webapp.domain.vietnamese import fold
from webapp.models.ledger import MemberPeriod
from webapp.models.member import Member
from webapp.models.record import Discipline
from webapp.models.unit import Unit
from webapp.reports.document import (
    DATE,
    TEXT,
    Column,
    DataTable,
    Section,
    TableReport,
    official_heading,
)
from webapp.reports.render import renders
from webapp.reports.spec import AS_OF, REQUESTER_SCOPE, ReportSpec, parse_day

TITLE = "Biểu thẩm tra tư cách đại biểu"
MAX_DELEGATES = 5000
# Header texts accepted for each column, compared without diacritics or case.
HEADERS = {
    "member_number": ("so ly lich", "so ll", "member number"),
    "name": ("ho va ten", "ho ten", "name"),
    "birth_date": ("ngay sinh", "birth date"),
}
DISCIPLINE_LOOKBACK = timedelta(days=365)
STANDING_NAMES = {"probationary": "Dự bị", "official": "Chính thức"}
# For a number that does not exist and for one outside the requester's scope alike.
NOT_FOUND = "Không tìm thấy trong phạm vi quản lý"


def _header_map(row: tuple) -> dict[str, int]:
    found = {}
    for index, cell in enumerate(row):
        text = fold(str(cell or "")).strip()
        for key, names in HEADERS.items():
            if text in names and key not in found:
                found[key] = index
    return found


def read_delegates(handle: IO[bytes]) -> list[dict[str, Any]]:
    """The delegates of an XLSX file: [{row, member_number, name, birth_date}], or a
    DomainError naming the bad rows."""
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(handle, read_only=True, data_only=True)
    except (BadZipFile, OSError, KeyError, ValueError) as error:
        raise DomainError(N_("The file is not an Excel (XLSX) workbook.")) from error
    rows = workbook.active.iter_rows(values_only=True)
    columns: dict[str, int] = {}
    header_row = 0
    for number, row in enumerate(rows, start=1):
        columns = _header_map(row)
        if "member_number" in columns:
            header_row = number
            break
        if number >= 20:
            break
    if "member_number" not in columns:
        raise DomainError(N_("The file has no column headed “Số lý lịch”."))
    errors = FieldErrors()
    delegates = []
    for number, row in enumerate(rows, start=header_row + 1):

        def cell(key: str, row: tuple = row) -> Any:
            index = columns.get(key)
            return row[index] if index is not None and index < len(row) else None

        member_number = str(cell("member_number") or "").strip()
        name = str(cell("name") or "").strip()
        if not member_number and not name:
            continue  # blank line
        if not member_number:
            errors.add("delegates", N_("Row %(row)s: the member number is missing."), row=number)
            continue
        raw_birth = cell("birth_date")
        birth = parse_day(raw_birth.date() if hasattr(raw_birth, "date") else raw_birth)
        if raw_birth not in (None, "") and birth is None:
            errors.add("delegates", N_("Row %(row)s: the birth date is not a date."), row=number)
            continue
        delegates.append(
            {
                "row": number,
                "member_number": member_number[:16],
                "name": name[:120],
                "birth_date": birth.isoformat() if birth else None,
            }
        )
        if len(delegates) > MAX_DELEGATES:
            raise DomainError(
                N_("The list has more than %(limit)s delegates."), limit=MAX_DELEGATES
            )
    errors.raise_if_any()
    if not delegates:
        raise DomainError(N_("The file lists no delegates."))
    return delegates


def delegates_from_numbers(text: str) -> list[dict[str, Any]]:
    """Delegates typed in as member numbers, one per line or separated by commas."""
    numbers = [part.strip() for part in text.replace(",", "\n").splitlines() if part.strip()]
    return [
        {"row": index, "member_number": number[:16], "name": "", "birth_date": None}
        for index, number in enumerate(numbers, start=1)
    ]


def _visible(scope: str | None, as_of: date):
    """Members the requester may see: in their scope now (the one scope filter), or on
    the rolls of a unit in it on the congress day (what the member list of that day shows)."""
    if scope is UNRESTRICTED:
        return true()
    if scope == NOWHERE:
        return false()
    return or_(
        scope_clause(Member, scope),
        exists().where(
            MemberPeriod.member_id == Member.id,
            MemberPeriod.unit_id.in_(units_in(scope)),
            on_rolls(as_of),
        ),
    )


def check_delegates(
    session: Session,
    root: Unit,
    as_of: date,
    delegates: list[dict[str, Any]],
    scope: str | None,
) -> list[dict[str, Any]]:
    """One result per delegate: what the rolls say, and the problems found. A number of a
    member outside the requester's `scope` reads exactly like a number that does not
    exist, so the check cannot be used to look up members of other organisations."""
    numbers = {delegate["member_number"] for delegate in delegates}
    members = {
        member.member_number: member
        for member in session.scalars(
            select(Member).where(Member.member_number.in_(numbers), _visible(scope, as_of))
        )
    }
    ids = [member.id for member in members.values()]
    periods = {
        row.member_id: row
        for row in session.execute(
            select(
                MemberPeriod.member_id,
                MemberPeriod.standing,
                MemberPeriod.party_age_from,
                Unit.name,
                Unit.path,
            )
            .join(Unit, Unit.id == MemberPeriod.unit_id)
            .where(MemberPeriod.member_id.in_(ids), on_rolls(as_of))
        )
    }
    disciplines: dict[int, list[str]] = {}
    for member_id, decided_on, form in session.execute(
        select(Discipline.member_id, Discipline.decided_on, Discipline.form).where(
            and_(
                Discipline.member_id.in_(ids),
                Discipline.decided_on > as_of - DISCIPLINE_LOOKBACK,
                Discipline.decided_on <= as_of,
            )
        )
    ):
        disciplines.setdefault(member_id, []).append(f"{form} ({decided_on:%d/%m/%Y})")
    seen: set[str] = set()
    results = []
    for delegate in delegates:
        problems = []
        number = delegate["member_number"]
        member = members.get(number)
        if number in seen:
            problems.append("Trùng trong danh sách")
        seen.add(number)
        result = {
            **delegate,
            "record_name": "",
            "unit": "",
            "standing": "",
            "admitted_on": None,
            "party_age": "",
            "discipline": "",
        }
        if member is None:
            problems.append(NOT_FOUND)
        else:
            result["record_name"] = member.display_name
            result["admitted_on"] = member.admitted_on
            if delegate["name"] and fold(delegate["name"]) != fold(member.display_name):
                problems.append("Họ tên không khớp hồ sơ")
            if delegate["birth_date"] and delegate["birth_date"] != member.birth_date.isoformat():
                problems.append("Ngày sinh không khớp hồ sơ")
            period = periods.get(member.id)
            if period is None:
                problems.append("Không có trong danh sách đảng viên vào ngày đại hội")
            else:
                result["unit"] = period.name
                result["standing"] = STANDING_NAMES.get(period.standing, period.standing)
                if not period.path.startswith(root.path):
                    problems.append("Không thuộc đảng bộ tổ chức đại hội")
                if period.standing == "probationary":
                    problems.append("Đảng viên dự bị (không có quyền ứng cử, bầu cử)")
            if period is not None and period.party_age_from is not None:
                age = PartyAge(counted_from=period.party_age_from, interruption_days=0, as_of=as_of)
                result["party_age"] = f"{age.years} năm"
            if member.id in disciplines:
                result["discipline"] = "; ".join(sorted(disciplines[member.id]))
                problems.append("Bị kỷ luật trong 12 tháng trước đại hội")
        result["problems"] = problems
        results.append(result)
    return results


def build(session: Session, unit: Unit, parameters: dict[str, Any]) -> TableReport:
    as_of = date.fromisoformat(parameters["as_of"])
    # A run rendered without the requester's scope (called directly) sees only its unit.
    scope = parameters.get(REQUESTER_SCOPE, unit.path)
    results = check_delegates(session, unit, as_of, parameters["delegates"], scope)
    columns = [
        Column("STT", TEXT, 3),
        Column("Họ và tên (theo danh sách)", TEXT, 14),
        Column("Số lý lịch", TEXT, 8),
        Column("Họ và tên (theo hồ sơ)", TEXT, 14),
        Column("Chi bộ", TEXT, 14),
        Column("Đảng viên", TEXT, 7),
        Column("Ngày vào Đảng", DATE, 8),
        Column("Tuổi đảng", TEXT, 6),
        Column("Kỷ luật", TEXT, 12),
        Column("Kết quả thẩm tra", TEXT, 18),
    ]
    rows = [
        [
            index,
            result["name"],
            result["member_number"],
            result["record_name"],
            result["unit"],
            result["standing"],
            result["admitted_on"],
            result["party_age"],
            result["discipline"],
            "; ".join(result["problems"]) or "Đủ tư cách",
        ]
        for index, result in enumerate(results, start=1)
    ]
    flagged = sum(1 for result in results if result["problems"])
    return TableReport(
        heading=official_heading(unit, TITLE, parameters, document_number="……/BC-TTĐB"),
        tables=[DataTable(columns=columns, sections=[Section(None, rows)], sheet_name="Thẩm tra")],
        notes=[
            f"Tổng số đại biểu: {len(results)}; đủ tư cách: {len(results) - flagged}; "
            f"có vấn đề cần xem xét: {flagged}.",
            "Kỷ luật: các quyết định trong 12 tháng trước ngày đại hội.",
        ],
    )


render = renders(build)


DELEGATES = ReportSpec(
    name="delegates",
    title=N_("Delegate credentials check"),
    formats=("pdf", "xlsx"),
    render=render,
    file_stem="tham-tra-dai-bieu",
    period=AS_OF,
    takes_delegates=True,
)
