"""Party badges (huy hiệu Đảng): the reference data the eligibility rules read, the
proposals of a round and the awards (DESIGN §5)."""

from __future__ import annotations

from enum import StrEnum

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
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import relationship


class BadgeMilestone(Model):
    """A Party-age milestone (30 … 90 years) and how early a seriously ill member may be
    proposed for it."""

    __tablename__ = "badge_milestone"

    id = Column(Integer, primary_key=True)
    years = Column(Integer, nullable=False, unique=True)
    early_months = Column(Integer, nullable=False, default=12)
    active = Column(Boolean, nullable=False, default=True)

    def __repr__(self) -> str:
        return f"{self.years}"


class BadgeOccasion(Model):
    """A day of the year on which badges are handed over (3/2, 19/5, 2/9, 7/11)."""

    __tablename__ = "badge_occasion"

    id = Column(Integer, primary_key=True)
    month = Column(Integer, nullable=False)
    day = Column(Integer, nullable=False)
    name = Column(String(120), nullable=False)
    active = Column(Boolean, nullable=False, default=True)

    __table_args__ = (UniqueConstraint("month", "day", name="uq_badge_occasion_month_day"),)

    def __repr__(self) -> str:
        return f"{self.day}/{self.month}"


class BadgeSetting(Model):
    """Deferral after discipline, in months (one row per setting: warning, dismissal)."""

    __tablename__ = "badge_setting"

    key = Column(String(40), primary_key=True)
    months = Column(Integer, nullable=False)

    def __repr__(self) -> str:
        return self.key


class BadgeProposalKind(StrEnum):
    AUTOMATIC = "automatic"  # reaches the milestone by the occasion
    EARLY = "early"  # seriously ill, proposed ahead of the milestone
    POSTHUMOUS = "posthumous"  # truy tặng
    REISSUE = "reissue"  # cấp lại huy hiệu bị mất


class BadgeProposalState(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    AWARDED = "awarded"


OPEN_BADGE_STATES = (BadgeProposalState.PROPOSED, BadgeProposalState.APPROVED)


class BadgeProposal(Model):
    __tablename__ = "badge_proposal"

    id = Column(Integer, primary_key=True)
    member_id = Column(Integer, ForeignKey("member.id", ondelete="RESTRICT"), nullable=False)
    member = relationship("Member")
    milestone = Column(Integer, nullable=False)
    occasion_on = Column(Date, nullable=False)
    kind = Column(String(12), nullable=False, default=BadgeProposalKind.AUTOMATIC)
    reason = Column(String(1000), nullable=False)
    state = Column(String(12), nullable=False, default=BadgeProposalState.PROPOSED)
    proposed_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="RESTRICT"))
    proposed_by = relationship(User, foreign_keys=[proposed_by_id])
    proposed_at = Column(DateTime, nullable=False, server_default=func.now())
    decided_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="RESTRICT"))
    decided_by = relationship(User, foreign_keys=[decided_by_id])
    decided_at = Column(DateTime)
    comment = Column(String(1000))
    version_id = Column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version_id}
    __table_args__ = (
        Index("ix_badge_proposal_member", "member_id", "milestone"),
        Index("ix_badge_proposal_occasion", "occasion_on", "state"),
    )

    def __repr__(self) -> str:
        return f"#{self.id}"


class BadgeAward(Model):
    """A badge handed to a member; a lost badge is re-issued as a new award pointing at it."""

    __tablename__ = "badge_award"

    id = Column(Integer, primary_key=True)
    member_id = Column(Integer, ForeignKey("member.id", ondelete="RESTRICT"), nullable=False)
    member = relationship("Member")
    milestone = Column(Integer, nullable=False)
    badge_number = Column(String(20), nullable=False, unique=True)
    decision_number = Column(String(60), nullable=False)
    decision_on = Column(Date, nullable=False)
    occasion_on = Column(Date, nullable=False)
    posthumous = Column(Boolean, nullable=False, default=False)
    proposal_id = Column(Integer, ForeignKey("badge_proposal.id", ondelete="RESTRICT"))
    proposal = relationship(BadgeProposal)
    reissue_of_id = Column(Integer, ForeignKey("badge_award.id", ondelete="RESTRICT"))
    reissue_of = relationship("BadgeAward", remote_side=[id])
    lost_on = Column(Date)  # set on the original when a re-issue replaces it
    recorded_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="RESTRICT"))
    recorded_by = relationship(User, foreign_keys=[recorded_by_id])
    recorded_at = Column(DateTime, nullable=False, server_default=func.now())
    version_id = Column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version_id}
    __table_args__ = (Index("ix_badge_award_member", "member_id", "milestone"),)

    def __repr__(self) -> str:
        return self.badge_number
