"""FAB's user with the one thing DangVien adds: the unit whose subtree is the user's scope."""

from __future__ import annotations

from flask_appbuilder.security.sqla.models import Role, User
from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, false
from sqlalchemy.orm import relationship

# FAB's role model, for the layers that must not import FAB (webapp/domain/tracking.py).
__all__ = ["DangVienUser", "Role"]


class DangVienUser(User):
    __tablename__ = "ab_user"

    unit_id = Column(
        Integer, ForeignKey("unit.id", ondelete="RESTRICT", name="fk_ab_user_unit_id_unit")
    )
    unit = relationship("Unit")
    # Optional second factor (TOTP, RFC 6238) for Admins and Managers.
    totp_secret = Column(String(64))
    totp_enabled = Column(Boolean, nullable=False, default=False, server_default=false())

    def get_full_name(self) -> str:
        # Vietnamese order: family and middle name, then the given name ("Nguyễn Văn An");
        # a user created with one name only has no family part (older ones carry a "-").
        return " ".join(p for p in (self.last_name, self.first_name) if p and p != "-")

    def __str__(self) -> str:
        return self.get_full_name()
