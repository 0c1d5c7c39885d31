"""Danh sách đảng viên: the members on the rolls of a subtree on a day, grouped by unit,
in the 14 columns of the paper list (form 7-HSĐV, DESIGN §3).

Rows stream from the database in batches and go straight into the PDF (a long list by
platypus, see long_table.py) or a write-only workbook, so a province's 100,000 members
never sit in memory at once. Members who left the rolls during the year up to that day follow in a
second part, where the columns on leaving are filled in.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from itertools import groupby
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from webapp.domain.errors import N_
from webapp.domain.ledger import EventKind
from webapp.domain.report_figures import LEAVING_EVENTS, not_reversed, on_rolls
from webapp.domain.reports import subtree_units
from webapp.labels import format_birth_date
from webapp.models.badges import BadgeAward
from webapp.models.ledger import MemberEvent, MemberPeriod
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
from webapp.reports.spec import AS_OF, ProgressCallback, ReportSpec

TITLE = "Danh sách đảng viên"
COLUMNS = [
    Column("STT", INTEGER, 3.5),
    Column("Họ và tên\n(họ tên khai sinh)", TEXT, 14),
    Column("Ngày sinh; giới tính; dân tộc; tôn giáo", TEXT, 11),
    Column("Quê quán", TEXT, 11),
    Column("Trình độ: GDPT, LLCT, CMNV, ngoại ngữ", TEXT, 11),
    Column("Nghề nghiệp khi vào Đảng / hiện nay", TEXT, 17),
    Column("Ngày vào Đảng / chính thức", TEXT, 8),
    Column("Số thẻ / số lý lịch / số huy hiệu", TEXT, 8.5),
    Column("Quân đội, thương binh", TEXT, 6),
    Column("Chuyển đi (ngày, nơi đến)", TEXT, 8),
    Column("Chuyển đến (ngày, nơi đi)", TEXT, 8),
    Column("Từ trần", TEXT, 5.5),
    Column("Lý do", TEXT, 6),
    Column("Ngày, hình thức ra khỏi Đảng", TEXT, 7.5),
]
SEX = {"male": "Nam", "female": "Nữ"}
LEAVING_FORMS = {
    EventKind.REMOVAL: "Xóa tên",
    EventKind.NOT_RECOGNISED: "Xóa tên (không công nhận chính thức)",
    EventKind.EXPULSION: "Khai trừ",
    EventKind.RESIGNATION: "Xin ra khỏi Đảng",
}
ARRIVALS = (EventKind.TRANSFER_IN, EventKind.TRANSFER_WITHIN)


def _d(value: date | None) -> str:
    return f"{value:%d/%m/%Y}" if value else ""


def _joined(*parts: Any, separator: str = "; ") -> str:
    return separator.join(str(part) for part in parts if part)


def _last_arrival(as_of: date, column):
    """A column of the member's latest arrival (transfer in or within) up to `as_of`: for
    a member on the rolls, the arrival into the cell held on that day."""
    event = aliased(MemberEvent)
    return (
        select(column(event))
        .where(
            event.member_id == Member.id,
            event.kind.in_(ARRIVALS),
            event.effective_on <= as_of,
            not_reversed(event),
        )
        .order_by(event.effective_on.desc(), event.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _stay_arrival(period, in_subtree, column):
    """A column of the arrival that began the member's stay in the subtree which ended with
    `period`: a transfer in, or a transfer within from a unit outside the subtree, on the
    day the stay began; nothing when it began by admission, re-admission or restoration.
    (Not the departure itself, nor a return after it.)"""
    entry, inside_before, event = aliased(MemberPeriod), aliased(MemberPeriod), aliased(MemberEvent)
    # The stay began with the latest period in the subtree, up to this one, that had no
    # period in the subtree right before it.
    stay_began = (
        select(func.max(entry.starts_on))
        .where(
            entry.member_id == period.member_id,
            entry.unit_id.in_(in_subtree),
            entry.starts_on <= period.starts_on,
            ~exists().where(
                inside_before.member_id == entry.member_id,
                inside_before.ends_on == entry.starts_on,
                inside_before.unit_id.in_(in_subtree),
            ),
        )
        .correlate(period)  # two levels down: auto-correlation reaches only one
        .scalar_subquery()
    )
    return (
        select(column(event))
        .where(
            event.member_id == period.member_id,
            event.kind.in_(ARRIVALS),
            event.effective_on == stay_began,
            not_reversed(event),
        )
        .order_by(event.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _origin(event):
    """Where an arrival came from: the other organisation named on a transfer in, else the
    unit of the period that ended on the arrival day (the event's from_unit is the unit at
    the time of recording, which is wrong for back-dated transfers)."""
    before, origin = aliased(MemberPeriod), aliased(Unit)
    previous_unit = (
        select(origin.name)
        .join(before, before.unit_id == origin.id)
        .where(
            before.member_id == event.member_id,
            before.ends_on == event.effective_on,
            before.unit_id != func.coalesce(event.to_unit_id, -1),
        )
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(event.other_organisation, previous_unit)


def _latest_badge(as_of: date):
    """The number of the highest Party badge awarded by `as_of`."""
    return (
        select(BadgeAward.badge_number)
        .where(BadgeAward.member_id == Member.id, BadgeAward.decision_on <= as_of)
        .order_by(BadgeAward.milestone.desc(), BadgeAward.decision_on.desc(), BadgeAward.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _member_columns(as_of: date, arrival=None):
    """The member's columns; `arrival(column)` gives a column of the arrival printed in
    column 11 (default: the latest arrival up to `as_of`)."""
    arrival = arrival or (lambda column: _last_arrival(as_of, column))
    return (
        Member.birth_name,
        Member.name_in_use,
        Member.birth_date,
        Member.birth_date_precision,
        Member.sex,
        Member.ethnicity,
        Member.religion,
        Member.home_town,
        Member.general_education,
        Member.political_theory,
        Member.professional_level,
        Member.foreign_languages,
        Member.occupation_at_admission,
        Member.occupation,
        Member.admitted_on,
        Member.official_on,
        Member.card_number,
        Member.member_number,
        Member.veteran,
        Member.war_invalid,
        _latest_badge(as_of).label("badge_number"),
        arrival(lambda event: event.effective_on).label("arrived_on"),
        arrival(_origin).label("arrived_from"),
    )


def _common_cells(row) -> list[Any]:
    name = row.name_in_use or row.birth_name
    return [
        name if name == row.birth_name else f"{name}\n({row.birth_name})",
        _joined(
            format_birth_date(row.birth_date, row.birth_date_precision),
            SEX.get(row.sex, row.sex),
            row.ethnicity,
            row.religion,
        ),
        row.home_town or "",
        _joined(
            row.general_education,
            row.political_theory,
            row.professional_level,
            row.foreign_languages,
        ),
        row.occupation
        if row.occupation_at_admission in (None, "", row.occupation)
        else _joined(row.occupation_at_admission, row.occupation, separator=" / "),
        _joined(_d(row.admitted_on), _d(row.official_on), separator="\n"),
        _joined(row.card_number, row.member_number, row.badge_number, separator="\n"),
        _joined("Cựu chiến binh" if row.veteran else "", row.war_invalid),
    ]


def on_rolls_rows(session: Session, root: Unit, as_of: date, batch_size: int = 1000):
    host = aliased(Unit)
    query = (
        select(
            Unit.code.label("unit_code"),
            Unit.name.label("unit_name"),
            MemberPeriod.starts_on,
            MemberPeriod.away,
            host.name.label("host_name"),
            *_member_columns(as_of),
        )
        .select_from(MemberPeriod)
        .join(Member, Member.id == MemberPeriod.member_id)
        .join(Unit, Unit.id == MemberPeriod.unit_id)
        .outerjoin(host, host.id == MemberPeriod.host_unit_id)
        .where(Unit.path.startswith(root.path, autoescape=True), on_rolls(as_of))
        .order_by(Unit.code, Member.sort_key, Member.id)
        .execution_options(yield_per=batch_size)
    )
    return session.execute(query)


def count_on_rolls(session: Session, root: Unit, as_of: date) -> int:
    return session.scalar(
        select(func.count())
        .select_from(MemberPeriod)
        .join(Unit, Unit.id == MemberPeriod.unit_id)
        .where(Unit.path.startswith(root.path, autoescape=True), on_rolls(as_of))
    )


def left_rows(session: Session, root: Unit, as_of: date):
    """One row per departure from the subtree's rolls this year up to `as_of`: a period in
    the subtree with none in it right after, and the event that ended it — the member's
    last transfer within of that day when a period elsewhere follows, else the last
    leaving event of that day (moved and died the same day is one departure, by death)."""
    period, following, inside_after = (aliased(MemberPeriod) for _ in range(3))
    event, candidate, target = aliased(MemberEvent), aliased(MemberEvent), aliased(Unit)
    in_subtree = subtree_units(root)
    ending = (
        select(candidate.id)
        .where(
            candidate.member_id == period.member_id,
            candidate.effective_on == period.ends_on,
            or_(
                and_(following.id.is_(None), candidate.kind.in_(LEAVING_EVENTS)),
                and_(following.id.is_not(None), candidate.kind == EventKind.TRANSFER_WITHIN),
            ),
            not_reversed(candidate),
        )
        .order_by(candidate.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(
            Unit.code.label("unit_code"),
            Unit.name.label("unit_name"),
            period.ends_on.label("left_on"),
            event.kind.label("left_by"),
            func.coalesce(event.other_organisation, target.name).label("left_to"),
            event.note.label("left_note"),
            *_member_columns(as_of, lambda column: _stay_arrival(period, in_subtree, column)),
        )
        .select_from(period)
        .join(Member, Member.id == period.member_id)
        .join(Unit, Unit.id == period.unit_id)
        # Periods of a member never overlap: at most one starts the day this one ends.
        .outerjoin(
            following,
            and_(following.member_id == period.member_id, following.starts_on == period.ends_on),
        )
        .outerjoin(event, event.id == ending)
        .outerjoin(target, target.id == following.unit_id)
        .where(
            period.unit_id.in_(in_subtree),
            period.ends_on.between(date(as_of.year, 1, 1), as_of),
            ~exists().where(
                inside_after.member_id == period.member_id,
                inside_after.starts_on == period.ends_on,
                inside_after.unit_id.in_(in_subtree),
            ),
        )
        .order_by(Unit.code, Member.sort_key, Member.id)
    )
    return session.execute(query)


def _on_rolls_values(number: int, row) -> list[Any]:
    away = ""
    if row.host_name or row.away:
        away = _joined(_d(row.starts_on), f"tạm thời: {row.host_name or 'ngoài đảng bộ'}")
    arrived = _joined(_d(row.arrived_on), row.arrived_from)
    return [number, *_common_cells(row), away, arrived, "", "", ""]


def _left_values(number: int, row) -> list[Any]:
    kind = row.left_by
    moved = kind in (EventKind.TRANSFER_OUT, EventKind.TRANSFER_WITHIN)
    return [
        number,
        *_common_cells(row),
        _joined(_d(row.left_on), row.left_to) if moved else "",
        _joined(_d(row.arrived_on), row.arrived_from),
        _d(row.left_on) if kind == EventKind.DEATH else "",
        row.left_note or "",
        _joined(_d(row.left_on), LEAVING_FORMS.get(kind)) if kind in LEAVING_FORMS else "",
    ]


def build(
    session: Session, unit: Unit, parameters: dict[str, Any], progress: ProgressCallback
) -> TableReport:
    """The list as one table whose sections (one per unit, then those who left) stream
    from the database while the file is written; progress is reported as rows are read."""
    as_of = date.fromisoformat(parameters["as_of"])
    total = count_on_rolls(session, unit, as_of) or 0
    done = 0
    left_count = 0

    def numbered(rows, values) -> Iterator[Section]:
        """One section per unit; numbering runs on across sections."""
        nonlocal done

        def lines(group_rows):
            nonlocal done
            for row in group_rows:
                done += 1
                if done % 500 == 0 and total:
                    progress(min(95, int(95 * done / total)))
                yield values(done, row)

        for (code, name), group_rows in groupby(
            rows, key=lambda row: (row.unit_code, row.unit_name)
        ):
            yield Section(f"{code} – {name}", lines(group_rows))

    def sections() -> Iterator[Section]:
        nonlocal done, left_count
        yield from numbered(on_rolls_rows(session, unit, as_of), _on_rolls_values)
        counted = done
        for section in numbered(left_rows(session, unit, as_of), _left_values):
            yield Section(
                f"Ra khỏi danh sách trong năm {as_of.year} – {section.title}", section.rows
            )
        left_count = done - counted

    def closing() -> str:
        return f"Tổng số: {done - left_count} đảng viên" + (
            f"; ra khỏi danh sách trong năm: {left_count}" if left_count else ""
        )

    return TableReport(
        heading=official_heading(unit, TITLE, parameters, document_number="……/DS-BTC"),
        tables=[DataTable(COLUMNS, sections(), sheet_name=TITLE, closing=closing, dense=True)],
        count=lambda: done - left_count,
    )


render = renders(build, streamed=True)


MEMBER_LIST = ReportSpec(
    name="member-list",
    title=N_("Party member list"),
    formats=("pdf", "xlsx"),
    render=render,
    file_stem="danh-sach-dang-vien",
    period=AS_OF,
)
