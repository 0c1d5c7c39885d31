"""Setting up an instance for packages: who it is, and the peers it exchanges them with
(docs/sync.md, "Set-up"). Commands of the Admin (`sync.configure`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.domain.commands import Requester, command
from webapp.domain.errors import N_, InUse, NotFound, ValidationFailed
from webapp.domain.sync_envelope import normalise_public_key
from webapp.domain.units import resolve_unit_code
from webapp.models.sync import PeerKind, SyncIdentity, SyncPeer

ALREADY_INITIALISED = N_(
    "This instance already has its identity (unit %(unit)s, key %(key)s). Its peers know it "
    "by that key; it is not replaced."
)
UNKNOWN_UNIT = N_("There is no unit with code %(code)s.")
NOT_INITIALISED = N_(
    "This instance has no identity yet: run `flask --app wsgi sync init --unit CODE` first."
)
KEY_TAKEN = N_("The key is already registered here for %(kind)s %(unit)s.")
ONE_UPSTREAM = N_("This instance already has an upstream (%(unit)s); change that one instead.")
UNKNOWN_KIND = N_("Unknown kind of peer: %(kind)s.")


def identity(session: Session) -> SyncIdentity | None:
    """This instance's identity, or None before `sync init`."""
    return session.scalars(select(SyncIdentity).order_by(SyncIdentity.id).limit(1)).first()


def require_identity(session: Session) -> SyncIdentity:
    found = identity(session)
    if found is None:
        raise NotFound(NOT_INITIALISED)
    return found


@command("sync.configure")
def init_instance(
    session: Session, requester: Requester, *, unit_code: str | None, public_key: str
) -> SyncIdentity:
    """Give this instance its identity: the unit it is (None: the central instance) and
    the public half of its key."""
    existing = identity(session)
    if existing is not None:
        raise InUse(ALREADY_INITIALISED, unit=existing.unit_code or "-", key=existing.public_key)
    unit = None
    if unit_code:
        unit = resolve_unit_code(session, unit_code)
        if unit is None:
            raise NotFound(UNKNOWN_UNIT, code=unit_code)
    created = SyncIdentity(
        unit=unit,
        unit_code=unit.code if unit else None,
        public_key=normalise_public_key(public_key),
    )
    session.add(created)
    session.flush()
    return created


@command("sync.configure")
def register_peer(
    session: Session,
    requester: Requester,
    *,
    kind: str,
    unit_code: str,
    public_key: str,
    name: str | None = None,
    url: str | None = None,
    folder: str | None = None,
) -> SyncPeer:
    """Register another instance by its public key. A downstream's unit code must name a
    unit of this tree (its subtree is what the downstream owns here)."""
    if kind not in {k.value for k in PeerKind}:
        raise ValidationFailed({"kind": [(UNKNOWN_KIND, {"kind": kind})]})
    key = normalise_public_key(public_key)
    taken = session.scalars(select(SyncPeer).where(SyncPeer.public_key == key)).first()
    if taken is not None:
        raise InUse(KEY_TAKEN, kind=taken.kind, unit=taken.unit_code)
    unit = None
    if kind == PeerKind.DOWNSTREAM:
        unit = resolve_unit_code(session, unit_code)
        if unit is None:
            raise NotFound(UNKNOWN_UNIT, code=unit_code)
    if kind == PeerKind.UPSTREAM:
        current = upstream(session)
        if current is not None:
            raise InUse(ONE_UPSTREAM, unit=current.unit_code)
    peer = SyncPeer(
        kind=kind,
        unit_code=unit.code if unit else unit_code,
        unit=unit,
        name=name,
        public_key=key,
        url=url,
        folder=folder,
        active=True,
    )
    session.add(peer)
    session.flush()
    return peer


def upstream(session: Session) -> SyncPeer | None:
    return session.scalars(
        select(SyncPeer).where(SyncPeer.kind == PeerKind.UPSTREAM, SyncPeer.active.is_(True))
    ).first()


def peer_by_key(session: Session, public_key: str) -> SyncPeer | None:
    """The active peer that holds this (normalised) public key."""
    return session.scalars(
        select(SyncPeer).where(SyncPeer.public_key == public_key, SyncPeer.active.is_(True))
    ).first()


def is_known_sender(session: Session):
    """A predicate for `open_envelope`: is this key an active peer here?"""
    return lambda key: peer_by_key(session, key) is not None
