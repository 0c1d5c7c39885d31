"""What travels between instances, as this instance keeps track of it (docs/sync.md):
the outbox of captured changes, the packages sent and received, and the map from a
sender's row ids to this instance's."""

from __future__ import annotations

from enum import StrEnum

from flask_appbuilder import Model
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import deferred, relationship


class OutboxOp(StrEnum):
    UPSERT = "upsert"
    DELETE = "delete"


class SyncOutbox(Model):
    """One captured change of a synced row, written in the same transaction as the change
    (webapp/domain/sync_capture.py); `package_sequence` is set once a package carries it."""

    __tablename__ = "sync_outbox"

    id = Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    table_name = Column(String(40), nullable=False)
    row_id = Column(Integer, nullable=False)
    # The member the row belongs to (a member's rows travel together), when known.
    member_id = Column(Integer)
    op = Column(String(8), nullable=False)
    created_at = Column(DateTime, nullable=False, server_default=func.now())
    package_sequence = Column(Integer)

    __table_args__ = (
        Index(
            "ix_sync_outbox_pending",
            "id",
            postgresql_where=text("package_sequence IS NULL"),
            sqlite_where=text("package_sequence IS NULL"),
        ),
    )


class PackageDirection(StrEnum):
    OUT = "out"
    IN = "in"


class PackageState(StrEnum):
    PENDING = "pending"  # sent (or written to the folder), no receipt yet
    DELIVERED = "delivered"  # the upstream's signed receipt came back
    APPLIED = "applied"  # received and applied here
    REFUSED = "refused"  # received and refused here (reason says why)


class SyncPackage(Model):
    """A package made here for the upstream (out), or received from a peer (in)."""

    __tablename__ = "sync_package"

    id = Column(Integer, primary_key=True)
    peer_id = Column(Integer, ForeignKey("sync_peer.id", ondelete="SET NULL"))
    peer = relationship("SyncPeer")
    # The sender's key as the file named it (a refused file may come from no known peer).
    sender_key = Column(String(80))
    direction = Column(String(4), nullable=False)
    kind = Column(String(12), nullable=False, default="delta")
    sequence = Column(Integer)
    state = Column(String(12), nullable=False)
    size = Column(Integer, nullable=False, default=0)
    sha256 = Column(String(64))
    counts = Column(JSON)
    reason = Column(String(500))  # msgid, translated when shown
    reason_params = Column(JSON)
    # The sealed file (out: kept until delivered, so a push can be retried).
    data = deferred(Column(LargeBinary))
    # The signed receipt (in: sent again for a duplicate; out: the one that came back).
    receipt = deferred(Column(LargeBinary))
    created_at = Column(DateTime, nullable=False, server_default=func.now())
    delivered_at = Column(DateTime)

    __table_args__ = (
        Index("ix_sync_package_peer", "peer_id", "direction", "sequence"),
        Index("ix_sync_package_state", "direction", "state"),
    )


class SyncKeyMap(Model):
    """A sender's row id (in its own database) and the row that holds it here."""

    __tablename__ = "sync_key_map"

    id = Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    peer_id = Column(Integer, ForeignKey("sync_peer.id", ondelete="CASCADE"), nullable=False)
    table_name = Column(String(40), nullable=False)
    remote_id = Column(Integer, nullable=False)
    local_id = Column(Integer, nullable=False)

    __table_args__ = (
        UniqueConstraint("peer_id", "table_name", "remote_id", name="uq_sync_key_map_remote"),
        Index("ix_sync_key_map_local", "table_name", "local_id"),
    )
