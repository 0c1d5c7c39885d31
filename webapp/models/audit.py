"""The audit log: append-only, each entry chained to the previous one by a hash."""

from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import Column, DateTime, Index, Integer, String, Text


class AuditEntry(Model):
    __tablename__ = "audit_entry"

    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False)
    user_id = Column(Integer)  # no foreign key: the log outlives users
    username = Column(String(100))
    address = Column(String(64))
    action = Column(String(40), nullable=False)  # create, update, delete, login, login_failed, …
    object_type = Column(String(60))
    object_id = Column(String(40))
    before = Column(Text)  # JSON
    after = Column(Text)  # JSON
    # The member the entry concerns (their record, a row of their form, an event, a card,
    # a badge, a photo or scan seen), so the log answers "who saw or changed X's record".
    # No foreign key, like user_id. Hashed when set (webapp/domain/audit.py).
    member_id = Column(Integer)
    prev_hash = Column(String(64), nullable=False)
    hash = Column(String(64), nullable=False, unique=True)

    __table_args__ = (
        Index("ix_audit_entry_at", "at"),
        Index("ix_audit_entry_object", "object_type", "object_id"),
        Index("ix_audit_entry_user", "user_id", "at"),
        # The audit screen's filters, newest first.
        Index("ix_audit_entry_member", "member_id", "id"),
        Index("ix_audit_entry_action", "action", "id"),
        Index("ix_audit_entry_username", "username", "id"),
    )
