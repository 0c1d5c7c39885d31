"""Figures of the official reports, computed in SQL over a unit's subtree (DESIGN §6).

Every count is a GROUP BY in the database, grouped by the unit that holds the members;
Python only adds those per-unit counts up into the report's groups (the root's direct
children), so the work in Python grows with the number of units, never with members.

Membership on a day comes from the periods the ledger derives (webapp/models/ledger.py):
a member is on a unit's rolls on day d when a period has starts_on <= d < ends_on. The
increase/decrease report counts the crossings of the subtree's boundary by those periods,
so opening + increases − decreases = closing holds by construction; the kind of each
crossing is the ledger event recorded on that day.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import (
    Boolean,
    Date,
    Integer,
    and_,
    any_,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from webapp.domain.ledger import EventKind
from webapp.domain.party_age import add_years
from webapp.domain.reports import subtree_units
from webapp.models.ledger import MemberEvent, MemberPeriod
from webapp.models.member import ON_THE_ROLLS, Member
from webapp.models.record import CatalogueEntry, Commendation, Discipline
from webapp.models.unit import Unit

OUTSIDE = None  # the group of a unit outside the reported subtree


@dataclass(frozen=True)
class Group:
    """A line of a report: one of the root's direct children, or the root itself for
    members held directly by it (a grassroots cell reports on itself)."""

    unit_id: int
    code: str
    name: str
    path: str


class UnitGroups:
    """Which report line each unit of the subtree belongs to."""

    def __init__(self, session: Session, root: Unit) -> None:
        self.root = root
        rows = session.execute(
            select(Unit.id, Unit.code, Unit.name, Unit.path, Unit.parent_id)
            .where(Unit.path.startswith(root.path, autoescape=True))
            .order_by(Unit.code)
        ).all()
        self.groups: list[Group] = [Group(root.id, root.code, root.name, root.path)]
        children = {
            row.id: Group(row.id, row.code, row.name, row.path)
            for row in rows
            if row.parent_id == root.id
        }
        self.groups += list(children.values())
        self._group_of: dict[int, int] = {}
        for row in rows:
            rest = row.path[len(root.path) :]
            child_id = int(rest.split("/", 1)[0]) if rest else root.id
            self._group_of[row.id] = child_id if child_id in children else root.id

    def __call__(self, unit_id: int | None) -> int | None:
        return self._group_of.get(unit_id) if unit_id is not None else OUTSIDE

    def contains(self, unit_id: int | None) -> bool:
        return unit_id in self._group_of

    def subtree(self):
        return subtree_units(self.root)

    def add_up(self, per_unit: Iterable[tuple[int, object, int]]) -> dict[int, Counter]:
        """{group id: Counter(key → count)} from (unit id, key, count) rows."""
        totals: dict[int, Counter] = defaultdict(Counter)
        for unit_id, key, count in per_unit:
            group = self(unit_id)
            if group is not None:
                totals[group][key] += count
        return totals


def on_rolls(day: date):
    """Periods current on `day`."""
    return and_(
        MemberPeriod.starts_on <= day,
        or_(MemberPeriod.ends_on.is_(None), MemberPeriod.ends_on > day),
    )


def on_rolls_or_leaving(member_id, day):
    """The period of the member current on `day`, or the one that ended that very day when
    the member left the rolls then (no period follows it): what happened on the leaving day
    — an expulsion's own decision, a decision on a death — belongs to the unit left."""
    following = aliased(MemberPeriod)
    return and_(
        MemberPeriod.member_id == member_id,
        MemberPeriod.starts_on <= day,
        or_(
            MemberPeriod.ends_on.is_(None),
            MemberPeriod.ends_on > day,
            and_(
                MemberPeriod.ends_on == day,
                ~exists().where(following.member_id == member_id, following.starts_on == day),
            ),
        ),
    )


def not_reversed(event):
    """The event has not been cancelled by a reversal."""
    reversal = aliased(MemberEvent)
    return ~exists().where(reversal.reverses_id == event.id)


# ---------------------------------------------------------------- figures and their rolls
#
# A figure's "rolls" are the rows it counts: one row per member counted (a member moving
# twice in a period is two rows), with the report line it is counted on, the figure's key
# and whether the row counts in the report's total. The figures of a report are one GROUP
# BY over its rolls, and the list behind a figure (the drill-down) is the same rolls with
# that figure's condition (`figure_rows`): its length is the figure by construction.
#
# Columns of every rolls query: member_id, day (the day of the movement or decision, or
# the day of the balance), line ("" for the root's own members, else the id of the root's
# child the unit lies under), figure ("opening", "increase|admission", "level|four_page" …:
# a key with its group before "|"), in_total (False only for a movement between two lines
# of the report, which the total does not count).

