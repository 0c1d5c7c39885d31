"""Aggregate reports on screen, each figure a link to the members behind it (drill-down).

The figures come from the reports' own functions (webapp/domain/report_figures.py) and
each list from the same rolls with the figure's own condition (`quality_members`), so a
list's length is its figure. A tampered unit, line or category answers 404.
"""

from __future__ import annotations

import io
from datetime import date

from flask import abort, request, send_file, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from sqlalchemy import func, select

from webapp.domain.dashboard import roots_of
from webapp.domain.dates import parse_date
from webapp.domain.errors import NotFound, ValidationFailed
from webapp.domain.report_figures import DIMENSIONS, SEX_NAMES, quality, quality_members
from webapp.domain.scope import find_in_scope
from webapp.extensions import db
from webapp.labels import format_date
from webapp.models.member import Member
from webapp.models.unit import Unit
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


class ReportScreenView(BaseView):
    route_base = "/reports/screen"
    default_view = "quality"
    base_permissions = ["can_quality", "can_members"]

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

    def _xlsx(self, members):
        """The list as a plain data file, written by the reports' own XLSX writer (text
        that a spreadsheet would run as a formula stays text)."""
        import tempfile
        from pathlib import Path

        from webapp.reports.document import TEXT, Column, DataTable, Section, TableReport
        from webapp.reports.spreadsheet import write_xlsx

        rows = (
            [
                m.member_number,
                m.display_name,
                format_date(m.birth_date),
                m.unit.code if m.unit else "",
            ]
            for m in members
        )
        columns = [
            Column("Số lý lịch", TEXT, 12),
            Column("Họ và tên", TEXT, 30),
            Column("Ngày sinh", TEXT, 12),
            Column("Đơn vị", TEXT, 16),
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
