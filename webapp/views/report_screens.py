"""Aggregate reports on screen, each figure a link to the members behind it (drill-down).

The figures come from the reports' own functions (webapp/domain/report_figures.py) and
each list from the same rolls with the figure's own condition (`quality_members`,
`figure_rows`), so a list's length is its figure. The lists are paginated in SQL and
counted by one query. A tampered unit, line, column or category answers 404.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import abort, request, send_file, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from webapp.domain.dashboard import roots_of
from webapp.domain.dates import parse_date
from webapp.domain.errors import NotFound, ValidationFailed
from webapp.domain.report_figures import (
    ALL_LINES,
    BETWEEN,
    CARD_BADGE_FIGURES,
    COMPLETENESS_FIGURES,
    COMPLETENESS_LEVELS,
    DIMENSIONS,
    MOVEMENT_FIGURES,
    RECORD_FIGURES,
    RECORD_KINDS,
    ROOT_LINE,
    SEX_NAMES,
    TOTAL,
    UnitGroups,
    card_badge_rolls,
    completeness_rolls,
    count_rolls,
    figure_count,
    figure_group,
    figure_rows,
    line_path,
    movement_rolls,
    quality,
    quality_members,
    record_rolls,
)
from webapp.domain.scope import find_in_scope
from webapp.extensions import db
from webapp.labels import format_date
from webapp.models.member import Member
from webapp.models.unit import Unit
from webapp.reports import REPORTS
from webapp.reports.spec import check_parameters
from webapp.security import current_requester

PAGE_SIZE = 50
DIMENSION_KEYS = {d.key for d in DIMENSIONS}


def _unit_and_day() -> tuple[Unit, date]:
    requester = current_requester()
    raw = request.args.get("unit", "")
    if not raw:  # the user's own unit (the first top unit for an Admin)
        roots = roots_of(db.session, requester.scope)
        if not roots:
            abort(404)
        unit = roots[0]
    elif not (raw.isascii() and raw.isdigit() and len(raw) < 10):
        abort(404)
    else:
        try:
            unit = find_in_scope(db.session, Unit, int(raw), requester.scope)
        except NotFound:
            abort(404)
    try:
        day = parse_date(request.args.get("as_of") or None, "as_of") or date.today()
    except ValidationFailed:
        abort(404)
    return unit, day


# ---------------------------------------------------------------- the other reports


@dataclass(frozen=True)
class ScreenColumn:
    key: str  # a figure key or a group of keys of the report's rolls
    label: str
    header: str | None = None  # the group header above the column


@dataclass(frozen=True)
class Screen:
    """An aggregate report on screen: lines × columns of figures from its rolls."""

    name: str  # the report's name (webapp/reports REPORTS), as in the URL
    title: str  # msgid
    # (session, unit, start, end, only, within) → the rolls query
    rolls: Callable[..., Any]
    figures: dict[str, tuple[str, ...] | None]  # figure group → its keys (None: data)
    columns: Callable[..., list[ScreenColumn]]  # (session, counts, start, end) → columns
    period: bool = True  # from–to; else the records as they are today
    between: bool = False  # the sum of the lines and the movements between them
    no_balance: tuple[str, ...] = ()  # figure groups left blank on the "between" line


def _movement_columns(session, counts, start, end) -> list[ScreenColumn]:
    from webapp.reports.increase_decrease import DECREASES, INCREASES, MEMO

    return [
        ScreenColumn("opening", "Đầu kỳ"),
        *(ScreenColumn(f"increase|{key}", label, "Tăng") for key, label in INCREASES),
        ScreenColumn("increase", "Cộng", "Tăng"),
        *(ScreenColumn(f"decrease|{key}", label, "Giảm") for key, label in DECREASES),
        ScreenColumn("decrease", "Cộng", "Giảm"),
        ScreenColumn("closing", "Cuối kỳ"),
        *(ScreenColumn(f"memo|{key}", label, "Ghi chú") for key, label in MEMO),
    ]


def _record_columns(session, counts, start, end) -> list[ScreenColumn]:
    from webapp.reports.commendation_discipline import KIND_NAMES

    columns = []
    for kind in RECORD_KINDS:
        forms = sorted({figure for _, figure, _ in counts if figure_group(figure) == kind})
        columns += [ScreenColumn(f, f.partition("|")[2], KIND_NAMES[kind]) for f in forms]
        columns.append(ScreenColumn(kind, "Cộng", KIND_NAMES[kind]))
    return columns


def _completeness_columns(session, counts, start, end) -> list[ScreenColumn]:
    from webapp.reports.completeness import LEVEL_NAMES

    return [
        ScreenColumn("level", "Tổng số hồ sơ"),
        *(ScreenColumn(f"level|{level}", LEVEL_NAMES[level]) for level in COMPLETENESS_LEVELS),
    ]


def _card_badge_columns(session, counts, start, end) -> list[ScreenColumn]:
    from webapp.domain.badges import next_occasion_after
    from webapp.reports.card_badge_lists import SUMMARY_FIGURES, SUMMARY_LABELS

    occasion = next_occasion_after(session, end)
    return [ScreenColumn(key, SUMMARY_LABELS[key](occasion).strip()) for key in SUMMARY_FIGURES]


def _undated(rolls):
    def without_period(session, unit, start, end, only=None, within=None):
        return rolls(session, unit, only, within=within)

    return without_period


SCREENS = {
    screen.name: screen
    for screen in (
        Screen(
            "increase-decrease",
            "Increase and decrease of Party members",
            movement_rolls,
            MOVEMENT_FIGURES,
            _movement_columns,
            between=True,
            no_balance=("opening", "closing"),
        ),
        Screen(
            "commendation-discipline",
            "Commendations and discipline",
            record_rolls,
            RECORD_FIGURES,
            _record_columns,
        ),
        Screen(
            "cards-badges",
            "Party card and badge lists",
            card_badge_rolls,
            CARD_BADGE_FIGURES,
            _card_badge_columns,
        ),
        Screen(
            "completeness",
            "Record completeness",
            _undated(completeness_rolls),
            COMPLETENESS_FIGURES,
            _completeness_columns,
            period=False,
        ),
    )
}


def _screen_and_period(name: str) -> tuple[Screen, Unit, date, date]:
    screen = SCREENS.get(name)
    if screen is None:
        abort(404)
    unit, _ = _unit_and_day()
    today = date.today()
    if not screen.period:
        return screen, unit, today, today
    try:
        parameters = check_parameters(REPORTS[screen.name], request.args, today)
    except ValidationFailed:
        abort(404)
    return (
        screen,
        unit,
        date.fromisoformat(parameters["from"]),
        date.fromisoformat(parameters["to"]),
    )


def _line_arg(unit: Unit) -> str:
    """The `line` of a figure's link: TOTAL, BETWEEN, ALL_LINES or the id of one of the
    report's lines (the unit itself, or one of its children); anything else is a 404."""
    raw = request.args.get("line", "")
    if raw in (TOTAL, BETWEEN, ALL_LINES):
        return raw
    if not (raw.isascii() and raw.isdigit() and len(raw) < 10):
        abort(404)
    if int(raw) == unit.id:
        return ROOT_LINE
    child = db.session.get(Unit, int(raw))
    if child is None or child.parent_id != unit.id:
        abort(404)  # not a line of this report
    return str(child.id)


