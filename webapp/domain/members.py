"""Rules for the member record (identity and Party sections of the member form), and the
commands that create, edit and delete it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from webapp.domain.commands import Requester, command, delete_unreferenced
from webapp.domain.errors import N_, FieldErrors, InUse, ValidationFailed
from webapp.domain.ledger import EventKind
from webapp.domain.scope import OWNED_ELSEWHERE, find_member, unit_in_scope, unit_owner
from webapp.domain.tracking import TRACKED
from webapp.models.badges import BadgeAward, BadgeProposal
from webapp.models.cards import CardProposal, PartyCard
from webapp.models.files import MemberDocument, MemberPhoto
from webapp.models.ledger import MemberEvent
from webapp.models.member import BirthDatePrecision, Member, MemberStatus, Sex
from webapp.models.record import MemberChange, MemberSupplement
from webapp.models.unit import MEMBER_HOLDING_KINDS, Unit

CITIZEN_ID_PATTERN = re.compile(r"^\d{12}$")
CARD_NUMBER_PATTERN = re.compile(r"^\d{2}\.\d{6}$")
MINIMUM_ADMISSION_AGE = 18
SEXES, PRECISIONS, STATUSES = frozenset(Sex), frozenset(BirthDatePrecision), frozenset(MemberStatus)

REQUIRED_FIELDS = {
    "member_number": N_("The member number is required."),
    "birth_name": N_("The full name at birth is required."),
    "sex": N_("Choose the sex."),
    "birth_date": N_("The date of birth is required."),
    "admitted_on": N_("The date of admission is required."),
    "unit_id": N_("Choose the Party cell the member belongs to."),
    "status": N_("Choose the membership status."),
}


def age_on(birth_date: date, day: date) -> int:
    """Completed years of age on `day`."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


