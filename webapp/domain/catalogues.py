"""National catalogues in the database: seeded from catalogue_data, maintained by Admins."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.domain.catalogue_data import CATALOGUES
from webapp.models.record import CatalogueEntry

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


def seed_catalogues(session: Session) -> int:
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
    session.commit()
    return added


def catalogue_names(session: Session, kind: str) -> list[str]:
    return list(
        session.scalars(
            select(CatalogueEntry.name)
            .where(CatalogueEntry.kind == kind, CatalogueEntry.active.is_(True))
            .order_by(CatalogueEntry.position, CatalogueEntry.name)
        )
    )
