"""What an instance knows of itself and of the instances it exchanges packages with
(docs/sync.md). The secret half of the instance's key is not here: it lives in a key file
under DATA_DIR (or SYNC_KEY), so a database dump never carries it."""

from __future__ import annotations

from enum import StrEnum

from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import relationship


class SyncIdentity(Model):
    """This instance: the unit it is (its subtree is what it owns and sends up) and its
    public key. One row at most (`sync init`)."""

    __tablename__ = "sync_identity"

    id = Column(Integer, primary_key=True)
    # The unit this instance is; NULL for the central instance (it owns everything).
    unit_id = Column(Integer, ForeignKey("unit.id"), nullable=True)
    unit = relationship("Unit")
    unit_code = Column(String(40), nullable=True)
    public_key = Column(String(80), nullable=False)
    created_at = Column(DateTime, nullable=False, server_default=func.now())


class PeerKind(StrEnum):
    # The instance this one sends its packages up to (one at most).
    UPSTREAM = "upstream"
    # A lower-level instance that owns a subtree here and sends its packages up.
    DOWNSTREAM = "downstream"
    # Another province's instance: transfers of members travel between partners.
    PARTNER = "partner"


class SyncPeer(Model):
    """Another instance this one exchanges packages with, known by its public key."""

    __tablename__ = "sync_peer"

    id = Column(Integer, primary_key=True)
    kind = Column(String(12), nullable=False)
    # The peer's unit code: a downstream's subtree root here; an upstream's or partner's
    # own unit (as it names itself).
    unit_code = Column(String(40), nullable=False)
    # For a downstream: its subtree root in this instance's tree.
    unit_id = Column(Integer, ForeignKey("unit.id"), nullable=True)
    unit = relationship("Unit")
    name = Column(String(200), nullable=True)
    public_key = Column(String(80), nullable=False, unique=True)
    # Delivery to an upstream: over HTTP to `url`, or written to a folder (USB stick).
    url = Column(String(500), nullable=True)
    folder = Column(String(500), nullable=True)
    # A downstream's machine account (role Sync) on this instance.
    user_id = Column(Integer, ForeignKey("ab_user.id"), nullable=True)
    active = Column(Boolean, nullable=False, default=True)
    note = Column(Text, nullable=True)
    created_at = Column(DateTime, nullable=False, server_default=func.now())


class ReferenceVersion(Model):
    """A numbered version of the reference data (webapp/domain/sync_reference.py): "made"
    here for the lower levels each time it changed, or "applied" here from the upstream."""

    __tablename__ = "sync_reference_version"

    id = Column(Integer, primary_key=True)
    direction = Column(String(8), nullable=False)
    version = Column(Integer, nullable=False)
    sha256 = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False, server_default=func.now())

    __table_args__ = (UniqueConstraint("direction", "version", name="uq_sync_reference_version"),)
