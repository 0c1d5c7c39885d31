"""Party badge eligibility (DESIGN §5), table-driven.

`CASES` is the table of the rules read next to the regulation: one member history each,
the occasion, and the badge expected (milestone and the day it is reached) or None.
`python tests/test_badge_eligibility.py` prints it as a markdown table.
The PostgreSQL test then records histories of the same kinds through the real ledger
and checks the exact eligible set of a unit's subtree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
from sqlalchemy import text

from factories import SYSTEM
from webapp.domain.badge_eligibility import (
    BadgeCandidate,
    BadgeRules,
    DisciplineRecord,
    add_months,
    admission_cutoff,
    could_be_eligible,
    early_window_opens,
    eligibility,
    eligible_members,
    highest_reached,
    load_candidate,
    load_candidates,
    may_propose_early,
    next_occasion,
    occasions_of_year,
)
from webapp.domain.ledger import EventKind as K
from webapp.domain.ledger import LedgerEvent, replay
from webapp.domain.party_age import add_years

RULES = BadgeRules.default()
CELL_A, CELL_B = 10, 20
OCC = "2027-05-19"  # the occasion of most cases; the next one is 02/09/2027


def d(text: str) -> date:
    return date.fromisoformat(text)


def official(admitted: str, official_on: str | None = None) -> list[tuple]:
    """Admission to cell A and recognition a year later (or on `official_on`)."""
    day = d(admitted)
    recognised = official_on or (add_years(day, 1)).isoformat()
    return [(K.ADMISSION, admitted, CELL_A), (K.OFFICIAL_RECOGNITION, recognised)]


@dataclass(frozen=True)
class Case:
    name: str
    history: list[tuple]  # (kind, date[, to_unit])
    expected: tuple[int, str] | None  # (milestone, reaches_on) or not eligible
    occasion: str = OCC
    disciplines: tuple[tuple[str, str], ...] = ()  # (decided_on, form code)
    held: frozenset[int] = field(default_factory=frozenset)
    admission_decision_on: str | None = None  # the record's date (members arriving by transfer)

    def candidate(self) -> BadgeCandidate:
        events = [
            LedgerEvent(
                id=i,
                kind=kind,
                effective_on=d(day),
                to_unit_id=rest[0] if rest else None,
                arriving_as="official" if kind == K.TRANSFER_IN and i == 1 else None,
            )
            for i, (kind, day, *rest) in enumerate(self.history, start=1)
        ]
        return BadgeCandidate(
            member_id=1,
            state=replay(events, until=d(self.occasion)),
            admission_decision_on=d(self.admission_decision_on or self.history[0][1]),
            card_issued_on=None,
            disciplines=tuple(DisciplineRecord(d(day), code) for day, code in self.disciplines),
            held_milestones=self.held,
        )


GAP_IN = [
    *official("1995-03-01"),
    (K.REMOVAL, "2001-01-01"),
    (K.READMISSION, "2003-07-04", CELL_B),
    (K.OFFICIAL_RECOGNITION, "2004-07-04"),
]
GAP_OUT = [
    *GAP_IN[:3],
    (K.READMISSION, "2003-07-06", CELL_B),
    (K.OFFICIAL_RECOGNITION, "2004-07-06"),
]

CASES = [
    # The window: reached before the next occasion (02/09/2027).
    Case("reaches 30 on the occasion itself", official("1997-05-19"), (30, "2027-05-19")),
    Case("reaches 30 the day before the next occasion", official("1997-09-01"), (30, "2027-09-01")),
    Case("reaches 30 on the next occasion: next round", official("1997-09-02"), None),
    Case("reaches 30 after the next occasion", official("1997-09-03"), None),
    Case(
        "7/11: window runs to 3/2 of the next year (day before)",
        official("1998-02-02"),
        (30, "2028-02-02"),
        occasion="2027-11-07",
    ),
    Case(
        "7/11: reaches on 3/2 of the next year",
        official("1998-02-03"),
        None,
        occasion="2027-11-07",
    ),
    # 29 February.
    Case(
        "admitted 29/02/2000: 30 years on 28/02/2030, not by 3/2",
        official("2000-02-29"),
        None,
        occasion="2029-11-07",
    ),
    Case(
        "admitted 29/02/2000: 30 years on 28/02/2030, round of 3/2/2030",
        official("2000-02-29"),
        (30, "2030-02-28"),
        occasion="2030-02-03",
    ),
    Case(
        "admitted 29/02/1988: 40 years on 29/02/2028 (leap year)",
        official("1988-02-29"),
        (40, "2028-02-29"),
        occasion="2028-02-03",
        held=frozenset({30}),
    ),
    # Interruptions.
    Case(
        "removed 2001, re-admitted 2003: 30 years moves to 31/08/2027",
        GAP_IN,
        (30, "2027-08-31"),
    ),
    Case("re-admitted two days later: moves to 02/09/2027, next round", GAP_OUT, None),
    Case(
        "removal found wrongful and restored: continuous",
        [*official("1997-05-01"), (K.REMOVAL, "2005-01-01"), (K.RESTORATION, "2006-01-01")],
        (30, "2027-05-01"),
    ),
    Case(
        "expelled, restored after appeal: continuous",
        [*official("1997-05-01"), (K.EXPULSION, "2005-01-01"), (K.RESTORATION, "2005-06-01")],
        (30, "2027-05-01"),
    ),
    Case(
        "transferred out and back in: continuous",
        [
            *official("1997-05-01"),
            (K.TRANSFER_OUT, "2010-01-01"),
            (K.TRANSFER_IN, "2010-03-01", CELL_B),
        ],
        (30, "2027-05-01"),
    ),
    Case(
        "arrived by transfer: counted from the record's admission date",
        [(K.TRANSFER_IN, "2015-01-01", CELL_A)],
        (30, "2027-06-01"),
        admission_decision_on="1997-06-01",
    ),
    # Discipline.
    Case(
        "warning 19/11/2026: deferral ends on the occasion",
        official("1997-05-19"),
        (30, "2027-05-19"),
        disciplines=(("2026-11-19", "CANH_CAO"),),
    ),
    Case(
        "warning 20/11/2026: deferred until 20/05/2027, the day after",
        official("1997-05-19"),
        None,
        disciplines=(("2026-11-20", "CANH_CAO"),),
    ),
    Case(
        "dismissal 19/05/2026: 12 months end on the occasion",
        official("1997-05-19"),
        (30, "2027-05-19"),
        disciplines=(("2026-05-19", "CACH_CHUC"),),
    ),
    Case(
        "dismissal 20/05/2026: deferred one day past the occasion",
        official("1997-05-19"),
        None,
        disciplines=(("2026-05-20", "CACH_CHUC"),),
    ),
    Case(
        "dismissal 19/11/2026: 12 months, not 6",
        official("1997-05-19"),
        None,
        disciplines=(("2026-11-19", "CACH_CHUC"),),
    ),
    Case(
        "reprimand a week before: no deferral",
        official("1997-05-19"),
        (30, "2027-05-19"),
        disciplines=(("2027-05-12", "KHIEN_TRACH"),),
    ),
    Case(
        "warning decided after the occasion: not counted for it",
        official("1997-05-19"),
        (30, "2027-05-19"),
        disciplines=(("2027-05-20", "CANH_CAO"),),
    ),
    Case(
        "3/2 round: warning 03/08/2026 ends on 03/02/2027",
        official("1997-02-03"),
        (30, "2027-02-03"),
        occasion="2027-02-03",
        disciplines=(("2026-08-03", "CANH_CAO"),),
    ),
    Case(
        "3/2 round: warning 31/08/2026 runs to 28/02/2027",
        official("1997-02-03"),
        None,
        occasion="2027-02-03",
        disciplines=(("2026-08-31", "CANH_CAO"),),
    ),
    # Not on the rolls, or never official.
    Case("deceased", [*official("1990-01-01"), (K.DEATH, "2020-01-01")], None),
    Case("resigned (left)", [*official("1990-01-01"), (K.RESIGNATION, "2020-01-01")], None),
    Case("removed (left)", [*official("1990-01-01"), (K.REMOVAL, "2020-01-01")], None),
    Case("transferred out", [*official("1990-01-01"), (K.TRANSFER_OUT, "2020-01-01")], None),
    Case("probationary, never recognised", [(K.ADMISSION, "1997-05-01", CELL_A)], None),
    Case(
        "re-admitted, not yet official again",
        [*official("1980-01-01"), (K.REMOVAL, "1990-01-01"), (K.READMISSION, "2026-06-01", CELL_A)],
        None,
    ),
    Case(
        "official only after the occasion (replayed up to it)",
        [(K.ADMISSION, "1990-01-01", CELL_A), (K.OFFICIAL_RECOGNITION, "2027-06-01")],
        None,
    ),
    # Badges held, missed rounds.
    Case("holds the 30-year badge", official("1997-05-19"), None, held=frozenset({30})),
    Case("missed the 30 round (reached 2020)", official("1990-01-01"), (30, "2020-01-01")),
    Case(
        "holds 30, reached 40 and 45: the highest",
        official("1980-01-01"),
        (45, "2025-01-01"),
        held=frozenset({30}),
    ),
    Case(
        "holds 50, has reached only 45: nothing below a badge held",
        official("1980-01-01"),
        None,
        held=frozenset({50}),
    ),
    Case("reaches 90", official("1937-08-01"), (90, "2027-08-01"), held=frozenset({80, 85})),
    Case("beyond 90, holds 90", official("1930-01-01"), None, held=frozenset({90})),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_eligibility_table(case: Case):
    result = eligibility(case.candidate(), d(case.occasion), RULES)
    if case.expected is None:
        assert result is None
    else:
        assert result is not None
        assert (result.milestone, result.reaches_on) == (case.expected[0], d(case.expected[1]))
        assert f"{case.expected[0]} năm vào ngày {d(case.expected[1]):%d/%m/%Y}" in result.reason


def test_reason_names_admission_interruption_and_date():
    result = eligibility(Case("gap", GAP_IN, None).candidate(), d(OCC), RULES)
    assert result.reason == (
        "Vào Đảng 01/03/1995; gián đoạn 2 năm 6 tháng 3 ngày (01/01/2001 – 04/07/2003); "
        "tuổi đảng 30 năm vào ngày 31/08/2027"
    )
    assert result.party_age.as_of == d(OCC) and result.party_age.years == 29
    missed = eligibility(
        Case("m", official("1980-01-01"), None, held=frozenset({30})).candidate(), d(OCC), RULES
    )
    assert missed.reason == (
        "Vào Đảng 01/01/1980; không gián đoạn; tuổi đảng 45 năm vào ngày 01/01/2025; "
        "chưa nhận huy hiệu 40 năm"
    )
    restored = Case(
        "r",
        [*official("1997-05-01"), (K.REMOVAL, "2005-01-01"), (K.RESTORATION, "2006-01-01")],
        None,
        disciplines=(("2026-01-02", "CANH_CAO"),),
    )
    assert eligibility(restored.candidate(), d(OCC), RULES).reason == (
        "Vào Đảng 01/05/1997; không gián đoạn; tuổi đảng liên tục qua 01/01/2005 – 01/01/2006 "
        "(đã khôi phục đảng tịch); tuổi đảng 30 năm vào ngày 01/05/2027; "
        "kỷ luật cảnh cáo ngày 02/01/2026, hết thời hạn hoãn ngày 02/07/2026"
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_skipping_by_admission_date_and_badges_held_drops_no_eligible_case(case: Case):
    candidate = case.candidate()
    if eligibility(candidate, d(case.occasion), RULES) is not None:
        assert could_be_eligible(
            candidate.admission_decision_on, case.held, d(case.occasion), RULES
        )


def test_could_be_eligible_bounds_eligibility_day_by_day():
    """Any interruption, any badges held: the bound from the admission date never says no
    to a member `eligibility` says yes to."""
    occasion = d(OCC)
    for admitted in (d("1937-08-25") + timedelta(days=n) for n in range(0, 365 * 60, 37)):
        for gap_days in (0, 1, 200, 800):
            history = official(admitted.isoformat())
            if gap_days:
                removed = add_years(admitted, 3)
                back = removed + timedelta(days=gap_days)
                history += [
                    (K.REMOVAL, removed.isoformat()),
                    (K.READMISSION, back.isoformat(), CELL_A),
                    (K.OFFICIAL_RECOGNITION, add_years(back, 1).isoformat()),
                ]
            for held in (frozenset(), frozenset({30}), frozenset({30, 40, 45, 50})):
                candidate = Case("p", history, None, held=held).candidate()
                if eligibility(candidate, occasion, RULES) is not None:
                    assert could_be_eligible(admitted, held, occasion, RULES)


@pytest.mark.parametrize(
    ("start", "deadline", "expected"),
    [
        ("1997-09-01", "2027-09-02", 30),
        ("1997-09-02", "2027-09-02", None),
        ("1987-09-01", "2027-09-02", 40),
        ("1937-09-01", "2027-09-02", 90),
        ("1900-01-01", "2027-09-02", 90),
        ("2000-02-29", "2030-02-28", None),
        ("2000-02-29", "2030-03-01", 30),
    ],
)
def test_highest_reached(start, deadline, expected):
    assert highest_reached(d(start), d(deadline), RULES) == expected


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        ("2027-01-01", "2027-02-03"),
        ("2027-02-03", "2027-05-19"),  # strictly after
        ("2027-05-18", "2027-05-19"),
        ("2027-05-19", "2027-09-02"),
        ("2027-09-02", "2027-11-07"),
        ("2027-11-07", "2028-02-03"),
        ("2027-12-31", "2028-02-03"),
    ],
)
def test_next_occasion(after, expected):
    assert next_occasion(d(after), RULES) == d(expected)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        ("2026-11-19", 6, "2027-05-19"),
        ("2026-08-31", 6, "2027-02-28"),
        ("2027-08-31", 6, "2028-02-29"),
        ("2028-05-31", -12, "2027-05-31"),
        ("2029-03-31", -1, "2029-02-28"),
        ("2029-01-15", -24, "2027-01-15"),
    ],
)
def test_add_months(day, months, expected):
    assert add_months(d(day), months) == d(expected)


def test_default_rules_are_design_section_5():
    assert RULES.milestones == (30, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90)
    assert occasions_of_year(2027, RULES) == [
        d("2027-02-03"),
        d("2027-05-19"),
        d("2027-09-02"),
        d("2027-11-07"),
    ]
    assert {m: RULES.early_months[m] for m in (30, 65, 70, 90)} == {30: 12, 65: 12, 70: 24, 90: 24}
    assert (RULES.warning_deferral_months, RULES.dismissal_deferral_months) == (6, 12)
    assert hash(RULES) == hash(BadgeRules.default())
    with pytest.raises(ValueError):
        BadgeRules(milestones=(30,), occasions=((2, 30),), early_months={})


def test_rules_are_data():
    rules = BadgeRules(
        milestones=(25, 30), occasions=((1, 1), (7, 1)), early_months={}, warning_deferral_months=3
    )
    candidate = Case("x", official("2002-03-01"), None, disciplines=(("2027-02-01", "CANH_CAO"),))
    # 25 years on 01/03/2027 < 01/07/2027; the 3-month warning deferral ended on 01/05/2027.
    result = eligibility(candidate.candidate(), d("2027-05-01"), rules)
    assert (result.milestone, result.reaches_on) == (25, d("2027-03-01"))
    assert eligibility(candidate.candidate(), d("2027-04-30"), rules) is None


@pytest.mark.parametrize(
    ("reaches_on", "milestone", "opens"),
    [
        ("2028-05-19", 30, "2027-05-19"),
        ("2028-05-19", 65, "2027-05-19"),
        ("2029-05-19", 70, "2027-05-19"),
        ("2029-05-19", 90, "2027-05-19"),
        ("2029-02-28", 40, "2028-02-28"),
    ],
)
def test_early_window_opens(reaches_on, milestone, opens):
    assert early_window_opens(d(reaches_on), milestone, RULES) == d(opens)


@pytest.mark.parametrize(
    ("history", "milestone", "held", "allowed"),
    [
        (official("1998-05-19"), 30, frozenset(), True),  # 30 on 19/05/2028: 12 months early
        (official("1998-05-20"), 30, frozenset(), False),  # one day too early
        (official("1959-05-19"), 70, frozenset({60, 65}), True),  # 70 on 19/05/2029: 24 months
        (official("1959-05-20"), 70, frozenset({60, 65}), False),
        (official("1988-05-19"), 40, frozenset({30}), True),  # 40 on 19/05/2028
        (official("1988-05-19"), 40, frozenset({40}), False),  # held
        (official("1997-05-19"), 30, frozenset(), True),  # eligible anyway
        (official("1998-05-19"), 35, frozenset(), False),  # not a milestone
        ([*official("1998-05-19"), (K.DEATH, "2027-01-01")], 30, frozenset(), False),
    ],
)
def test_may_propose_early(history, milestone, held, allowed):
    candidate = Case("early", history, None, held=held).candidate()
    assert may_propose_early(candidate, milestone, d(OCC), RULES) is allowed


def test_early_proposal_is_deferred_by_discipline():
    candidate = Case(
        "e", official("1998-05-19"), None, disciplines=(("2027-01-01", "CANH_CAO"),)
    ).candidate()
    assert may_propose_early(candidate, 30, d(OCC), RULES) is False


def test_admission_cutoff_never_drops_an_eligible_member():
    """Day by day around each boundary: whoever could reach a milestone in time (even
    early) was admitted before the cutoff."""
    rules = RULES
    for year in (2027, 2028):
        for occasion in occasions_of_year(year, rules):
            cutoff = admission_cutoff(occasion, rules)
            deadline = next_occasion(occasion, rules)
            for milestone in rules.milestones:
                for anchor in (deadline, add_months(occasion, rules.early_months[milestone])):
                    around = add_years(anchor, -milestone)
                    for offset in range(-40, 40):
                        admitted = around + timedelta(days=offset)
                        reaches = add_years(admitted, milestone)
                        if reaches < deadline or (
                            early_window_opens(reaches, milestone, rules) <= occasion
                        ):
                            assert admitted < cutoff, (occasion, milestone, admitted)
            # and it is not much looser than the 30-year early window needs
            assert cutoff <= add_years(add_months(occasion, 12), -30) + timedelta(days=10)
    for admitted in (d("1996-02-29"), d("2000-02-29")):
        occasion = d("2026-02-03") if admitted.year == 1996 else d("2030-02-03")
        assert admitted < admission_cutoff(occasion, rules)


# --- the same rules through the real ledger on PostgreSQL ------------------------------


def _member(session, unit, admitted: str, official_on: str | None = "auto", **fields):
    from factories import make_member
    from webapp.domain.events import open_ledger
    from webapp.models.member import MemberStatus

    if official_on == "auto":
        official_on = add_years(d(admitted), 1).isoformat()
    member = make_member(
        session,
        unit,
        admitted_on=d(admitted),
        official_on=d(official_on) if official_on else None,
        status=MemberStatus.OFFICIAL if official_on else MemberStatus.PROBATIONARY,
        birth_date=add_years(d(admitted), -20),
        **fields,
    )
    open_ledger(session, SYSTEM, member.id, today=d(OCC))
    return member


def _event(session, member, kind, day, unit=None, **extra):
    from webapp.domain.events import EventInput, record_event

    record_event(
        session,
        SYSTEM,
        member.id,
        EventInput(kind=kind, effective_on=d(day), to_unit_id=unit.id if unit else None, **extra),
        today=d(OCC),
    )


def _discipline(session, member, day, form):
    from webapp.models.record import Discipline

    session.add(Discipline(member_id=member.id, decided_on=d(day), form=form, reason="Vi phạm"))


@pytest.mark.server_only
def test_eligible_set_of_a_subtree_through_the_real_ledger(db_session):
    from factories import make_tree

    session = db_session
    tree = make_tree(session)
    c1, c2, c3 = tree["C1"], tree["C2"], tree["C3"]
    m = {}
    m["day_before"] = _member(session, c1, "1997-09-01")
    m["on_next"] = _member(session, c1, "1997-09-02")
    m["after_next"] = _member(session, c2, "1997-09-03")
    m["on_occasion"] = _member(session, c2, "1997-05-19")
    m["missed_40_45"] = _member(session, c1, "1980-01-01")  # holds 30 → 45
    m["holds_30"] = _member(session, c1, "1997-05-01")
    m["gap_in"] = _member(session, c1, "1995-03-01")
    _event(session, m["gap_in"], K.REMOVAL, "2001-01-01")
    _event(session, m["gap_in"], K.READMISSION, "2003-07-04", c2)
    _event(session, m["gap_in"], K.OFFICIAL_RECOGNITION, "2004-07-04")
    m["gap_out"] = _member(session, c1, "1995-03-01")
    _event(session, m["gap_out"], K.REMOVAL, "2001-01-01")
    _event(session, m["gap_out"], K.READMISSION, "2003-07-06", c2)
    _event(session, m["gap_out"], K.OFFICIAL_RECOGNITION, "2004-07-06")
    m["restored"] = _member(session, c2, "1997-05-01")
    _event(session, m["restored"], K.REMOVAL, "2005-01-01")
    _event(session, m["restored"], K.RESTORATION, "2006-01-01")
    m["warning_ended"] = _member(session, c1, "1997-05-19")
    _discipline(session, m["warning_ended"], "2026-11-19", "Cảnh cáo")
    m["warning_running"] = _member(session, c1, "1997-05-19")
    _discipline(session, m["warning_running"], "2026-11-20", "Cảnh cáo")
    m["dismissal_running"] = _member(session, c2, "1997-05-19")
    _discipline(session, m["dismissal_running"], "2026-11-19", "Cách chức")
    m["reprimand"] = _member(session, c2, "1997-05-19")
    _discipline(session, m["reprimand"], "2027-05-01", "Khiển trách")
    m["deceased"] = _member(session, c1, "1990-01-01")
    _event(session, m["deceased"], K.DEATH, "2026-12-01")
    m["transferred_out"] = _member(session, c1, "1990-01-01")
    _event(
        session, m["transferred_out"], K.TRANSFER_OUT, "2026-12-01", other_organisation="Tỉnh khác"
    )
    m["probationary"] = _member(session, c1, "1997-05-01", official_on=None)
    m["moved_in"] = _member(session, c3, "1997-05-19")
    _event(session, m["moved_in"], K.TRANSFER_WITHIN, "2020-01-01", c1)
    m["moved_away"] = _member(session, c1, "1997-05-19")
    _event(session, m["moved_away"], K.TRANSFER_WITHIN, "2020-01-01", c3)
    m["sibling"] = _member(session, c3, "1997-06-01")
    m["young"] = _member(session, c1, "2010-01-01")
    session.commit()

    held = {m["missed_40_45"].id: frozenset({30}), m["holds_30"].id: frozenset({30})}
    names = {member.id: name for name, member in m.items()}
    occasion = d(OCC)

    found = eligible_members(session, tree["D1"], occasion, RULES, held)
    assert {(names[e.member_id], e.milestone, e.reaches_on) for e in found} == {
        ("day_before", 30, d("2027-09-01")),
        ("on_occasion", 30, d("2027-05-19")),
        ("missed_40_45", 45, d("2025-01-01")),
        ("gap_in", 30, d("2027-08-31")),
        ("restored", 30, d("2027-05-01")),
        ("warning_ended", 30, d("2027-05-19")),
        ("reprimand", 30, d("2027-05-19")),
        ("moved_in", 30, d("2027-05-19")),
    }
    gap = next(e for e in found if names[e.member_id] == "gap_in")
    assert gap.reason.startswith(
        "Vào Đảng 01/03/1995; gián đoạn 2 năm 6 tháng 3 ngày (01/01/2001 – 04/07/2003);"
    )

    whole = eligible_members(session, tree["P"], occasion, RULES, held)
    assert {names[e.member_id] for e in whole} == {names[e.member_id] for e in found} | {
        "moved_away",
        "sibling",
    }
    assert [
        names[e.member_id] for e in eligible_members(session, tree["D2"], occasion, RULES, held)
    ] == [
        "moved_away",
        "sibling",
    ]

    # Skipping members by admission date and badges held changes nothing.
    unskipped = [
        e
        for c in load_candidates(session, tree["P"], occasion, held, rules=RULES, batch_size=4)
        if (e := eligibility(c, occasion, RULES)) is not None
    ]
    assert unskipped == whole

    # The pre-filter drops nobody: every candidate of the province, without it, gives the same.
    everyone = {
        c.member_id
        for c in load_candidates(session, tree["P"], occasion, {}, rules=RULES, batch_size=3)
    }
    assert names.keys() - everyone == {
        m[n].id for n in ("deceased", "transferred_out", "probationary", "young")
    }
    # One member's candidate, for the manual proposals.
    one = load_candidate(session, m["gap_in"].id, occasion)
    assert eligibility(one, occasion, RULES) == next(
        e for e in found if e.member_id == m["gap_in"].id
    )
    assert load_candidate(session, 10**6, occasion) is None

    # Disciplines are stored by catalogue name; a name an Admin changed still maps to its code.
    session.execute(
        text(
            "UPDATE catalogue_entry SET name = 'Cảnh cáo trước chi bộ' "
            "WHERE kind = 'discipline_form' AND code = 'CANH_CAO'"
        )
    )
    _discipline(session, m["reprimand"], "2027-01-10", "Cảnh cáo trước chi bộ")
    _discipline(session, m["on_occasion"], "2027-01-10", "kỷ luật miệng")  # free text: no deferral
    session.flush()
    again = {
        names[e.member_id] for e in eligible_members(session, tree["D1"], occasion, RULES, held)
    }
    assert again == {names[e.member_id] for e in found} - {"reprimand"}
    session.rollback()

    # An earlier occasion replays the ledger up to it: the deceased member was still alive.
    earlier = eligible_members(session, tree["D1"], d("2026-11-07"), RULES, held)
    assert "deceased" in {names[e.member_id] for e in earlier}


if __name__ == "__main__":
    print("| # | case | occasion | expected |")
    print("|---|------|----------|----------|")
    for number, case in enumerate(CASES, start=1):
        expected = (
            "not eligible"
            if case.expected is None
            else f"{case.expected[0]} years, reached {d(case.expected[1]):%d/%m/%Y}"
        )
        held = f" (holds {', '.join(map(str, sorted(case.held)))})" if case.held else ""
        print(f"| {number} | {case.name}{held} | {d(case.occasion):%d/%m/%Y} | {expected} |")
