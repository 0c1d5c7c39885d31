"""Upward sync at province size (issue 15).

Before: `apply_rows` went row by row (units through the ORM, every row looked up, written
and mapped alone): at BENCH_MEMBERS=300 (the tree's 4,800 units) its import took 409 s
(514 s profiled), a 300-member delta 25 s. Now set-wise (webapp/domain/sync_rows.py
`_Applier`: per table a few reads, remapping in memory, COPY of new rows with reserved
ids, batched updates and key-map rows; the export encodes each row once).

Measured 2026-12-02 at 100,000 members (`dangvien_bench` clone: 6,013 units, 100,000
members, 204,050 events, 104,050 periods, 3,031 disciplines; package 11.0 MB) on this
shared 2-core machine. CPU figures are this process's plus the PostgreSQL backends' (read
from /proc), roughly what a quiet machine would take. Final run (load average 2.9 at its
start, 6.5 at its end):
- full export: 15.7 s (COPY TO of the same tables 0.59 s); CPU 11.7 s + 1.2 s in
  PostgreSQL = 13.0 s. Target 30 s: met.
- its import upstream: 30.2 s (COPY FROM into bare copies of the tables, no keys or
  indexes, 0.63 s); CPU 16.7 s + 11.3 s in PostgreSQL = 28.0 s. Target 60 s: met.
- a 1,000-member delta (4,115 rows) exported (0.24 s) and applied: 1.05 s; CPU 0.39 s +
  0.45 s in PostgreSQL = 0.84 s. Target 2 s: met.
An earlier run of the same code at load 6–6.6, alongside this helper's tests: 92 s, 98 s
and 2.9 s wall for CPU sums of 20.5 s, 32.4 s and 0.92 s.
Re-measured on a quiet machine (load average 0.5 at the start, 0.9 at the end; same
data set; the delta now pushed over HTTP to the upstream's own web server and its signed
receipt accepted): full export 16.6 s (COPY TO 0.60 s); its import 31.2 s (COPY FROM
0.55 s; CPU 20.1 s + 14.1 s in PostgreSQL); the 1,000-member delta exported (0.19 s),
pushed and applied 1.21 s. All three targets met.

Reuses the `tree` data set (bench/tree.py, BENCH_MEMBERS members, default 100,000) as the
sending instance, with an identity for its root unit and an upstream whose key is made
here. Measures, in one run:
- a full package exported (`export_package(full=True)`) against a raw `COPY ... TO STDOUT`
  of the same tables (target ≤ 30 s);
- its import upstream (`apply_package` on a second database initialised by `flask init`)
  against a raw `COPY ... FROM STDIN` of the same rows (target ≤ 60 s);
- a 1,000-change delta exported and applied (target ≤ 2 s).
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from sqlalchemy import create_engine, text, update
from sqlalchemy.orm import Session

from bench.common import compare, write_results
from bench.tree import ADMIN_PASSWORD, N_MEMBERS, build, database_url, make_app

HERE = Path(__file__).resolve().parent
COPIED = ("unit", "member", "member_event", "member_period")
DELTA = 1000


def _copy_out(connection) -> dict[str, bytes]:
    raw = connection.connection.dbapi_connection
    out = {}
    with raw.cursor() as cursor:
        for table in COPIED:
            buffer = io.BytesIO()
            with cursor.copy(f"COPY {table} TO STDOUT") as copy:
                for chunk in copy:
                    buffer.write(chunk)
            out[table] = buffer.getvalue()
    return out


def _copy_in(connection, copied: dict[str, bytes]) -> float:
    """The same rows written raw into empty copies of the tables (the baseline import)."""
    raw = connection.connection.dbapi_connection
    start = time.perf_counter()
    with raw.cursor() as cursor:
        for table, data in copied.items():
            cursor.execute(f"CREATE TEMP TABLE copy_{table} (LIKE {table})")
            with cursor.copy(f"COPY copy_{table} FROM STDIN") as copy:
                copy.write(data)
    return time.perf_counter() - start


# Per database: the last CPU seconds seen of each backend (one gone since keeps its last).
_SERVER_CPU: dict[str, dict[int, float]] = {}


def _server_cpu(url: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends serving this database (read from
    /proc: same machine), so a phase's server share is told apart from the machine's load.
    0 where /proc cannot be read."""
    name = url.rsplit("/", 1)[1]
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres")
    with admin.connect() as connection:
        pids = connection.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :name"), {"name": name}
        ).all()
    admin.dispose()
    tick = os.sysconf("SC_CLK_TCK")
    seen = _SERVER_CPU.setdefault(name, {})
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seen[pid] = (int(fields[11]) + int(fields[12])) / tick
    return sum(seen.values())


def _said(label: str, seconds: float, cpu: float, server: float, note: str = "") -> None:
    # The machine is shared: this process's CPU time and the database backends' tell the
    # phase's own work apart from the load (their sum is what a quiet machine would take).
    here = time.process_time() - cpu
    print(
        f"{label}: {seconds:.2f} s wall; CPU {here:.2f} s here + {server:.2f} s in PostgreSQL "
        f"= {here + server:.2f} s; {note}"
    )


def _upstream(seed: bytes) -> tuple[str, dict[str, str]]:
    """A second database, initialised by `flask init` in its own process."""
    # BENCH_SYNC_UPSTREAM_URL names it; by default the bench database's name + "_up".
    url = os.environ.get("BENCH_SYNC_UPSTREAM_URL") or database_url() + "_up"
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        name = url.rsplit("/", 1)[1]
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    env = {**os.environ, "DATABASE_URL": url, "SYNC_KEY": base64.b64encode(seed).decode()}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "wsgi",
            "init",
            "--admin-password",
            ADMIN_PASSWORD,
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    return url, env