class MemberLookups:
    """What the member rules read from the database. The form's checks ask it one
    question at a time (these queries); an import answers the same questions for
    thousands of rows from what it loaded once per chunk (webapp/domain/member_import.py),
    so both go through the very same rules below."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def catalogue_known(self, names: set[str]) -> set[tuple[str, str]]:
        """(kind, name) of the catalogue entries among `names`."""
        from webapp.models.record import CatalogueEntry

        return set(
            self.session.execute(
                select(CatalogueEntry.kind, CatalogueEntry.name).where(
                    CatalogueEntry.name.in_(names)
                )
            ).all()
        )

    def stored_value(self, member_id: int, field: str) -> Any:
        """The value the stored record `member_id` holds in `field`."""
        stored = self.session.get(Member, member_id)
        return getattr(stored, field) if stored is not None else None

    def used_by_another(self, field: str, value: Any, member_id: int | None) -> bool:
        """Whether a member other than `member_id` has `value` in the unique `field`."""
        query = select(Member.id).where(getattr(Member, field) == value)
        if member_id is not None:
            query = query.where(Member.id != member_id)
        return self.session.execute(query.limit(1)).first() is not None

    def unit(self, unit_id: int) -> Unit | None:
        return self.session.get(Unit, unit_id)

    def unit_in_scope(self, unit_id: int, scope: str | None) -> bool:
        return unit_in_scope(self.session, unit_id, scope)

    def unit_owner(self, unit_id: int):
        """The registered downstream owning the unit (docs/sync.md), or None."""
        return unit_owner(self.session, unit_id)


def check_member(
    values: Mapping[str, Any],
    *,
    session: Session,
    member_number_pattern: str,
    member_id: int | None = None,
    today: date | None = None,
    lookups: MemberLookups | None = None,
) -> FieldErrors:
    """Check a member's fields; `member_id` is the member being edited (None when new).
    `lookups` answers what the rules read (by default: queries on `session`)."""
    # Lookups must not flush a half-built record that a form has attached to the session.
    with session.no_autoflush:
        return _check_member(
            values,
            lookups=lookups or MemberLookups(session),
            member_number_pattern=member_number_pattern,
            member_id=member_id,
            today=today,
        )


def _check_member(
    values: Mapping[str, Any],
    *,
    lookups: MemberLookups,
    member_number_pattern: str,
    member_id: int | None = None,
    today: date | None = None,
) -> FieldErrors:
    today = today or date.today()
    errors = FieldErrors()
    for field, message in REQUIRED_FIELDS.items():
        value = values.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            errors.add(field, message)

    _check_formats(values, errors, member_number_pattern)
    _check_catalogue_values(values, errors, lookups, member_id)
    _check_unique(values, errors, lookups, member_id)
    _check_dates(values, errors, today)
    _check_status(values, errors)

    unit_id = values.get("unit_id")
    if unit_id is not None:
        unit = lookups.unit(unit_id)
        if unit is None:
            errors.add("unit_id", N_("The unit does not exist."))
        elif unit.kind not in MEMBER_HOLDING_KINDS:
            errors.add(
                "unit_id",
                N_("Members belong to a Party cell; %(unit)s is not a cell."),
                unit=unit.name,
            )
        elif unit.dissolved_on is not None and member_id is None:
            # A former member's record keeps the (since dissolved) unit it was last in.
            errors.add("unit_id", N_("The unit %(unit)s has been dissolved."), unit=unit.name)
    return errors


# The refusal of a member number in the words of its format, for the formats we know
# (MEMBER_NUMBER_PATTERN); another configured pattern is named as it is written.
MEMBER_NUMBER_MESSAGES = {
    r"\d{6}[A-Z]{1,3}|\d{10}": N_(
        "The member number %(value)s is not in the right format: write six digits and one to three "
        "capital letters (for example 000123NB), or ten digits."
    ),
}


def _check_formats(
    values: Mapping[str, Any], errors: FieldErrors, member_number_pattern: str
) -> None:
    member_number = values.get("member_number")
    if member_number and not re.fullmatch(member_number_pattern, member_number):
        message = MEMBER_NUMBER_MESSAGES.get(member_number_pattern)
        if message is not None:
            errors.add("member_number", message, value=member_number)
        else:
            errors.add(
                "member_number",
                N_(
                    "The member number %(value)s does not match this instance's format %(pattern)s."
                ),
                value=member_number,
                pattern=member_number_pattern,
            )
    citizen_id = values.get("citizen_id")
    if citizen_id and not CITIZEN_ID_PATTERN.match(citizen_id):
        errors.add("citizen_id", N_("The citizen ID must have exactly 12 digits."))
    card_number = values.get("card_number")
    if card_number and not CARD_NUMBER_PATTERN.match(card_number):
        errors.add(
            "card_number",
            N_("The card number must be written NN.NNNNNN (2 digits, a dot, 6 digits)."),
        )
    if values.get("sex") and values["sex"] not in SEXES:
        errors.add("sex", N_("Choose the sex."))
    precision = values.get("birth_date_precision")
    if precision and precision not in PRECISIONS:
        errors.add("birth_date_precision", N_("Choose how much of the date of birth is known."))


def _check_catalogue_values(
    values: Mapping[str, Any], errors: FieldErrors, lookups: MemberLookups, member_id: int | None
) -> None:
    """Catalogue fields take a catalogue value; an old record's value outside the catalogue
    may stay as it is, but not be newly entered."""
    from webapp.domain.catalogues import MEMBER_FIELD_CATALOGUES

    given = {f: values[f] for f in MEMBER_FIELD_CATALOGUES if values.get(f)}
    if not given:
        return
    known = lookups.catalogue_known(set(given.values()))
    for field, value in given.items():
        if (MEMBER_FIELD_CATALOGUES[field], value) in known:
            continue
        if member_id is not None and lookups.stored_value(member_id, field) == value:
            continue
        errors.add(
            field,
            N_("%(value)s is not in the catalogue; choose a value from the list."),
            value=value,
        )


UNIQUE_FIELDS = {
    "member_number": N_("The member number %(value)s is already used by another member."),
    "citizen_id": N_("The citizen ID %(value)s is already used by another member."),
    "card_number": N_("The card number %(value)s is already used by another member."),
}


def _check_unique(
    values: Mapping[str, Any], errors: FieldErrors, lookups: MemberLookups, member_id: int | None
) -> None:
    for field, message in UNIQUE_FIELDS.items():
        value = values.get(field)
        if value and lookups.used_by_another(field, value, member_id):
            errors.add(field, message, value=value)


def _check_dates(values: Mapping[str, Any], errors: FieldErrors, today: date) -> None:
    birth = values.get("birth_date")
    admitted = values.get("admitted_on")
    official = values.get("official_on")
    youth = values.get("youth_union_on")
    card_issued = values.get("card_issued_on")

    for field, day in (
        ("birth_date", birth),
        ("admitted_on", admitted),
        ("official_on", official),
        ("youth_union_on", youth),
        ("card_issued_on", card_issued),
    ):
        if day and day > today:
            errors.add(field, N_("The date cannot be in the future."))
    if birth and admitted:
        if admitted <= birth:
            errors.add("admitted_on", N_("The date of admission must be after the date of birth."))
        elif age_on(birth, admitted) < MINIMUM_ADMISSION_AGE:
            errors.add(
                "admitted_on",
                N_("The member was under %(age)s years old on the date of admission."),
                age=MINIMUM_ADMISSION_AGE,
            )
    if admitted and official and official <= admitted:
        errors.add(
            "official_on",
            N_("The date of official recognition must be after the date of admission."),
        )
    if birth and youth and youth <= birth:
        errors.add(
            "youth_union_on",
            N_("The date of joining the Youth Union must be after the date of birth."),
        )
    if admitted and card_issued and card_issued < admitted:
        errors.add("card_issued_on", N_("The card cannot be issued before the date of admission."))
    if card_issued and not values.get("card_number"):
        errors.add("card_number", N_("Enter the card number for the card issue date."))


def _check_status(values: Mapping[str, Any], errors: FieldErrors) -> None:
    status = values.get("status")
    if status and status not in STATUSES:
        errors.add("status", N_("Choose the membership status."))
    elif status == MemberStatus.PROBATIONARY and values.get("official_on"):
        errors.add("status", N_("A member recognised as official cannot be probationary."))
    elif status == MemberStatus.OFFICIAL and not values.get("official_on"):
        errors.add(
            "official_on", N_("Enter the date of official recognition for an official member.")
        )


# --- Commands -----------------------------------------------------------------------

# Derived from the ledger once the member exists: changed by recording events.
LEDGER_FIELDS = frozenset({"unit_id", "status", "admitted_on", "official_on"})
# What an edit may change: the fields whose changes are the member's history.
EDITABLE_FIELDS = frozenset(TRACKED)


def record_values(member: Member) -> dict[str, Any]:
    """A record's values as the rules read them (the unit by id, text trimmed)."""
    values = {c.key: getattr(member, c.key) for c in Member.__table__.columns}
    if member.unit is not None:
        values["unit_id"] = member.unit.id
    return trimmed(values)


