"""Transfers of members between provinces (docs/sync.md, "Transfers between provinces").

A transfer out to another province's instance leaves a signed, encrypted transfer package
(the member's record, rows and history) for the partner; it stays *pending* until the
partner's signed receipt comes back and *closes* it, and is *expired* three months after it
was written. The receiving instance keeps one row per package imported, so the same file
is not imported twice.
"""

from __future__ import annotations

from enum import StrEnum

from flask_appbuilder import Model
from sqlalchemy import Column, Date, DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import relationship


class TransferState(StrEnum):
    PENDING = "pending"  # written, waiting for the partner's receipt
    CLOSED = "closed"  # the receipt came back: the member is on the partner's rolls
    EXPIRED = "expired"  # three months passed without a receipt


class OutgoingTransfer(Model):
    """A transfer package written for a partner province."""

    __tablename__ = "transfer_out"

    id = Column(Integer, primary_key=True)
    # The package's own id (a random UUID), repeated in the receipt that closes it.
    transfer_id = Column(String(36), nullable=False, unique=True)
    member_id = Column(Integer, ForeignKey("member.id", ondelete="RESTRICT"), nullable=False)
    member = relationship("Member")
    peer_id = Column(Integer, ForeignKey("sync_peer.id", ondelete="RESTRICT"), nullable=False)
    peer = relationship("SyncPeer")
    # The TRANSFER_OUT event the package was written for.
    event_id = Column(Integer, ForeignKey("member_event.id", ondelete="RESTRICT"), nullable=False)
    event = relationship("MemberEvent")
    package_sha256 = Column(String(64), nullable=False)
    package_size = Column(Integer, nullable=False)
    state = Column(String(12), nullable=False, default=TransferState.PENDING)
    created_at = Column(DateTime, nullable=False)
    expires_on = Column(Date, nullable=False)
    created_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    closed_at = Column(DateTime)
    # What the receipt says: where the member was received, and when.
    received_unit = Column(String(255))
    received_on = Column(Date)

    __table_args__ = (
        Index("ix_transfer_out_member", "member_id"),
        Index("ix_transfer_out_state", "state", "expires_on"),
    )

    def __repr__(self) -> str:
        return f"transfer {self.transfer_id}"


class IncomingTransfer(Model):
    """A transfer package imported here: a second import of the same package is refused."""

    __tablename__ = "transfer_in"

    id = Column(Integer, primary_key=True)
    transfer_id = Column(String(36), nullable=False, unique=True)
    sender_key = Column(String(80), nullable=False)
    sender_unit = Column(String(40))
    package_sha256 = Column(String(64), nullable=False)
    member_id = Column(Integer, ForeignKey("member.id", ondelete="RESTRICT"), nullable=False)
    member = relationship("Member")
    unit_id = Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False)
    unit = relationship("Unit")
    event_id = Column(Integer, ForeignKey("member_event.id", ondelete="RESTRICT"), nullable=False)
    # The member's ledger at the sender, as the package told it (JSON list), for the
    # member's page: this instance's ledger starts with the transfer in.
    history = Column(Text)
    imported_at = Column(DateTime, nullable=False, server_default=func.now())
    imported_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))

    __table_args__ = (Index("ix_transfer_in_member", "member_id"),)

    def __repr__(self) -> str:
        return f"transfer {self.transfer_id}"
