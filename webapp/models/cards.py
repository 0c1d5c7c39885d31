"""Party cards (thẻ đảng viên): proposal batches, per-member proposals, issued cards and
the counter that numbers them (DESIGN §5)."""

from __future__ import annotations

from enum import StrEnum

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import relationship


class CardReason(StrEnum):
    NEW_OFFICIAL = "new_official"  # đảng viên mới chính thức (1-TĐV)
    LOST = "lost"  # mất thẻ (2-TĐV)
    DAMAGED = "damaged"  # hỏng thẻ (3-TĐV)
    NAME_CHANGE = "name_change"  # đổi họ tên


# Reasons that need the explanation and the photo reference.
NEEDS_EXPLANATION = frozenset({CardReason.LOST, CardReason.DAMAGED})


class ProposalState(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    ISSUED = "issued"
    REVOKED = "revoked"  # the issued card was later revoked (re-issue)


OPEN_PROPOSAL_STATES = (ProposalState.PROPOSED, ProposalState.APPROVED)


class CardState(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"  # replaced by a re-issued card (lost, damaged, name change)
    WITHDRAWN = "withdrawn"  # the member left the Party


class CardProposalBatch(Model):
    """One list sent up by a unit (danh sách đề nghị cấp thẻ, 1-TĐV/1A-TĐV)."""

    __tablename__ = "card_proposal_batch"

    id = Column(Integer, primary_key=True)
    unit_id = Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False)
    unit = relationship("Unit")
    note = Column(String(500))
    proposed_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="RESTRICT"))
    proposed_by = relationship(User, foreign_keys=[proposed_by_id])
    proposed_at = Column(DateTime, nullable=False, server_default=func.now())
    proposals = relationship("CardProposal", back_populates="batch", order_by="CardProposal.id")
    version_id = Column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version_id}
    __table_args__ = (Index("ix_card_proposal_batch_unit", "unit_id"),)

    def __repr__(self) -> str:
        return f"#{self.id}"


class CardProposal(Model):
    """One member in a batch: why a card is needed, and what was decided."""

    __tablename__ = "card_proposal"

    id = Column(Integer, primary_key=True)
    batch_id = Column(
        Integer, ForeignKey("card_proposal_batch.id", ondelete="RESTRICT"), nullable=False
    )
    batch = relationship(CardProposalBatch, back_populates="proposals")
    member_id = Column(Integer, ForeignKey("member.id", ondelete="RESTRICT"), nullable=False)
    member = relationship("Member")
    reason = Column(String(20), nullable=False)
    explanation = Column(String(1000))  # how the card was lost or damaged
    photo_reference = Column(String(120))  # the 2x3 photo handed in (reference on the file)
    state = Column(String(12), nullable=False, default=ProposalState.PROPOSED)
    proposed_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="RESTRICT"))
    proposed_by = relationship(User, foreign_keys=[proposed_by_id])
    proposed_at = Column(DateTime, nullable=False, server_default=func.now())
    decided_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="RESTRICT"))
    decided_by = relationship(User, foreign_keys=[decided_by_id])
    decided_at = Column(DateTime)
    comment = Column(String(1000))
    issued_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="RESTRICT"))
    issued_by = relationship(User, foreign_keys=[issued_by_id])
    issued_at = Column(DateTime)
    card_id = Column(Integer, ForeignKey("party_card.id", ondelete="RESTRICT"))
    card = relationship("PartyCard", foreign_keys=[card_id])
    version_id = Column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version_id}
    __table_args__ = (
        Index("ix_card_proposal_batch", "batch_id"),
        Index("ix_card_proposal_member", "member_id", "state"),
        Index("ix_card_proposal_state", "state"),
    )

    def __repr__(self) -> str:
        return f"#{self.id}"


class PartyCard(Model):
    """A card in the registry: issued here, or held already when the member was entered
    (the date may then be unknown). Its number is never given to another card, even once
    revoked; a member has at most one valid card, and the member record's card number is
    always one of the member's own cards here (the foreign key on member)."""

    __tablename__ = "party_card"

    id = Column(Integer, primary_key=True)
    member_id = Column(Integer, ForeignKey("member.id", ondelete="RESTRICT"), nullable=False)
    member = relationship("Member")
    number = Column(String(9), nullable=False, unique=True)
    issued_on = Column(Date)
    state = Column(String(12), nullable=False, default=CardState.VALID)
    ended_on = Column(Date)
    end_note = Column(String(500))
    version_id = Column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version_id}
    __table_args__ = (
        Index("ix_party_card_member", "member_id", "state"),
        # The target of member's (id, card_number) foreign key (migration 0011).
        UniqueConstraint("member_id", "number", name="uq_party_card_member_number"),
        Index(
            "ux_party_card_one_valid",
            "member_id",
            unique=True,
            postgresql_where=text("state = 'valid'"),
            sqlite_where=text("state = 'valid'"),
        ),
    )

    def __repr__(self) -> str:
        return self.number


class CardNumberCounter(Model):
    """The last serial handed out per prefix; locked FOR UPDATE while numbering."""

    __tablename__ = "card_number_counter"

    prefix = Column(String(2), primary_key=True)
    last_serial = Column(Integer, nullable=False, default=0)
