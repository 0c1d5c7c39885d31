"""The ledger of a member's standing: event kinds, which are legal when, and the replay
that derives status, unit and membership periods from the events.

Replay is a pure function over the member's events in date order. A new event is legal
when the replay of all events plus the new one succeeds, so back-dated entries are
checked against everything before and after them. Events are never deleted: a wrong one
is cancelled by a REVERSAL event, and replay skips both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from webapp.domain.errors import N_, DomainError


class EventKind(StrEnum):
    ADMISSION = "admission"  # kết nạp
    READMISSION = "readmission"  # kết nạp lại
    OFFICIAL_RECOGNITION = "official_recognition"  # công nhận đảng viên chính thức
    NOT_RECOGNISED = "not_recognised"  # không công nhận chính thức (xóa tên đảng viên dự bị)
    TRANSFER_WITHIN = "transfer_within"  # chuyển sinh hoạt chính thức trong đảng bộ
    TEMPORARY_TRANSFER = "temporary_transfer"  # chuyển sinh hoạt tạm thời (đi)
    TEMPORARY_RETURN = "temporary_return"  # kết thúc sinh hoạt tạm thời
    TRANSFER_OUT = "transfer_out"  # chuyển sinh hoạt chính thức ra ngoài đảng bộ
    TRANSFER_IN = "transfer_in"  # tiếp nhận sinh hoạt chính thức từ ngoài đảng bộ
    DEATH = "death"  # từ trần
    REMOVAL = "removal"  # xóa tên
    EXPULSION = "expulsion"  # khai trừ
    RESIGNATION = "resignation"  # xin ra khỏi Đảng
    EXEMPTION = "exemption"  # miễn công tác và sinh hoạt đảng
    SUSPENSION = "suspension"  # đình chỉ sinh hoạt đảng
    RESUMPTION = "resumption"  # trở lại sinh hoạt
    RESTORATION = "restoration"  # khôi phục đảng tịch (xóa tên/khai trừ sai)
    REVERSAL = "reversal"  # hủy bỏ một sự kiện ghi sai


EVENT_KINDS = frozenset(EventKind)


class Standing(StrEnum):
    """Mirrors webapp.models.member.MemberStatus (kept here so the domain has no model import)."""

    PROBATIONARY = "probationary"
    OFFICIAL = "official"
    TRANSFERRED_OUT = "transferred_out"
    DECEASED = "deceased"
    LEFT = "left"


class Activity(StrEnum):
    NORMAL = "normal"
    EXEMPT = "exempt"  # miễn sinh hoạt
    SUSPENDED = "suspended"  # đình chỉ sinh hoạt


ACTIVE = frozenset({Standing.PROBATIONARY, Standing.OFFICIAL})
# Leaving kinds after which a restoration (wrongful decision) is possible.
RESTORABLE = frozenset({EventKind.REMOVAL, EventKind.EXPULSION})
LEAVING = {
    EventKind.NOT_RECOGNISED: Standing.LEFT,
    EventKind.REMOVAL: Standing.LEFT,
    EventKind.EXPULSION: Standing.LEFT,
    EventKind.RESIGNATION: Standing.LEFT,
    EventKind.DEATH: Standing.DECEASED,
    EventKind.TRANSFER_OUT: Standing.TRANSFERRED_OUT,
}
# Kinds that need a destination unit of this instance.
NEEDS_TO_UNIT = frozenset(
    {EventKind.ADMISSION, EventKind.READMISSION, EventKind.TRANSFER_WITHIN, EventKind.TRANSFER_IN}
)


def replace(obj, **changes):
    """`dataclasses.replace` for the plain frozen dataclasses below (no __post_init__, no
    slots), without its introspection: a replay makes several per event, and an import
    replays the opening of every new member."""
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__, **changes)
    return new


@dataclass(frozen=True)
class LedgerEvent:
    """What replay needs of an event (the model row carries more)."""

    id: int | None
    kind: str
    effective_on: date
    to_unit_id: int | None = None
    reverses_id: int | None = None
    # For TRANSFER_IN of a member new to this instance: standing on arrival.
    arriving_as: str | None = None
    # For TEMPORARY_TRANSFER outside this instance: no host unit here.
    sequence: int = 0


@dataclass(frozen=True)
class Period:
    """A stretch of active membership on one unit's rolls (ends_on exclusive, None = open)."""

    unit_id: int
    standing: str
    starts_on: date
    ends_on: date | None = None
    host_unit_id: int | None = None  # temporarily active in another unit of this instance
    away: bool = False  # temporarily active outside this instance
    activity: str = Activity.NORMAL