ROOT_LINE = ""
TOTAL = "T"  # the rows the total line counts
BETWEEN = "B"  # the rows between two lines of the report (not in the total)
ALL_LINES = "S"  # the lines added up (what a reader adds by hand)


def _rolls_row(member_id, day, line, figure, in_total=None):
    return (
        member_id.label("member_id"),
        (day if day is not None else literal(None, Date)).label("day"),
        line.label("line"),
        figure.label("figure"),
        (in_total if in_total is not None else literal(True, Boolean)).label("in_total"),
    )


def _lined(path, root: Unit, dialect: str):
    """The report line of a unit, NULL for a unit outside the subtree."""
    return case(
        (path.startswith(root.path, autoescape=True), _line_of(path, root, dialect)), else_=None
    )


def _under(path, root: Unit, within: str | None):
    """The unit is in the subtree; with `within` (the path of one line's unit), on that
    line only: the root itself, or the child's subtree. Only narrows what the rolls read
    for one line's list; the rows kept are those of that line either way."""
    if within is None:
        return path.startswith(root.path, autoescape=True)
    if within == root.path:
        return path == root.path
    return path.startswith(within, autoescape=True)


def line_path(root: Unit, line: str, session: Session) -> str | None:
    """The `within` of a line's list: the path of the line's unit (None for TOTAL …)."""
    if line == ROOT_LINE:
        return root.path
    if line.isdigit():
        unit = session.get(Unit, int(line))
        return unit.path if unit is not None else None
    return None


def figure_group(figure: str) -> str:
    return figure.split("|", 1)[0]


def figure_rows(rolls, line: str, figure: str):
    """The rows of `rolls` (a subquery) behind one figure: `line` a line of the report,
    TOTAL, BETWEEN or ALL_LINES; `figure` a key ("increase|admission") or a group of keys
    ("increase": every increase, the "Cộng tăng" column)."""
    if line == TOTAL:
        on_line = rolls.c.in_total.is_(true())
    elif line == BETWEEN:
        on_line = rolls.c.in_total.is_not(true())
    elif line == ALL_LINES:
        on_line = true()
    else:
        on_line = rolls.c.line == line
    return select(rolls.c.member_id, rolls.c.day).where(
        on_line,
        or_(rolls.c.figure == figure, rolls.c.figure.startswith(figure + "|", autoescape=True)),
    )


def count_rolls(session: Session, rolls) -> Counter:
    """{(line, figure, in_total): rows} of a rolls query: the figures, in one statement."""
    rows = rolls.subquery("rolls")
    return Counter(
        {
            (line, figure, bool(in_total)): count
            for line, figure, in_total, count in session.execute(
                select(rows.c.line, rows.c.figure, rows.c.in_total, func.count()).group_by(
                    rows.c.line, rows.c.figure, rows.c.in_total
                )
            )
        }
    )


def figure_count(counts: Counter, line: str, figure: str) -> int:
    """What `figure_rows` would list, from the counts of `count_rolls` (the same rows)."""
    return sum(
        n
        for (row_line, row_figure, in_total), n in counts.items()
        if (row_figure == figure or row_figure.startswith(figure + "|"))
        and (
            in_total
            if line == TOTAL
            else not in_total
            if line == BETWEEN
            else line == ALL_LINES or row_line == line
        )
    )


def _wanted(only: str | None, group: str) -> bool:
    return only is None or figure_group(only) == group


# ---------------------------------------------------------------- increase / decrease

INCREASE_KINDS = (
    "admission",
    "readmission",
    "transfer_in",
    "transfer_within",
    "restoration",
    "other",
)
DECREASE_KINDS = (
    "death",
    "removal",
    "not_recognised",
    "expulsion",
    "resignation",
    "transfer_out",
    "transfer_within",
    "other",
)
ENTERING_EVENTS = (
    EventKind.ADMISSION,
    EventKind.READMISSION,
    EventKind.TRANSFER_IN,
    EventKind.RESTORATION,
)
LEAVING_EVENTS = (
    EventKind.DEATH,
    EventKind.REMOVAL,
    EventKind.NOT_RECOGNISED,
    EventKind.EXPULSION,
    EventKind.RESIGNATION,
    EventKind.TRANSFER_OUT,
)
MEMO_KINDS = ("official_recognition", "temporary_out", "temporary_in")
# The figure groups of the report and the keys each may have.
MOVEMENT_FIGURES = {
    "opening": (),
    "increase": INCREASE_KINDS,
    "decrease": DECREASE_KINDS,
    "closing": (),
    "memo": MEMO_KINDS,
}


