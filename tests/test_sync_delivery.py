"""The downstream's side of a refusal (webapp/domain/sync_delivery.py): the refused
package is kept with the upper level's reason, its changes go back to the outbox, and the
next package carries them under the same number (the upper level never applied it)."""

from __future__ import annotations

from sqlalchemy import func, select

from factories import SYSTEM, make_member, make_tree
from webapp.domain.sync import export_package
from webapp.domain.sync_delivery import first_package_due, mark_refused, pending_packages
from webapp.domain.sync_envelope import generate_key, public_key
from webapp.domain.sync_setup import init_instance, register_peer
from webapp.models.sync_packages import SyncOutbox, SyncPackage


def test_a_refused_package_is_kept_and_its_number_and_changes_go_again(db_session):
    seed = generate_key()
    tree = make_tree(db_session)
    init_instance(db_session, SYSTEM, unit_code="P", public_key=public_key(seed))
    register_peer(
        db_session, SYSTEM, kind="upstream", unit_code="TW", public_key=public_key(generate_key())
    )
    assert first_package_due(db_session)
    first = export_package(db_session, SYSTEM, seed=seed, full=True)
    assert not first_package_due(db_session)
    make_member(db_session, tree["C1"], member_number="555001TN")
    db_session.commit()
    second = export_package(db_session, SYSTEM, seed=seed)
    assert (first.sequence, second.sequence) == (1, 2)

    mark_refused(db_session, SYSTEM, 2, "The package holds unit X.")
    db_session.expire_all()
    refused = db_session.get(SyncPackage, second.package_id)
    assert refused.state == "refused" and refused.sequence is None
    assert refused.reason_params == {"reason": "The package holds unit X.", "sequence": "2"}
    assert [p.sequence for p in pending_packages(db_session)] == [1]
    unsent = (
        select(func.count()).select_from(SyncOutbox).where(SyncOutbox.package_sequence.is_(None))
    )
    assert db_session.scalar(unsent) > 0

    again = export_package(db_session, SYSTEM, seed=seed)
    assert again.sequence == 2 and again.counts.get("member", 0) >= 1
    assert db_session.scalar(unsent) == 0