def _figure_arg(screen: Screen) -> tuple[str, bool]:
    """The figure key of a link, and whether it names data (a form) rather than a column
    the report always has; a key the report cannot have is a 404."""
    raw = request.args.get("figure", "")
    group, bar, key = raw.partition("|")
    if group not in screen.figures or len(raw) > 250:
        abort(404)
    keys = screen.figures[group]
    if not bar:
        return raw, False
    if keys is None:
        return raw, True
    if key not in keys:
        abort(404)
    return raw, False


def _period_args(screen: Screen, start: date, end: date) -> dict[str, str]:
    return {"from": start.isoformat(), "to": end.isoformat()} if screen.period else {}


def _screen_page(view, name: str):
    screen, unit, start, end = _screen_and_period(name)
    counts = count_rolls(db.session, screen.rolls(db.session, unit, start, end))
    columns = screen.columns(db.session, counts, start, end)
    groups = UnitGroups(db.session, unit).groups
    used = {line for line, _, _ in counts}
    lines = [
        (
            str(g.unit_id),
            f"{g.name} ({g.code})",
            ROOT_LINE if g.unit_id == unit.id else str(g.unit_id),
        )
        for g in groups
        if g.unit_id != unit.id or ROOT_LINE in used
    ]
    rows = []

    def row(line_arg, label, line, blank=()):
        cells = [
            None
            if figure_group(column.key) in blank
            else (figure_count(counts, line, column.key), column.key)
            for column in columns
        ]
        rows.append((line_arg, label, cells))

    for number, (line_arg, label, line) in enumerate(lines, start=1):
        row(line_arg, f"{number}. {label}", line)
    if screen.between and len(lines) > 1:
        row(ALL_LINES, "Cộng các dòng trên", ALL_LINES)
        row(BETWEEN, "Trong đó: chuyển giữa các đơn vị trực thuộc", BETWEEN, screen.no_balance)
    row(TOTAL, "Tổng cộng", TOTAL)
    # The table's head: a group header over its columns, the others spanning both rows.
    top: list[tuple[str, int, int]] = []
    under: list[str] = []
    for column in columns:
        if column.header is None:
            top.append((column.label, 1, 2))
        elif top and top[-1][0] == column.header and top[-1][2] == 1:
            top[-1] = (column.header, top[-1][1] + 1, 1)
            under.append(column.label)
        else:
            top.append((column.header, 1, 1))
            under.append(column.label)
    period_text = (
        gettext("from %(start)s to %(end)s", start=format_date(start), end=format_date(end))
        if screen.period
        else format_date(end)
    )
    return view.render_template(
        "reports/screen_figures.html",
        title=gettext(screen.title),
        screen=screen,
        unit=unit,
        start_text=format_date(start),
        end_text=format_date(end),
        period_text=period_text,
        top=top,
        under=under,
        rows=rows,
        link=lambda line_arg, key: url_for(
            "ReportScreenView.figure",
            report=screen.name,
            unit=unit.id,
            line=line_arg,
            figure=key,
            **_period_args(screen, start, end),
        ),
    )