@dataclass
class MovementLine:
    group: Group | None  # None for the total line
    opening: int = 0
    increases: Counter = field(default_factory=Counter)
    decreases: Counter = field(default_factory=Counter)
    closing: int = 0
    memo: Counter = field(default_factory=Counter)
    # On the total line only: the movements between the report's lines (a transfer from
    # one child unit to another), counted on both lines but not in the total, which counts
    # only what crosses the subtree's boundary. Column by column:
    # sum of the lines − between_lines = total.
    between_lines: MovementLine | None = None

    @property
    def increase_total(self) -> int:
        return sum(self.increases.values())

    @property
    def decrease_total(self) -> int:
        return sum(self.decreases.values())

    @property
    def reconciles(self) -> bool:
        return self.opening + self.increase_total - self.decrease_total == self.closing

    def add(self, figure: str, count: int) -> None:
        group, _, key = figure.partition("|")
        if group == "opening":
            self.opening += count
        elif group == "closing":
            self.closing += count
        else:
            {"increase": self.increases, "decrease": self.decreases, "memo": self.memo}[group][
                key
            ] += count


def _balance_rolls(root: Unit, dialect: str, figure: str, day: date, within=None):
    """The members on the rolls of the subtree on `day`."""
    unit = aliased(Unit)
    return (
        select(
            *_rolls_row(
                MemberPeriod.member_id,
                literal(day, Date),
                _line_of(unit.path, root, dialect),
                literal(figure),
            )
        )
        .join(unit, unit.id == MemberPeriod.unit_id)
        .where(_under(unit.path, root, within), on_rolls(day))
    )


def _boundary_rolls(
    root: Unit, dialect: str, start: date, end: date, *, entering: bool, within=None
):
    """The periods in the subtree that start (or end) between start and end with no period
    of the member right before (or after) them, named by the non-cancelled entering (or
    leaving) event of that day: the member came onto (or left) the rolls there."""
    period, neighbour, event = aliased(MemberPeriod), aliased(MemberPeriod), aliased(MemberEvent)
    unit = aliased(Unit)
    day = period.starts_on if entering else period.ends_on
    touching = neighbour.ends_on if entering else neighbour.starts_on
    kinds = INCREASE_KINDS if entering else DECREASE_KINDS
    kind = case((event.kind.in_(kinds), event.kind), else_=literal("other"))
    return (
        select(
            *_rolls_row(
                period.member_id,
                day,
                _line_of(unit.path, root, dialect),
                literal("increase|" if entering else "decrease|").concat(kind),
            )
        )
        .select_from(period)
        .join(unit, unit.id == period.unit_id)
        .outerjoin(
            event,
            and_(
                event.member_id == period.member_id,
                event.effective_on == day,
                event.kind.in_(ENTERING_EVENTS if entering else LEAVING_EVENTS),
                not_reversed(event),
            ),
        )
        .where(
            _under(unit.path, root, within),
            day.between(start, end),
            ~exists().where(neighbour.member_id == period.member_id, touching == day),
        )
    )


def _crossing_rolls(moves, out_figure: str, in_figure: str):
    """From (member_id, day, from_line, to_line) rows with at least one end inside: the
    line left counts `out_figure`, the line entered `in_figure` (moves inside one line are
    no movement of it); the total counts only what crosses the subtree's boundary."""
    distinct = moves.c.from_line.is_distinct_from(moves.c.to_line)
    return [
        select(
            *_rolls_row(
                moves.c.member_id,
                moves.c.day,
                moves.c.to_line,
                literal(in_figure),
                moves.c.from_line.is_(None),
            )
        ).where(moves.c.to_line.is_not(None), distinct),
        select(
            *_rolls_row(
                moves.c.member_id,
                moves.c.day,
                moves.c.from_line,
                literal(out_figure),
                moves.c.to_line.is_(None),
            )
        ).where(moves.c.from_line.is_not(None), distinct),
    ]


