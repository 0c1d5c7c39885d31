"""Party badge (Huy hiệu Đảng) eligibility, DESIGN §5: plain functions over the ledger.

Who is eligible for which badge on an occasion, read next to the regulation. Everything
that the regulation fixes as numbers (milestones, occasions, deferral and early windows)
is data in `BadgeRules`; `BadgeRules.default()` holds DESIGN §5.

Readings of the rules (the table of cases in tests/test_badge_eligibility.py shows each):

- **Party age** is `webapp.domain.party_age.party_age`: counted from the first admission
  decision (else the record's admission date, else the card date), interruptions (removal,
  expulsion, resignation, non-recognition until re-admission) subtracted, a restored
  removal/expulsion continuous. The date milestone M is reached is `PartyAge.reaches(M)`:
  the admission date moved forward by the interruptions known at the occasion, plus M
  years (29 February + M years is 28 February in a common year).
- **Window.** For an occasion O the member is eligible for milestone M when M is reached
  before the next occasion after O: `reaches_on < next_occasion(O)`. Reaching it on the
  next occasion itself belongs to that next round.
- **On the rolls at O, as an official member**: the ledger period covering O is
  `official`. Probationary members (including a re-admitted member not yet recognised
  anew) have no Party age and are never eligible; deceased, left (removed, expelled,
  resigned, not recognised) and transferred-out members are not on the rolls. A member on
  a temporary transfer, exempted or suspended from activity stays on the home rolls and
  is not excluded here (a suspension pending discipline is for the clerk to judge).
  Posthumous awards and early proposals are added by hand (see `may_propose_early`).
- **Missed rounds.** When several milestones are reached and not held (a round was missed
  or deferred), the member is proposed for the **highest** milestone reached, and only if
  it is above every badge held: a member holding 40 who has reached 45 and 50 gets 50;
  a member holding 50 gets nothing for 45. Milestones are never proposed twice.
- **Discipline deferral** (DISCIPLINE_SEVERITY): a warning (CANH_CAO, severity 2) defers
  until `warning_deferral_months` after the decision date, a dismissal (CACH_CHUC) or
  anything heavier (KHAI_TRU, should a restored member still carry it) until
  `dismissal_deferral_months`; a reprimand (KHIEN_TRACH) does not defer. The member is
  eligible again on the day the deferral ends (decision 12/01/2027 + 6 months → eligible
  from 12/07/2027; the end of a month is clamped: 31/08 + 6 months = 28/02 or 29/02).
  Only decisions dated on or before the occasion count, so a past round can be
  reproduced. A form that matches no catalogue entry (free text) does not defer.
- **Early proposals** (serious illness): up to `early_months[M]` months before M is
  reached (12 for 30–65 years, 24 for 70–90). `early_window_opens` is the first day a
  proposal may be made; `may_propose_early` says whether a proposal for M at O is allowed
  (on the rolls as official, M not held and above every badge held, no deferral, and the
  window open on O). It is also true when the member is eligible in the ordinary way.

- **Scope**: a member belongs to the subtree whose unit holds them on its rolls on O (the
  home unit of the ledger period, as in `rolls.roll_as_of`); a member temporarily active
  in the subtree but counted elsewhere is proposed by the home unit.

The loader (`load_candidates`) reads a whole subtree with a few set-based queries: the
members whose ledger period covering O is official in a unit of the subtree, then, per
batch of members, their events and their disciplines; each ledger is replayed in Python
with `replay(…, until=O)`. Its SQL pre-filter keeps only members admitted before
`admission_cutoff(O, rules)`; see that function for why it never drops an eligible member.
`eligible_members` also skips, before reading their events, the members who cannot be due
whatever their ledger says (`could_be_eligible`: the milestone reachable from the
admission date is none or not above a badge held) -- in a steady round, nearly everyone.

Beyond the agreed interface: `load_candidates(…, rules=, batch_size=)` (keyword-only),
`load_candidate` (one member, for manual proposals), `is_occasion`, `occasions_of_year`,
`add_months`, `deferral_months`, `deferred_until`, `official_on`, `highest_reached`,
`could_be_eligible`, `admission_cutoff`, `discipline_codes`/`form_code`; BadgeCandidate's
`disciplines` and `held_milestones` default to empty.

The same rule in SQL (`eligible_select`, PostgreSQL): what `eligible_members` finds, as one
set-based SELECT run in the database, for the worklist's nightly refresh; the readings
above clause by clause (see its docstring). tests/test_worklist.py compares the two on
members built through the real ledger.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import MappingProxyType

from sqlalchemy import (
    ARRAY,
    Integer,
    Interval,
    String,
    and_,
    any_,
    case,
    cast,
    column,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    values,
)
from sqlalchemy.orm import Session, aliased

from webapp.domain.catalogue_data import DISCIPLINE_FORM, DISCIPLINE_SEVERITY
from webapp.domain.ledger import LEAVING, EventKind, Gap, LedgerEvent, MemberState, Standing, replay
from webapp.domain.party_age import PartyAge, add_years, party_age
from webapp.domain.vietnamese import fold
from webapp.models.badges import BadgeAward
from webapp.models.ledger import MemberEvent, MemberPeriod
from webapp.models.member import ON_THE_ROLLS, Member
from webapp.models.record import CatalogueEntry, Discipline
from webapp.models.unit import Unit

DEFAULT_MILESTONES = (30, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90)
DEFAULT_OCCASIONS = ((2, 3), (5, 19), (9, 2), (11, 7))  # 3/2, 19/5, 2/9, 7/11
DEFAULT_EARLY_MONTHS = {m: (12 if m <= 65 else 24) for m in DEFAULT_MILESTONES}

WARNING = "CANH_CAO"
DISMISSAL = "CACH_CHUC"


@dataclass(frozen=True)
class BadgeRules:
    milestones: tuple[int, ...]
    occasions: tuple[tuple[int, int], ...]  # (month, day)
    early_months: Mapping[int, int]  # milestone -> months
    warning_deferral_months: int = 6
    dismissal_deferral_months: int = 12

    def __post_init__(self) -> None:
        if not self.milestones or not self.occasions:
            raise ValueError("Badge rules need at least one milestone and one occasion.")
        for month, day in self.occasions:
            date(2001, month, day)  # ValueError for 30/2, 31/4 … (and 29/2: not every year)
        object.__setattr__(self, "milestones", tuple(sorted(set(self.milestones))))
        object.__setattr__(self, "occasions", tuple(sorted(set(self.occasions))))
        object.__setattr__(self, "early_months", MappingProxyType(dict(self.early_months)))

    def __hash__(self) -> int:
        return hash(
            (
                self.milestones,
                self.occasions,
                tuple(sorted(self.early_months.items())),
                self.warning_deferral_months,
                self.dismissal_deferral_months,
            )
        )

    @classmethod
    def default(cls) -> BadgeRules:
        return cls(
            milestones=DEFAULT_MILESTONES,
            occasions=DEFAULT_OCCASIONS,
            early_months=DEFAULT_EARLY_MONTHS,
        )


@dataclass(frozen=True)
class DisciplineRecord:
    decided_on: date
    form_code: str  # DISCIPLINE_FORM code (KHIEN_TRACH, CANH_CAO, CACH_CHUC, KHAI_TRU)


@dataclass(frozen=True)
class BadgeCandidate:
    member_id: int
    state: MemberState  # the ledger replayed up to (at least) the occasion
    admission_decision_on: date | None  # Member.admitted_on
    card_issued_on: date | None
    disciplines: tuple[DisciplineRecord, ...] = ()
    held_milestones: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Eligibility:
    member_id: int
    milestone: int
    reaches_on: date
    party_age: PartyAge  # as of the occasion
    reason: str


# --- dates ---------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier), clamped to the end of a shorter month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def occasions_of_year(year: int, rules: BadgeRules) -> list[date]:
    return [date(year, month, day) for month, day in rules.occasions]


def is_occasion(day: date, rules: BadgeRules) -> bool:
    return (day.month, day.day) in rules.occasions


def next_occasion(after: date, rules: BadgeRules) -> date:
    """The first occasion strictly after `after`."""
    for day in (*occasions_of_year(after.year, rules), *occasions_of_year(after.year + 1, rules)):
        if day > after:
            return day
    raise AssertionError("unreachable")  # pragma: no cover


def _dmy(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _duration(start: date, end: date) -> str:
    """'2 năm 3 tháng', '5 tháng 12 ngày', '20 ngày' between two dates."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if add_months(start, months) > end:
        months -= 1
    days = (end - add_months(start, months)).days
    years, months = divmod(months, 12)
    parts = [f"{years} năm"] if years else []
    if months:
        parts.append(f"{months} tháng")
    if days or not parts:
        parts.append(f"{days} ngày")
    return " ".join(parts)


