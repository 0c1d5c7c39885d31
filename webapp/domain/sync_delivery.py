"""The downstream's side of delivery (docs/sync.md, "Delivery"): which packages still wait
for the upstream's receipt, and what happens when the upstream refuses one.

A refused package is kept for the status screen with the upstream's reason, and its
changes go back to the outbox: once the cause is put right here (the data fixed, or the
upstream's registration), the next package carries them again under the same number, since
the upstream never applied that number and would otherwise see a gap."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from webapp.domain.commands import Requester, command
from webapp.domain.errors import N_, NotFound
from webapp.domain.sync_setup import upstream
from webapp.models.sync_packages import PackageDirection, PackageState, SyncOutbox, SyncPackage

NO_SUCH_PACKAGE = N_("There is no pending package number %(sequence)s.")
REFUSED_UPSTREAM = N_("Refused by the upstream: %(reason)s")


def pending_packages(session: Session) -> list[SyncPackage]:
    """Packages for the current upstream without a receipt yet, oldest first."""
    peer = upstream(session)
    if peer is None:
        return []
    return list(
        session.scalars(
            select(SyncPackage)
            .where(
                SyncPackage.peer_id == peer.id,
                SyncPackage.direction == PackageDirection.OUT,
                SyncPackage.state == PackageState.PENDING,
            )
            .order_by(SyncPackage.sequence)
        )
    )


def first_package_due(session: Session) -> bool:
    """True while the upstream has had no package from us (none pending or delivered): the
    next one must be full, since changes made before `sync init` were never captured."""
    peer = upstream(session)
    if peer is None:
        return False
    return (
        session.scalar(
            select(SyncPackage.id)
            .where(
                SyncPackage.peer_id == peer.id,
                SyncPackage.direction == PackageDirection.OUT,
                SyncPackage.state.in_((PackageState.PENDING, PackageState.DELIVERED)),
            )
            .limit(1)
        )
        is None
    )


def package_data(session: Session, sequence: int) -> SyncPackage:
    """A pending package by its number (to write it again to a folder: a re-send)."""
    for package in pending_packages(session):
        if package.sequence == sequence:
            return package
    raise NotFound(NO_SUCH_PACKAGE, sequence=sequence)


@command("sync.export")
def mark_refused(session: Session, requester: Requester, sequence: int, reason: str) -> None:
    """The upstream refused package `sequence` (its reason, as it said it): the package is
    kept as refused, and its changes and every later pending package's go back to the
    outbox to be sent again, renumbered from `sequence`."""
    later = [p for p in pending_packages(session) if p.sequence >= sequence]
    if not any(p.sequence == sequence for p in later):
        raise NotFound(NO_SUCH_PACKAGE, sequence=sequence)
    for package in later:
        session.execute(
            update(SyncOutbox)
            .where(SyncOutbox.package_sequence == package.sequence)
            .values(package_sequence=None)
        )
        if package.sequence != sequence:
            session.delete(package)  # made after the refused one: remade from the outbox
            continue
        package.state = PackageState.REFUSED
        package.reason = REFUSED_UPSTREAM
        package.reason_params = {"reason": reason[:400], "sequence": str(sequence)}
        package.data = None
        # Free the number: the next package takes it again.
        package.sequence = None
    session.flush()
