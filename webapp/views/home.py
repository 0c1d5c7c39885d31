"""The home page: a small dashboard of member and unit counts."""

from __future__ import annotations

from flask_appbuilder import IndexView, expose
from flask_login import current_user
from sqlalchemy import func, select

from webapp.domain.scope import scope_clause
from webapp.extensions import db
from webapp.models.member import ON_THE_ROLLS, Member, MemberStatus
from webapp.models.unit import Unit
from webapp.security import current_scope


def dashboard_counts() -> dict[str, int]:
    """Counts inside the signed-in user's scope."""
    scope = current_scope()
    by_status = dict(
        db.session.execute(
            select(Member.status, func.count())
            .where(scope_clause(Member, scope))
            .group_by(Member.status)
        ).all()
    )
    return {
        "members": sum(by_status.get(s, 0) for s in ON_THE_ROLLS),
        "official": by_status.get(MemberStatus.OFFICIAL, 0),
        "probationary": by_status.get(MemberStatus.PROBATIONARY, 0),
        "units": db.session.scalar(
            select(func.count(Unit.id)).where(
                Unit.dissolved_on.is_(None), scope_clause(Unit, scope)
            )
        ),
    }


class HomeView(IndexView):
    index_template = "home/index.html"

    @expose("/")
    def index(self):
        self.update_redirect()
        counts = dashboard_counts() if current_user.is_authenticated else None
        return self.render_template(self.index_template, appbuilder=self.appbuilder, counts=counts)
