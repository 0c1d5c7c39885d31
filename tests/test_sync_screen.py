"""The Admin's exchange screen (/sync/): a lower level registered there gets its Sync
account and shows on the status; a bad key is refused with a message and changes nothing;
a package from a stick is applied by the same command as `flask import`, refusals shown."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from factories import make_tree
from webapp.domain.sync_envelope import generate_key, public_key
from webapp.models import DangVienUser
from webapp.models.sync import SyncPeer
from webapp.models.sync_packages import SyncPackage


def test_registering_a_lower_level_on_the_screen(admin_client, db_session):
    tree = make_tree(db_session)
    key = public_key(generate_key())
    bad = admin_client.post(
        "/sync/downstream",
        data={"unit": tree["D1"].code, "key": "not-a-key"},
        follow_redirects=True,
    )
    assert "không phải là khóa công khai" in bad.text
    assert db_session.scalar(select(func.count()).select_from(SyncPeer)) == 0

    done = admin_client.post(
        "/sync/downstream",
        data={"unit": tree["D1"].code, "key": key, "name": "Huyện Một"},
        follow_redirects=True,
    )
    assert "Đã đăng ký cấp dưới P.01" in done.text and "sync-p.01" in done.text
    peer = db_session.scalars(select(SyncPeer)).one()
    assert (peer.kind, peer.unit_code, peer.public_key) == ("downstream", "P.01", key)
    account = db_session.get(DangVienUser, peer.user_id)
    assert account.username == "sync-p.01" and [r.name for r in account.roles] == ["Sync"]
    page = admin_client.get("/sync/")
    assert 'data-peer="P.01"' in page.text and "Cấp dưới" in page.text


def test_a_file_that_is_no_package_is_refused_on_the_screen(admin_client, db_session):
    answer = admin_client.post(
        "/sync/import",
        data={"file": (io.BytesIO(b"PK\x03\x04 not a package"), "x.dvpkg")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert answer.status_code == 200
    assert "không phải là gói dữ liệu DangVien" in answer.text
    refused = db_session.scalars(select(SyncPackage)).one()
    assert refused.state == "refused" and refused.direction == "in"
