"""Party members (the 4-page member form, phiếu đảng viên: identity and Party sections)."""

from __future__ import annotations

from enum import StrEnum

from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    false,
    func,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import relationship

# Compared byte-wise on both backends (see webapp/domain/vietnamese.py).
# The words of a member's search key as a tsvector (PostgreSQL): indexed by
# ix_member_search_words and repeated verbatim by the name search, which the planner
# matches to the index only if the expression is the same text with the same literals.
SEARCH_WORDS_SQL = "array_to_tsvector(array_remove(string_to_array({column}, ' '), ''))"

SORT_KEY_TYPE = String(255).with_variant(String(255, collation="C"), "postgresql")


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"


class MemberStatus(StrEnum):
    PROBATIONARY = "probationary"  # dự bị
    OFFICIAL = "official"  # chính thức
    TRANSFERRED_OUT = "transferred_out"  # đã chuyển sinh hoạt đi
    DECEASED = "deceased"  # đã từ trần
    LEFT = "left"  # đã ra khỏi Đảng


# The standings in which a member is on a unit's rolls (and counted).
ON_THE_ROLLS = (MemberStatus.PROBATIONARY, MemberStatus.OFFICIAL)


class BirthDatePrecision(StrEnum):
    """Old records may know only the year, or the month and year, of birth."""

    DAY = "day"
    MONTH = "month"
    YEAR = "year"


