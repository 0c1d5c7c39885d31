"""SQLAlchemy models.

Every model derives from `flask_appbuilder.Model`, so the application's tables and FAB's
security tables share one MetaData: the one Alembic reads (see migrations/env.py).
"""

from flask_appbuilder import Model

from webapp.models.member import Member, MemberStatus, Sex
from webapp.models.report_run import ReportRun, ReportState
from webapp.models.unit import Unit, UnitKind

metadata = Model.metadata

__all__ = [
    "Member",
    "MemberStatus",
    "Model",
    "ReportRun",
    "ReportState",
    "Sex",
    "Unit",
    "UnitKind",
    "metadata",
]