@dataclass(frozen=True)
class Gap:
    """Time off the rolls between leaving and coming back; `continuous` when a restoration
    found the leaving wrongful (Party age then runs through it)."""

    starts_on: date
    ends_on: date | None
    continuous: bool = False


@dataclass(frozen=True)
class MemberState:
    standing: str | None = None
    unit_id: int | None = None
    host_unit_id: int | None = None
    away: bool = False
    activity: str = Activity.NORMAL
    first_admitted_on: date | None = None
    official_since: date | None = None
    ever_official: bool = False
    readmitted: bool = False
    left_by: str | None = None
    left_on: date | None = None
    standing_before_leaving: str | None = None
    unit_before_leaving: int | None = None
    periods: tuple[Period, ...] = ()
    gaps: tuple[Gap, ...] = ()


class IllegalEvent(DomainError):
    """The event cannot happen in the member's standing at its date."""

    status_code = 422

    def __init__(self, message: str, *, event: LedgerEvent, **params: object) -> None:
        super().__init__(message, **params)
        self.event = event


def effective_events(events: Iterable[LedgerEvent]) -> list[LedgerEvent]:
    """Events in ledger order with reversed events and the reversals themselves left out."""
    events = list(events)
    reversed_ids = {e.reverses_id for e in events if e.kind == EventKind.REVERSAL}
    kept = [e for e in events if e.kind != EventKind.REVERSAL and e.id not in reversed_ids]
    return sorted(kept, key=lambda e: (e.effective_on, e.sequence, e.id or 0))


def replay(events: Iterable[LedgerEvent], *, until: date | None = None) -> MemberState:
    """Fold the events (up to and including `until`) into the member's state."""
    state = MemberState()
    for event in effective_events(events):
        if until is not None and event.effective_on > until:
            break
        state = apply(state, event)
    return state


def _open_period(state: MemberState, day: date, **changes) -> tuple[Period, ...]:
    """Close the open period at `day` and open one with the state after `changes`."""
    periods = list(state.periods)
    if periods and periods[-1].ends_on is None:
        last = periods[-1]
        if last.starts_on == day:
            periods.pop()  # superseded on the same day
        else:
            periods[-1] = replace(last, ends_on=day)
    new = replace(state, **changes)
    if new.standing in ACTIVE and new.unit_id is not None:
        periods.append(
            Period(
                unit_id=new.unit_id,
                standing=new.standing,
                starts_on=day,
                host_unit_id=new.host_unit_id,
                away=new.away,
                activity=new.activity,
            )
        )
    return tuple(periods)


def _refuse(event: LedgerEvent, message: str, **params) -> IllegalEvent:
    return IllegalEvent(message, event=event, **params)