# --- the rules -----------------------------------------------------------------------


def deferral_months(form_code: str, rules: BadgeRules) -> int:
    """Months a discipline of this form defers a badge (0: no deferral)."""
    severity = DISCIPLINE_SEVERITY.get(form_code)
    if severity is None or severity < DISCIPLINE_SEVERITY[WARNING]:
        return 0
    if severity >= DISCIPLINE_SEVERITY[DISMISSAL]:
        return rules.dismissal_deferral_months
    return rules.warning_deferral_months


def deferred_until(
    disciplines: Iterable[DisciplineRecord], occasion: date, rules: BadgeRules
) -> tuple[date, DisciplineRecord] | None:
    """The day a deferral still running on `occasion` ends, and the decision causing it."""
    latest: tuple[date, DisciplineRecord] | None = None
    for record in disciplines:
        months = deferral_months(record.form_code, rules)
        if not months or record.decided_on > occasion:
            continue
        ends = add_months(record.decided_on, months)
        if ends > occasion and (latest is None or ends > latest[0]):
            latest = (ends, record)
    return latest


def official_on(state: MemberState, day: date) -> bool:
    """On a unit's rolls as an official member on `day` (from the replayed periods)."""
    return any(
        p.starts_on <= day
        and (p.ends_on is None or p.ends_on > day)
        and p.standing == Standing.OFFICIAL
        for p in state.periods
    )