def row_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """`record_values` of a stored record read as a table row (imports read thousands)."""
    return trimmed({c.key: row[c.key] for c in Member.__table__.columns})


def trimmed(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v.strip() or None) if isinstance(v, str) else v for k, v in values.items()}


def member_problems(
    session: Session,
    requester: Requester,
    values: Mapping[str, Any],
    *,
    member_id: int | None,
    member_number_pattern: str,
    today: date | None = None,
    lookups: MemberLookups | None = None,
) -> FieldErrors:
    """The record's rules, and its cell inside the requester's scope (a cell outside it is
    answered like one that does not exist). Forms call it to show the problems on their
    fields; the commands call it before they write; an import calls it for each row with
    `lookups` loaded for its rows."""
    lookups = lookups or MemberLookups(session)
    errors = check_member(
        values,
        session=session,
        member_id=member_id,
        member_number_pattern=member_number_pattern,
        today=today,
        lookups=lookups,
    )
    unit_id = values.get("unit_id")
    if (
        unit_id is not None
        and "unit_id" not in errors.as_dict()
        and not lookups.unit_in_scope(unit_id, requester.scope)
    ):
        errors.add("unit_id", N_("The unit does not exist."))
    elif unit_id is not None and (owner := lookups.unit_owner(unit_id)) is not None:
        errors.add("unit_id", OWNED_ELSEWHERE, owner=owner.name or owner.unit_code)
    return errors


@command("member.create")
def create_member(
    session: Session,
    requester: Requester,
    member: Member,
    *,
    member_number_pattern: str,
    today: date | None = None,
) -> Member:
    """Enter a new record from the paper form (`member`, not yet saved) and open its ledger:
    admission to its cell and, if dated, official recognition."""
    from webapp.domain.events import record_opening_events

    # The new record is not in the session yet: reading it must not flush it half-checked.
    with session.no_autoflush:
        values = record_values(member)
    member_problems(
        session, requester, values, member_id=None, member_number_pattern=member_number_pattern
    ).raise_if_any()
    session.add(member)
    session.flush()
    record_opening_events(session, requester, member, today=today)
    return member


def check_editable(changes: Mapping[str, Any]) -> None:
    """An edit does not change the fields the ledger derives (ValidationFailed)."""
    ledger = sorted(set(changes) & LEDGER_FIELDS)
    if ledger:
        raise ValidationFailed(
            {field: [(N_("This field changes by recording an event."), {})] for field in ledger}
        )


