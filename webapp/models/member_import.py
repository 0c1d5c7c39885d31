"""Member imports from spreadsheets: the uploaded file (kept by its hash), its dry run's
plan row by row, and whether it was committed (webapp/domain/member_import.py)."""

from __future__ import annotations

from enum import StrEnum

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import relationship


class ImportState(StrEnum):
    QUEUED = "queued"  # uploaded, dry run waiting for a worker
    RUNNING = "running"  # dry run or commit in progress
    CHECKED = "checked"  # the dry run's plan is there to read and commit
    COMMITTING = "committing"
    COMMITTED = "committed"
    FAILED = "failed"  # the file could not be read (error says why)


class ImportOutcome(StrEnum):
    NEW = "new"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    ERROR = "error"


class MemberImport(Model):
    __tablename__ = "member_import"

    id = Column(Integer, primary_key=True)
    file_name = Column(String(255), nullable=False)  # shown only
    sha256 = Column(String(64), nullable=False, index=True)
    file_path = Column(String(200), nullable=False)  # relative to DATA_DIR
    size = Column(Integer, nullable=False, default=0)
    state = Column(String(12), nullable=False, default=ImportState.QUEUED)
    # The scope the clerk had at upload (a unit path; NULL = everything).
    scope = Column(String(500))
    requested_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    requested_by = relationship(User)
    job_id = Column(String(64))
    total = Column(Integer, nullable=False, default=0)
    new_count = Column(Integer, nullable=False, default=0)
    update_count = Column(Integer, nullable=False, default=0)
    unchanged_count = Column(Integer, nullable=False, default=0)
    error_count = Column(Integer, nullable=False, default=0)
    # The dry run the clerk saw: a commit whose rows would do anything else is refused.
    plan_hash = Column(String(64))
    error = Column(Text)  # msgid of a refusal of the whole file
    error_params = Column(JSON)
    created_at = Column(DateTime, nullable=False, server_default=func.now())
    checked_at = Column(DateTime)
    committed_at = Column(DateTime)

    __table_args__ = (Index("ix_member_import_requester", "requested_by_id", "created_at"),)


class MemberImportRow(Model):
    """One row of the file in the dry run: what it would do, or what is wrong with it."""

    __tablename__ = "member_import_row"

    id = Column(Integer, primary_key=True)
    import_id = Column(Integer, ForeignKey("member_import.id", ondelete="CASCADE"), nullable=False)
    position = Column(Integer, nullable=False)
    sheet = Column(String(31), nullable=False)
    row = Column(Integer, nullable=False)
    outcome = Column(String(12), nullable=False)
    member_number = Column(String(16))
    member_id = Column(Integer, ForeignKey("member.id", ondelete="SET NULL"))
    fields = Column(JSON)  # the fields a new row sets or an update changes
    problems = Column(JSON)  # [{column, header, message, params}]

    __table_args__ = (
        Index("ix_member_import_row_import", "import_id", "position"),
        Index("ix_member_import_row_outcome", "import_id", "outcome", "position"),
    )
