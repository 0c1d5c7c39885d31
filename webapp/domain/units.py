"""Rules for organisation units, and the commands that found, edit (rename, recode, move),
merge, dissolve and delete them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import exists, func, inspect, or_, select
from sqlalchemy.orm import Session, aliased

from webapp.domain.commands import Requester, command, delete_unreferenced
from webapp.domain.errors import N_, FieldErrors, InUse
from webapp.domain.events import EventInput, record_event
from webapp.domain.ledger import EventKind
from webapp.domain.reports import count_subtree_members
from webapp.domain.scope import (
    OWNED_ELSEWHERE,
    UNRESTRICTED,
    InSubtree,
    find_in_scope,
    scope_clause,
    unit_in_scope,
    unit_owner,
    units_in,
)
from webapp.models.cards import CardProposalBatch
from webapp.models.ledger import MemberEvent, MemberPeriod
from webapp.models.member import ON_THE_ROLLS, Member
from webapp.models.unit import MEMBER_HOLDING_KINDS, Unit, UnitChange, UnitChangeKind, UnitKind
from webapp.models.user import DangVienUser

UNIT_CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,31}$")


def check_unit(
    values: Mapping[str, Any],
    *,
    session: Session,
    unit_id: int | None = None,
    today: date | None = None,
) -> FieldErrors:
    """Check a unit's fields; `unit_id` is the unit being edited (None when new)."""
    # Lookups must not flush a half-built record that a form has attached to the session.
    with session.no_autoflush:
        return _check_unit(values, session=session, unit_id=unit_id, today=today)


def _check_unit(
    values: Mapping[str, Any],
    *,
    session: Session,
    unit_id: int | None = None,
    today: date | None = None,
) -> FieldErrors:
    today = today or date.today()
    errors = FieldErrors()
    code = (values.get("code") or "").strip()
    name = (values.get("name") or "").strip()
    kind = values.get("kind")
    parent_id = values.get("parent_id")
    founded_on, dissolved_on = values.get("founded_on"), values.get("dissolved_on")

    if not code:
        errors.add("code", N_("The unit code is required."))
    elif not UNIT_CODE_PATTERN.match(code):
        errors.add(
            "code",
            N_(
                "The unit code may hold only capital letters, digits, dots and dashes (at most 32)."
            ),
        )
    else:
        clash = select(Unit.id).where(func.upper(Unit.code) == code.upper())
        if unit_id is not None:
            clash = clash.where(Unit.id != unit_id)
        if session.execute(clash.limit(1)).first():
            errors.add("code", N_("The unit code %(code)s is already used."), code=code)
    if not name:
        errors.add("name", N_("The unit name is required."))
    if kind not in set(UnitKind):
        errors.add("kind", N_("Choose the kind of unit."))

    if parent_id is not None:
        parent = session.get(Unit, parent_id)
        if parent is None:
            errors.add("parent", N_("The parent unit does not exist."))
        else:
            if parent.kind in MEMBER_HOLDING_KINDS:
                errors.add("parent", N_("A Party cell cannot have subordinate units."))
            if unit_id is not None and f"/{unit_id}/" in (parent.path or ""):
                errors.add("parent", N_("A unit cannot be placed under itself or its own subunit."))
            if parent.dissolved_on is not None:
                errors.add("parent", N_("The parent unit has been dissolved."))

    if founded_on and founded_on > today:
        errors.add("founded_on", N_("The founding date cannot be in the future."))
    if founded_on and dissolved_on and dissolved_on < founded_on:
        errors.add("dissolved_on", N_("The dissolution date cannot be before the founding date."))
    return errors


UNIT_FIELDS = ("code", "name", "kind", "parent_id", "founded_on", "dissolved_on")


def unit_values(unit: Unit) -> dict[str, Any]:
    """A unit's values as the rules read them (the parent by id)."""
    values = {name: getattr(unit, name) for name in UNIT_FIELDS}
    if unit.parent is not None:
        values["parent_id"] = unit.parent.id
    return values


