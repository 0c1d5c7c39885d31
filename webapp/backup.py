"""`flask --app wsgi backup --out FILE` and `flask --app wsgi restore FILE`.

One archive (a plain tar: the dump is compressed already, photos and scans are JPEG/PDF)
holds an instance's durable state:

    manifest.json      format, creation time, backend, schema revision, row counts per
                       table, SHA-256 and size of every other member, the old DATA_DIR
    database.pgdump    PostgreSQL: `pg_dump --format=custom`, taken in the same snapshot
                       as the row counts (pg_export_snapshot), so they agree
    database.sqlite    SQLite: a copy made with SQLite's online backup API (consistent
                       while the app writes), counted from the copy
    data/…             every file under DATA_DIR (photos, scans, report files), taken
                       after the database: files are stored by content hash and never
                       changed, so every file a dumped row names is there

Redis is not saved: it holds queues and caches only; durable results are rows.

`restore` checks the whole archive before it touches anything: the manifest, every
member's size and checksum, no member outside the listed ones, names that stay inside
DATA_DIR. It refuses a schema newer than this code's migrations, a backup of the other
backend, and a target that holds data (rows or files) unless --force. A backup of an
older schema is restored, then migrated to this code's head.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import Connection, func, inspect, select, text
from sqlalchemy.engine import make_url

FORMAT = "dangvien-backup"
VERSION = 1
MANIFEST = "manifest.json"
DUMPS = {"postgresql": "database.pgdump", "sqlite": "database.sqlite"}
DATA_PREFIX = "data/"
CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why (nothing changed)."""


# -- schema revisions ---------------------------------------------------------------------


@lru_cache(maxsize=4)
def _revisions(directory: str) -> tuple[str | None, frozenset[str]]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", directory)
    script = ScriptDirectory.from_config(config)
    return script.get_current_head(), frozenset(r.revision for r in script.walk_revisions())


def head_revision(app: Flask) -> str | None:
    """The schema revision this code's migrations end at."""
    return _revisions(app.extensions["migrate"].directory)[0]


def known_revision(app: Flask, revision: str) -> bool:
    return revision in _revisions(app.extensions["migrate"].directory)[1]


def database_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def table_counts(connection: Connection) -> dict[str, int]:
    """Rows per table of the application's metadata (the tables the migrations create)."""
    from webapp.models import metadata

    present = set(inspect(connection).get_table_names())
    return {
        table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
        for table in metadata.sorted_tables
        if table.name in present
    }


# -- files --------------------------------------------------------------------------------


def _sha256(handle: BinaryIO) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := handle.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _data_files(data_dir: Path) -> Iterator[tuple[Path, str]]:
    """Every regular file under DATA_DIR with its archive name; half-written temporaries
    of the file store (".part-…") are not files yet."""
    from webapp.filestore import TEMP_PREFIX

    for path in sorted(data_dir.rglob("*")):
        if path.is_file() and not path.is_symlink() and not path.name.startswith(TEMP_PREFIX):
            yield path, DATA_PREFIX + path.relative_to(data_dir).as_posix()


def _safe_data_name(name: str) -> PurePosixPath | None:
    """The path under DATA_DIR an archive member names, or None when it would leave it."""
    if not name.startswith(DATA_PREFIX):
        return None
    relative = PurePosixPath(name[len(DATA_PREFIX) :])
    if relative.is_absolute() or not relative.parts or ".." in relative.parts:
        return None
    return relative


# -- PostgreSQL tools ---------------------------------------------------------------------


def _libpq(uri: str) -> tuple[list[str], dict[str, str]]:
    """The database URL as pg_dump/pg_restore options, the password in the environment
    (not on a command line that `ps` shows)."""
    url = make_url(uri)
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    options = ["--dbname", url.set(drivername="postgresql", password=None).render_as_string()]
    return options, env


