"""The one date parser of every way in: forms, list filters, the APIs, the CLI, report
parameters and imported files.

Accepted: dd/mm/yyyy as people write it (one-digit day or month too: 1/9/2020) and ISO
yyyy-mm-dd as machines send it. Nothing else: two-digit years, dots, times and ISO week
forms are refused rather than guessed. A value of the right shape that is no day of the
calendar (31/02/2020, 00/01/2020) gets its own message, and so does a year outside
FIRST_YEAR–LAST_YEAR (a typing slip such as 19/05/0199; the records begin with the Party's
founding and no plan looks beyond this century). Rules about which dates make sense for a
field (not in the future, after the admission…) belong to the callers.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from webapp.domain.errors import N_, ValidationFailed

FIRST_YEAR = 1900
LAST_YEAR = 2100

# ASCII digits only: \d would also take Arabic-Indic and other digits.
DAY_MONTH_YEAR = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")

WRONG_FORMAT = N_("Enter the date as dd/mm/yyyy, e.g. 19/05/1990.")
NOT_A_DAY = N_("%(value)s is not a day of the calendar: check the day and the month (dd/mm/yyyy).")
YEAR_OUT_OF_RANGE = N_("The year must be between %(first)s and %(last)s (dd/mm/yyyy).")


def parse_date(value: object, field: str) -> date | None:
    """None for an empty value; a date for dd/mm/yyyy, d/m/yyyy or yyyy-mm-dd text (a date
    passes through, a datetime gives its day); otherwise ValidationFailed on `field`."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValidationFailed({field: [(WRONG_FORMAT, {})]})
    text = value.strip()
    if not text:
        return None
    if match := DAY_MONTH_YEAR.fullmatch(text):
        day, month, year = (int(part) for part in match.groups())
    elif match := ISO_DATE.fullmatch(text):
        year, month, day = (int(part) for part in match.groups())
    else:
        raise ValidationFailed({field: [(WRONG_FORMAT, {})]})
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValidationFailed(
            {field: [(YEAR_OUT_OF_RANGE, {"first": FIRST_YEAR, "last": LAST_YEAR})]}
        )
    try:
        return date(year, month, day)
    except ValueError:
        raise ValidationFailed({field: [(NOT_A_DAY, {"value": text})]}) from None


def date_or_none(value: object) -> date | None:
    """The date, or None when there is none or it does not parse (a search word that may
    or may not be a date; a cell whose caller reports its own message)."""
    try:
        return parse_date(value, "date")
    except ValidationFailed:
        return None
