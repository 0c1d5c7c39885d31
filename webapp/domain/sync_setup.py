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


SYNC_ACCOUNT_PREFIX = "sync-"


def sync_account_name(unit_code: str) -> str:
    """The machine account of the downstream owning `unit_code` (FAB user names allow
    dots; lower case so that it reads as a machine's)."""
    return (SYNC_ACCOUNT_PREFIX + unit_code).lower()[:64]


@command("sync.configure")
def register_downstream(
    session: Session,
    requester: Requester,
    *,
    unit_code: str,
    public_key: str,
    password_hash: str,
    name: str | None = None,
) -> SyncPeer:
    """Register a lower-level instance: the subtree it owns here (the unit `unit_code`),
    its public key, and its machine account (role Sync, scope that subtree) with which it
    pushes its packages. All or nothing."""
    from webapp.domain.commands import Role
    from webapp.domain.users import NewUser, create_user

    peer = register_peer(
        session,
        requester,
        kind=PeerKind.DOWNSTREAM,
        unit_code=unit_code,
        public_key=public_key,
        name=name,
    )
    user = create_user(
        session,
        requester,
        NewUser(
            username=sync_account_name(peer.unit_code),
            role=Role.SYNC,
            unit_code=peer.unit_code,
            password_hash=password_hash,
            full_name=name or peer.unit_code,
        ),
    )
    peer.user_id = user.id
    session.flush()
    return peer


NO_DELIVERY = N_("Say how packages reach the upstream: an address (--url) or a folder (--folder).")
ONE_DELIVERY = N_("Give the upstream an address or a folder, not both.")
BAD_URL = N_("The upstream's address must start with http:// or https://.")


@command("sync.configure")
def set_upstream(
    session: Session,
    requester: Requester,
    *,
    unit_code: str,
    public_key: str,
    url: str | None = None,
    folder: str | None = None,
) -> SyncPeer:
    """Say where this instance's packages go: the upstream's key, and its address (HTTP
    push) or a folder (a USB stick). Setting it again replaces the delivery, and a new key
    replaces the old upstream (its history stays on the status screen)."""
    if not url and not folder:
        raise ValidationFailed({"url": [(NO_DELIVERY, {})]})
    if url and folder:
        raise ValidationFailed({"url": [(ONE_DELIVERY, {})]})
    if url and not url.lower().startswith(("http://", "https://")):
        raise ValidationFailed({"url": [(BAD_URL, {})]})
    key = normalise_public_key(public_key)
    current = upstream(session)
    if current is not None and current.public_key == key:
        current.url, current.folder, current.unit_code = url, folder, unit_code
        session.flush()
        return current
    if current is not None:
        current.active = False
        session.flush()
    return register_peer(
        session,
        requester,
        kind=PeerKind.UPSTREAM,
        unit_code=unit_code,
        public_key=key,
        url=url,
        folder=folder,
    )