def movement_rolls(
    session: Session,
    root: Unit,
    start: date,
    end: date,
    only: str | None = None,
    within: str | None = None,
):
    """The rolls of the increase/decrease report over start..end (both included); with
    `only` (a figure key), just the parts that can hold that figure."""
    dialect = session.get_bind().dialect.name
    parts = []
    if _wanted(only, "opening"):
        parts.append(_balance_rolls(root, dialect, "opening", start - timedelta(days=1), within))
    if _wanted(only, "closing"):
        parts.append(_balance_rolls(root, dialect, "closing", end, within))
    # Periods starting with no period just before: the member came onto the rolls here;
    # periods ending with no period right after: the member left the rolls.
    if _wanted(only, "increase"):
        parts.append(_boundary_rolls(root, dialect, start, end, entering=True, within=within))
    if _wanted(only, "decrease"):
        parts.append(_boundary_rolls(root, dialect, start, end, entering=False, within=within))
    if _wanted(only, "increase") or _wanted(only, "decrease"):
        # A period followed by one in another unit: an official transfer inside this instance.
        before, after = aliased(MemberPeriod), aliased(MemberPeriod)
        left, entered = aliased(Unit), aliased(Unit)
        moves = (
            select(
                before.member_id.label("member_id"),
                after.starts_on.label("day"),
                _lined(left.path, root, dialect).label("from_line"),
                _lined(entered.path, root, dialect).label("to_line"),
            )
            .join(
                after, and_(after.member_id == before.member_id, after.starts_on == before.ends_on)
            )
            .join(left, left.id == before.unit_id)
            .join(entered, entered.id == after.unit_id)
            .where(
                after.starts_on.between(start, end),
                after.unit_id != before.unit_id,
                or_(
                    _under(left.path, root, within),
                    _under(entered.path, root, within),
                ),
            )
            .subquery("moves")
        )
        parts += _crossing_rolls(moves, "decrease|transfer_within", "increase|transfer_within")
    if _wanted(only, "memo"):
        # Memo columns, outside the balance: recognitions and temporary transfers.
        current, event, unit = aliased(MemberPeriod), aliased(MemberEvent), aliased(Unit)
        parts.append(
            select(
                *_rolls_row(
                    current.member_id,
                    current.starts_on,
                    _line_of(unit.path, root, dialect),
                    literal("memo|official_recognition"),
                )
            )
            .join(unit, unit.id == current.unit_id)
            .join(
                event,
                and_(
                    event.member_id == current.member_id,
                    event.effective_on == current.starts_on,
                    event.kind == EventKind.OFFICIAL_RECOGNITION,
                    not_reversed(event),
                ),
            )
            .where(
                _under(unit.path, root, within),
                current.starts_on.between(start, end),
            )
        )
        # A temporary stay starts with a temporary transfer, from home or straight on from
        # another host: each is an introduction by the home cell to a host (docs/decisions.md).
        # Other events during the stay (a recognition, an exemption) split its period too, so
        # the stay's periods are told apart by that event, not by a host on the period before.
        stay, introduction = aliased(MemberPeriod), aliased(MemberEvent)
        home, host = aliased(Unit), aliased(Unit)
        stays = (
            select(
                stay.member_id.label("member_id"),
                stay.starts_on.label("day"),
                _lined(home.path, root, dialect).label("from_line"),
                _lined(host.path, root, dialect).label("to_line"),
            )
            .join(home, home.id == stay.unit_id)
            .outerjoin(host, host.id == stay.host_unit_id)
            .where(
                stay.starts_on.between(start, end),
                or_(stay.host_unit_id.is_not(None), stay.away.is_(True)),
                or_(
                    _under(home.path, root, within),
                    _under(host.path, root, within),
                ),
                exists().where(
                    introduction.member_id == stay.member_id,
                    introduction.effective_on == stay.starts_on,
                    introduction.kind == EventKind.TEMPORARY_TRANSFER,
                    not_reversed(introduction),
                ),
            )
            .subquery("stays")
        )
        parts += _crossing_rolls(stays, "memo|temporary_out", "memo|temporary_in")
    return union_all(*parts)


def increase_decrease(session: Session, root: Unit, start: date, end: date) -> list[MovementLine]:
    """One line per group and a last total line, for the period start..end (both included);
    the total line carries the movements between the lines (`between_lines`). Counted from
    `movement_rolls`, the rows the drill-down lists."""
    groups = UnitGroups(session, root)
    lines = {group.unit_id: MovementLine(group) for group in groups.groups}
    between = MovementLine(None)
    total = MovementLine(None, between_lines=between)
    for (line, figure, in_total), count in count_rolls(
        session, movement_rolls(session, root, start, end)
    ).items():
        lines[int(line) if line else root.id].add(figure, count)
        (total if in_total else between).add(figure, count)
    result = [
        line for line in lines.values() if _has_figures(line) or line.group.unit_id != root.id
    ]
    return [*result, total]


