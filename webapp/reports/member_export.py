"""The member list screen exported as shown: the same rows (filters, scope, order) as a
workbook, written straight from the request when the list is short and by the report job
when it is long (issue 13, item 9).

The rows are the screen's: which members a list state (unit filter, search, advanced
filters, sort) selects is the member list view's knowledge, so the view provides that
query here (`provide_list_query`), once, when the views are registered — in the web
process and in the worker alike. The report layer owns the file: its columns, the
parameters it accepts and the job's spec; both paths draw the file with `build`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from sqlalchemy.orm import Session

from webapp.domain.errors import N_, DomainError, ValidationFailed
from webapp.labels import SEX_LABELS, STATUS_LABELS, format_date, label_for
from webapp.models.member import Member
from webapp.models.unit import Unit
from webapp.reports.document import (
    INTEGER,
    TEXT,
    Column,
    DataTable,
    Section,
    TableReport,
    official_heading,
)
from webapp.reports.render import renders
from webapp.reports.spec import NOW, REQUESTER_SCOPE, ProgressCallback, ReportSpec

NAME = "member-export"
TITLE = "Danh sách đảng viên theo bộ lọc"
# The list's columns, with the unit's code beside its name (a spreadsheet sorts by it).
COLUMNS = [
    Column("STT", INTEGER, 6),
    Column("Số lý lịch", TEXT, 14),
    Column("Họ và tên", TEXT, 28),
    Column("Ngày sinh", TEXT, 12),
    Column("Giới tính", TEXT, 9),
    Column("Mã đơn vị", TEXT, 16),
    Column("Đơn vị", TEXT, 34),
    Column("Ngày vào Đảng", TEXT, 13),
    Column("Trạng thái", TEXT, 16),
]
# What a list state may hold (it is stored on the run and replayed in the worker).
MAX_FILTERS = 30
MAX_VALUE_LENGTH = 200
INVALID_LIST = N_("The list to export is not valid; open the list again.")

# (session, scope, list state) → the Members of the list, in its order (an ORM query).
ListQuery = Callable[[Session, str | None, Mapping[str, Any]], Iterable[Member]]
_list_query: ListQuery | None = None


def provide_list_query(query: ListQuery) -> None:
    """Called by the member list view: the one definition of the rows a state selects."""
    global _list_query
    _list_query = query


def listed_members(session: Session, scope: str | None, state: Mapping[str, Any]):
    if _list_query is None:  # the views were not registered in this process
        raise RuntimeError("the member list has not provided its query")
    return _list_query(session, scope, state)


def check_list_state(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The list state of a request ({"list": {...}}) in its stored shape, or refused: it
    comes from the screen, but is replayed later, so its shape is checked here."""
    state = raw.get("list")
    refused = ValidationFailed({"list": [(INVALID_LIST, {})]})
    if not isinstance(state, Mapping):
        raise refused
    unit_id = state.get("unit_id")
    if unit_id is not None and (
        not isinstance(unit_id, int) or isinstance(unit_id, bool) or not 0 < unit_id < 2**63
    ):
        raise refused
    filters = state.get("filters") or []
    if not isinstance(filters, list) or len(filters) > MAX_FILTERS:
        raise refused
    for item in filters:
        if not (
            isinstance(item, list | tuple)
            and len(item) == 3
            and isinstance(item[0], str)
            and isinstance(item[1], int)
            and 0 <= item[1] <= 9
            and isinstance(item[2], list)
            and all(isinstance(v, str) and len(v) <= MAX_VALUE_LENGTH for v in item[2])
        ):
            raise refused
    order = state.get("order")
    if order is not None and not (
        isinstance(order, list | tuple)
        and len(order) == 2
        and isinstance(order[0], str)
        and order[1] in ("asc", "desc")
    ):
        raise refused
    return {
        "list": {
            "unit_id": unit_id,
            "subunits": bool(state.get("subunits")),
            "filters": [[c, i, list(v)] for c, i, v in filters],
            "order": list(order) if order else None,
        }
    }


def member_values(number: int, member: Member) -> list[Any]:
    unit = member.unit
    return [
        number,
        member.member_number,
        member.display_name,
        format_date(member.birth_date),
        label_for(SEX_LABELS, member.sex),
        unit.code if unit else "",
        unit.name if unit else "",
        format_date(member.admitted_on),
        label_for(STATUS_LABELS, member.status),
    ]


def export_report(
    unit: Unit,
    members: Iterable[Member],
    describe: str,
    progress: ProgressCallback | None = None,
    total: int | None = None,
) -> TableReport:
    """The workbook of `members` (streamed: rows are read as they are written)."""
    count = 0

    def rows() -> Iterator[list[Any]]:
        nonlocal count
        for member in members:
            count += 1
            if progress is not None and total and count % 500 == 0:
                progress(min(95, int(95 * count / total)))
            yield member_values(count, member)

    return TableReport(
        heading=official_heading(unit, TITLE, {}, subtitle=describe),
        tables=[
            DataTable(
                COLUMNS,
                [Section(None, rows())],
                sheet_name="Danh sách",
                closing=lambda: f"Tổng số: {count} đảng viên",
                empty="Không có đảng viên nào theo bộ lọc.",
            )
        ],
        count=lambda: count,
    )


def describe_state(session: Session, scope: str | None, state: Mapping[str, Any]) -> str:
    unit = None
    if state.get("unit_id") is not None:
        unit = session.get(Unit, state["unit_id"])
    if unit is None:
        return "Theo bộ lọc của danh sách đảng viên"
    within = (
        "và các đơn vị trực thuộc" if state.get("subunits") else "(không gồm đơn vị trực thuộc)"
    )
    return f"{unit.name} ({unit.code}) {within}"


def build(
    session: Session, unit: Unit, parameters: dict[str, Any], progress: ProgressCallback
) -> TableReport:
    state = parameters.get("list")
    if not isinstance(state, Mapping):
        raise DomainError(INVALID_LIST)
    scope = parameters.get(REQUESTER_SCOPE, unit.path)
    query = listed_members(session, scope, state)
    total = query.count()
    # Batches: a province's list is never held in memory at once.
    members = query.yield_per(1000)
    return export_report(unit, members, describe_state(session, scope, state), progress, total)


MEMBER_EXPORT = ReportSpec(
    name=NAME,
    title=N_("Filtered member list"),
    formats=("xlsx",),
    render=renders(build, streamed=True),
    file_stem="danh-sach-loc",
    period=NOW,
    check_extra=check_list_state,
    listed=False,
)
