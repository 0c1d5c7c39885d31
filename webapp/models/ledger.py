"""The ledger: every change of a member's standing, and the periods derived from it."""

from __future__ import annotations

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import relationship


class MemberEvent(Model):
    """One movement (admission, transfer, death, …). Never updated or deleted: a wrong
    event is cancelled by a later REVERSAL event pointing at it."""

    __tablename__ = "member_event"

    id = Column(Integer, primary_key=True)
    member_id = Column(Integer, ForeignKey("member.id", ondelete="RESTRICT"), nullable=False)
    member = relationship("Member", back_populates="events")
    kind = Column(String(32), nullable=False)
    effective_on = Column(Date, nullable=False)
    decision_number = Column(String(60))  # số quyết định
    decision_on = Column(Date)  # ngày quyết định
    decided_by = Column(String(255))  # cơ quan ra quyết định
    from_unit_id = Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"))
    from_unit = relationship("Unit", foreign_keys=[from_unit_id])
    to_unit_id = Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"))
    to_unit = relationship("Unit", foreign_keys=[to_unit_id])
    # Other organisation outside this instance (transfers out/in, temporary transfers).
    other_organisation = Column(String(255))
    arriving_as = Column(String(20))
    reverses_id = Column(Integer, ForeignKey("member_event.id", ondelete="RESTRICT"))
    reverses = relationship("MemberEvent", remote_side=[id])
    note = Column(Text)
    recorded_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    recorded_by = relationship(User)
    recorded_at = Column(DateTime, nullable=False, server_default=func.now())

    __table_args__ = (
        Index("ix_member_event_member", "member_id", "effective_on"),
        Index("ix_member_event_kind_date", "kind", "effective_on"),
        Index("ix_member_event_to_unit", "to_unit_id"),
        Index("ix_member_event_from_unit", "from_unit_id"),
        # "Not cancelled" is a NOT EXISTS on reverses_id in every report query.
        Index("ix_member_event_reverses", "reverses_id"),
    )

    def __repr__(self) -> str:
        return f"{self.kind} {self.effective_on:%d/%m/%Y}"


class MemberPeriod(Model):
    """A stretch of active membership on a unit's rolls, rebuilt from the ledger on every
    event: the roll of any unit "as of" a date is one indexed query over these rows."""

    __tablename__ = "member_period"

    id = Column(Integer, primary_key=True)
    member_id = Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), nullable=False)
    unit_id = Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False)
    standing = Column(String(20), nullable=False)
    starts_on = Column(Date, nullable=False)
    ends_on = Column(Date)  # exclusive; NULL while current
    host_unit_id = Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"))
    away = Column(Boolean, nullable=False, default=False)
    activity = Column(String(12), nullable=False, default="normal")
    # Start of Party age during this period (admission moved forward by the interruptions
    # before it; constant within a period, as every earlier gap is closed); NULL while the
    # member has not been recognised official. Reports "as of" a past day read this.
    party_age_from = Column(Date)

    __table_args__ = (
        Index("ix_member_period_unit", "unit_id", "starts_on", "ends_on"),
        Index("ix_member_period_host", "host_unit_id", "starts_on"),
        Index("ix_member_period_member", "member_id"),
    )