def _has_figures(line: MovementLine) -> bool:
    return bool(line.opening or line.closing or line.increases or line.decreases or line.memo)


# ---------------------------------------------------------------- quality analysis


@dataclass(frozen=True)
class Dimension:
    key: str
    title: str  # Vietnamese, as printed


DIMENSIONS = (
    Dimension("sex", "Giới tính"),
    Dimension("age", "Độ tuổi"),
    Dimension("ethnicity", "Dân tộc"),
    Dimension("religion", "Tôn giáo"),
    Dimension("general_education", "Giáo dục phổ thông"),
    Dimension("professional_level", "Trình độ chuyên môn nghiệp vụ"),
    Dimension("political_theory", "Lý luận chính trị"),
    Dimension("occupation", "Nghề nghiệp"),
    Dimension("party_age", "Tuổi đảng"),
)
AGE_BANDS = (
    (30, "Đến 30 tuổi"),
    (40, "Từ 31 đến 40 tuổi"),
    (50, "Từ 41 đến 50 tuổi"),
    (60, "Từ 51 đến 60 tuổi"),
    (70, "Từ 61 đến 70 tuổi"),
)
AGE_OVER = "Trên 70 tuổi"
PARTY_AGE_BANDS = (
    (10, "Dưới 10 năm"),
    (20, "Từ 10 đến dưới 20 năm"),
    (30, "Từ 20 đến dưới 30 năm"),
    (40, "Từ 30 đến dưới 40 năm"),
    (50, "Từ 40 đến dưới 50 năm"),
)
PARTY_AGE_OVER = "Từ 50 năm trở lên"
PROBATIONARY = "Đảng viên dự bị"
NOT_DECLARED = "Chưa khai"
# Dimensions that are a column of the member record, counted by its value.
ATTRIBUTE_DIMENSIONS = (
    "sex",
    "ethnicity",
    "religion",
    "general_education",
    "professional_level",
    "political_theory",
    "occupation",
)
SEX_NAMES = {"male": "Nam", "female": "Nữ"}


def _age_band(birth_date, as_of: date):
    """Age on `as_of` in bands, as a CASE over birth-date thresholds (portable SQL):
    a member is at most N years old when born after as_of minus N+1 years."""
    whens = [(birth_date > add_years(as_of, -(limit + 1)), label) for limit, label in AGE_BANDS]
    return case(*whens, else_=AGE_OVER)


def _party_age_band(standing, party_age_from, as_of: date):
    """Party age in bands from the date it counts from in the period current on `as_of`
    (the interruptions before that period already added)."""
    whens = [(party_age_from > add_years(as_of, -limit), label) for limit, label in PARTY_AGE_BANDS]
    return case(
        (standing == "probationary", PROBATIONARY),
        (party_age_from.is_(None), NOT_DECLARED),
        *whens,
        else_=PARTY_AGE_OVER,
    )


def _dimension_expression(key: str, rolls, as_of: date):
    if key == "age":
        return _age_band(rolls.c.birth_date, as_of)
    if key == "party_age":
        return _party_age_band(rolls.c.standing, rolls.c.party_age_from, as_of)
    return func.coalesce(func.nullif(rolls.c[key], ""), NOT_DECLARED)


@dataclass
class QualityFigures:
    groups: list[Group]
    totals: Counter  # group id → members on the rolls
    # (dimension key, category) → {group id: count}; categories in print order per dimension
    counts: dict[str, dict[str, Counter]]

    def categories(self, key: str) -> list[str]:
        return list(self.counts[key])


def _category_order(session: Session, key: str, found: Iterable[str]) -> list[str]:
    if key == "age":
        fixed = [label for _, label in AGE_BANDS] + [AGE_OVER]
    elif key == "party_age":
        fixed = (
            [PROBATIONARY]
            + [label for _, label in PARTY_AGE_BANDS]
            + [PARTY_AGE_OVER, NOT_DECLARED]
        )
    elif key == "sex":
        fixed = list(SEX_NAMES)
    else:
        fixed = session.scalars(
            select(CatalogueEntry.name)
            .where(CatalogueEntry.kind == key)
            .order_by(CatalogueEntry.position, CatalogueEntry.name)
        ).all()
    found = set(found)
    ordered = [name for name in fixed if name in found]
    rest = sorted(found - set(ordered), key=lambda name: (name == NOT_DECLARED, name))
    return ordered + rest