def _age(candidate: BadgeCandidate, occasion: date) -> PartyAge | None:
    return party_age(
        candidate.state,
        occasion,
        admission_decision_on=candidate.admission_decision_on,
        card_issued_on=candidate.card_issued_on,
    )


def highest_reached(start: date, deadline: date, rules: BadgeRules) -> int | None:
    """The highest milestone reached before `deadline` by a Party age starting on `start`
    (the same dates as `PartyAge.reaches`)."""
    most = deadline.year - start.year  # add_years(start, m) has the year start.year + m
    for milestone in reversed(rules.milestones):
        if milestone <= most and add_years(start, milestone) < deadline:
            return milestone
    return None


def could_be_eligible(
    admitted_on: date | None, held: frozenset[int], occasion: date, rules: BadgeRules
) -> bool:
    """False when the member cannot be eligible on `occasion` whatever the ledger says:
    Party age starts on the admission date or later (interruptions only push it forward),
    so the highest milestone reachable by the deadline starting from `admitted_on` bounds
    the one `eligibility` finds; when that is none, or not above a badge held, nothing is
    due. Lets `eligible_members` skip the replay of members holding their badges."""
    if admitted_on is None:
        return True
    best = highest_reached(admitted_on, next_occasion(occasion, rules), rules)
    return best is not None and _above_held(best, held)


def _above_held(milestone: int, held: frozenset[int]) -> bool:
    return milestone not in held and all(milestone > h for h in held)


def eligibility(candidate: BadgeCandidate, occasion: date, rules: BadgeRules) -> Eligibility | None:
    """The badge the member is proposed for on `occasion`, with the reason, or None."""
    if not official_on(candidate.state, occasion):
        return None
    age = _age(candidate, occasion)
    if age is None:
        return None
    if deferred_until(candidate.disciplines, occasion, rules) is not None:
        return None
    milestone = highest_reached(age.start, next_occasion(occasion, rules), rules)
    if milestone is None or not _above_held(milestone, candidate.held_milestones):
        return None
    reaches_on = age.reaches(milestone)
    return Eligibility(
        member_id=candidate.member_id,
        milestone=milestone,
        reaches_on=reaches_on,
        party_age=age,
        reason=_reason(candidate, age, milestone, reaches_on, occasion, rules),
    )