def unit_problems(
    session: Session,
    requester: Requester,
    values: Mapping[str, Any],
    *,
    unit_id: int | None,
    today: date | None = None,
) -> FieldErrors:
    """The unit's rules, and a parent inside the requester's scope: a clerk founds and
    moves units under their own; only an Admin has top-level units. Forms call it to show
    the problems on their fields; the commands call it before they write."""
    errors = check_unit(values, session=session, unit_id=unit_id, today=today)
    parent_id = values.get("parent_id")
    outside = (
        not unit_in_scope(session, parent_id, requester.scope)
        if parent_id is not None
        else requester.scope is not UNRESTRICTED
    )
    if outside and "parent" not in errors.as_dict():
        errors.add("parent", N_("Choose a parent unit inside your scope."))
    elif parent_id is not None and (owner := unit_owner(session, parent_id)) is not None:
        errors.add("parent", OWNED_ELSEWHERE, owner=owner.name or owner.unit_code)
    return errors


def _find_unit(session: Session, requester: Requester, unit_id, *, lock: bool = True) -> Unit:
    return find_in_scope(
        session, Unit, unit_id, requester.scope, lock=lock, missing=N_("The unit does not exist.")
    )


@command("unit.create")
def found_unit(
    session: Session, requester: Requester, unit: Unit, *, today: date | None = None
) -> Unit:
    """Found `unit` (not yet saved) under a parent in the requester's scope; its history
    starts with the founding."""
    with session.no_autoflush:  # the new unit is not in the session yet
        values = unit_values(unit)
    unit_problems(session, requester, values, unit_id=None, today=today).raise_if_any()
    session.add(unit)
    session.flush()
    _record_founding(session, unit, user_id=requester.user_id)
    return unit


@command("unit.edit")
def edit_unit(
    session: Session,
    requester: Requester,
    unit_id: int,
    changes: Mapping[str, Any],
    *,
    today: date | None = None,
) -> Unit:
    """Rename, recode or move a unit (a new `parent_id`), or correct its dates; each
    rename, code change and move lands in the unit's history."""
    unknown = set(changes) - set(UNIT_FIELDS)
    if unknown:
        raise ValueError(f"not unit fields: {sorted(unknown)}")
    unit = _find_unit(session, requester, unit_id)
    unit_problems(
        session, requester, {**unit_values(unit), **changes}, unit_id=unit.id, today=today
    ).raise_if_any()
    for field, value in changes.items():
        if field == "parent_id":
            # Through the relationship: the history names the new parent's code.
            unit.parent = session.get(Unit, value) if value is not None else None
        else:
            setattr(unit, field, value)
    _record_unit_changes(session, unit, user_id=requester.user_id, today=today)
    session.flush()
    return unit


UNIT_KEPT = N_(
    "The unit %(code)s has subunits, members, movements, proposals or users; dissolve or "
    "merge it instead."
)


def unit_deletion_refusals(session: Session, unit_ids) -> dict[int, tuple[str, dict]]:
    """Why each of these units may not be deleted (msgid, params); a unit absent from the
    answer was entered by mistake: nothing refers to it but its own founding in the
    history. One query for a list page's rows."""
    ids = [i for i in unit_ids if isinstance(i, int)]
    if not ids:
        return {}
    child = aliased(Unit)
    references = [
        exists().where(child.parent_id == Unit.id),
        exists().where(child.merged_into_id == Unit.id),
        exists().where(Member.unit_id == Unit.id),
        exists().where(Member.host_unit_id == Unit.id),
        exists().where(MemberEvent.from_unit_id == Unit.id),
        exists().where(MemberEvent.to_unit_id == Unit.id),
        exists().where(MemberPeriod.unit_id == Unit.id),
        exists().where(UnitChange.other_unit_id == Unit.id),
        exists().where(CardProposalBatch.unit_id == Unit.id),
        exists().where(DangVienUser.unit_id == Unit.id),
    ]
    rows = session.execute(
        select(Unit.id, Unit.code).where(Unit.id.in_(ids), or_(*references))
    ).all()
    return {unit_id: (UNIT_KEPT, {"code": code}) for unit_id, code in rows}


def may_delete_unit(session: Session, requester: Requester, unit_ids) -> set[int]:
    """The units among `unit_ids` whose delete button the list offers."""
    if not requester.may("unit.delete"):
        return set()
    refused = unit_deletion_refusals(session, unit_ids)
    return {i for i in unit_ids if i not in refused}


