"""The rest of the member form: the repeating rows of pages 3–4 (work history, training,
commendations, discipline, trips abroad, family relations) and the yearly supplement.

A row belongs to a member, so it is written only for a member in the requester's scope:
adding, editing (also moving it to another member) and deleting are one command action,
`member_row.write`, the same behind the member page's tabs and the row APIs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from webapp.domain.commands import Requester, command
from webapp.domain.errors import N_, DomainError, FieldErrors
from webapp.domain.members import check_member, record_values, trimmed
from webapp.domain.scope import find_in_scope, find_member
from webapp.models.member import ON_THE_ROLLS, Member
from webapp.models.record import MEMBER_ROW_MODELS, MemberSupplement

ROW_DATES = ("starts_on", "ends_on", "awarded_on", "decided_on")
REQUIRED = N_("The date is required.")


def check_row(values: Mapping[str, Any], today: date | None = None) -> FieldErrors:
    """Dates of a row: not in the future, the end not before the start."""
    today = today or date.today()
    errors = FieldErrors()
    for name in ROW_DATES:
        if values.get(name) and values[name] > today:
            errors.add(name, N_("The date cannot be in the future."))
    start, end = values.get("starts_on"), values.get("ends_on")
    if start and end and end < start:
        errors.add("ends_on", N_("The end date cannot be before the start date."))
    birth_year = values.get("birth_year")
    if birth_year and birth_year > today.year:
        errors.add("birth_year", N_("The date cannot be in the future."))
    return errors


def _row_model(model: type) -> type:
    if model not in MEMBER_ROW_MODELS:
        raise ValueError(f"{model.__name__} is not a row of the member form")
    return model


def _row_values(row) -> dict[str, Any]:
    return {attr.key: getattr(row, attr.key) for attr in inspect(type(row)).column_attrs}


def row_problems(model: type, values: Mapping[str, Any]) -> FieldErrors:
    errors = check_row(values)
    columns = model.__table__.columns
    for name in ROW_DATES:
        if name in columns and not columns[name].nullable and values.get(name) is None:
            errors.add(name, REQUIRED)
    return errors


@command("member_row.write")
def add_member_row(session: Session, requester: Requester, row):
    """Add a row (not yet saved) to its member, who must be in the requester's scope."""
    model = _row_model(type(row))
    with session.no_autoflush:  # the new row is not in the session yet
        member_id = row.member_id if row.member_id is not None else getattr(row.member, "id", None)
        values = _row_values(row)
    member = find_member(session, requester, member_id)
    row_problems(model, values).raise_if_any()
    row.member = member
    session.add(row)
    session.flush()
    return row


@command("member_row.write")
def edit_member_row(
    session: Session, requester: Requester, model: type, row_id: int, changes: Mapping[str, Any]
):
    """Change a row; moving it (a new `member_id`) needs the new member in scope as well."""
    model = _row_model(model)
    unknown = set(changes) - ({attr.key for attr in inspect(model).column_attrs} - {"id"})
    if unknown:
        raise ValueError(f"not {model.__name__} fields: {sorted(unknown)}")
    row = find_in_scope(session, model, row_id, requester.scope, lock=True)
    if changes.get("member_id", row.member_id) != row.member_id:
        find_member(session, requester, changes["member_id"])
    row_problems(model, {**_row_values(row), **changes}).raise_if_any()
    for name, value in changes.items():
        setattr(row, name, value)
    session.flush()
    return row


@command("member_row.write")
def delete_member_row(session: Session, requester: Requester, model: type, row_id: int) -> None:
    row = find_in_scope(session, _row_model(model), row_id, requester.scope, lock=True)
    session.delete(row)
    session.flush()


# --- The yearly supplement -------------------------------------------------------------

# Fields a yearly supplement may change (identity basics and the Party ledger stay apart).
SUPPLEMENT_FIELDS = (
    "name_in_use",
    "permanent_address",
    "current_address",
    "citizen_id",
    "general_education",
    "professional_level",
    "professional_field",
    "academic_title",
    "political_theory",
    "state_management",
    "foreign_languages",
    "it_level",
    "occupation",
    "party_position",
    "government_position",
    "health",
    "war_invalid",
)
FIRST_YEAR, LAST_YEAR = 1990, 2100


@dataclass
class SupplementInput:
    """One yearly supplement: the year it is for, when it was declared, and the fields'
    new values (only SUPPLEMENT_FIELDS)."""

    year: int | None
    declared_on: date | None
    note: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)


NOT_ON_THE_ROLLS = N_(
    "%(name)s (%(number)s) is not on the rolls of this Party organisation (died, "
    "transferred out or left the Party); the yearly supplement is for members on the rolls."
)


def supplement_problem(member: Member) -> tuple[str, dict] | None:
    """Why `member` gets no yearly supplement (off the rolls), or None."""
    if member.status not in ON_THE_ROLLS:
        return NOT_ON_THE_ROLLS, {"name": member.display_name, "number": member.member_number}
    return None


def may_apply_supplement(requester: Requester, member: Member) -> bool:
    """The member page offers the yearly supplement only where it applies."""
    return requester.may("supplement.apply") and supplement_problem(member) is None


@command("supplement.apply")
def apply_supplement(
    session: Session,
    requester: Requester,
    member_id: int,
    supplement: SupplementInput,
    *,
    member_number_pattern: str,
    today: date | None = None,
) -> MemberSupplement:
    """Apply a supplement: the changed fields are saved as one dated change set; each
    change lands in the member's history with the supplement it came from."""
    today = today or date.today()
    unknown = set(supplement.values) - set(SUPPLEMENT_FIELDS)
    if unknown:
        raise ValueError(f"a supplement does not change {sorted(unknown)}")
    member = find_member(session, requester, member_id)
    if (problem := supplement_problem(member)) is not None:
        raise DomainError(problem[0], **problem[1])
    errors = FieldErrors()
    if supplement.year is None:
        errors.add("year", N_("The year is required."))
    elif not FIRST_YEAR <= supplement.year <= LAST_YEAR:
        errors.add(
            "year",
            N_("Enter a year from %(first)s to %(last)s."),
            first=FIRST_YEAR,
            last=LAST_YEAR,
        )
    if supplement.declared_on is None or supplement.declared_on > today:
        errors.add(
            "declared_on", N_("Enter the date the supplement was declared (not in the future).")
        )
    if supplement.note and len(supplement.note) > 2000:
        errors.add("note", N_("At most %(limit)s characters."), limit=2000)
    errors.raise_if_any()
    check_member(
        {**record_values(member), **trimmed(supplement.values)},
        session=session,
        member_id=member.id,
        member_number_pattern=member_number_pattern,
        today=today,
    ).raise_if_any()
    recorded = MemberSupplement(
        member_id=member.id,
        year=supplement.year,
        declared_on=supplement.declared_on,
        note=(supplement.note or "").strip() or None,
        recorded_by_id=requester.user_id,
    )
    session.add(recorded)
    session.flush()
    # The field history (webapp/domain/tracking.py) names the supplement of each change.
    session.info["supplement_id"] = recorded.id
    try:
        for name, value in supplement.values.items():
            setattr(member, name, value)
        session.flush()
    finally:
        session.info.pop("supplement_id", None)
    return recorded