def _reason(
    candidate: BadgeCandidate,
    age: PartyAge,
    milestone: int,
    reaches_on: date,
    occasion: date,
    rules: BadgeRules,
) -> str:
    state = candidate.state
    if state.first_admitted_on or candidate.admission_decision_on:
        parts = [f"Vào Đảng {_dmy(age.counted_from)}"]
    else:
        parts = [f"Vào Đảng (theo ngày cấp thẻ) {_dmy(age.counted_from)}"]
    interruptions = [
        (gap.starts_on, min(gap.ends_on or age.as_of, age.as_of))
        for gap in state.gaps
        if not gap.continuous and gap.starts_on < age.as_of
    ]
    if interruptions:
        parts.append(
            "gián đoạn "
            + ", ".join(
                f"{_duration(start, end)} ({_dmy(start)} – {_dmy(end)})"
                for start, end in interruptions
            )
        )
    else:
        parts.append("không gián đoạn")
    restored = [g for g in state.gaps if g.continuous and g.starts_on < occasion]
    if restored:
        parts.append(
            "tuổi đảng liên tục qua "
            + ", ".join(_gap_text(g) for g in restored)
            + " (đã khôi phục đảng tịch)"
        )
    parts.append(f"tuổi đảng {milestone} năm vào ngày {_dmy(reaches_on)}")
    skipped = [
        m for m in rules.milestones if m < milestone and _above_held(m, candidate.held_milestones)
    ]
    if skipped and age.reaches(skipped[-1]) < occasion:
        parts.append("chưa nhận huy hiệu " + ", ".join(f"{m} năm" for m in skipped))
    for record in candidate.disciplines:
        months = deferral_months(record.form_code, rules)
        if months and record.decided_on <= occasion:
            parts.append(
                f"kỷ luật {_form_name(record.form_code).lower()} ngày {_dmy(record.decided_on)}, "
                f"hết thời hạn hoãn ngày {_dmy(add_months(record.decided_on, months))}"
            )
    return "; ".join(parts)


def _gap_text(gap: Gap) -> str:
    end = f" – {_dmy(gap.ends_on)}" if gap.ends_on else ""
    return f"{_dmy(gap.starts_on)}{end}"


_FORM_NAMES = {entry.code: entry.name for entry in DISCIPLINE_FORM.entries}


def _form_name(code: str) -> str:
    return _FORM_NAMES.get(code, code)


def early_window_opens(milestone_reaches_on: date, milestone: int, rules: BadgeRules) -> date:
    """The first day a seriously ill member may be proposed early for `milestone`
    (the day it is reached when the rules give that milestone no early window)."""
    return add_months(milestone_reaches_on, -rules.early_months.get(milestone, 0))


def may_propose_early(
    candidate: BadgeCandidate, milestone: int, occasion: date, rules: BadgeRules
) -> bool:
    """Whether a (manual) early proposal for `milestone` on `occasion` is allowed."""
    if milestone not in rules.milestones or not official_on(candidate.state, occasion):
        return False
    age = _age(candidate, occasion)
    if age is None or not _above_held(milestone, candidate.held_milestones):
        return False
    if deferred_until(candidate.disciplines, occasion, rules) is not None:
        return False
    return early_window_opens(age.reaches(milestone), milestone, rules) <= occasion


# --- loading a subtree ---------------------------------------------------------------


def admission_cutoff(occasion: date, rules: BadgeRules) -> date:
    """Members admitted on or after this date cannot be eligible on `occasion`, not even
    early; the loader's SQL pre-filter is `Member.admitted_on < admission_cutoff(…)`.

    Why nothing eligible is dropped: the start of Party age is the admission date moved
    *forward* by interruptions, and `add_years` never decreases when its date or its
    years grow; so reaching milestone M before a bound B_M needs
    `add_years(admitted_on, M) < B_M`, i.e. `admitted_on < add_years(B_M, -M)` (three days
    of slack for 29 February). B_M is the later of the next occasion (ordinary
    eligibility) and O + M's early window (early proposals; a week of slack for month-end
    clamping); the cutoff is the latest over all milestones. The record's
    `admitted_on` is the ledger's first admission (events.apply_state keeps them equal) or,
    for a member who arrived by transfer, the very date Party age counts from.
    tests/test_badge_eligibility.py checks the bound day by day around the boundaries.
    """
    deadline = next_occasion(occasion, rules)
    cutoffs = []
    for milestone in rules.milestones:
        early = rules.early_months.get(milestone, 0)
        bound = max(deadline, add_months(occasion, early) + timedelta(days=7))
        cutoffs.append(add_years(bound, -milestone) + timedelta(days=3))
    return max(cutoffs)


