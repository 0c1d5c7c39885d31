"""Unit scope: every user sees and changes only their unit's subtree (DESIGN §1).

`scope_clause(model, scope)` is the one place that says which rows of a model a scope
covers; the view layer (webapp/security.py) applies it to every screen, API and lookup,
and jobs and reports call it with the requester's scope.
"""

from __future__ import annotations

from sqlalchemy import Boolean, false, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from webapp.domain.errors import N_, Forbidden, NotFound
from webapp.models.badges import BadgeAward, BadgeProposal
from webapp.models.cards import CardProposal, CardProposalBatch, PartyCard
from webapp.models.files import MemberDocument, MemberPhoto
from webapp.models.ledger import MemberEvent, MemberPeriod
from webapp.models.member import Member
from webapp.models.record import MEMBER_ROW_MODELS, MemberChange, MemberSupplement
from webapp.models.report_run import ReportRun
from webapp.models.sync import SyncPeer
from webapp.models.unit import Unit, UnitChange
from webapp.models.worklist import QualityScore, WorkItem

UNRESTRICTED = None  # the scope of an Admin
NOWHERE = ""  # the scope of a user without a unit: nothing


def units_in(scope: str):
    return select(Unit.id).where(Unit.path.startswith(scope, autoescape=True))


def members_in(scope: str):
    return select(Member.id).where(member_clause(scope))


def member_clause(scope: str) -> ColumnElement[bool]:
    # Members of the subtree, and members temporarily active in it (shown apart).
    return or_(
        InSubtree(Member.unit_id, units_in(scope).correlate(None)),
        InSubtree(Member.host_unit_id, units_in(scope).correlate(None)),
    )


class InSubtree(ColumnElement):
    """`column IN (subquery)`; on PostgreSQL `column = ANY(ARRAY(subquery))`. The subquery
    is then run once, before the scan (an InitPlan), and the column compared with its
    array is an index condition: `unit_id … OR host_unit_id …` becomes a BitmapOr of two
    index scans. With IN, PostgreSQL can only probe a hashed subplan row by row, so it
    reads the whole member table for every scoped count and page."""

    type = Boolean()
    _is_implicitly_boolean = True  # a comparison: no "= 1" where booleans are integers
    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("subquery", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column, subquery):
        self.column = column
        self.subquery = subquery

    @property
    def _from_objects(self):
        # The compared column's table: a select that names nothing else reads it.
        return self.column._from_objects


@compiles(InSubtree)
def _in_subtree(element, compiler, **kw):
    return compiler.process(element.column.in_(element.subquery), **kw)


@compiles(InSubtree, "postgresql")
def _in_subtree_postgresql(element, compiler, **kw):
    column = compiler.process(element.column, **kw)
    subquery = compiler.process(element.subquery.scalar_subquery(), **kw)
    return f"{column} = ANY(ARRAY{subquery})"


MEMBER_OWNED = (
    MemberEvent,
    MemberPeriod,
    MemberSupplement,
    MemberChange,
    *MEMBER_ROW_MODELS,
    CardProposal,
    PartyCard,
    BadgeProposal,
    BadgeAward,
    MemberPhoto,
    MemberDocument,
)
UNIT_OWNED = (ReportRun, UnitChange, CardProposalBatch, WorkItem, QualityScore)


def scope_clause(model: type, scope: str | None) -> ColumnElement[bool]:
    """The rows of `model` inside `scope` (a unit path; None = everything, "" = nothing)."""
    if scope is UNRESTRICTED:
        return true()
    if scope == NOWHERE:
        return false()
    if model is Unit:
        return Unit.path.startswith(scope, autoescape=True)
    if model is Member:
        return member_clause(scope)
    if model in MEMBER_OWNED:
        return model.member_id.in_(members_in(scope))
    if model in UNIT_OWNED:
        return model.unit_id.in_(units_in(scope))
    raise ValueError(f"{model.__name__} has no unit scope")


def is_scoped(model: type) -> bool:
    return model in (Unit, Member, *UNIT_OWNED, *MEMBER_OWNED)


def user_scope(user, admin_role: str) -> str | None:
    """The unit path a user may see: None for an Admin (everything), "" for a user
    without a unit (nothing)."""
    if any(role.name == admin_role for role in user.roles):
        return UNRESTRICTED
    unit = getattr(user, "unit", None)
    return unit.path if unit is not None and unit.path else NOWHERE


