"""Party age (tuổi đảng), DESIGN §4.

Counted, once the member has been recognised official, from the date the admission
decision was signed (or, where the decision is lost, the date on the card), minus the
time off the rolls: removal, expulsion, resignation, non-recognition until re-admission
(allowed once; counting still starts at the first admission). A removal or expulsion
later found wrongful (restoration) leaves Party age continuous. Death ends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from webapp.domain.ledger import Gap, MemberState, Standing


def add_years(day: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class PartyAge:
    counted_from: date  # the admission decision date
    interruption_days: int  # days off the rolls that do not count
    as_of: date

    @property
    def start(self) -> date:
        """The admission date moved forward by the interruptions."""
        return self.counted_from + timedelta(days=self.interruption_days)

    @property
    def years(self) -> int:
        start, day = self.start, self.as_of
        return day.year - start.year - ((day.month, day.day) < (start.month, start.day))

    @property
    def months(self) -> int:
        """Whole months beyond the whole years."""
        start, day = self.start, self.as_of
        months = (day.year - start.year) * 12 + day.month - start.month - (day.day < start.day)
        return months - 12 * self.years

    def reaches(self, years: int) -> date:
        """The date on which Party age reaches `years`, given the interruptions so far."""
        return add_years(self.start, years)


def interruption_days(gaps: tuple[Gap, ...], as_of: date) -> int:
    total = 0
    for gap in gaps:
        if gap.continuous or gap.starts_on >= as_of:
            continue
        end = min(gap.ends_on or as_of, as_of)
        total += (end - gap.starts_on).days
    return total


def party_age(
    state: MemberState,
    as_of: date,
    *,
    admission_decision_on: date | None = None,
    card_issued_on: date | None = None,
) -> PartyAge | None:
    """Party age on `as_of`, or None while the member has never been official.

    `state` is the ledger replayed up to `as_of`. The start is the first admission decision
    date (the ledger's, else `admission_decision_on` from the record, else the card date).
    """
    if not state.ever_official:
        return None
    counted_from = state.first_admitted_on or admission_decision_on or card_issued_on
    if counted_from is None:
        return None
    end = as_of
    if state.standing == Standing.DECEASED and state.left_on is not None:
        end = min(end, state.left_on)
    return PartyAge(
        counted_from=counted_from, interruption_days=interruption_days(state.gaps, end), as_of=end
    )