def discipline_codes(session: Session) -> dict[str, str]:
    """Folded discipline form name or code → catalogue code (the record stores the name
    chosen from the catalogue; an Admin may have renamed it, so the database's names
    count as well as the built-in ones)."""
    codes = {}
    for entry in DISCIPLINE_FORM.entries:
        codes[fold(entry.code)] = entry.code
        codes[fold(entry.name)] = entry.code
    rows = session.execute(
        select(CatalogueEntry.code, CatalogueEntry.name).where(
            CatalogueEntry.kind == DISCIPLINE_FORM.kind
        )
    )
    for code, name in rows:
        codes[fold(name)] = code
    return codes


def form_code(form: str | None, codes: Mapping[str, str]) -> str:
    return codes.get(fold(form), (form or "").strip())


def _officials(occasion: date, cutoff: date):
    return (
        select(Member.id, Member.admitted_on, Member.card_issued_on)
        .join(MemberPeriod, MemberPeriod.member_id == Member.id)
        .join(Unit, Unit.id == MemberPeriod.unit_id)
        .where(
            MemberPeriod.starts_on <= occasion,
            or_(MemberPeriod.ends_on.is_(None), MemberPeriod.ends_on > occasion),
            MemberPeriod.standing == Standing.OFFICIAL,
            Member.admitted_on < cutoff,
        )
        .order_by(Member.id)
    )


def _subtree_officials(root_unit: Unit, occasion: date, cutoff: date):
    return _officials(occasion, cutoff).where(Unit.path.startswith(root_unit.path, autoescape=True))


def _own_subtree_officials(member_ids: list[int], occasion: date, cutoff: date, postgresql):
    """`_subtree_officials` of each member's own unit, for the members `member_ids` (a
    unit's path is digits and slashes: nothing to escape in the LIKE pattern)."""
    own = aliased(Unit)
    return (
        _officials(occasion, cutoff)
        .join(own, own.id == Member.unit_id)
        .where(_among(Member.id, member_ids, postgresql), Unit.path.startswith(own.path))
    )


def load_candidates(
    session: Session,
    root_unit: Unit,
    occasion: date,
    held: Mapping[int, frozenset[int]],
    *,
    rules: BadgeRules | None = None,
    batch_size: int = 5000,
) -> Iterator[BadgeCandidate]:
    """Candidates of `root_unit`'s subtree for `occasion`: official on a unit's rolls there
    on the occasion, admitted early enough to reach a milestone (`admission_cutoff`), with
    their ledger replayed up to the occasion and their disciplines decided by then.

    `rules` (an addition to the agreed interface; default `BadgeRules.default()`) gives
    the pre-filter its milestones, occasions and early windows. One query for the members,
    then two per batch of `batch_size` members: their events, their disciplines.
    """
    return _load(session, root_unit, occasion, held, rules or BadgeRules.default(), batch_size)


def _among(column, ids: list[int], postgresql: bool):
    """`column IN ids`; one array parameter on PostgreSQL (thousands of IN parameters
    cost more to send and parse than the query itself)."""
    if postgresql:
        return column == any_(literal(ids, ARRAY(Integer)))
    return column.in_(ids)