def unit_in_scope(session, unit_id: int | None, scope: str | None) -> bool:
    if unit_id is None:
        return False
    # No autoflush: callers check a record being edited before it is saved.
    with session.no_autoflush:
        found = session.scalar(select(Unit.id).where(Unit.id == unit_id, scope_clause(Unit, scope)))
    return found is not None


def find_in_scope(
    session,
    model: type,
    pk,
    scope: str | None,
    *,
    lock: bool = False,
    missing: str = N_("The record does not exist."),
):
    """The row of `model` with id `pk` if `scope` covers it; else NotFound(`missing`),
    exactly as for a row that does not exist (ids outside the scope reveal nothing).
    `lock` takes it FOR UPDATE, read fresh: what the session holds unsaved is written
    first, or the fresh read would drop it."""
    row = None
    if isinstance(pk, int) and not isinstance(pk, bool) and 0 < pk < 2**63:
        query = select(model).where(model.id == pk, scope_clause(model, scope))
        if lock:
            session.flush()
            query = query.with_for_update().execution_options(populate_existing=True)
        with session.no_autoflush:
            row = session.scalar(query)
    if row is None:
        raise NotFound(missing)
    if lock:
        # A lock is taken to write: a registered downstream's records are its own.
        refuse_if_owned(session, model, row)
    return row


OWNED_ELSEWHERE = N_(
    "These records belong to %(owner)s, which keeps them on its own instance: they change "
    "there and arrive here by its packages."
)


def owner_downstream(session, unit_path: str | None):
    """The registered downstream (docs/sync.md) whose subtree holds the unit at
    `unit_path`, or None."""
    if not unit_path:
        return None
    return owner_among(downstreams(session), unit_path)


def downstreams(session) -> list[tuple[SyncPeer, str]]:
    """The registered downstreams with the path of their root unit (an import reads them
    once for its file)."""
    with session.no_autoflush:
        return list(
            session.execute(
                select(SyncPeer, Unit.path)
                .join(Unit, SyncPeer.unit_id == Unit.id)
                .where(SyncPeer.kind == "downstream", SyncPeer.active.is_(True))
            ).tuples()
        )


def owner_among(peers: list[tuple[SyncPeer, str]], unit_path: str | None):
    """The first of `peers` (`downstreams`) whose subtree holds the unit at `unit_path`."""
    if not unit_path:
        return None
    for peer, root in peers:
        if unit_path.startswith(root):
            return peer
    return None


def unit_owner(session, unit_id: int | None):
    """The registered downstream that owns the unit with this id (a new record placed in
    it would be another instance's), or None."""
    if unit_id is None:
        return None
    with session.no_autoflush:
        return owner_downstream(
            session, session.scalar(select(Unit.path).where(Unit.id == unit_id))
        )


def _unit_path_of(session, model: type, row) -> str | None:
    if model is Unit:
        return row.path
    if model is Member:
        unit_id = row.unit_id
    elif model in MEMBER_OWNED:
        unit_id = session.scalar(select(Member.unit_id).where(Member.id == row.member_id))
    elif model in UNIT_OWNED:
        unit_id = row.unit_id
    else:
        return None
    return session.scalar(select(Unit.path).where(Unit.id == unit_id))


def refuse_if_owned(session, model: type, row) -> None:
    """The one ownership check of the write doors: on an upper level, the records of a
    registered downstream's subtree change only by that downstream's packages (which are
    applied around the commands); anyone else is refused with the owner's name."""
    with session.no_autoflush:
        if (
            session.scalar(
                select(SyncPeer.id).where(SyncPeer.kind == "downstream", SyncPeer.active.is_(True))
            )
            is None
        ):
            return
        owner = owner_downstream(session, _unit_path_of(session, model, row))
    if owner is not None:
        raise Forbidden(OWNED_ELSEWHERE, owner=owner.name or owner.unit_code)


def find_member(session, requester, member_id) -> Member:
    """The member in the requester's scope, locked (events, rows, supplements and edits
    of one member are serialised); NotFound otherwise."""
    return find_in_scope(
        session,
        Member,
        member_id,
        requester.scope,
        lock=True,
        missing=N_("The member does not exist."),
    )
