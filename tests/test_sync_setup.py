"""`flask sync init` and `sync partner`: an instance's identity and its peers, with the
refusals an administrator can meet (webapp/domain/sync_setup.py)."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.factories import make_tree
from webapp.domain.sync_envelope import generate_key, public_key
from webapp.models.sync import SyncIdentity, SyncPeer


def test_init_prints_the_key_and_refuses_a_second_identity(app, db_session):
    tree = make_tree(db_session)
    db_session.commit()
    runner = app.test_cli_runner()
    code = tree["D1"].code
    result = runner.invoke(args=["sync", "init", "--unit", code])
    assert result.exit_code == 0, result.output
    identity = db_session.scalars(select(SyncIdentity)).one()
    assert identity.unit_code == code
    assert identity.public_key in result.output
    assert runner.invoke(args=["sync", "key"]).output.strip() == identity.public_key

    again = runner.invoke(args=["sync", "init", "--unit", code])
    assert again.exit_code == 5, again.output
    assert identity.public_key in again.output
    assert db_session.scalar(select(func.count()).select_from(SyncIdentity)) == 1


def test_init_with_an_unknown_unit_changes_nothing(app, db_session):
    result = app.test_cli_runner().invoke(args=["sync", "init", "--unit", "NOPE"])
    assert result.exit_code == 4, result.output
    assert "NOPE" in result.output
    assert db_session.scalar(select(func.count()).select_from(SyncIdentity)) == 0


def test_partner_registration_checks_the_key(app, db_session):
    runner = app.test_cli_runner()
    key = public_key(generate_key())
    bad = runner.invoke(args=["sync", "partner", "--unit", "HN", "--key", "not-a-key"])
    assert bad.exit_code == 1, bad.output
    assert "--key" in bad.output
    ok = runner.invoke(args=["sync", "partner", "--unit", "HN", "--key", key, "--name", "Hà Nội"])
    assert ok.exit_code == 0, ok.output
    twice = runner.invoke(args=["sync", "partner", "--unit", "HN2", "--key", key])
    assert twice.exit_code == 5, twice.output
    peers = db_session.scalars(select(SyncPeer)).all()
    assert [(p.kind, p.unit_code, p.name) for p in peers] == [("partner", "HN", "Hà Nội")]
