"""The leaders' dashboard: thin over webapp/domain/dashboard.py (the reports' figures),
cached per scope and day by webapp/reports/dashboard.py."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from flask import current_app, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from sqlalchemy import func, select

from webapp.domain.scope import scope_clause
from webapp.extensions import db
from webapp.models.member import ON_THE_ROLLS, Member
from webapp.reports.dashboard import (
    cached_figures,
    compute_dashboard,
    latest_figures,
    refresh_dashboard,
    request_dashboard,
)
from webapp.reports.document import INTEGER, format_cell
from webapp.reports.increase_decrease import DECREASES, INCREASES
from webapp.security import current_requester


class DashboardView(BaseView):
    route_base = "/dashboard"
    default_view = "show"
    base_permissions = ["can_show"]

    @expose("/")
    @has_access
    @permission_name("show")
    def show(self):
        scope = current_requester().scope
        today = date.today()
        figures = cached_figures(scope, today)
        computed_at = None  # set when the figures shown are older than the last change
        if figures is None:
            members = db.session.scalar(
                select(func.count(Member.id)).where(
                    scope_clause(Member, scope), Member.status.in_(ON_THE_ROLLS)
                )
            )
            if members <= current_app.config["DASHBOARD_INLINE_MEMBERS"]:
                figures = compute_dashboard(scope, today.isoformat())
            else:
                # A large scope: today's last figures while a worker refreshes them.
                figures, computed_at = latest_figures(scope, today)
                if figures is None:
                    request_dashboard(scope, today)
                else:
                    refresh_dashboard(scope, today)
        return self.render_template(
            "dashboard/show.html",
            title=gettext("Dashboard"),
            figures=figures,
            computed_at=computed_at,
            units=unit_rows(figures) if figures else [],
            charts=chart_data(figures) if figures else {},
            increases=INCREASES,
            decreases=DECREASES,
        )


class UnitRow(NamedTuple):
    """A row of the table by unit, as the template writes it: numbers formatted, links
    built (a province's table has ~600 rows, 4 links each; one url_for per link was a
    third of the page's time)."""

    code: str
    name: str
    address: str
    members: str
    members_count: int
    members_address: str | None
    moves: tuple[tuple[str, int, str | None], ...]  # (text, count, address) per kind


PLACEHOLDER = "0000000000"


def unit_rows(figures: dict) -> list[UnitRow]:
    root, day = figures.get("root_id"), figures["day"]
    show = url_for("UnitModelView.show", pk=int(PLACEHOLDER))
    if root:
        members = url_for("ReportScreenView.members", unit=root, as_of=day, group=PLACEHOLDER)
        period = {"from": f"{day[:4]}-01-01", "to": day}
        moves = {
            key: url_for(
                "ReportScreenView.figure",
                report="increase-decrease",
                unit=root,
                line=PLACEHOLDER,
                figure=key,
                **period,
            )
            for key in ("increase", "decrease")
        }
    rows = []
    for unit in figures["units"]:
        unit_id = str(unit["id"])
        counts = (("increase", unit["increases"]), ("decrease", unit["decreases"]))
        rows.append(
            UnitRow(
                code=unit["code"],
                name=unit["name"],
                address=show.replace(PLACEHOLDER, unit_id),
                members=thousands(unit["members"]),
                members_count=unit["members"] or 0,
                members_address=members.replace(PLACEHOLDER, unit_id) if root else None,
                moves=tuple(
                    (
                        thousands(value),
                        value or 0,
                        moves[key].replace(PLACEHOLDER, unit_id) if root and value else None,
                    )
                    for key, value in counts
                ),
            )
        )
    return rows


def chart_data(figures: dict) -> dict:
    """What the charts draw (webapp/static/js/dashboard.js): not the table by unit."""
    keys = ("this_year", "last_year", "pyramid", "dimensions", "composition")
    return {key: figures[key] for key in keys if key in figures}


def thousands(value: int | None) -> str:
    """1234567 → "1.234.567", as the reports print counts."""
    return format_cell(value or 0, INTEGER)
