"""National catalogues in the database: seeded from catalogue_data, maintained by Admins
(entries are added, renamed and retired, never deleted: old records keep their values)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.domain.catalogue_data import CATALOGUES
from webapp.domain.commands import Requester, command
from webapp.domain.errors import N_, FieldErrors, NotFound
from webapp.models.record import CatalogueEntry

ENTRY_FIELDS = ("kind", "code", "name", "position", "active")

# Member fields whose values come from a catalogue (field → catalogue kind).
MEMBER_FIELD_CATALOGUES = {
    "ethnicity": "ethnicity",
    "religion": "religion",
    "general_education": "general_education",
    "professional_level": "professional_level",
    "academic_title": "academic_title",
    "political_theory": "political_theory",
    "state_management": "state_management",
    "it_level": "it_level",
    "occupation_at_admission": "occupation",
    "occupation": "occupation",
}


@command("catalogue.write")
def seed_catalogues(session: Session, requester: Requester) -> int:
    """Add the catalogue entries that are missing (by kind and code); never changes or
    removes what an Admin has edited. Returns the number added."""
    existing = set(session.execute(select(CatalogueEntry.kind, CatalogueEntry.code)).all())
    added = 0
    for kind, catalogue in CATALOGUES.items():
        for position, entry in enumerate(catalogue.entries):
            if (kind, entry.code) not in existing:
                session.add(
                    CatalogueEntry(kind=kind, code=entry.code, name=entry.name, position=position)
                )
                added += 1
    session.flush()
    return added


def check_entry(session: Session, values: Mapping[str, Any], entry_id: int | None) -> FieldErrors:
    errors = FieldErrors()
    for name, message, limit in (
        ("kind", N_("Choose the catalogue."), 40),
        ("code", N_("The code is required."), 20),
        ("name", N_("The name is required."), 200),
    ):
        text = (values.get(name) or "").strip()
        if not text:
            errors.add(name, message)
        elif len(text) > limit:
            errors.add(name, N_("At most %(limit)s characters."), limit=limit)
    if errors:
        return errors
    for name, message in (
        ("code", N_("The code %(value)s is already used in this catalogue.")),
        ("name", N_("%(value)s is already in this catalogue.")),
    ):
        column = getattr(CatalogueEntry, name)
        clash = select(CatalogueEntry.id).where(
            CatalogueEntry.kind == values["kind"].strip(),
            func.lower(column) == values[name].strip().lower(),
        )
        if entry_id is not None:
            clash = clash.where(CatalogueEntry.id != entry_id)
        with session.no_autoflush:
            if session.execute(clash.limit(1)).first():
                errors.add(name, message, value=values[name].strip())
    return errors


def _entry_values(entry: CatalogueEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in ENTRY_FIELDS}


@command("catalogue.write")
def add_catalogue_entry(
    session: Session, requester: Requester, entry: CatalogueEntry
) -> CatalogueEntry:
    check_entry(session, _entry_values(entry), None).raise_if_any()
    session.add(entry)
    session.flush()
    return entry


@command("catalogue.write")
def edit_catalogue_entry(
    session: Session, requester: Requester, entry_id: int, changes: Mapping[str, Any]
) -> CatalogueEntry:
    """Rename, reorder or retire (active off) an entry."""
    unknown = set(changes) - set(ENTRY_FIELDS)
    if unknown:
        raise ValueError(f"not catalogue fields: {sorted(unknown)}")
    # National data: no unit scope; the role alone decides who may change it.
    entry = session.scalar(
        select(CatalogueEntry).where(CatalogueEntry.id == entry_id).with_for_update()
    )
    if entry is None:
        raise NotFound(N_("The record does not exist."))
    check_entry(session, {**_entry_values(entry), **changes}, entry.id).raise_if_any()
    for name, value in changes.items():
        setattr(entry, name, value)
    session.flush()
    return entry


def active_catalogues(session: Session) -> dict[str, list[str]]:
    """Every catalogue's active names, by kind, in one query (a form with ten pick-lists)."""
    found: dict[str, list[str]] = {}
    rows = session.execute(
        select(CatalogueEntry.kind, CatalogueEntry.name)
        .where(CatalogueEntry.active.is_(True))
        .order_by(CatalogueEntry.kind, CatalogueEntry.position, CatalogueEntry.name)
    )
    for kind, name in rows:
        found.setdefault(kind, []).append(name)
    return found


def catalogue_names(session: Session, kind: str) -> list[str]:
    return list(
        session.scalars(
            select(CatalogueEntry.name)
            .where(CatalogueEntry.kind == kind, CatalogueEntry.active.is_(True))
            .order_by(CatalogueEntry.position, CatalogueEntry.name)
        )
    )
