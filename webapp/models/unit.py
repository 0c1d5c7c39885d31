"""Party organisation units (the organisation tree)."""

from __future__ import annotations

import re
from enum import StrEnum

from flask_appbuilder import Model
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    bindparam,
    event,
    func,
    inspect,
    literal,
)
from sqlalchemy.orm import relationship
from sqlalchemy.orm.attributes import set_committed_value

# Materialised paths compare byte-wise on both backends ("/12/" must not match "/123/").
PATH_TYPE = String(255).with_variant(String(255, collation="C"), "postgresql")
SORT_PATH_TYPE = String(1000).with_variant(String(1000, collation="C"), "postgresql")

# A code's parts compare as numbers where they are digits: NB.01 < NB.03 < NB.10, and
# .003.01 < .003.02. Digit runs are padded to this width; parts are joined by "!" and the
# tree's levels by " ", both below every character a code may hold, so a shorter code
# (or a parent) comes before the longer one it begins.
_DIGITS = re.compile(r"(\d+)")
NUMBER_WIDTH = 8


def code_sort_key(code: str) -> str:
    """The natural-order key of one unit code (its dot-separated parts, numbers as numbers)."""
    return "!".join(
        "".join(run.zfill(NUMBER_WIDTH) if run.isdigit() else run for run in _DIGITS.split(part))
        for part in (code or "").upper().split(".")
    )


class UnitKind(StrEnum):
    """Levels of the Party's organisation (labels live in webapp/views/labels.py)."""

    PROVINCIAL_COMMITTEE = "provincial_committee"  # Đảng bộ tỉnh
    UPPER_GRASSROOTS_COMMITTEE = "upper_grassroots_committee"  # Huyện ủy, Đảng ủy khối …
    GRASSROOTS_COMMITTEE = "grassroots_committee"  # Đảng bộ cơ sở
    GRASSROOTS_CELL = "grassroots_cell"  # Chi bộ cơ sở
    PARTIAL_COMMITTEE = "partial_committee"  # Đảng bộ bộ phận
    CELL = "cell"  # Chi bộ trực thuộc


# Units that hold members directly.
MEMBER_HOLDING_KINDS = frozenset({UnitKind.GRASSROOTS_CELL, UnitKind.CELL})


class Unit(Model):
    __tablename__ = "unit"

    id = Column(Integer, primary_key=True)
    code = Column(String(32), nullable=False, unique=True)
    name = Column(String(255), nullable=False)
    kind = Column(String(40), nullable=False)
    parent_id = Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"), index=True)
    parent = relationship("Unit", remote_side=[id], backref="children", foreign_keys=[parent_id])
    # "/1/5/23/": ids from the root down to this unit; set by the events below.
    path = Column(PATH_TYPE, nullable=False, default="", index=True)
    # The order of lists, the tree and pick-lists: each level's code_sort_key from the root
    # down, joined by " " (a parent, then its subtree, siblings in the natural order of
    # their codes); set by the events below.
    sort_path = Column(SORT_PATH_TYPE, nullable=False, default="", index=True)
    founded_on = Column(Date)
    dissolved_on = Column(Date)
    # Set when the unit was absorbed by a merge: its code keeps resolving to the successor.
    merged_into_id = Column(
        Integer, ForeignKey("unit.id", ondelete="RESTRICT", name="fk_unit_merged_into_id_unit")
    )
    merged_into = relationship("Unit", remote_side=[id], foreign_keys=[merged_into_id])
    created_at = Column(DateTime, nullable=False, server_default=func.now())
    updated_at = Column(DateTime, nullable=False, server_default=func.now(), onupdate=func.now())
    version_id = Column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version_id}
    __table_args__ = (Index("ix_unit_name", "name"),)

    def __repr__(self) -> str:
        return f"{self.code} – {self.name}"

    @property
    def depth(self) -> int:
        """0 for a root unit, 1 for its children, …"""
        return max(self.path.count("/") - 2, 0) if self.path else 0

    @property
    def indented_name(self) -> str:
        return "\u2003" * self.depth + self.name


class UnitChangeKind(StrEnum):
    FOUNDED = "founded"
    RENAMED = "renamed"
    CODE_CHANGED = "code_changed"
    MOVED = "moved"
    ABSORBED = "absorbed"  # this unit took over another unit's members and subunits
    MERGED_INTO = "merged_into"  # this unit was absorbed
    DISSOLVED = "dissolved"