def _serve(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """The upstream's web server (waitress through `flask serve`), on a free port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **env,
        "DANGVIEN_INSTANCE_DIR": str(HERE / ".instance-up"),
        "LOGIN_RATE_LIMIT": "off",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "wsgi",
            "serve",
            "--no-worker",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/healthz", timeout=2).status_code in (200, 503):
                return process, url
        if process.poll() is not None:
            raise SystemExit("the upstream's server stopped at start-up")
        time.sleep(0.5)
    _stop(process)
    raise SystemExit("the upstream's server did not answer in 120 s")


def _stop(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run() -> None:
    app = make_app()
    from webapp.cli_support import generate_password, hash_password
    from webapp.domain.commands import Requester
    from webapp.domain.sync import accept_receipt, apply_package, export_package
    from webapp.domain.sync_envelope import generate_key, public_key
    from webapp.domain.sync_setup import (
        identity,
        init_instance,
        register_downstream,
        register_peer,
        sync_account_name,
    )
    from webapp.extensions import db
    from webapp.models import Member, Unit
    from webapp.models.sync import SyncIdentity, SyncPeer
    from webapp.models.sync_packages import SyncKeyMap, SyncOutbox, SyncPackage
    from webapp.sync_push import UpstreamClient

    system = Requester.system()
    with app.app_context():
        session = db.session
        if session.query(Member).count() < N_MEMBERS:
            build(session)
            session.commit()
        for model in (SyncKeyMap, SyncPackage, SyncOutbox, SyncPeer, SyncIdentity):
            session.query(model).delete()
        session.commit()
        root = session.query(Unit).filter(Unit.parent_id.is_(None)).order_by(Unit.id).first()
        seed, up_seed = generate_key(), generate_key()
        if identity(session) is None:
            init_instance(session, system, unit_code=root.code, public_key=public_key(seed))
        register_peer(
            session, system, kind="upstream", unit_code="TW", public_key=public_key(up_seed)
        )

        down_url = database_url()
        server = _server_cpu(down_url)
        start, cpu = time.perf_counter(), time.process_time()
        full = export_package(session, system, seed=seed, full=True)
        export_seconds = time.perf_counter() - start
        server = _server_cpu(down_url) - server
        _said("full export", export_seconds, cpu, server, f"{full.size / 1048576:.1f} MB")
        start = time.perf_counter()
        copied = _copy_out(session.connection())
        copy_out_seconds = time.perf_counter() - start
        session.commit()

        # The upstream: the same root unit, the sender registered as its downstream.
        url, _env = _upstream(up_seed)
        up_engine = create_engine(url)
        up = Session(up_engine)
        up.add(Unit(code=root.code, name=root.name, kind=root.kind))
        up.commit()
        init_instance(up, system, unit_code=None, public_key=public_key(up_seed))
        # Registered as `sync downstream add` does: its key and its Sync account, with which
        # the delta below is pushed over HTTP.
        sync_password = generate_password()
        register_downstream(
            up,
            system,
            unit_code=root.code,
            public_key=public_key(seed),
            password_hash=hash_password(sync_password),
        )
        up.commit()
        server = _server_cpu(url)
        start, cpu = time.perf_counter(), time.process_time()
        apply_package(up, system, full.data, seed=up_seed)
        import_seconds = time.perf_counter() - start
        server = _server_cpu(url) - server
        _said("its import", import_seconds, cpu, server, str(full.counts))
        copy_in_seconds = _copy_in(up.connection(), copied)
        up.rollback()

        # A delta of DELTA changed members, exported and applied.
        ids = [m for (m,) in session.query(Member.id).order_by(Member.id).limit(DELTA)]
        session.execute(
            update(Member).where(Member.id.in_(ids)).values(current_address="Số 2 đường Hai")
        )
        from webapp.domain.sync_capture import record_changes

        record_changes(session, "member", ids)
        session.commit()
        # The delta goes to the upstream's own web server (another process, over loopback),
        # through its sync API with the Sync account; the signed receipt comes back.
        up.close()
        server_process, base_url = _serve(_env)
        try:
            client = UpstreamClient(base_url, sync_account_name(root.code), sync_password)
            client.login()
            chunk = int(app.config.get("SYNC_CHUNK_MB", 4) * 1024 * 1024)
            server = _server_cpu(down_url) + _server_cpu(url)
            start, cpu = time.perf_counter(), time.process_time()
            delta = export_package(session, system, seed=seed)
            session.commit()
            exported = time.perf_counter() - start
            response = client.send(delta.data, chunk)
            assert response.status_code == 200, (response.status_code, response.text[:500])
            accept_receipt(session, system, response.content)
            session.commit()
            delta_seconds = time.perf_counter() - start
            server = _server_cpu(down_url) + _server_cpu(url) - server
            _said(
                "delta",
                delta_seconds,
                cpu,
                server,
                f"export {exported:.2f} s, pushed over HTTP and applied, {delta.counts}",
            )
        finally:
            _stop(server_process)
        up_engine.dispose()

    backend = "postgresql"
    write_results(
        "sync",
        [
            compare(
                "full package export",
                export_seconds,
                copy_out_seconds,
                backend=backend,
                n=N_MEMBERS,
                target=30,
            ),
            compare(
                "full package import upstream",
                import_seconds,
                copy_in_seconds,
                backend=backend,
                n=N_MEMBERS,
                target=60,
            ),
            compare(
                f"delta of {DELTA} members, exported, pushed over HTTP and applied",
                delta_seconds,
                None,
                backend=backend,
                n=DELTA,
                target=2,
            ),
        ],
    )
