"""The ledger's rules, table-driven: which events are legal in which standing, what
replay derives, and Party age (DESIGN §4)."""

from datetime import date

import pytest

from webapp.domain.ledger import (
    EventKind as K,
)
from webapp.domain.ledger import (
    IllegalEvent,
    LedgerEvent,
    check_new_event,
    replay,
)
from webapp.domain.party_age import party_age

CELL_A, CELL_B = 10, 20


def ev(id_, kind, day, to_unit=None, reverses=None, arriving_as=None):
    return LedgerEvent(
        id=id_,
        kind=kind,
        effective_on=date.fromisoformat(day),
        to_unit_id=to_unit,
        reverses_id=reverses,
        arriving_as=arriving_as,
    )


ADMITTED = [ev(1, K.ADMISSION, "2000-03-10", CELL_A)]
OFFICIAL = [*ADMITTED, ev(2, K.OFFICIAL_RECOGNITION, "2001-03-10")]
DECEASED = [*OFFICIAL, ev(3, K.DEATH, "2010-01-01")]
REMOVED = [*OFFICIAL, ev(3, K.REMOVAL, "2005-01-01")]
TRANSFERRED_OUT = [*OFFICIAL, ev(3, K.TRANSFER_OUT, "2005-01-01")]


@pytest.mark.parametrize(
    ("history", "candidate", "legal"),
    [
        ([], ev(9, K.ADMISSION, "2020-01-01", CELL_A), True),
        ([], ev(9, K.OFFICIAL_RECOGNITION, "2020-01-01"), False),
        ([], ev(9, K.TRANSFER_IN, "2020-01-01", CELL_A), True),
        (ADMITTED, ev(9, K.ADMISSION, "2020-01-01", CELL_A), False),
        (ADMITTED, ev(9, K.OFFICIAL_RECOGNITION, "2001-03-10"), True),
        (ADMITTED, ev(9, K.OFFICIAL_RECOGNITION, "1999-01-01"), False),  # before admission
        (ADMITTED, ev(9, K.NOT_RECOGNISED, "2001-03-10"), True),
        (ADMITTED, ev(9, K.EXPULSION, "2001-01-01"), False),  # probationary: removal, not expulsion
        (OFFICIAL, ev(9, K.NOT_RECOGNISED, "2002-01-01"), False),
        (OFFICIAL, ev(9, K.OFFICIAL_RECOGNITION, "2002-01-01"), False),
        (OFFICIAL, ev(9, K.TRANSFER_WITHIN, "2002-01-01", CELL_B), True),
        (OFFICIAL, ev(9, K.TRANSFER_WITHIN, "2002-01-01", CELL_A), False),  # same cell
        (OFFICIAL, ev(9, K.TRANSFER_IN, "2002-01-01", CELL_B), False),  # active here already
        (OFFICIAL, ev(9, K.TEMPORARY_RETURN, "2002-01-01"), False),
        (OFFICIAL, ev(9, K.RESUMPTION, "2002-01-01"), False),
        (OFFICIAL, ev(9, K.EXEMPTION, "2002-01-01"), True),
        (OFFICIAL, ev(9, K.RESTORATION, "2002-01-01"), False),
        (OFFICIAL, ev(9, K.READMISSION, "2002-01-01", CELL_A), False),
        (DECEASED, ev(9, K.OFFICIAL_RECOGNITION, "2011-01-01"), False),
        (DECEASED, ev(9, K.TRANSFER_WITHIN, "2011-01-01", CELL_B), False),
        (DECEASED, ev(9, K.READMISSION, "2011-01-01", CELL_A), False),
        (DECEASED, ev(9, K.EXEMPTION, "2009-01-01"), True),  # back-dated, before the death
        (REMOVED, ev(9, K.READMISSION, "2008-01-01", CELL_B), True),
        (REMOVED, ev(9, K.RESTORATION, "2006-01-01"), True),
        (REMOVED, ev(9, K.TRANSFER_WITHIN, "2006-01-01", CELL_B), False),
        (
            [*REMOVED, ev(4, K.READMISSION, "2008-01-01", CELL_B), ev(5, K.REMOVAL, "2012-01-01")],
            ev(9, K.READMISSION, "2015-01-01", CELL_A),
            False,
        ),  # once only
        (TRANSFERRED_OUT, ev(9, K.TRANSFER_IN, "2007-01-01", CELL_B), True),
        (TRANSFERRED_OUT, ev(9, K.DEATH, "2007-01-01"), False),  # not ours to record
        # A back-dated event that would make a later one illegal is refused.
        (OFFICIAL, ev(9, K.DEATH, "2000-12-01"), False),
    ],
)
def test_which_events_are_legal(history, candidate, legal):
    if legal:
        check_new_event(history, candidate)
    else:
        with pytest.raises(IllegalEvent):
            check_new_event(history, candidate)