def _load(
    session: Session,
    root_unit: Unit | list[int],
    occasion: date,
    held: Mapping[int, frozenset[int]],
    rules: BadgeRules,
    batch_size: int,
    keep=None,
) -> Iterator[BadgeCandidate]:
    """`load_candidates`, leaving out (before their events are read) the members for whom
    `keep(admitted_on, held_milestones)` is false. `root_unit` may instead be a list of
    member ids: those of them in their own unit's subtree (`eligible_in_own_units`)."""
    codes = discipline_codes(session)
    postgresql = session.get_bind().dialect.name == "postgresql"
    cutoff = admission_cutoff(occasion, rules)
    if isinstance(root_unit, Unit):
        rows = session.execute(_subtree_officials(root_unit, occasion, cutoff)).all()
    else:
        ids = sorted(set(root_unit))
        rows = []
        for start in range(0, len(ids), batch_size):
            rows += session.execute(
                _own_subtree_officials(
                    ids[start : start + batch_size], occasion, cutoff, postgresql
                )
            ).all()
    members, seen = [], set()
    for member_id, admitted_on, card_issued_on in rows:
        if member_id in seen:
            continue
        seen.add(member_id)
        member_held = frozenset(held.get(member_id, ()))
        if keep is None or keep(admitted_on, member_held):
            members.append((member_id, admitted_on, card_issued_on, member_held))
    for start in range(0, len(members), batch_size):
        batch = members[start : start + batch_size]
        ids = [row[0] for row in batch]
        events: dict[int, list[LedgerEvent]] = {}
        for member_id, *event in session.execute(
            select(
                MemberEvent.member_id,
                MemberEvent.id,
                MemberEvent.kind,
                MemberEvent.effective_on,
                MemberEvent.to_unit_id,
                MemberEvent.reverses_id,
                MemberEvent.arriving_as,
            )
            .where(_among(MemberEvent.member_id, ids, postgresql))
            .order_by(MemberEvent.member_id, MemberEvent.id)
        ):
            events.setdefault(member_id, []).append(LedgerEvent(*event))
        disciplines: dict[int, list[DisciplineRecord]] = {}
        for member_id, decided_on, form in session.execute(
            select(Discipline.member_id, Discipline.decided_on, Discipline.form)
            .where(_among(Discipline.member_id, ids, postgresql), Discipline.decided_on <= occasion)
            .order_by(Discipline.member_id, Discipline.decided_on)
        ):
            disciplines.setdefault(member_id, []).append(
                DisciplineRecord(decided_on=decided_on, form_code=form_code(form, codes))
            )
        for member_id, admitted_on, card_issued_on, member_held in batch:
            yield BadgeCandidate(
                member_id=member_id,
                state=replay(events.get(member_id, ()), until=occasion),
                admission_decision_on=admitted_on,
                card_issued_on=card_issued_on,
                disciplines=tuple(disciplines.get(member_id, ())),
                held_milestones=member_held,
            )


def load_candidate(
    session: Session,
    member_id: int,
    occasion: date,
    held_milestones: frozenset[int] = frozenset(),
) -> BadgeCandidate | None:
    """One member's candidate (an addition, for manual early/posthumous proposals)."""
    member = session.get(Member, member_id)
    if member is None:
        return None
    codes = discipline_codes(session)
    events = session.execute(
        select(
            MemberEvent.id,
            MemberEvent.kind,
            MemberEvent.effective_on,
            MemberEvent.to_unit_id,
            MemberEvent.reverses_id,
            MemberEvent.arriving_as,
        )
        .where(MemberEvent.member_id == member_id)
        .order_by(MemberEvent.id)
    )
    disciplines = session.execute(
        select(Discipline.decided_on, Discipline.form)
        .where(Discipline.member_id == member_id, Discipline.decided_on <= occasion)
        .order_by(Discipline.decided_on)
    )
    return BadgeCandidate(
        member_id=member_id,
        state=replay((LedgerEvent(*row) for row in events), until=occasion),
        admission_decision_on=member.admitted_on,
        card_issued_on=member.card_issued_on,
        disciplines=tuple(DisciplineRecord(d, form_code(f, codes)) for d, f in disciplines),
        held_milestones=frozenset(held_milestones),
    )


def eligible_members(
    session: Session,
    root_unit: Unit,
    occasion: date,
    rules: BadgeRules,
    held: Mapping[int, frozenset[int]],
) -> list[Eligibility]:
    """Everyone in `root_unit`'s subtree eligible on `occasion`, by member id."""
    found = []
    batch_size = 5000

    def keep(admitted_on: date | None, member_held: frozenset[int]) -> bool:
        return could_be_eligible(admitted_on, member_held, occasion, rules)

    for candidate in _load(session, root_unit, occasion, held, rules, batch_size, keep):
        result = eligibility(candidate, occasion, rules)
        if result is not None:
            found.append(result)
    return found