@command("unit.delete")
def delete_unit(session: Session, requester: Requester, unit_id: int) -> None:
    """Delete a unit entered by mistake; one with subunits, members or events is dissolved
    or merged instead."""
    unit = _find_unit(session, requester, unit_id)
    if unit.children:
        # The database would let the subunits fall to the top of the tree.
        raise InUse(N_("Dissolve or move its subunits first."))
    if (refusal := unit_deletion_refusals(session, [unit.id]).get(unit.id)) is not None:
        raise InUse(refusal[0], **refusal[1])
    delete_unreferenced(
        session,
        unit,
        N_("The unit is still referred to (members, events, users); dissolve or merge it instead."),
    )


# --- Commands on the tree: history of changes, merge, dissolve, code resolution ---------


def _record_unit_changes(
    session: Session, unit: Unit, *, user_id: int | None, today: date | None = None
) -> None:
    """Add history rows for what an edit changed (name, code, parent); before the flush."""
    today = today or date.today()
    state = inspect(unit)
    if state.pending or state.transient:
        return
    for attribute, kind in (
        ("name", UnitChangeKind.RENAMED),
        ("code", UnitChangeKind.CODE_CHANGED),
    ):
        history = state.attrs[attribute].history
        if history.has_changes() and history.deleted:
            session.add(
                UnitChange(
                    unit_id=unit.id,
                    kind=kind,
                    effective_on=today,
                    old_value=history.deleted[0],
                    new_value=getattr(unit, attribute),
                    recorded_by_id=user_id,
                )
            )
    parent_history = state.attrs["parent_id"].history
    if parent_history.has_changes():
        old_parent_id = parent_history.deleted[0] if parent_history.deleted else None
        old_parent = session.get(Unit, old_parent_id) if old_parent_id else None
        session.add(
            UnitChange(
                unit_id=unit.id,
                kind=UnitChangeKind.MOVED,
                effective_on=today,
                old_value=old_parent.code if old_parent else None,
                new_value=unit.parent.code if unit.parent else None,
                other_unit_id=unit.parent_id,
                recorded_by_id=user_id,
            )
        )


def _record_founding(session: Session, unit: Unit, *, user_id: int | None) -> None:
    session.add(
        UnitChange(
            unit_id=unit.id,
            kind=UnitChangeKind.FOUNDED,
            effective_on=unit.founded_on or date.today(),
            new_value=f"{unit.code} – {unit.name}",
            recorded_by_id=user_id,
        )
    )


def _members_on_rolls(session: Session, unit: Unit):
    return session.scalars(
        select(Member).where(
            Member.unit_id == unit.id,
            Member.status.in_(ON_THE_ROLLS),
        )
    ).all()


def _hosted_count(session: Session, unit: Unit) -> int:
    return session.scalar(select(func.count(Member.id)).where(Member.host_unit_id == unit.id))


def _check_decision_number(decision_number: str | None, errors: FieldErrors) -> None:
    if decision_number and len(decision_number) > 60:
        errors.add("decision_number", N_("At most %(limit)s characters."), limit=60)