class Member(Model):
    __tablename__ = "member"

    id = Column(Integer, primary_key=True)
    # Page 1: identity
    member_number = Column(String(16), nullable=False, unique=True)  # số lý lịch
    birth_name = Column(String(120), nullable=False)  # họ và tên khai sinh
    name_in_use = Column(String(120))  # họ và tên đang dùng
    alias = Column(String(120))  # bí danh
    sex = Column(String(8), nullable=False)
    birth_date = Column(Date, nullable=False)
    birth_date_precision = Column(String(8), nullable=False, default=BirthDatePrecision.DAY)
    birthplace = Column(String(255))  # nơi sinh
    home_town = Column(String(255))  # quê quán
    permanent_address = Column(String(255))  # nơi thường trú
    current_address = Column(String(255))  # nơi ở hiện nay
    ethnicity = Column(String(60))  # dân tộc
    religion = Column(String(60))  # tôn giáo
    citizen_id = Column(String(12), unique=True)  # số định danh cá nhân / CCCD
    # Page 2: Party
    admitted_on = Column(Date, nullable=False)  # ngày vào Đảng
    admitting_cell = Column(String(255))  # chi bộ kết nạp
    introducer_1 = Column(String(120))
    introducer_2 = Column(String(120))
    official_on = Column(Date)  # ngày chính thức
    youth_union_on = Column(Date)  # ngày vào Đoàn
    # số thẻ, NN.NNNNNN: a copy of the current valid card in the registry (party_card),
    # written only by the card commands (webapp/domain/cards.py). The database refuses a
    # number that is not one of the member's own registry cards: the deferred foreign key
    # fk_member_card_party_card (id, card_number) → party_card (member_id, number) of
    # migration 0011. Not declared here: marshmallow-sqlalchemy leaves foreign-key columns
    # out of FAB's API schemas, and `id` is one of them (webapp/migrations/env.py keeps
    # autogenerate from dropping it).
    card_number = Column(String(9), unique=True)
    card_issued_on = Column(Date)
    status = Column(String(20), nullable=False, default=MemberStatus.PROBATIONARY)
    # Page 3: qualifications (values from the national catalogues, kept as written).
    general_education = Column(String(20))  # giáo dục phổ thông: 12/12, 10/10 …
    professional_level = Column(String(120))  # chuyên môn nghiệp vụ (trình độ)
    professional_field = Column(String(255))  # chuyên ngành
    academic_title = Column(String(60))  # học hàm
    political_theory = Column(String(60))  # lý luận chính trị
    state_management = Column(String(120))  # quản lý nhà nước
    foreign_languages = Column(String(255))
    it_level = Column(String(120))  # tin học
    # Page 4: career and circumstances.
    occupation_at_admission = Column(String(200))
    occupation = Column(String(200))
    party_position = Column(String(255))  # chức vụ Đảng
    government_position = Column(String(255))  # chức vụ chính quyền, đoàn thể
    health = Column(String(255))
    veteran = Column(Boolean, nullable=False, default=False, server_default=false())
    war_invalid = Column(String(60))  # thương binh, bệnh binh (hạng)
    martyr_family = Column(Boolean, nullable=False, default=False, server_default=false())
    # Record completeness, kept current on every save (webapp/domain/completeness.py).
    completeness = Column(
        String(12), nullable=False, default="incomplete", server_default="incomplete", index=True
    )
    missing_fields = Column(String(600))
    unit_id = Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False)
    unit = relationship("Unit", backref="members", foreign_keys=[unit_id])
    # Derived from the ledger (webapp/domain/events.py), never edited directly:
    # a temporary transfer to another cell here, or outside this instance ("away").
    host_unit_id = Column(
        Integer, ForeignKey("unit.id", ondelete="RESTRICT", name="fk_member_host_unit_id_unit")
    )
    host_unit = relationship("Unit", foreign_keys=[host_unit_id])
    away = Column(Boolean, nullable=False, default=False, server_default=false())
    activity = Column(String(12), nullable=False, default="normal", server_default="normal")
    # Admission date moved forward by interruptions: Party age ≥ N ⇔ party_age_from ≤ today − N.
    party_age_from = Column(Date, index=True)
    work_periods = relationship(
        "WorkPeriod", back_populates="member", order_by="WorkPeriod.starts_on"
    )
    training_courses = relationship(
        "TrainingCourse", back_populates="member", order_by="TrainingCourse.starts_on"
    )
    commendations = relationship(
        "Commendation", back_populates="member", order_by="Commendation.awarded_on"
    )
    disciplines = relationship(
        "Discipline", back_populates="member", order_by="Discipline.decided_on"
    )
    trips_abroad = relationship(
        "TripAbroad", back_populates="member", order_by="TripAbroad.starts_on"
    )
    family_relations = relationship(
        "FamilyRelation", back_populates="member", order_by="FamilyRelation.id"
    )
    supplements = relationship(
        "MemberSupplement", back_populates="member", order_by="MemberSupplement.year"
    )
    events = relationship(
        "MemberEvent",
        back_populates="member",
        order_by="(MemberEvent.effective_on, MemberEvent.id)",
        foreign_keys="MemberEvent.member_id",
    )
    # Stored keys, computed in Python on every save (webapp/domain/tracking.py), so that
    # every backend sorts and searches alike.
    sort_key = Column(SORT_KEY_TYPE, nullable=False, default="")
    search_key = Column(String(600), nullable=False, default="")
    created_at = Column(DateTime, nullable=False, server_default=func.now())
    updated_at = Column(DateTime, nullable=False, server_default=func.now(), onupdate=func.now())
    version_id = Column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version_id}
    __table_args__ = (
        Index("ix_member_unit_sort", "unit_id", "sort_key"),
        # The list's orders with FAB's tie-breaker (the id): a page is read along the
        # index, a deep page's ids off the index alone.
        Index("ix_member_sort_key", "sort_key", "id"),
        Index("ix_member_status", "status", "id"),
        Index("ix_member_birth_date", "birth_date", "id"),
        Index("ix_member_admitted_on", "admitted_on", "id"),
        # The scope filter's second half (members temporarily active in the subtree): with
        # it PostgreSQL reads a scope's members by a BitmapOr of two index scans.
        Index("ix_member_host_unit", "host_unit_id"),
        # Members on the rolls by unit: the tree's and the unit page's counts read this
        # index alone (an index-only scan, no table pages).
        Index(
            "ix_member_rolls_unit",
            "unit_id",
            postgresql_where=text("status IN ('probationary', 'official')"),
            sqlite_where=text("status IN ('probationary', 'official')"),
        ),
        # Name search on PostgreSQL: the search key's words, for prefix queries
        # (webapp.domain.name_search). Elsewhere the search reads the key itself.
        Index(
            "ix_member_search_words",
            text(SEARCH_WORDS_SQL.format(column="search_key")),
            postgresql_using="gin",
        ).ddl_if(dialect="postgresql"),
    )

    def __repr__(self) -> str:
        return f"{self.display_name} ({self.member_number})"

    @hybrid_property
    def display_name(self) -> str:
        return self.name_in_use or self.birth_name

    @display_name.inplace.expression
    @classmethod
    def _display_name_expression(cls):
        # In SQL the name is only ever ordered by, so it stands for the Vietnamese sort key.
        return cls.sort_key
