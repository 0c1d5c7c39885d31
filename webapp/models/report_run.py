"""Durable record of a report request; the RQ job only carries this row's id."""

from __future__ import annotations

from enum import StrEnum

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import relationship


class ReportState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_STATES = (ReportState.QUEUED, ReportState.RUNNING)


class ReportRun(Model):
    __tablename__ = "report_run"

    id = Column(Integer, primary_key=True)
    report = Column(String(40), nullable=False)  # e.g. "member-list"
    output_format = Column(String(8), nullable=False)  # "pdf" | "xlsx"
    unit_id = Column(Integer, ForeignKey("unit.id", ondelete="CASCADE"), nullable=False)
    unit = relationship("Unit")
    parameters = Column(JSON, nullable=False, default=dict)
    # Same report with the same parameters by the same person: one render at a time.
    dedupe_key = Column(String(64), nullable=False, index=True)
    state = Column(String(12), nullable=False, default=ReportState.QUEUED)
    job_id = Column(String(64))
    file_name = Column(String(255))
    file_path = Column(String(500))
    row_count = Column(Integer)
    error = Column(Text)
    requested_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    requested_by = relationship(User)
    created_at = Column(DateTime, nullable=False, server_default=func.now())
    started_at = Column(DateTime)
    finished_at = Column(DateTime)

    __table_args__ = (Index("ix_report_run_requester", "requested_by_id", "created_at"),)

    @property
    def seconds_taken(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None