class ReportScreenView(BaseView):
    route_base = "/reports/screen"
    default_view = "index"
    base_permissions = ["can_quality", "can_members", "can_screen"]

    @expose("/")
    @has_access
    @permission_name("screen")
    def index(self):
        unit, _ = _unit_and_day()
        screens = [
            (
                gettext("Party member quality analysis"),
                url_for("ReportScreenView.quality", unit=unit.id),
            )
        ] + [
            (
                gettext(screen.title),
                url_for(f"ReportScreenView.{screen.name.replace('-', '_')}", unit=unit.id),
            )
            for screen in SCREENS.values()
        ]
        return self.render_template(
            "reports/screen_index.html",
            title=gettext("Reports on screen"),
            unit=unit,
            screens=screens,
        )

    @expose("/increase-decrease")
    @has_access
    @permission_name("screen")
    def increase_decrease(self):
        return _screen_page(self, "increase-decrease")

    @expose("/commendation-discipline")
    @has_access
    @permission_name("screen")
    def commendation_discipline(self):
        return _screen_page(self, "commendation-discipline")

    @expose("/cards-badges")
    @has_access
    @permission_name("screen")
    def cards_badges(self):
        return _screen_page(self, "cards-badges")

    @expose("/completeness")
    @has_access
    @permission_name("screen")
    def completeness(self):
        return _screen_page(self, "completeness")

    @expose("/figure")
    @has_access
    @permission_name("members")
    def figure(self):
        """The members behind one figure of a report on screen: the rows of its rolls with
        the figure's condition, a page at a time (LIMIT/OFFSET in SQL, one count)."""
        screen, unit, start, end = _screen_and_period(request.args.get("report", ""))
        line = _line_arg(unit)
        key, named_by_data = _figure_arg(screen)
        if line == BETWEEN and figure_group(key) in screen.no_balance:
            abort(404)
        within = line_path(unit, line, db.session)  # one line's list reads that line only
        rolls = screen.rolls(db.session, unit, start, end, key, within=within).subquery("rolls")
        rows = figure_rows(rolls, line, key).subquery("rows")
        total = db.session.scalar(select(func.count()).select_from(rows))
        if named_by_data and not total:
            abort(404)  # no such form (or category) in this report
        query = (
            select(Member, rows.c.day)
            .join(rows, rows.c.member_id == Member.id)
            .options(joinedload(Member.unit))
            .order_by(Member.sort_key, Member.id, rows.c.day)
        )
        if request.args.get("format") == "xlsx":
            from webapp.domain.audit import Download, log_download

            log_download(
                db.session,
                current_requester(),
                Download(
                    what=f"{screen.name}-members",
                    output_format="xlsx",
                    rows=total,
                    unit_id=unit.id,
                    unit_code=unit.code,
                    parameters={
                        **_period_args(screen, start, end),
                        "line": request.args.get("line", ""),
                        "figure": key,
                    },
                    file_name="danh-sach-dang-vien.xlsx",
                ),
            )
            db.session.commit()
            return self._xlsx(db.session.execute(query).tuples(), with_day=True)
        raw_page = request.args.get("page", "1")
        page = (
            int(raw_page) if raw_page.isascii() and raw_page.isdigit() and len(raw_page) < 7 else 1
        )
        found = db.session.execute(
            query.limit(PAGE_SIZE).offset((max(page, 1) - 1) * PAGE_SIZE)
        ).all()
        column = next(
            (c for c in screen.columns(db.session, Counter(), start, end) if c.key == key), None
        )
        label = column.label if column else key.partition("|")[2]
        if column and column.header:
            label = f"{column.header}: {label}"
        group = None
        if line not in (TOTAL, BETWEEN, ALL_LINES, ROOT_LINE):
            group = db.session.get(Unit, int(line))
        return self.render_template(
            "reports/screen_figure_members.html",
            title=gettext("Members behind the figure"),
            report_title=gettext(screen.title),
            unit=unit,
            period_text=(
                gettext("from %(start)s to %(end)s", start=format_date(start), end=format_date(end))
                if screen.period
                else format_date(end)
            ),
            label=label,
            group=group,
            line=line,
            rows=[(member, format_date(day) if day else "") for member, day in found],
            total=total,
            page=page,
            pages=max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
            back_url=url_for(
                f"ReportScreenView.{screen.name.replace('-', '_')}",
                unit=unit.id,
                **_period_args(screen, start, end),
            ),
            export_url=url_for(
                "ReportScreenView.figure", **{**request.args.to_dict(), "format": "xlsx"}
            ),
            page_url=lambda p: url_for(
                "ReportScreenView.figure", **{**request.args.to_dict(), "page": p}
            ),
        )

    @expose("/quality")
    @has_access
    @permission_name("quality")
    def quality(self):
        unit, day = _unit_and_day()
        figures = quality(db.session, unit, day)
        whole = sum(figures.totals.values())
        lines = [(None, unit.code, unit.name, whole)] + [
            (g.unit_id, g.code, g.name, figures.totals[g.unit_id])
            for g in figures.groups
            if figures.totals[g.unit_id] and g.unit_id != unit.id
        ]
        rows = []
        for dimension in DIMENSIONS:
            for category, by_group in figures.counts[dimension.key].items():
                label = SEX_NAMES.get(category, category) if dimension.key == "sex" else category
                counts = [
                    sum(by_group.values()) if group is None else by_group[group]
                    for group, *_ in lines
                ]
                rows.append((dimension, category, label, counts))
        return self.render_template(
            "reports/screen_quality.html",
            title=gettext("Party member quality analysis"),
            unit=unit,
            day=day,
            day_text=format_date(day),
            lines=lines,
            rows=rows,
        )

    @expose("/members")
    @has_access
    @permission_name("members")
    def members(self):
        unit, day = _unit_and_day()
        key = request.args.get("dimension") or None
        category = request.args.get("category")
        if key is not None and (key not in DIMENSION_KEYS or category is None):
            abort(404)
        raw_group = request.args.get("group") or ""
        group = None
        if raw_group:
            if not (raw_group.isascii() and raw_group.isdigit() and len(raw_group) < 10):
                abort(404)
            group = int(raw_group)
            child = db.session.get(Unit, group)
            if child is None or (child.parent_id != unit.id and child.id != unit.id):
                abort(404)  # not a line of this report
        ids = quality_members(db.session, unit, day, key, category, group).subquery()
        query = select(Member).join(ids, ids.c.member_id == Member.id)
        total = db.session.scalar(select(func.count()).select_from(ids))
        if request.args.get("format") == "xlsx":
            from webapp.domain.audit import Download, log_download

            # A list of members' data leaves the system: logged like every report download.
            log_download(
                db.session,
                current_requester(),
                Download(
                    what="quality-members",
                    output_format="xlsx",
                    rows=total,
                    unit_id=unit.id,
                    unit_code=unit.code,
                    parameters={
                        "as_of": day.isoformat(),
                        "dimension": key or "",
                        "category": category or "",
                        "group": group or "",
                    },
                    file_name="danh-sach-dang-vien.xlsx",
                ),
            )
            db.session.commit()
            return self._xlsx(db.session.scalars(query.order_by(Member.sort_key, Member.id)))
        raw_page = request.args.get("page", "1")
        page = int(raw_page) if raw_page.isascii() and raw_page.isdigit() else 1
        members = db.session.scalars(
            query.order_by(Member.sort_key, Member.id)
            .limit(PAGE_SIZE)
            .offset((max(page, 1) - 1) * PAGE_SIZE)
        ).all()
        dimension = next((d for d in DIMENSIONS if d.key == key), None)
        label = SEX_NAMES.get(category, category) if key == "sex" else category
        return self.render_template(
            "reports/screen_members.html",
            title=gettext("Members behind the figure"),
            unit=unit,
            day_text=format_date(day),
            dimension=dimension,
            label=label,
            group=db.session.get(Unit, group) if group else None,
            members=members,
            total=total,
            page=page,
            pages=max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
            export_url=url_for(
                "ReportScreenView.members", **{**request.args.to_dict(), "format": "xlsx"}
            ),
            page_url=lambda p: url_for(
                "ReportScreenView.members", **{**request.args.to_dict(), "page": p}
            ),
        )

    def _xlsx(self, members, with_day: bool = False):
        """The list as a plain data file, written by the reports' own XLSX writer (text
        that a spreadsheet would run as a formula stays text)."""
        import tempfile
        from pathlib import Path

        from webapp.reports.document import TEXT, Column, DataTable, Section, TableReport
        from webapp.reports.spreadsheet import write_xlsx

        def cells(m, *day):
            return [
                m.member_number,
                m.display_name,
                format_date(m.birth_date),
                m.unit.code if m.unit else "",
                *(format_date(d) if d else "" for d in day),
            ]

        rows = (cells(*row) if with_day else cells(row) for row in members)
        columns = [
            Column("Số lý lịch", TEXT, 12),
            Column("Họ và tên", TEXT, 30),
            Column("Ngày sinh", TEXT, 12),
            Column("Đơn vị", TEXT, 16),
            *([Column("Ngày", TEXT, 12)] if with_day else []),
        ]
        report = TableReport(
            heading=None,
            tables=[
                DataTable(columns=columns, sections=[Section(None, rows)], sheet_name="Danh sách")
            ],
        )
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "list.xlsx"
            write_xlsx(report, path)
            data = io.BytesIO(path.read_bytes())
        return send_file(
            data,
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            as_attachment=True,
            download_name="danh-sach-dang-vien.xlsx",
        )