@command("unit.merge")
def merge_units(
    session: Session,
    requester: Requester,
    absorbed_id: int,
    into_id: int | None,
    *,
    effective_on: date | None,
    decision_number: str | None = None,
    today: date | None = None,
) -> Unit:
    """Merge unit `absorbed_id` into `into_id` (both in the requester's scope): its members
    are transferred (ledger events dated `effective_on`), its subunits move under the
    successor, and it is dissolved with a pointer to the successor, so its code keeps
    resolving. One transaction."""
    today = today or date.today()
    user_id = requester.user_id
    decision_number = (decision_number or "").strip() or None
    errors = FieldErrors()
    absorbed = _find_unit(session, requester, absorbed_id)
    # A successor outside the scope is answered as if none had been chosen.
    into = (
        session.get(Unit, into_id)
        if into_id is not None and unit_in_scope(session, into_id, requester.scope)
        else None
    )
    if into is None:
        errors.add("into_id", N_("Choose the unit that takes over."))
    _check_decision_number(decision_number, errors)
    if effective_on is None:
        errors.add("effective_on", N_("The date of the event is required."))
    elif effective_on > today:
        errors.add("effective_on", N_("The date cannot be in the future."))
    errors.raise_if_any()
    members = _members_on_rolls(session, absorbed)
    children = [child for child in absorbed.children if child.dissolved_on is None]
    if into.id == absorbed.id or into.path.startswith(absorbed.path):
        errors.add("into_id", N_("A unit cannot be merged into itself or its own subunit."))
    elif absorbed.dissolved_on is not None or into.dissolved_on is not None:
        errors.add("into_id", N_("A dissolved unit cannot take part in a merge."))
    elif members and into.kind not in MEMBER_HOLDING_KINDS:
        errors.add("into_id", N_("The unit holds members; merge it into a Party cell."))
    elif children and into.kind in MEMBER_HOLDING_KINDS:
        errors.add("into_id", N_("The unit has subunits; a Party cell cannot take them over."))
    elif _hosted_count(session, absorbed):
        errors.add("into_id", N_("End the temporary transfers into this unit before merging it."))
    errors.raise_if_any()

    for member in members:
        record_event(
            session,
            requester,
            member.id,
            EventInput(
                kind=EventKind.TRANSFER_WITHIN,
                effective_on=effective_on,
                decision_number=decision_number,
                to_unit_id=into.id,
                note=f"Hợp nhất {absorbed.code} vào {into.code}",
            ),
            today=today,
        )
    for child in children:
        child.parent = into
        session.add(
            UnitChange(
                unit_id=child.id,
                kind=UnitChangeKind.MOVED,
                effective_on=effective_on,
                old_value=absorbed.code,
                new_value=into.code,
                other_unit_id=into.id,
                decision_number=decision_number,
                recorded_by_id=user_id,
            )
        )
    absorbed.dissolved_on = effective_on
    absorbed.merged_into_id = into.id
    session.add_all(
        [
            UnitChange(
                unit_id=absorbed.id,
                kind=UnitChangeKind.MERGED_INTO,
                effective_on=effective_on,
                new_value=into.code,
                other_unit_id=into.id,
                decision_number=decision_number,
                recorded_by_id=user_id,
            ),
            UnitChange(
                unit_id=into.id,
                kind=UnitChangeKind.ABSORBED,
                effective_on=effective_on,
                new_value=absorbed.code,
                other_unit_id=absorbed.id,
                decision_number=decision_number,
                recorded_by_id=user_id,
            ),
        ]
    )
    session.flush()
    return into


def dissolve_problem(session: Session, unit: Unit) -> tuple[str, dict] | None:
    """Why `unit` cannot be dissolved whatever the date (dissolved already, members still
    on its subtree's rolls — the province root, say —, live subunits, members temporarily
    hosted), or None."""
    if unit.dissolved_on is not None:
        return N_("The unit has been dissolved already."), {}
    remaining = count_subtree_members(session, unit)
    if remaining:
        return (
            N_(
                "The unit still has %(count)s members on its rolls; transfer them or merge the unit first."
            ),
            {"count": remaining},
        )
    if any(child.dissolved_on is None for child in unit.children):
        return N_("Dissolve or move its subunits first."), {}
    if _hosted_count(session, unit):
        return N_("End the temporary transfers into this unit before dissolving it."), {}
    return None


def may_dissolve_unit(session: Session, requester: Requester, unit: Unit) -> bool:
    """The unit page offers "dissolve" only when the command could do it."""
    return requester.may("unit.dissolve") and dissolve_problem(session, unit) is None


def merge_successors(unit: Unit, scope: str | None):
    """Select of the units `unit` could be merged into, in the tree's order: live units of
    the scope outside its own subtree (the top of the tree has none)."""
    return (
        select(Unit)
        .where(
            scope_clause(Unit, scope),
            Unit.dissolved_on.is_(None),
            Unit.id != unit.id,
            ~Unit.path.startswith(unit.path, autoescape=True),
        )
        .order_by(Unit.sort_path)
    )


def may_merge_unit(session: Session, requester: Requester, unit: Unit) -> bool:
    """The unit page offers "merge" only for a live unit that has a unit to merge into in
    the requester's scope (not the province root, nor a clerk's own top unit)."""
    if not requester.may("unit.merge") or unit.dissolved_on is not None:
        return False
    candidate = merge_successors(unit, requester.scope).with_only_columns(Unit.id).limit(1)
    return session.scalar(candidate) is not None