@command("member.edit")
def edit_member(
    session: Session,
    requester: Requester,
    member_id: int,
    changes: Mapping[str, Any],
    *,
    member_number_pattern: str,
) -> Member:
    """Change fields of a record; its unit, status and ledger dates change only by events."""
    check_editable(changes)
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"not member fields: {sorted(unknown)}")
    member = find_member(session, requester, member_id)
    member_problems(
        session,
        requester,
        {**record_values(member), **trimmed(changes)},
        member_id=member.id,
        member_number_pattern=member_number_pattern,
    ).raise_if_any()
    for field, value in changes.items():
        setattr(member, field, value)
    session.flush()
    return member


# --- Deleting a record entered by mistake ---------------------------------------------

# What a record's entry itself writes into the ledger (record_opening_events): a record
# whose ledger holds nothing else has not been used yet.
OPENING_EVENT_KINDS = (EventKind.ADMISSION, EventKind.OFFICIAL_RECOGNITION)
# Why a record is not deleted, most telling first; each points to the leaving events.
_KEPT_BECAUSE = (
    (
        "movements",
        N_(
            "%(name)s (%(number)s) has movements in the ledger and is not deleted. "
            "A member who leaves is recorded by an event: death, removal from the rolls, "
            "expulsion, resignation or transfer out."
        ),
    ),
    (
        "cards_badges",
        N_(
            "%(name)s (%(number)s) has Party card or badge records and is not deleted. "
            "A member who leaves is recorded by an event: death, removal from the rolls, "
            "expulsion, resignation or transfer out."
        ),
    ),
    (
        "history",
        N_(
            "%(name)s (%(number)s) has a history of changes (edits, yearly supplements) and "
            "is not deleted. A member who leaves is recorded by an event: death, removal "
            "from the rolls, expulsion, resignation or transfer out."
        ),
    ),
    (
        "files",
        N_(
            "%(name)s (%(number)s) has photos or scanned documents in the file and is not "
            "deleted. A member who leaves is recorded by an event: death, removal from the "
            "rolls, expulsion, resignation or transfer out."
        ),
    ),
)


def _uses():
    """EXISTS clauses per kind of use of a member record, correlated to Member."""

    def any_of(*models):
        return or_(*(exists().where(model.member_id == Member.id) for model in models))

    return {
        "movements": exists().where(
            MemberEvent.member_id == Member.id, MemberEvent.kind.not_in(OPENING_EVENT_KINDS)
        ),
        "cards_badges": any_of(CardProposal, PartyCard, BadgeProposal, BadgeAward),
        "history": any_of(MemberChange, MemberSupplement),
        "files": any_of(MemberPhoto, MemberDocument),
    }


def deletion_refusals(session: Session, member_ids) -> dict[int, tuple[str, dict]]:
    """Why each of these records may not be deleted (msgid, params); a record absent from
    the answer was entered by mistake and never used: its ledger holds only the events its
    entry wrote, and no card, badge, change, supplement, photo or document refers to it.
    One query for a list page's rows."""
    ids = [i for i in member_ids if isinstance(i, int)]
    if not ids:
        return {}
    uses = _uses()
    rows = session.execute(
        select(Member.id, Member.birth_name, Member.name_in_use, Member.member_number)
        .add_columns(*(clause.label(name) for name, clause in uses.items()))
        .where(Member.id.in_(ids))
    ).mappings()
    refusals = {}
    for row in rows:
        reason = next((message for name, message in _KEPT_BECAUSE if row[name]), None)
        if reason is not None:
            name = row["name_in_use"] or row["birth_name"]
            refusals[row["id"]] = (reason, {"name": name, "number": row["member_number"]})
    return refusals


def may_delete_member(session: Session, requester: Requester, member_ids) -> set[int]:
    """The records among `member_ids` the requester may delete (the list offers its delete
    button on these rows only): their role may, and the record was never used."""
    if not requester.may("member.delete"):
        return set()
    refused = deletion_refusals(session, member_ids)
    return {i for i in member_ids if i not in refused}


@command("member.delete")
def delete_member(session: Session, requester: Requester, member_id: int) -> None:
    """Delete a record entered by mistake and never used (Admin; audited like every
    delete). A member with a history leaves the rolls by an event instead."""
    member = find_member(session, requester, member_id)
    refusal = deletion_refusals(session, [member.id]).get(member.id)
    if refusal is not None:
        raise InUse(refusal[0], **refusal[1])
    # The opening events its entry wrote go with it; the audit log keeps every row.
    for event in list(member.events):
        session.delete(event)
    session.flush()
    for rows in (
        member.work_periods,
        member.training_courses,
        member.commendations,
        member.disciplines,
        member.trips_abroad,
        member.family_relations,
    ):
        for row in rows:
            session.delete(row)
    delete_unreferenced(
        session,
        member,
        N_("The member's record is still referred to (cards, badges); it cannot be deleted."),
    )
