"""The rest of the member form: national catalogues, the repeating rows of pages 3–4,
the yearly supplement and the history of every changed field."""

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
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import relationship


class CatalogueEntry(Model):
    """One value of a national catalogue (ethnic groups, religions, levels, …); maintained
    by an Admin, seeded from webapp/domain/catalogue_data.py by `flask init`."""

    __tablename__ = "catalogue_entry"

    id = Column(Integer, primary_key=True)
    kind = Column(String(40), nullable=False)
    code = Column(String(20), nullable=False)
    name = Column(String(200), nullable=False)
    position = Column(Integer, nullable=False, default=0)
    active = Column(Boolean, nullable=False, default=True)

    __table_args__ = (
        UniqueConstraint("kind", "code", name="uq_catalogue_entry_kind_code"),
        UniqueConstraint("kind", "name", name="uq_catalogue_entry_kind_name"),
        Index("ix_catalogue_entry_kind", "kind", "position"),
    )

    def __repr__(self) -> str:
        return self.name


class _MemberRow:
    """Columns every repeating row of the member form has."""

    id = Column(Integer, primary_key=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.id}"


def _member_fk():
    return Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), nullable=False, index=True)


class WorkPeriod(_MemberRow, Model):
    """Quá trình công tác: from – to, position and workplace."""

    __tablename__ = "member_work_period"
    member_id = _member_fk()
    member = relationship("Member", back_populates="work_periods")
    starts_on = Column(Date, nullable=False)
    ends_on = Column(Date)
    description = Column(String(500), nullable=False)


class TrainingCourse(_MemberRow, Model):
    """Đào tạo, bồi dưỡng: institution, field, form of study, qualification obtained."""

    __tablename__ = "member_training"
    member_id = _member_fk()
    member = relationship("Member", back_populates="training_courses")
    starts_on = Column(Date, nullable=False)
    ends_on = Column(Date)
    institution = Column(String(255), nullable=False)
    field = Column(String(255))
    study_form = Column(String(60))  # chính quy, tại chức, từ xa …
    qualification = Column(String(120))


class Commendation(_MemberRow, Model):
    """Khen thưởng: date, form, level, decision."""

    __tablename__ = "member_commendation"
    member_id = _member_fk()
    member = relationship("Member", back_populates="commendations")
    awarded_on = Column(Date, nullable=False)
    form = Column(String(200), nullable=False)
    level = Column(String(120))  # cấp quyết định
    decision_number = Column(String(60))
    reason = Column(String(500))


class Discipline(_MemberRow, Model):
    """Kỷ luật: date, form, level, reason, decision (badge deferrals read these)."""

    __tablename__ = "member_discipline"
    member_id = _member_fk()
    member = relationship("Member", back_populates="disciplines")
    decided_on = Column(Date, nullable=False)
    form = Column(String(200), nullable=False)
    level = Column(String(120))
    decision_number = Column(String(60))
    reason = Column(String(500), nullable=False)


class TripAbroad(_MemberRow, Model):
    """Đi nước ngoài: from – to, country, purpose."""

    __tablename__ = "member_trip_abroad"
    member_id = _member_fk()
    member = relationship("Member", back_populates="trips_abroad")
    starts_on = Column(Date, nullable=False)
    ends_on = Column(Date)
    country = Column(String(120), nullable=False)
    purpose = Column(String(500))


class FamilyRelation(_MemberRow, Model):
    """Quan hệ gia đình: relation, name, year of birth, occupation and political standing."""

    __tablename__ = "member_family_relation"
    member_id = _member_fk()
    member = relationship("Member", back_populates="family_relations")
    relation = Column(String(60), nullable=False)
    full_name = Column(String(120), nullable=False)
    birth_year = Column(Integer)
    occupation = Column(String(255))
    notes = Column(String(500))  # political history, residence …


class MemberSupplement(Model):
    """Phiếu bổ sung hồ sơ đảng viên: a dated change set for one year."""

    __tablename__ = "member_supplement"

    id = Column(Integer, primary_key=True)
    member_id = Column(
        Integer, ForeignKey("member.id", ondelete="CASCADE"), nullable=False, index=True
    )
    member = relationship("Member", back_populates="supplements")
    year = Column(Integer, nullable=False)
    declared_on = Column(Date, nullable=False)
    note = Column(Text)
    recorded_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    recorded_by = relationship(User)
    recorded_at = Column(DateTime, nullable=False, server_default=func.now())


class MemberChange(Model):
    """One changed field of a member: old and new value, when, by whom, by which supplement."""

    __tablename__ = "member_change"

    id = Column(Integer, primary_key=True)
    member_id = Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), nullable=False)
    field = Column(String(60), nullable=False)
    old_value = Column(Text)
    new_value = Column(Text)
    supplement_id = Column(Integer, ForeignKey("member_supplement.id", ondelete="SET NULL"))
    supplement = relationship(MemberSupplement)
    changed_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    changed_by = relationship(User)
    changed_at = Column(DateTime, nullable=False, server_default=func.now())

    __table_args__ = (Index("ix_member_change_member", "member_id", "changed_at"),)


MEMBER_ROW_MODELS = (
    WorkPeriod,
    TrainingCourse,
    Commendation,
    Discipline,
    TripAbroad,
    FamilyRelation,
)