def test_replay_derives_status_unit_and_periods():
    history = [
        *OFFICIAL,
        ev(3, K.TRANSFER_WITHIN, "2003-06-01", CELL_B),
        ev(4, K.TEMPORARY_TRANSFER, "2004-01-01", CELL_A),
        ev(5, K.TEMPORARY_RETURN, "2004-07-01"),
    ]
    state = replay(history)
    assert (state.standing, state.unit_id, state.host_unit_id) == ("official", CELL_B, None)
    spans = [
        (p.unit_id, p.standing, str(p.starts_on), p.ends_on and str(p.ends_on), p.host_unit_id)
        for p in state.periods
    ]
    assert spans == [
        (CELL_A, "probationary", "2000-03-10", "2001-03-10", None),
        (CELL_A, "official", "2001-03-10", "2003-06-01", None),
        (CELL_B, "official", "2003-06-01", "2004-01-01", None),
        (CELL_B, "official", "2004-01-01", "2004-07-01", CELL_A),  # hosted, still on B's rolls
        (CELL_B, "official", "2004-07-01", None, None),
    ]
    assert replay(history, until=date(2002, 1, 1)).unit_id == CELL_A


def test_a_reversed_event_no_longer_counts():
    history = [*OFFICIAL, ev(3, K.DEATH, "2010-01-01"), ev(4, K.REVERSAL, "2010-02-01", reverses=3)]
    state = replay(history)
    assert state.standing == "official" and state.periods[-1].ends_on is None
    with pytest.raises(IllegalEvent):  # a reversal cannot be reversed
        check_new_event(history, ev(9, K.REVERSAL, "2010-03-01", reverses=4))
    with pytest.raises(IllegalEvent):  # nor the same event cancelled twice
        check_new_event(history, ev(9, K.REVERSAL, "2010-03-01", reverses=3))
    with pytest.raises(IllegalEvent):  # cancelling the admission strands the recognition
        check_new_event(history, ev(9, K.REVERSAL, "2010-03-01", reverses=1))


AS_OF = date(2030, 3, 10)


@pytest.mark.parametrize(
    ("history", "years", "months"),
    [
        # Continuous since the admission decision of 10/03/2000.
        (OFFICIAL, 30, 0),
        # Never official: no Party age.
        (ADMITTED, None, None),
        # Removed on 01/01/2005, re-admitted on 01/01/2008 (3 years off), official again.
        (
            [
                *REMOVED,
                ev(4, K.READMISSION, "2008-01-01", CELL_B),
                ev(5, K.OFFICIAL_RECOGNITION, "2009-01-01"),
            ],
            27,
            0,
        ),
        # Re-admitted but not yet official again: no Party age shown.
        ([*REMOVED, ev(4, K.READMISSION, "2008-01-01", CELL_B)], None, None),
        # Removal found wrongful and restored: continuous.
        ([*REMOVED, ev(4, K.RESTORATION, "2008-01-01")], 30, 0),
        # Expelled 2005, restored 2006 after appeal: continuous.
        ([*OFFICIAL, ev(3, K.EXPULSION, "2005-01-01"), ev(4, K.RESTORATION, "2006-01-01")], 30, 0),
        # Died on 10/09/2010: age stops then.
        (DECEASED[:2] + [ev(3, K.DEATH, "2010-09-10")], 10, 6),
        # Transferred out and back: still a Party member in between.
        ([*TRANSFERRED_OUT, ev(4, K.TRANSFER_IN, "2007-01-01", CELL_B)], 30, 0),
    ],
)
def test_party_age(history, years, months):
    age = party_age(replay(history, until=AS_OF), AS_OF)
    if years is None:
        assert age is None
    else:
        assert (age.years, age.months) == (years, months)


def test_party_age_counts_from_the_record_for_members_who_arrived_by_transfer():
    state = replay([ev(1, K.TRANSFER_IN, "2015-05-01", CELL_A, arriving_as="official")])
    age = party_age(state, date(2025, 5, 19), admission_decision_on=date(1995, 5, 19))
    assert (age.years, age.months) == (30, 0)
    assert age.reaches(40) == date(2035, 5, 19)


def test_milestone_date_moves_with_interruptions():
    history = [
        *REMOVED,
        ev(4, K.READMISSION, "2008-01-01", CELL_B),
        ev(5, K.OFFICIAL_RECOGNITION, "2009-01-01"),
    ]
    age = party_age(replay(history), date(2026, 1, 1))
    assert age.interruption_days == (date(2008, 1, 1) - date(2005, 1, 1)).days
    assert age.reaches(30) == date(2033, 3, 10)