@command("unit.dissolve")
def dissolve_unit(
    session: Session,
    requester: Requester,
    unit_id: int,
    *,
    effective_on: date | None,
    decision_number: str | None = None,
    today: date | None = None,
) -> Unit:
    """Dissolve a unit; refused while it, or a subunit, still has members on its rolls."""
    today = today or date.today()
    decision_number = (decision_number or "").strip() or None
    unit = _find_unit(session, requester, unit_id)
    errors = FieldErrors()
    _check_decision_number(decision_number, errors)
    if effective_on is None:
        errors.add("effective_on", N_("The date of the event is required."))
    elif effective_on > today:
        errors.add("effective_on", N_("The date cannot be in the future."))
    elif unit.founded_on and effective_on < unit.founded_on:
        errors.add("effective_on", N_("The dissolution date cannot be before the founding date."))
    if (problem := dissolve_problem(session, unit)) is not None:
        errors.add("effective_on", problem[0], **problem[1])
    errors.raise_if_any()
    unit.dissolved_on = effective_on
    session.add(
        UnitChange(
            unit_id=unit.id,
            kind=UnitChangeKind.DISSOLVED,
            effective_on=effective_on,
            decision_number=decision_number,
            recorded_by_id=requester.user_id,
        )
    )
    session.flush()
    return unit


def resolve_unit_code(session: Session, code: str) -> Unit | None:
    """The unit now standing for `code`: the unit itself, or the successor of a merged one."""
    unit = session.scalar(select(Unit).where(func.upper(Unit.code) == code.strip().upper()))
    seen = set()
    while unit is not None and unit.merged_into_id is not None and unit.id not in seen:
        seen.add(unit.id)
        unit = session.get(Unit, unit.merged_into_id)
    return unit


def subtree_member_counts(
    session: Session, wanted: set[int] | None = None, scope: str | None = UNRESTRICTED
) -> dict[int, int]:
    """Members on the rolls of each wanted unit's whole subtree (default: every unit; only
    members of units in `scope` are read): the members counted by unit in one grouped
    query, each unit's count then added to its wanted ancestors along its path."""
    # count(*), not count(id): the partial index ix_member_rolls_unit answers it alone.
    direct = select(Member.unit_id, func.count().label("members")).where(
        Member.status.in_(ON_THE_ROLLS)
    )
    if scope is not UNRESTRICTED:
        direct = direct.where(InSubtree(Member.unit_id, units_in(scope).correlate(None)))
    direct = direct.group_by(Member.unit_id).subquery()
    counted = session.execute(
        select(Unit.path, direct.c.members).join(direct, direct.c.unit_id == Unit.id)
    ).tuples()
    totals: dict[int, int] = {}
    for path, members in counted:
        for ancestor in map(int, path.strip("/").split("/")):
            if wanted is None or ancestor in wanted:
                totals[ancestor] = totals.get(ancestor, 0) + members
    return totals


class TreeUnit(NamedTuple):
    id: int
    code: str
    name: str
    kind: str
    path: str
    parent_id: int | None
    dissolved_on: date | None
    has_children: bool


def tree_units(
    session: Session, scope: str | None, opened: set[int], whole_up_to: int
) -> tuple[list[TreeUnit], bool]:
    """The units the organisation tree of `scope` shows, in the tree's order, and whether
    that is all of them: the whole scope when it has at most `whole_up_to` units, else its
    top two levels, the `opened` units with their ancestors, and their children. Only the
    rows shown are read."""
    child = aliased(Unit)
    columns = (
        Unit.id,
        Unit.code,
        Unit.name,
        Unit.kind,
        Unit.path,
        Unit.parent_id,
        Unit.dissolved_on,
        exists().where(child.parent_id == Unit.id).label("has_children"),
    )
    in_scope = scope_clause(Unit, scope)
    query = select(*columns).where(in_scope).order_by(Unit.sort_path)
    total = session.scalar(select(func.count()).select_from(Unit).where(in_scope))
    if total <= whole_up_to:
        return [TreeUnit(*row) for row in session.execute(query).tuples()], True
    top = Unit.parent_id.is_(None) if scope is UNRESTRICTED else Unit.path == scope
    tops = select(Unit.id).where(top)
    opened_paths = (
        session.scalars(select(Unit.path).where(in_scope, Unit.id.in_(opened))).all()
        if opened
        else []
    )
    # The opened units and their ancestors, so that they are reached in the tree.
    wanted = {int(part) for path in opened_paths for part in path.strip("/").split("/")}
    opened_here = opened & wanted
    query = query.where(
        or_(
            top,
            Unit.parent_id.in_(tops),
            Unit.id.in_(wanted),
            Unit.parent_id.in_(opened_here),
        )
    )
    return [TreeUnit(*row) for row in session.execute(query).tuples()], False
