"""The leaders' dashboard: thin over webapp/domain/dashboard.py (the reports' figures),
cached per scope and day by webapp/reports/dashboard.py."""

from __future__ import annotations

from datetime import date

from flask import current_app
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from sqlalchemy import func, select

from webapp.domain.scope import scope_clause
from webapp.extensions import db
from webapp.models.member import ON_THE_ROLLS, Member
from webapp.reports.dashboard import cached_figures, compute_dashboard, request_dashboard
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
        if figures is None:
            members = db.session.scalar(
                select(func.count(Member.id)).where(
                    scope_clause(Member, scope), Member.status.in_(ON_THE_ROLLS)
                )
            )
            if members <= current_app.config["DASHBOARD_INLINE_MEMBERS"]:
                figures = compute_dashboard(scope, today.isoformat())
            else:
                request_dashboard(scope, today)
        return self.render_template(
            "dashboard/show.html",
            title=gettext("Dashboard"),
            figures=figures,
            increases=INCREASES,
            decreases=DECREASES,
        )