class UnitChange(Model):
    """The history of a unit: founding, renames, code changes, moves, merges, dissolution."""

    __tablename__ = "unit_change"

    id = Column(Integer, primary_key=True)
    unit_id = Column(Integer, ForeignKey("unit.id", ondelete="CASCADE"), nullable=False, index=True)
    unit = relationship("Unit", foreign_keys=[unit_id])
    kind = Column(String(20), nullable=False)
    effective_on = Column(Date, nullable=False)
    old_value = Column(String(255))
    new_value = Column(String(255))
    other_unit_id = Column(Integer, ForeignKey("unit.id", ondelete="RESTRICT"))
    other_unit = relationship("Unit", foreign_keys=[other_unit_id])
    decision_number = Column(String(60))
    note = Column(String(500))
    recorded_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    recorded_at = Column(DateTime, nullable=False, server_default=func.now())


def unit_path(parent_path: str | None, unit_id: int) -> str:
    """The materialised path of a unit below a parent of this path (None: a root unit)."""
    return f"{parent_path or '/'}{unit_id}/"


def unit_sort_path(parent_sort_path: str | None, code: str) -> str:
    """The sort path of a unit of this code below a parent of this sort path (None: a
    root unit). Writers that go around the ORM (sync's bulk apply) derive paths with these
    two, as the events below do."""
    key = code_sort_key(code)
    return key if parent_sort_path is None else f"{parent_sort_path} {key}"


def _path_for(connection, parent_id: int | None, unit_id: int) -> str:
    if parent_id is None:
        return unit_path(None, unit_id)
    parent_path = connection.execute(
        Unit.__table__.select().with_only_columns(Unit.path).where(Unit.id == parent_id)
    ).scalar_one()
    return unit_path(parent_path, unit_id)


def _sort_path_for(connection, parent_id: int | None, code: str) -> str:
    if parent_id is None:
        return unit_sort_path(None, code)
    parent_sort_path = connection.execute(
        Unit.__table__.select().with_only_columns(Unit.sort_path).where(Unit.id == parent_id)
    ).scalar_one()
    return unit_sort_path(parent_sort_path, code)


@event.listens_for(Unit, "after_insert")
def _set_path_on_insert(mapper, connection, unit: Unit) -> None:
    path = _path_for(connection, unit.parent_id, unit.id)
    sort_path = _sort_path_for(connection, unit.parent_id, unit.code)
    connection.execute(
        Unit.__table__.update().where(Unit.id == unit.id).values(path=path, sort_path=sort_path)
    )
    # Keep the in-memory object in step without marking it dirty.
    set_committed_value(unit, "path", path)
    set_committed_value(unit, "sort_path", sort_path)


@event.listens_for(Unit, "after_update")
def _rewrite_subtree_sort_paths(mapper, connection, unit: Unit) -> None:
    """A new code or parent reorders the unit and its whole subtree: each sort path is
    computed again from its parent's, down the subtree found by the materialised path
    (a subtree is a district at most: a few hundred rows). Matching by the old sort path
    instead would also catch units whose sort path was never set (rows written in bulk)."""
    state = inspect(unit)
    if not (state.attrs.parent_id.history.has_changes() or state.attrs.code.history.has_changes()):
        return
    table = Unit.__table__
    path = connection.execute(
        table.select().with_only_columns(table.c.path).where(table.c.id == unit.id)
    ).scalar_one()
    rows = connection.execute(
        table.select()
        .with_only_columns(table.c.id, table.c.parent_id, table.c.code, table.c.sort_path)
        .where(table.c.path.startswith(path, autoescape=True))
        .order_by(func.length(table.c.path))
    ).all()
    computed: dict[int, str] = {}
    changed = []
    for unit_id, parent_id, code, old in rows:
        if unit_id == unit.id:
            new = _sort_path_for(connection, parent_id, code)
        else:
            new = unit_sort_path(computed[parent_id], code)
        computed[unit_id] = new
        if new != old:
            changed.append({"unit_id": unit_id, "new_sort_path": new})
    if changed:
        connection.execute(
            table.update()
            .where(table.c.id == bindparam("unit_id"))
            .values(sort_path=bindparam("new_sort_path")),
            changed,
        )
    set_committed_value(unit, "sort_path", computed[unit.id])


@event.listens_for(Unit, "after_update")
def _rewrite_subtree_paths_on_move(mapper, connection, unit: Unit) -> None:
    history = inspect(unit).attrs.parent_id.history
    if not history.has_changes():
        return
    old_path = connection.execute(
        Unit.__table__.select().with_only_columns(Unit.path).where(Unit.id == unit.id)
    ).scalar_one()
    new_path = _path_for(connection, unit.parent_id, unit.id)
    if new_path == old_path:
        return
    table = Unit.__table__
    connection.execute(
        table.update()
        .where(table.c.path.startswith(old_path, autoescape=True))
        .values(
            path=literal(new_path, String)
            + func.substr(table.c.path, len(old_path) + 1, type_=String)
        )
    )
    set_committed_value(unit, "path", new_path)
