"""Record completeness: a record is "1-page" when the identity and Party sections of the
member form are filled in, "4-page" when the qualification and career pages are too.
The paper count in the seed article (97,372 full records, 802 one-page) is this figure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

INCOMPLETE, ONE_PAGE, FOUR_PAGE = "incomplete", "one_page", "four_page"

ONE_PAGE_FIELDS = (
    "member_number",
    "birth_name",
    "sex",
    "birth_date",
    "birthplace",
    "home_town",
    "permanent_address",
    "ethnicity",
    "religion",
    "admitted_on",
    "admitting_cell",
    "introducer_1",
    "introducer_2",
    "unit_id",
)
FOUR_PAGE_FIELDS = (
    "citizen_id",
    "general_education",
    "professional_level",
    "political_theory",
    "occupation_at_admission",
    "occupation",
    "health",
)
# Repeating rows that a full record has at least one of.
FOUR_PAGE_ROWS = ("work_periods", "family_relations")


@dataclass(frozen=True)
class Completeness:
    level: str
    missing: tuple[str, ...]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def completeness(values: Mapping[str, Any], row_counts: Mapping[str, int]) -> Completeness:
    """The level reached and the fields (or row kinds) still missing, in form order."""
    missing_one = [f for f in ONE_PAGE_FIELDS if _blank(values.get(f))]
    if values.get("status") == "official" and _blank(values.get("official_on")):
        missing_one.append("official_on")
    missing_four = [f for f in FOUR_PAGE_FIELDS if _blank(values.get(f))]
    missing_four += [rows for rows in FOUR_PAGE_ROWS if not row_counts.get(rows)]
    if missing_one:
        return Completeness(INCOMPLETE, tuple(missing_one + missing_four))
    if missing_four:
        return Completeness(ONE_PAGE, tuple(missing_four))
    return Completeness(FOUR_PAGE, ())
