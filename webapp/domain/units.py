"""Rules for organisation units."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.domain.errors import N_, FieldErrors
from webapp.models.unit import MEMBER_HOLDING_KINDS, Unit, UnitKind

UNIT_CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,31}$")


def check_unit(
    values: Mapping[str, Any],
    *,
    session: Session,
    unit_id: int | None = None,
    today: date | None = None,
) -> FieldErrors:
    """Check a unit's fields; `unit_id` is the unit being edited (None when new)."""
    # Lookups must not flush a half-built record that a form has attached to the session.
    with session.no_autoflush:
        return _check_unit(values, session=session, unit_id=unit_id, today=today)


def _check_unit(
    values: Mapping[str, Any],
    *,
    session: Session,
    unit_id: int | None = None,
    today: date | None = None,
) -> FieldErrors:
    today = today or date.today()
    errors = FieldErrors()
    code = (values.get("code") or "").strip()
    name = (values.get("name") or "").strip()
    kind = values.get("kind")
    parent_id = values.get("parent_id")
    founded_on, dissolved_on = values.get("founded_on"), values.get("dissolved_on")

    if not code:
        errors.add("code", N_("The unit code is required."))
    elif not UNIT_CODE_PATTERN.match(code):
        errors.add(
            "code",
            N_(
                "The unit code may hold only capital letters, digits, dots and dashes (at most 32)."
            ),
        )
    else:
        clash = select(Unit.id).where(func.upper(Unit.code) == code.upper())
        if unit_id is not None:
            clash = clash.where(Unit.id != unit_id)
        if session.execute(clash.limit(1)).first():
            errors.add("code", N_("The unit code %(code)s is already used."), code=code)
    if not name:
        errors.add("name", N_("The unit name is required."))
    if kind not in set(UnitKind):
        errors.add("kind", N_("Choose the kind of unit."))

    if parent_id is not None:
        parent = session.get(Unit, parent_id)
        if parent is None:
            errors.add("parent", N_("The parent unit does not exist."))
        else:
            if parent.kind in MEMBER_HOLDING_KINDS:
                errors.add("parent", N_("A Party cell cannot have subordinate units."))
            if unit_id is not None and f"/{unit_id}/" in (parent.path or ""):
                errors.add("parent", N_("A unit cannot be placed under itself or its own subunit."))
            if parent.dissolved_on is not None:
                errors.add("parent", N_("The parent unit has been dissolved."))

    if founded_on and founded_on > today:
        errors.add("founded_on", N_("The founding date cannot be in the future."))
    if founded_on and dissolved_on and dissolved_on < founded_on:
        errors.add("dissolved_on", N_("The dissolution date cannot be before the founding date."))
    return errors