def _line_of(path, root: Unit, dialect: str):
    """The report line of a unit in SQL: the id of the root's child on the unit's path
    ("" for the root itself), so counts can be grouped by line in the database."""
    rest = func.substr(path, len(root.path) + 1)
    slash = func.strpos(rest, "/") if dialect == "postgresql" else func.instr(rest, "/")
    return case((path == root.path, ""), else_=func.substr(rest, 1, slash - 1))


def line_expression(path, root: Unit, dialect: str):
    """The report line of a unit's path in SQL ("" for the root itself, else the id of the
    root's child the unit lies under): for grouping other tables by a report's lines."""
    return _line_of(path, root, dialect)


def quality_rolls(session: Session, root: Unit, as_of: date, within: str | None = None):
    """The day's rolls of the subtree with what the quality analysis counts them by: one
    row per member, its report line ("" for the root) and the dimensions' inputs. The
    figures and the lists of members behind them (drill-down) both read this."""
    line = _line_of(Unit.path, root, session.get_bind().dialect.name)
    return (
        select(
            Member.id.label("member_id"),
            line.label("line"),
            MemberPeriod.standing,
            MemberPeriod.party_age_from,
            Member.birth_date,
            *(getattr(Member, key) for key in ATTRIBUTE_DIMENSIONS),
        )
        .join(Member, Member.id == MemberPeriod.member_id)
        .join(Unit, Unit.id == MemberPeriod.unit_id)
        .where(_under(Unit.path, root, within), on_rolls(as_of))
    )


def quality_members(
    session: Session, root: Unit, as_of: date, key: str | None, category: str | None, group
):
    """The ids of the members behind one figure of `quality`: dimension `key` (None: the
    total) with value `category`, on the line of `group` (a unit id; None: the whole)."""
    within = None
    if group is not None:
        within = line_path(root, "" if group == root.id else str(group), session)
    rolls = quality_rolls(session, root, as_of, within).subquery("rolls")
    query = select(rolls.c.member_id)
    if group is not None:
        query = query.where(rolls.c.line == ("" if group == root.id else str(group)))
    if key is not None:
        query = query.where(_dimension_expression(key, rolls, as_of) == category)
    return query


def quality(session: Session, root: Unit, as_of: date) -> QualityFigures:
    """Members on the rolls of the subtree on `as_of`, counted by each dimension. Attributes
    (education, occupation …) are the record's current values; ages are on `as_of`.

    One statement: the day's rolls are read once (a CTE) and counted per dimension and
    report line by a UNION ALL of GROUP BYs, so the ledger periods are not scanned once per
    dimension and only a few hundred counts come back."""
    groups = UnitGroups(session, root)
    rolls = quality_rolls(session, root, as_of).cte("rolls")
    parts = [
        select(literal("total"), rolls.c.line, literal("n"), func.count()).group_by(rolls.c.line)
    ]
    for dimension in DIMENSIONS:
        expression = _dimension_expression(dimension.key, rolls, as_of)
        parts.append(
            select(literal(dimension.key), rolls.c.line, expression, func.count()).group_by(
                rolls.c.line, expression
            )
        )
    by_dimension: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for key, line_id, category, count in session.execute(union_all(*parts)):
        group = int(line_id) if line_id else root.id
        by_dimension[key][category][group] += count
    totals = Counter(by_dimension["total"]["n"])
    counts = {
        dimension.key: {
            category: by_dimension[dimension.key][category]
            for category in _category_order(session, dimension.key, by_dimension[dimension.key])
        }
        for dimension in DIMENSIONS
    }
    return QualityFigures(groups=groups.groups, totals=totals, counts=counts)


# ---------------------------------------------------------------- commendation, discipline


@dataclass(frozen=True)
class RecordLine:
    group_id: int
    kind: str  # "commendation" | "discipline"
    member_name: str
    member_number: str
    unit_name: str
    decided_on: date
    form: str
    level: str
    decision_number: str
    reason: str


RECORD_KINDS = ("commendation", "discipline")
RECORD_FIGURES = {kind: None for kind in RECORD_KINDS}  # keys: the forms (data)


def _record_sources():
    return (
        ("commendation", Commendation, Commendation.awarded_on),
        ("discipline", Discipline, Discipline.decided_on),
    )


