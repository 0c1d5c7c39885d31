"""Secrets of packages between instances, kept out of the database (a dump never carries
them): this instance's key, a file under DATA_DIR (`sync/instance.key`, readable by the
server's account only) or the SYNC_KEY setting (the same base64 text); and the upstream's
Sync account with which the push logs in (`sync/upstream-account.json`)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from flask import current_app

from webapp.domain.sync_envelope import generate_key


def key_path() -> Path:
    return Path(current_app.config["DATA_DIR"]) / "sync" / "instance.key"


def load_key() -> bytes | None:
    """This instance's key seed, or None before `sync init`."""
    configured = current_app.config.get("SYNC_KEY")
    if configured:
        return base64.b64decode(configured)
    path = key_path()
    if not path.exists():
        return None
    return base64.b64decode(path.read_text().strip())


def create_key() -> bytes:
    """A new key seed, written to the key file (0600) unless SYNC_KEY holds one."""
    existing = load_key()
    if existing is not None:
        return existing
    seed = generate_key()
    path = key_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(base64.b64encode(seed).decode() + "\n")
    return seed


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)


def account_path() -> Path:
    return Path(current_app.config["DATA_DIR"]) / "sync" / "upstream-account.json"


def save_upstream_account(username: str, password: str) -> None:
    _write_private(account_path(), json.dumps({"username": username, "password": password}))


def load_upstream_account() -> tuple[str, str] | None:
    path = account_path()
    if not path.exists():
        return None
    account = json.loads(path.read_text())
    return account["username"], account["password"]
