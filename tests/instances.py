"""Whole DangVien instances for tests of what crosses between them (upward sync, transfers):
each its own PostgreSQL database, Redis database, data and instance folders, run as real
processes — `flask` commands, a web server on a loopback port, RQ workers in burst mode —
exactly as an administrator runs them (docs/sync.md)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis
import requests
from sqlalchemy import create_engine, text

from conftest import DATABASE_URL, REDIS_URL, ROOT

PASSWORD = "Instance-Admin-1"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Instance:
    """One instance: `flask(...)` runs a command against it, `start()` its web server."""

    def __init__(self, name: str, folder: Path, redis_db: int) -> None:
        self.name = name
        server = DATABASE_URL.rsplit("/", 1)[0]
        self.database = f"{DATABASE_URL.rsplit('/', 1)[1]}_{name}"
        self.database_url = f"{server}/{self.database}"
        self.redis_url = f"{REDIS_URL.rsplit('/', 1)[0]}/{redis_db}"
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "DATA_DIR": str(folder / "data"),
            "DANGVIEN_INSTANCE_DIR": str(folder / "instance"),
            "SECRET_KEY": f"instance-{name}-secret-key-long-enough-for-hs256",
            "LOGIN_RATE_LIMIT": "off",
            # Retries of a failed push come quickly here (production: minutes to an hour).
            "SYNC_RETRY_INTERVALS": "1,1",
            "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        }
        self.server: subprocess.Popen | None = None
        self._token: str | None = None

    # -- life cycle ---------------------------------------------------------------------

    def create_database(self) -> None:
        admin = create_engine(
            DATABASE_URL.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{self.database}"'))
        admin.dispose()
        redis.Redis.from_url(self.redis_url).flushdb()

    def drop(self) -> None:
        self.stop()
        redis.Redis.from_url(self.redis_url).flushdb()
        admin = create_engine(
            DATABASE_URL.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
        admin.dispose()

    def popen(self, *args: str, log: str | None = None) -> subprocess.Popen:
        output = (self.folder / f"{log}.log").open("a") if log else subprocess.PIPE
        return subprocess.Popen(
            [str(BIN / "flask"), "--app", "wsgi", *args],
            cwd=ROOT,
            env=self.env,
            stdout=output,
            stderr=subprocess.STDOUT if log else subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def flask(
        self, *args: str, check: bool = True, timeout: int = 300
    ) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check:
            assert result.returncode == 0, (self.name, args, result.stdout, result.stderr[-3000:])
        return result

    def start(self) -> None:
        """The web server (waitress through `flask serve`, no worker beside it)."""
        self.server = self.popen(
            "serve", "--no-worker", "--port", str(self.port), log=f"server-{self.port}"
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code in (200, 503):
                    return
            except requests.RequestException:
                pass
            if self.server.poll() is not None:
                raise AssertionError(f"{self.name}'s server stopped: see {self.folder}")
            time.sleep(0.5)
        raise AssertionError(f"{self.name}'s server did not answer in 120 s")

    def stop(self) -> None:
        if self.server is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.server.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.server.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.server.pid, signal.SIGKILL)
        self.server.wait()
        self.server = None
        self._token = None

    def worker_burst(self, *queues: str) -> subprocess.CompletedProcess:
        """A real RQ worker that takes the waiting jobs and stops."""
        args = ["worker", "--burst"]
        for queue in queues:
            args += ["--queue", queue]
        return self.flask(*args)

    # -- the REST API as the Admin ------------------------------------------------------

    def token(self, username: str = "admin", password: str = PASSWORD) -> str:
        response = requests.post(
            f"{self.url}/api/v1/security/login",
            json={"username": username, "password": password, "provider": "db"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        for _attempt in range(2):
            if self._token is None:
                self._token = self.token()
            response = requests.request(
                method,
                f"{self.url}/api/v1{path}",
                headers={"Authorization": f"Bearer {self._token}", **headers},
                timeout=60,
                **kwargs,
            )
            # A token lives minutes; a long scenario outlives it: sign in again.
            if response.status_code != 401:
                return response
            self._token = None
        return response

    def create(self, path: str, payload: dict) -> int:
        response = self.api("POST", path, json=payload)
        assert response.status_code == 201, (self.name, path, response.text)
        return response.json()["id"]

    def unit_id(self, code: str) -> int:
        response = self.api(
            "GET", "/units/", params={"q": f'(filters:!((col:code,opr:eq,value:"{code}")))'}
        )
        assert response.status_code == 200, response.text
        (found,) = response.json()["ids"]
        return found

    def hashes(self, unit_code: str | None = None) -> dict[str, str]:
        """member number → content hash, as `flask sync hashes` prints them."""
        args = ["sync", "hashes"] + (["--unit", unit_code] if unit_code else [])
        lines = self.flask(*args).stdout.split()
        return dict(zip(lines[::2], lines[1::2], strict=True))


def start_instances(names: list[str], folder: Path) -> dict[str, Instance]:
    """Fresh instances, initialised side by side (`flask init` is the slow part)."""
    base = int(REDIS_URL.rsplit("/", 1)[1])
    instances = {
        name: Instance(name, folder / name, redis_db=base - 3 - index)
        for index, name in enumerate(names)
    }
    for instance in instances.values():
        instance.folder.mkdir(parents=True, exist_ok=True)
        instance.create_database()
    running = {
        name: instance.popen("init", "--admin-password", PASSWORD)
        for name, instance in instances.items()
    }
    for name, process in running.items():
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, (name, out, err[-3000:])
    return instances
