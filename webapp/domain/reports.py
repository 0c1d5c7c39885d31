"""Report figures and rows, computed in SQL over a unit's subtree."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.domain.scope import InSubtree
from webapp.models.member import ON_THE_ROLLS, Member
from webapp.models.unit import Unit


def subtree_units(root: Unit):
    """Select of the units in `root`'s subtree (root included), via the materialised path."""
    return select(Unit.id).where(Unit.path.startswith(root.path, autoescape=True))


def count_subtree_members(session: Session, root: Unit) -> int:
    # As the scope filter compares (webapp/domain/scope.py InSubtree), and count(*): on
    # PostgreSQL an index-only scan of ix_member_rolls_unit, not a scan of the table.
    return session.scalar(
        select(func.count()).where(
            InSubtree(Member.unit_id, subtree_units(root).correlate(None)),
            Member.status.in_(ON_THE_ROLLS),
        )
    )