def eligible_in_own_units(
    session: Session,
    member_ids: Iterable[int],
    occasion: date,
    rules: BadgeRules,
    held: Mapping[int, frozenset[int]],
) -> dict[int, Eligibility]:
    """Each member's eligibility as `eligible_members` of the member's own unit finds it
    (the re-check of a proposal), for many members in a few queries; by member id, the
    members not eligible left out."""
    batch_size = 5000

    def keep(admitted_on: date | None, member_held: frozenset[int]) -> bool:
        return could_be_eligible(admitted_on, member_held, occasion, rules)

    found = {}
    for candidate in _load(session, list(member_ids), occasion, held, rules, batch_size, keep):
        result = eligibility(candidate, occasion, rules)
        if result is not None:
            found[candidate.member_id] = result
    return found


# --- the same rule in SQL (PostgreSQL) ---------------------------------------------------

# Leaving kinds that open a gap off the rolls (ledger.LEAVING to Standing.LEFT).
_GAP_KINDS = tuple(kind for kind, standing in LEAVING.items() if standing == Standing.LEFT)


def deferring_forms(session: Session, rules: BadgeRules) -> dict[str, int]:
    """Each discipline form text stored in the database that defers a badge, with its
    months (`deferral_months` of its `form_code`): the few distinct texts are mapped here
    (folding is Python's), the disciplines themselves stay in the database."""
    codes = discipline_codes(session)
    forms = session.scalars(select(Discipline.form).where(Discipline.form.is_not(None)).distinct())
    found = {}
    for form in forms:
        months = deferral_months(form_code(form, codes), rules)
        if months:
            found[form] = months
    return found


def _plus(day, years=0, months=0):
    """`day` plus whole years and months, on PostgreSQL: the end of a shorter month is
    clamped, as `add_years` and `add_months` do (29/02 + 1 year = 28/02)."""
    return day + func.make_interval(years, months, type_=Interval)


def _highest_reached_sql(start, deadline: date, rules: BadgeRules):
    """`highest_reached(start, deadline, rules)` as a scalar subquery (NULL: none)."""
    milestone = func.unnest(literal(list(rules.milestones), ARRAY(Integer))).column_valued("m")
    return (
        select(func.max(milestone))
        .where(_plus(start, years=milestone) < deadline)
        .scalar_subquery()
    )