def apply(state: MemberState, event: LedgerEvent) -> MemberState:
    """The state after one event; raises IllegalEvent when the event is not legal."""
    kind, day = event.kind, event.effective_on
    if kind not in EVENT_KINDS or kind == EventKind.REVERSAL:
        raise _refuse(event, N_("Unknown kind of event."))
    if kind in NEEDS_TO_UNIT and event.to_unit_id is None:
        raise _refuse(event, N_("Choose the Party cell the member goes to."))
    active = state.standing in ACTIVE

    def move(**changes) -> MemberState:
        return replace(state, periods=_open_period(state, day, **changes), **changes)

    if kind == EventKind.ADMISSION:
        if state.standing is not None:
            raise _refuse(event, N_("The member has been admitted already; use re-admission."))
        return move(standing=Standing.PROBATIONARY, unit_id=event.to_unit_id, first_admitted_on=day)

    if kind == EventKind.READMISSION:
        if state.standing != Standing.LEFT:
            raise _refuse(event, N_("Only a member who has left the Party can be re-admitted."))
        if state.readmitted:
            raise _refuse(event, N_("A member can be re-admitted only once."))
        # Party age shows again once the member is recognised official anew.
        moved = move(
            standing=Standing.PROBATIONARY,
            unit_id=event.to_unit_id,
            readmitted=True,
            left_by=None,
            ever_official=False,
            official_since=None,
        )
        return replace(moved, gaps=_close_gap(state.gaps, day))

    if kind == EventKind.TRANSFER_IN:
        if state.standing is None:
            arriving = event.arriving_as or Standing.OFFICIAL
            if arriving not in ACTIVE:
                raise _refuse(event, N_("A member arrives as probationary or official."))
            return move(
                standing=arriving,
                unit_id=event.to_unit_id,
                # The official date stays the record's (recognised elsewhere, before arriving).
                ever_official=arriving == Standing.OFFICIAL,
            )
        if state.standing != Standing.TRANSFERRED_OUT:
            raise _refuse(
                event,
                N_("The member is already active in a unit here; a transfer in is not possible."),
            )
        restored = state.standing_before_leaving or Standing.OFFICIAL
        moved = move(standing=restored, unit_id=event.to_unit_id, host_unit_id=None, away=False)
        return replace(moved, gaps=_close_gap(state.gaps, day), left_by=None)

    if kind == EventKind.RESTORATION:
        if state.standing != Standing.LEFT or state.left_by not in RESTORABLE:
            raise _refuse(
                event, N_("Only a member removed or expelled can have membership restored.")
            )
        moved = move(
            standing=state.standing_before_leaving,
            unit_id=state.unit_before_leaving,
            left_by=None,
        )
        gaps = list(state.gaps)
        if gaps and gaps[-1].ends_on is None:
            gaps[-1] = replace(gaps[-1], ends_on=day, continuous=True)
        return replace(moved, gaps=tuple(gaps))

    # Everything below needs a member on the rolls.
    if not active:
        raise _refuse(
            event,
            N_("The member is not active in the Party on %(day)s."),
            day=day.strftime("%d/%m/%Y"),
        )

    if kind == EventKind.OFFICIAL_RECOGNITION:
        if state.standing != Standing.PROBATIONARY:
            raise _refuse(event, N_("Only a probationary member can be recognised as official."))
        return move(standing=Standing.OFFICIAL, ever_official=True, official_since=day)
    if kind == EventKind.NOT_RECOGNISED and state.standing != Standing.PROBATIONARY:
        raise _refuse(event, N_("Only a probationary member can be refused official recognition."))
    if kind == EventKind.EXPULSION and state.standing != Standing.OFFICIAL:
        raise _refuse(
            event, N_("Only an official member can be expelled; a probationary member is removed.")
        )

    if kind in LEAVING:
        moved = move(
            standing=LEAVING[kind],
            host_unit_id=None,
            away=False,
            activity=Activity.NORMAL,
            left_by=kind,
            left_on=day,
            standing_before_leaving=state.standing,
            unit_before_leaving=state.unit_id,
        )
        if LEAVING[kind] != Standing.LEFT:
            # Death ends Party age; a member transferred out stays a Party member elsewhere.
            return moved
        return replace(moved, gaps=(*state.gaps, Gap(starts_on=day, ends_on=None)))

    if kind == EventKind.TRANSFER_WITHIN:
        if event.to_unit_id == state.unit_id:
            raise _refuse(event, N_("The member already belongs to that cell."))
        return move(unit_id=event.to_unit_id, host_unit_id=None, away=False)
    if kind == EventKind.TEMPORARY_TRANSFER:
        if event.to_unit_id is not None and event.to_unit_id == state.unit_id:
            raise _refuse(event, N_("A temporary transfer goes to another cell."))
        return move(host_unit_id=event.to_unit_id, away=event.to_unit_id is None)
    if kind == EventKind.TEMPORARY_RETURN:
        if state.host_unit_id is None and not state.away:
            raise _refuse(event, N_("The member is not on a temporary transfer."))
        return move(host_unit_id=None, away=False)
    if kind == EventKind.EXEMPTION:
        if state.activity != Activity.NORMAL:
            raise _refuse(event, N_("The member is already exempted or suspended."))
        return move(activity=Activity.EXEMPT)
    if kind == EventKind.SUSPENSION:
        if state.activity == Activity.SUSPENDED:
            raise _refuse(event, N_("The member is already suspended."))
        return move(activity=Activity.SUSPENDED)
    if kind == EventKind.RESUMPTION:
        if state.activity == Activity.NORMAL:
            raise _refuse(event, N_("The member is neither exempted nor suspended."))
        return move(activity=Activity.NORMAL)
    raise _refuse(event, N_("Unknown kind of event."))  # pragma: no cover - all kinds handled


def _close_gap(gaps: Sequence[Gap], day: date) -> tuple[Gap, ...]:
    gaps = list(gaps)
    if gaps and gaps[-1].ends_on is None:
        gaps[-1] = replace(gaps[-1], ends_on=day)
    return tuple(gaps)


def check_new_event(events: Sequence[LedgerEvent], candidate: LedgerEvent) -> MemberState:
    """Replay with the candidate in its place; the resulting state, or IllegalEvent."""
    if candidate.kind == EventKind.REVERSAL:
        target = next((e for e in events if e.id == candidate.reverses_id), None)
        if target is None:
            raise _refuse(candidate, N_("The event to cancel does not exist."))
        if target.kind == EventKind.REVERSAL:
            raise _refuse(
                candidate, N_("A cancellation cannot itself be cancelled; record the event again.")
            )
        if any(e.kind == EventKind.REVERSAL and e.reverses_id == target.id for e in events):
            raise _refuse(candidate, N_("That event has been cancelled already."))
    return replay([*events, candidate])