def _pg_tool(tool: str, *args: str, uri: str) -> None:
    if shutil.which(tool) is None:
        raise BackupError(
            f"{tool} not found: install the PostgreSQL client tools (postgresql-client)."
        )
    options, env = _libpq(uri)
    result = subprocess.run([tool, *options, *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{tool} failed: {result.stderr.strip()[-2000:]}")


# -- backup -------------------------------------------------------------------------------


def create_backup(app: Flask, out: Path) -> dict[str, Any]:
    """Write the archive to `out` (through a temporary name: a failed backup leaves no
    file that looks like one); returns the manifest."""
    from webapp.extensions import db

    data_dir = Path(app.config["DATA_DIR"])
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with app.app_context(), tempfile.TemporaryDirectory(prefix="dangvien-backup-") as work:
        engine = db.engine
        backend = engine.dialect.name
        if backend not in DUMPS:
            raise BackupError(f"Unsupported database backend {backend}.")
        dump = Path(work) / DUMPS[backend]
        if backend == "postgresql":
            with engine.connect().execution_options(
                isolation_level="REPEATABLE READ"
            ) as connection:
                # The counts and the dump read the same snapshot.
                snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
                revision = database_revision(connection)
                counts = table_counts(connection)
                _pg_tool(
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    "--file",
                    str(dump),
                    uri=app.config["SQLALCHEMY_DATABASE_URI"],
                )
                connection.rollback()
        else:
            source = sqlite3.connect(make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database)
            target = sqlite3.connect(dump)
            with target:
                source.backup(target)  # SQLite's online backup: consistent under writes
            source.close()
            target.close()
            from sqlalchemy import create_engine

            copy = create_engine(f"sqlite:///{dump}")
            with copy.connect() as connection:
                revision = database_revision(connection)
                counts = table_counts(connection)
            copy.dispose()
        if revision is None:
            raise BackupError("The database has no schema yet: run `flask --app wsgi init` first.")
        files: dict[str, dict[str, Any]] = {}
        with dump.open("rb") as handle:
            sha, size = _sha256(handle)
        files[DUMPS[backend]] = {"sha256": sha, "size": size}
        data_files = list(_data_files(data_dir)) if data_dir.is_dir() else []
        partial = out.with_name(f".{out.name}.partial")
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as archive:
            archive.add(dump, arcname=DUMPS[backend])
            for path, name in data_files:
                # Hash what goes into the archive, from the same open file.
                with path.open("rb") as handle:
                    sha, size = _sha256(handle)
                    handle.seek(0)
                    info = tarfile.TarInfo(name)
                    info.size, info.mtime, info.mode = size, int(path.stat().st_mtime), 0o640
                    archive.addfile(info, handle)
                files[name] = {"sha256": sha, "size": size}
            manifest = {
                "format": FORMAT,
                "version": VERSION,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "backend": backend,
                "schema_revision": revision,
                "data_dir": str(data_dir.resolve()),
                "counts": counts,
                "files": files,
            }
            body = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(body), int(datetime.now().timestamp()), 0o640
            archive.addfile(info, io.BytesIO(body))
        os.replace(partial, out)
    return manifest


# -- restore ------------------------------------------------------------------------------


def read_manifest(archive: tarfile.TarFile) -> dict[str, Any]:
    try:
        member = archive.getmember(MANIFEST)
        manifest = json.loads(archive.extractfile(member).read())
    except (KeyError, AttributeError, ValueError) as error:
        raise BackupError(
            "Not a DangVien backup: the manifest is missing or unreadable."
        ) from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("Not a DangVien backup: unknown manifest format.")
    if manifest.get("version") != VERSION:
        raise BackupError(f"Backup format version {manifest.get('version')} is not supported.")
    return manifest


def verify_archive(path: Path) -> dict[str, Any]:
    """The manifest of a complete, unaltered archive; BackupError naming the first problem."""
    try:
        with tarfile.open(path, "r:") as archive:
            manifest = read_manifest(archive)
            listed = dict(manifest.get("files") or {})
            seen = set()
            for member in archive:
                if member.name == MANIFEST:
                    continue
                expected = listed.get(member.name)
                if expected is None or not member.isfile():
                    raise BackupError(f"The archive holds an unlisted entry: {member.name}.")
                if member.name not in DUMPS.values() and _safe_data_name(member.name) is None:
                    raise BackupError(f"The archive holds an unsafe name: {member.name}.")
                sha, size = _sha256(archive.extractfile(member))
                if (sha, size) != (expected["sha256"], expected["size"]):
                    raise BackupError(
                        f"The archive is corrupted: {member.name} does not match its checksum."
                    )
                seen.add(member.name)
            missing = sorted(set(listed) - seen)
            if missing:
                raise BackupError(f"The archive is incomplete: {missing[0]} is missing.")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise BackupError(f"The archive cannot be read: {error}.") from error
    return manifest


def target_holds_data(app: Flask) -> bool:
    from webapp.extensions import db

    with db.engine.connect() as connection:
        if any(count for count in table_counts(connection).values()):
            return True
    data_dir = Path(app.config["DATA_DIR"])
    return data_dir.is_dir() and next(_data_files(data_dir), None) is not None


def _empty_postgresql(connection: Connection) -> None:
    connection.exec_driver_sql("DROP SCHEMA public CASCADE")
    connection.exec_driver_sql("CREATE SCHEMA public")


def restore_backup(app: Flask, path: Path, *, force: bool = False) -> dict[str, Any]:
    """Restore the archive into this instance's database and DATA_DIR; returns a summary
    (the manifest's counts against the restored database's)."""
    from flask_migrate import upgrade

    from webapp.extensions import db

    manifest = verify_archive(path)
    with app.app_context():
        engine = db.engine
        backend = engine.dialect.name
        revision = manifest["schema_revision"]
        if not known_revision(app, revision):
            raise BackupError(
                f"The backup's schema ({revision}) is newer than this version of DangVien "
                f"({head_revision(app)}): restore it with the version that made it."
            )
        if manifest["backend"] != backend:
            raise BackupError(
                f"The backup is of a {manifest['backend']} database; this instance uses {backend}."
            )
        if not force and target_holds_data(app):
            raise BackupError(
                "The target instance already holds data (rows or files): restore into an "
                "empty database and DATA_DIR, or pass --force to replace them."
            )
        data_dir = Path(app.config["DATA_DIR"]).resolve()
        db.session.remove()
        with tempfile.TemporaryDirectory(prefix="dangvien-restore-") as work:
            dump = Path(work) / DUMPS[backend]
            with (
                tarfile.open(path, "r:") as archive,
                archive.extractfile(DUMPS[backend]) as source,
                dump.open("wb") as target,
            ):
                shutil.copyfileobj(source, target, CHUNK)
            if backend == "postgresql":
                with engine.begin() as connection:
                    _empty_postgresql(connection)
                engine.dispose()
                _pg_tool(
                    "pg_restore",
                    "--no-owner",
                    "--no-privileges",
                    "--exit-on-error",
                    "--single-transaction",
                    str(dump),
                    uri=app.config["SQLALCHEMY_DATABASE_URI"],
                )
            else:
                engine.dispose()
                source = sqlite3.connect(dump)
                target = sqlite3.connect(make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database)
                with target:
                    source.backup(target)
                source.close()
                target.close()
        # Files: the old ones out (only with --force can there be any), the archive's in.
        if data_dir.exists():
            for child in data_dir.iterdir():
                shutil.rmtree(
                    child
                ) if child.is_dir() and not child.is_symlink() else child.unlink()
        data_dir.mkdir(parents=True, exist_ok=True)
        with tarfile.open(path, "r:") as archive:
            for member in archive:
                relative = _safe_data_name(member.name)
                if relative is None:
                    continue
                destination = data_dir.joinpath(*relative.parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.extractfile(member) as source, destination.open("wb") as target:
                    shutil.copyfileobj(source, target, CHUNK)
        with engine.begin() as connection:
            counts = table_counts(connection)
            # Report runs name their file by absolute path: move them to this DATA_DIR.
            old = manifest.get("data_dir")
            if old and old != str(data_dir):
                connection.execute(
                    text(
                        "UPDATE report_run SET file_path = :new || substr(file_path, :cut) "
                        "WHERE substr(file_path, 1, :length) = :old"
                    ),
                    {"new": str(data_dir), "old": old, "cut": len(old) + 1, "length": len(old)},
                )
        engine.dispose()
        if counts != manifest["counts"]:
            differing = sorted(
                name
                for name in set(counts) | set(manifest["counts"])
                if counts.get(name) != manifest["counts"].get(name)
            )
            raise BackupError(
                f"Restored row counts differ from the backup's: {', '.join(differing)}."
            )
        migrated = revision != head_revision(app)
        if migrated:
            upgrade(directory=app.extensions["migrate"].directory)
    return {
        "schema_revision": revision,
        "migrated_to": head_revision(app) if migrated else None,
        "counts": counts,
        "files": sum(1 for name in manifest["files"] if name.startswith(DATA_PREFIX)),
    }


# -- command line -------------------------------------------------------------------------


@click.command("backup")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The archive to write (a tar file).",
)
@with_appcontext
def backup_command(out: Path) -> None:
    """Back up the database and DATA_DIR into one archive with a manifest."""
    try:
        manifest = create_backup(current_app._get_current_object(), out)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    rows = sum(manifest["counts"].values())
    files = sum(1 for name in manifest["files"] if name.startswith(DATA_PREFIX))
    click.echo(
        f"Backup written to {out}: {manifest['backend']} at schema {manifest['schema_revision']}, "
        f"{rows} rows in {len(manifest['counts'])} tables, {files} files."
    )


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace the data this instance holds.")
@with_appcontext
def restore_command(archive: Path, force: bool) -> None:
    """Restore a backup into this instance (an empty one, or any with --force)."""
    try:
        summary = restore_backup(current_app._get_current_object(), archive, force=force)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    rows = sum(summary["counts"].values())
    click.echo(
        f"Restored {rows} rows and {summary['files']} files at schema {summary['schema_revision']}"
        + (f", migrated to {summary['migrated_to']}." if summary["migrated_to"] else ".")
    )