def eligible_select(session: Session, root_paths: Iterable[str], occasion: date, rules: BadgeRules):
    """`eligible_members` of each root (by its path) as one set-based SELECT of
    (member_id, unit_id, milestone), run in the database (PostgreSQL); `unit_id` is the
    member's unit today, for members on the rolls today in the same root's subtree (the
    worklist's item). The same readings as the Python rule, clause by clause:

    - official on a unit's rolls of the subtree on O: a `member_period` covering O with
      standing official (the periods are the ledger's replay, events.apply_state);
      admitted before `admission_cutoff` and `could_be_eligible` (the loader's filters);
    - Party age starts at the first (not reversed) admission event up to O, else the
      record's admission date, else the card date, moved forward by every gap off the
      rolls begun before O: a leaving to `left` (not recognised, removed, expelled,
      resigned) up to the next event of the ledger in its order (date, id) -- a
      re-admission ends the gap, a restoration makes it continuous (no days), no event
      by O leaves it open until O;
    - no deferral: no discipline decided by O whose form defers (`deferring_forms`)
      ending after O (decision + months, clamped);
    - the highest milestone reached before the next occasion, above every badge held.
    tests/test_worklist.py compares it with the Python rule member by member."""
    deadline = next_occasion(occasion, rules)
    cutoff = admission_cutoff(occasion, rules)
    paths = list(root_paths)
    if not paths:
        return select(Member.id, Member.unit_id, literal(0, Integer)).where(false())
    held = (
        select(BadgeAward.member_id, func.max(BadgeAward.milestone).label("top"))
        .group_by(BadgeAward.member_id)
        .subquery("held")
    )
    top = func.coalesce(held.c.top, 0)
    own, rolls = aliased(Unit), aliased(Unit)
    official_there = (
        exists()
        .where(
            MemberPeriod.member_id == Member.id,
            MemberPeriod.starts_on <= occasion,
            or_(MemberPeriod.ends_on.is_(None), MemberPeriod.ends_on > occasion),
            MemberPeriod.standing == Standing.OFFICIAL,
            rolls.id == MemberPeriod.unit_id,
            or_(
                *(
                    and_(
                        rolls.path.startswith(path, autoescape=True),
                        own.path.startswith(path, autoescape=True),
                    )
                    for path in paths
                )
            ),
        )
        .correlate(Member, own)
    )
    conditions = [
        Member.status.in_(ON_THE_ROLLS),
        Member.admitted_on < cutoff,
        official_there,
        func.coalesce(_highest_reached_sql(Member.admitted_on, deadline, rules), 0) > top,
    ]
    forms = deferring_forms(session, rules)
    if forms:
        deferring = values(
            column("form", String), column("months", Integer), name="deferring"
        ).data(sorted(forms.items()))
        conditions.append(
            ~exists().where(
                Discipline.member_id == Member.id,
                Discipline.decided_on <= occasion,
                Discipline.form == deferring.c.form,
                _plus(Discipline.decided_on, months=deferring.c.months) > occasion,
            )
        )
    candidates = (
        select(
            Member.id,
            Member.unit_id,
            Member.admitted_on,
            Member.card_issued_on,
            top.label("top"),
        )
        .join(own, own.id == Member.unit_id)
        .outerjoin(held, held.c.member_id == Member.id)
        .where(*conditions)
        .cte("candidates")
    )
    reversal = aliased(MemberEvent)
    order = {
        "partition_by": MemberEvent.member_id,
        "order_by": (MemberEvent.effective_on, MemberEvent.id),
    }
    events = (
        select(
            MemberEvent.member_id,
            MemberEvent.kind,
            MemberEvent.effective_on,
            func.lead(MemberEvent.kind).over(**order).label("next_kind"),
            func.lead(MemberEvent.effective_on).over(**order).label("next_on"),
        )
        .where(
            MemberEvent.member_id.in_(select(candidates.c.id)),
            MemberEvent.kind != EventKind.REVERSAL,
            MemberEvent.effective_on <= occasion,
            ~exists().where(
                reversal.reverses_id == MemberEvent.id, reversal.kind == EventKind.REVERSAL
            ),
        )
        .subquery("events")
    )
    gap = case(
        (events.c.next_kind == EventKind.RESTORATION, 0),
        else_=cast(func.coalesce(events.c.next_on, occasion) - events.c.effective_on, Integer),
    )
    ledger = (
        select(
            events.c.member_id,
            func.min(case((events.c.kind == EventKind.ADMISSION, events.c.effective_on))).label(
                "admitted"
            ),
            func.sum(
                case(
                    (
                        and_(events.c.kind.in_(_GAP_KINDS), events.c.effective_on < occasion),
                        gap,
                    ),
                    else_=0,
                )
            ).label("gap_days"),
        )
        .group_by(events.c.member_id)
        .subquery("ledger")
    )
    counted_from = func.coalesce(
        ledger.c.admitted, candidates.c.admitted_on, candidates.c.card_issued_on
    )
    start = counted_from + cast(func.coalesce(ledger.c.gap_days, 0), Integer)
    aged = (
        select(
            candidates.c.id,
            candidates.c.unit_id,
            candidates.c.top,
            _highest_reached_sql(start, deadline, rules).label("milestone"),
        )
        .select_from(candidates)
        .outerjoin(ledger, ledger.c.member_id == candidates.c.id)
        # Computed once per member (an inlined subquery would compute the milestone for
        # each of its uses).
        .cte("aged")
        .prefix_with("MATERIALIZED")
    )
    return select(aged.c.id, aged.c.unit_id, aged.c.milestone).where(
        aged.c.milestone.is_not(None), aged.c.milestone > aged.c.top
    )