def record_rolls(
    session: Session,
    root: Unit,
    start: date,
    end: date,
    only: str | None = None,
    within: str | None = None,
):
    """Commendations and disciplinary decisions dated start..end of members who were on
    the rolls of the subtree on that date or left them that day, one row per decision on
    the line of the unit that held the member: figure "commendation|<form>" or
    "discipline|<form>"."""
    dialect = session.get_bind().dialect.name
    parts = []
    for kind, model, day in _record_sources():
        if not _wanted(only, kind):
            continue
        unit = aliased(Unit)
        parts.append(
            select(
                *_rolls_row(
                    model.member_id,
                    day,
                    _line_of(unit.path, root, dialect),
                    literal(kind + "|").concat(func.coalesce(model.form, "")),
                )
            )
            .select_from(model)
            .join(MemberPeriod, on_rolls_or_leaving(model.member_id, day))
            .join(unit, unit.id == MemberPeriod.unit_id)
            .where(day.between(start, end), _under(unit.path, root, within))
        )
    return union_all(*parts)


def commendations_and_discipline(
    session: Session, root: Unit, start: date, end: date
) -> tuple[list[Group], list[RecordLine], dict[str, Counter]]:
    """Commendations and disciplinary decisions dated start..end of members who were on
    the rolls of the subtree on that date or left them that day: the lines (by group, kind,
    date, name) and the counts by (kind, form), counted from `record_rolls`."""
    groups = UnitGroups(session, root)
    lines: list[RecordLine] = []
    for kind, model, day in _record_sources():
        query = (
            select(
                MemberPeriod.unit_id,
                func.coalesce(Member.name_in_use, Member.birth_name),
                Member.member_number,
                Unit.name,
                day,
                model.form,
                func.coalesce(model.level, ""),
                func.coalesce(model.decision_number, ""),
                func.coalesce(model.reason, ""),
            )
            .join(Member, Member.id == model.member_id)
            .join(MemberPeriod, on_rolls_or_leaving(model.member_id, day))
            .join(Unit, Unit.id == MemberPeriod.unit_id)
            .where(day.between(start, end), MemberPeriod.unit_id.in_(groups.subtree()))
            .order_by(Unit.code, day, Member.sort_key, model.id)
        )
        for row in session.execute(query):
            group = groups(row[0])
            lines.append(RecordLine(group, kind, *row[1:]))
    counts: dict[str, Counter] = {kind: Counter() for kind in RECORD_KINDS}
    for (_line, figure, _in_total), count in count_rolls(
        session, record_rolls(session, root, start, end)
    ).items():
        kind, _, form = figure.partition("|")
        counts[kind][form] += count
    position = {group.unit_id: index for index, group in enumerate(groups.groups)}
    lines.sort(
        key=lambda line: (
            position[line.group_id],
            line.kind != "commendation",
        )
    )
    return groups.groups, lines, counts


# ---------------------------------------------------------------- record completeness


@dataclass(frozen=True)
class IncompleteRecord:
    group_id: int
    unit_name: str
    member_name: str
    member_number: str
    completeness: str
    missing_fields: str
    member_id: int | None = None


COMPLETENESS_LEVELS = ("four_page", "one_page", "incomplete")
COMPLETENESS_FIGURES = {"level": COMPLETENESS_LEVELS}


def completeness_rolls(
    session: Session, root: Unit, only: str | None = None, within: str | None = None
):
    """Members on the rolls now (their records as they are today), one row each on the
    line of their unit: figure "level|<completeness>"."""
    unit = aliased(Unit)
    return (
        select(
            *_rolls_row(
                Member.id,
                None,
                _line_of(unit.path, root, session.get_bind().dialect.name),
                literal("level|").concat(func.coalesce(Member.completeness, "")),
            )
        )
        .join(unit, unit.id == Member.unit_id)
        .where(_under(unit.path, root, within), Member.status.in_(ON_THE_ROLLS))
    )


