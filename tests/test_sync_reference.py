"""Reference data flows down as numbered versions (webapp/domain/sync_reference.py): a
version changes only what differs, retires what the upper level dropped, applies once, and
an older or forged file changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from factories import make_tree
from webapp.domain.commands import Requester
from webapp.domain.errors import Forbidden
from webapp.domain.sync_envelope import EnvelopeRefused, generate_key, public_key
from webapp.domain.sync_reference import apply_reference, export_reference
from webapp.domain.sync_setup import init_instance, register_peer
from webapp.models import CatalogueEntry, DocumentType

UPPER, LOWER = generate_key(), generate_key()


@pytest.fixture()
def peers(db_session):
    """One database playing both levels: it is the upper level (key UPPER) with a lower
    level registered (key LOWER), and it has UPPER as its own upstream, so what it exports
    for LOWER it can apply as LOWER."""
    tree = make_tree(db_session)
    system = Requester.system()
    init_instance(db_session, system, unit_code="P", public_key=public_key(UPPER))
    lower = register_peer(
        db_session,
        system,
        kind="downstream",
        unit_code=tree["D1"].code,
        public_key=public_key(LOWER),
    )
    register_peer(db_session, system, kind="upstream", unit_code="TW", public_key=public_key(UPPER))
    return {"lower": lower, "system": system}


def entry(session, kind: str, code: str) -> CatalogueEntry:
    return session.scalars(
        select(CatalogueEntry).where(CatalogueEntry.kind == kind, CatalogueEntry.code == code)
    ).one()


def test_versions_apply_in_order_and_only_what_differs(db_session, peers):
    system = peers["system"]
    first = db_session.scalars(select(CatalogueEntry).order_by(CatalogueEntry.id).limit(1)).one()
    kind, code, name = first.kind, first.code, first.name
    version_1 = export_reference(db_session, system, seed=UPPER, peer_id=peers["lower"].id)

    # The lower level's copy drifted: an entry renamed, one of its own added.
    first.name = name + " (sửa tay)"
    db_session.add(CatalogueEntry(kind=kind, code="ZZ9", name="Giá trị riêng", position=99))
    db_session.commit()
    applied = apply_reference(db_session, system, version_1, seed=LOWER)
    assert (applied.version, applied.state, applied.changed) == (1, "applied", 2)
    assert entry(db_session, kind, code).name == name
    assert entry(db_session, kind, "ZZ9").active is False  # retired, not deleted

    again = apply_reference(db_session, system, version_1, seed=LOWER)
    assert (again.state, again.changed) == ("older", 0)

    # The upper level changes a document type: a new version, and only that row moves.
    document = db_session.scalars(select(DocumentType).order_by(DocumentType.id).limit(1)).one()
    document.name = "Đơn xin vào Đảng (mẫu mới)"
    db_session.commit()
    version_2 = export_reference(db_session, system, seed=UPPER, peer_id=peers["lower"].id)
    document.name = "tên cũ ở cấp dưới"
    db_session.commit()
    applied = apply_reference(db_session, system, version_2, seed=LOWER)
    assert (applied.version, applied.state, applied.changed) == (2, "applied", 1)
    db_session.expire_all()
    assert db_session.get(DocumentType, document.id).name == "Đơn xin vào Đảng (mẫu mới)"
    # Version 1 carried late changes nothing now.
    assert apply_reference(db_session, system, version_1, seed=LOWER).state == "older"


def test_forged_or_foreign_reference_data_is_refused(db_session, peers):
    system = peers["system"]
    data = bytearray(export_reference(db_session, system, seed=UPPER, peer_id=peers["lower"].id))
    data[len(data) // 2] ^= 1
    names = set(db_session.scalars(select(CatalogueEntry.name)))
    with pytest.raises(EnvelopeRefused):
        apply_reference(db_session, system, bytes(data), seed=LOWER)
    # Sealed for someone else: this instance (as LOWER) cannot open it.
    stranger = register_peer(
        db_session,
        system,
        kind="downstream",
        unit_code="P.02",
        public_key=public_key(generate_key()),
    )
    other = export_reference(db_session, system, seed=UPPER, peer_id=stranger.id)
    with pytest.raises(EnvelopeRefused):
        apply_reference(db_session, system, other, seed=LOWER)
    assert set(db_session.scalars(select(CatalogueEntry.name))) == names


def test_only_a_registered_lower_level_takes_the_reference_data(db_session, peers):
    clerk_like_sync = Requester(user_id=999_999, roles=frozenset({"Sync"}), scope="/")
    with pytest.raises(Forbidden):
        export_reference(db_session, clerk_like_sync, seed=UPPER)
