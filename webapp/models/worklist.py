"""The clerk's worklist and the data-quality checks, as computed by the refresh job
(webapp/domain/worklist.py): pages read these tables, never loop over members."""

from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import (
    JSON,
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

from webapp.models.member import SORT_KEY_TYPE


class WorkItem(Model):
    """One thing due or wrong for one member, found by one rule."""

    __tablename__ = "work_item"

    id = Column(Integer, primary_key=True)
    rule = Column(String(40), nullable=False)
    member_id = Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), nullable=False)
    member = relationship("Member")
    # The unit whose rolls hold the member when the item was found: the item's scope.
    unit_id = Column(Integer, ForeignKey("unit.id", ondelete="CASCADE"), nullable=False)
    unit = relationship("Unit")
    due_on = Column(Date)
    details = Column(JSON, nullable=False, default=dict)
    # The refresh keeps an item that is found again unchanged: the day it was first found.
    found_on = Column(Date, nullable=False)
    # The member's sort key, copied by the refresh: lists are ordered (due day, name) on an
    # index of this table alone, without sorting every item of a province joined to members.
    sort_key = Column(SORT_KEY_TYPE, nullable=False, default="", server_default="")

    __table_args__ = (
        Index("ix_work_item_unit_rule", "unit_id", "rule"),
        Index("ix_work_item_rule_member", "rule", "member_id"),
        # One rule's list in a large scope, in the page's order (due day, nulls last; name).
        Index("ix_work_item_rule_order", "rule", "due_on", "sort_key", "id"),
        # Every rule's list in a large scope, in the same order.
        Index("ix_work_item_order", "due_on", "sort_key", "id"),
    )


class WorkCount(Model):
    """How many items of a rule the subtree of a unit holds (the unit's own and every unit
    below it), recomputed by the refresh with the items: the worklist page and the home page
    read their counts per kind and per unit here, a few indexed rows, never counting the
    items of a province on each request."""

    __tablename__ = "work_count"

    id = Column(Integer, primary_key=True)
    unit_id = Column(Integer, ForeignKey("unit.id", ondelete="CASCADE"), nullable=False)
    rule = Column(String(40), nullable=False)
    items = Column(Integer, nullable=False)

    __table_args__ = (UniqueConstraint("unit_id", "rule", name="uq_work_count_unit_rule"),)


class CheckRun(Model):
    """The last run of each rule: when, how many items, or why it failed."""

    __tablename__ = "check_run"

    id = Column(Integer, primary_key=True)
    rule = Column(String(40), nullable=False, unique=True)
    as_of = Column(Date, nullable=False)
    state = Column(String(10), nullable=False)  # done / failed
    items = Column(Integer, nullable=False, default=0)
    reason = Column(Text)
    finished_at = Column(DateTime, nullable=False, server_default=func.now())


class QualityScore(Model):
    """A unit's data-quality score for a month: members on its own rolls, and how many of
    them no quality check found a problem with (kept, so the trend can be shown)."""

    __tablename__ = "quality_score"

    id = Column(Integer, primary_key=True)
    unit_id = Column(Integer, ForeignKey("unit.id", ondelete="CASCADE"), nullable=False)
    unit = relationship("Unit")
    month = Column(Date, nullable=False)  # the first day of the month
    members = Column(Integer, nullable=False)
    clean = Column(Integer, nullable=False)

    __table_args__ = (UniqueConstraint("unit_id", "month", name="uq_quality_score_unit_month"),)


class WorklistSetting(Model):
    """Admin reference data: a threshold (days) or whether a rule is on (1/0)."""

    __tablename__ = "worklist_setting"

    id = Column(Integer, primary_key=True)
    key = Column(String(60), nullable=False, unique=True)
    value = Column(Integer, nullable=False)