def completeness_by_group(
    session: Session, root: Unit, also_listed: ColumnElement[bool] | None = None
) -> tuple[list[Group], dict[int, Counter], list[IncompleteRecord]]:
    """Members on the rolls now: counts by completeness level per group (from
    `completeness_rolls`), and the records that are not 4-page with what they miss (and,
    with `also_listed`, the 4-page records that meet that condition too: e.g. a required
    dossier document is missing)."""
    groups = UnitGroups(session, root)
    in_scope = and_(Member.unit_id.in_(groups.subtree()), Member.status.in_(ON_THE_ROLLS))
    counts: dict[int, Counter] = defaultdict(Counter)
    for (line, figure, _in_total), count in count_rolls(
        session, completeness_rolls(session, root)
    ).items():
        counts[int(line) if line else root.id][figure.partition("|")[2]] += count
    incomplete = [
        IncompleteRecord(groups(row[0]), *row[1:])
        for row in session.execute(
            select(
                Member.unit_id,
                Unit.name,
                func.coalesce(Member.name_in_use, Member.birth_name),
                Member.member_number,
                Member.completeness,
                func.coalesce(Member.missing_fields, ""),
                Member.id,
            )
            .join(Unit, Unit.id == Member.unit_id)
            .where(
                in_scope,
                Member.completeness != "four_page"
                if also_listed is None
                else or_(Member.completeness != "four_page", also_listed),
            )
            .order_by(Unit.code, Member.sort_key, Member.id)
        )
    ]
    return groups.groups, counts, incomplete


# ---------------------------------------------------------------- cards and badges

CARD_BADGE_FIGURES = {
    "cards_issued": ("kept", "withdrawn"),
    "card_proposals": (),
    "needing_card": (),
    "badges_awarded": (),
    "badge_proposals": (),
    "badge_eligible": (),
}
WAITING_BADGE_STATES = ("proposed", "approved")


def card_badge_rolls(
    session: Session,
    root: Unit,
    start: date,
    end: date,
    only: str | None = None,
    eligible: Iterable[int] | None = None,
    within: str | None = None,
):
    """The figures of the card and badge lists over start..end, one row per card, proposal,
    award or member on the line of the member's unit: cards issued in the period (kept, or
    revoked or withdrawn since), card proposals waiting, official members needing a card,
    badges awarded in the period, badge proposals waiting, and who is eligible for a badge
    on the next occasion after the period (the badge rules, a function, give their ids;
    `eligible` passes them when the caller has them already)."""
    from webapp.domain.badges import eligible_for_badges, next_occasion_after
    from webapp.domain.cards import needing_card_clause
    from webapp.models.badges import BadgeAward, BadgeProposal
    from webapp.models.cards import OPEN_PROPOSAL_STATES, CardProposal, PartyCard

    dialect = session.get_bind().dialect.name
    unit = aliased(Unit)
    line = _line_of(unit.path, root, dialect)
    inside = _under(unit.path, root, within)

    def of_members(model, day, figure, *conditions):
        query = select(*_rolls_row(Member.id, day, line, figure)).select_from(Member)
        if model is not None:
            query = query.join(model, model.member_id == Member.id)
        return query.join(unit, unit.id == Member.unit_id).where(inside, *conditions)

    parts = []
    if _wanted(only, "cards_issued"):
        kept = case(
            (PartyCard.state == "valid", "cards_issued|kept"), else_="cards_issued|withdrawn"
        )
        parts.append(
            of_members(
                PartyCard, PartyCard.issued_on, kept, PartyCard.issued_on.between(start, end)
            )
        )
    if _wanted(only, "card_proposals"):
        parts.append(
            of_members(
                CardProposal,
                None,
                literal("card_proposals"),
                CardProposal.state.in_(OPEN_PROPOSAL_STATES),
            )
        )
    if _wanted(only, "needing_card"):
        parts.append(of_members(None, None, literal("needing_card"), needing_card_clause()))
    if _wanted(only, "badges_awarded"):
        parts.append(
            of_members(
                BadgeAward,
                BadgeAward.decision_on,
                literal("badges_awarded"),
                BadgeAward.decision_on.between(start, end),
            )
        )
    if _wanted(only, "badge_proposals"):
        parts.append(
            of_members(
                BadgeProposal,
                BadgeProposal.occasion_on,
                literal("badge_proposals"),
                BadgeProposal.state.in_(WAITING_BADGE_STATES),
            )
        )
    if _wanted(only, "badge_eligible"):
        occasion = next_occasion_after(session, end)
        if eligible is None:
            found = eligible_for_badges(session, root, occasion) if occasion else []
            eligible = [e.member_id for e in found]
        ids = sorted(set(eligible))
        if not ids:
            among = false()
        elif dialect == "postgresql":  # one array parameter, not thousands
            among = Member.id == any_(literal(ids, ARRAY(Integer)))
        else:
            among = Member.id.in_(ids)
        parts.append(of_members(None, literal(occasion, Date), literal("badge_eligible"), among))
    return union_all(*parts)
