"""SQLAlchemy models.

Every model derives from `flask_appbuilder.Model`, so the application's tables and FAB's
security tables share one MetaData: the one Alembic reads (see migrations/env.py).
Models are plain: they import nothing from the domain, views, reports or jobs (the
import-linter contracts in pyproject.toml); the hooks that derive data on save live in
webapp/domain/tracking.py and are installed by create_app.
"""

from flask_appbuilder import Model
from sqlalchemy import String, event

from webapp.models.audit import AuditEntry
from webapp.models.badges import (
    BadgeAward,
    BadgeMilestone,
    BadgeOccasion,
    BadgeProposal,
    BadgeSetting,
)
from webapp.models.cards import CardNumberCounter, CardProposal, CardProposalBatch, PartyCard
from webapp.models.files import (
    DocumentType,
    MemberDocument,
    MemberDocumentVersion,
    MemberPhoto,
    PhotoBatch,
    PhotoBatchItem,
)
from webapp.models.ledger import MemberEvent, MemberPeriod
from webapp.models.member import Member, MemberStatus, Sex
from webapp.models.member_import import MemberImport, MemberImportRow
from webapp.models.record import (
    MEMBER_ROW_MODELS,
    CatalogueEntry,
    Commendation,
    Discipline,
    FamilyRelation,
    MemberChange,
    MemberSupplement,
    TrainingCourse,
    TripAbroad,
    WorkPeriod,
)
from webapp.models.report_run import ReportRun, ReportState
from webapp.models.sync import PeerKind, ReferenceVersion, SyncIdentity, SyncPeer
from webapp.models.sync_packages import SyncKeyMap, SyncOutbox, SyncPackage
from webapp.models.transfer import IncomingTransfer, OutgoingTransfer, TransferState
from webapp.models.unit import Unit, UnitChange, UnitChangeKind, UnitKind
from webapp.models.user import DangVienUser
from webapp.models.worklist import CheckRun, QualityScore, WorkCount, WorkItem, WorklistSetting

metadata = Model.metadata


@event.listens_for(Model, "before_insert", propagate=True)
@event.listens_for(Model, "before_update", propagate=True)
def _blank_strings_to_null(mapper, connection, target) -> None:
    """Forms send "" for an empty optional field; store NULL, so unique optional numbers
    (citizen ID, card number) do not collide on empty strings."""
    for column in mapper.columns:
        if column.nullable and isinstance(column.type, String):
            key = mapper.get_property_by_column(column).key
            value = getattr(target, key, None)
            if isinstance(value, str) and not value.strip():
                setattr(target, key, None)


__all__ = [
    "MEMBER_ROW_MODELS",
    "AuditEntry",
    "BadgeAward",
    "BadgeMilestone",
    "BadgeOccasion",
    "BadgeProposal",
    "BadgeSetting",
    "CardNumberCounter",
    "CardProposal",
    "CardProposalBatch",
    "PartyCard",
    "DangVienUser",
    "DocumentType",
    "MemberDocument",
    "MemberDocumentVersion",
    "MemberPhoto",
    "PhotoBatch",
    "PhotoBatchItem",
    "QualityScore",
    "WorkCount",
    "WorkItem",
    "WorklistSetting",
    "CatalogueEntry",
    "CheckRun",
    "Commendation",
    "Discipline",
    "FamilyRelation",
    "MemberChange",
    "MemberSupplement",
    "TrainingCourse",
    "TripAbroad",
    "WorkPeriod",
    "Member",
    "MemberEvent",
    "MemberImport",
    "MemberImportRow",
    "MemberPeriod",
    "MemberStatus",
    "Model",
    "ReportRun",
    "ReportState",
    "Sex",
    "PeerKind",
    "ReferenceVersion",
    "SyncIdentity",
    "SyncPeer",
    "SyncKeyMap",
    "SyncOutbox",
    "SyncPackage",
    "IncomingTransfer",
    "OutgoingTransfer",
    "TransferState",
    "Unit",
    "UnitChange",
    "UnitChangeKind",
    "UnitKind",
    "metadata",
]
