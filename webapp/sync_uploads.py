"""Resumable uploads of large packages (docs/sync.md, "Delivery over HTTP"): the sender
announces the size and SHA-256, sends chunks at the offset the upstream says it has, and
asks for the package to be applied once the whole file is there. Partial files live under
DATA_DIR/sync/uploads, one per upload, owned by the account that started it."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from webapp.domain.errors import N_, DomainError, NotFound, ValidationFailed

TOKEN = re.compile(r"^[0-9a-f]{32}$")
TOO_LARGE = N_("The package is larger than this instance accepts (%(limit)s MB).")
WRONG_OFFSET = N_("This part starts at byte %(start)s, but %(received)s bytes are here already.")
INCOMPLETE = N_("Only %(received)s of %(size)s bytes have arrived; send the rest first.")
CHECKSUM = N_("The file that arrived does not match its SHA-256; send it again.")
NO_UPLOAD = N_("There is no such upload (it expired or was applied).")
BAD_RANGE = N_("The Content-Range header must read “bytes START-END/TOTAL”.")


class OffsetMismatch(DomainError):
    status_code = 409


@dataclass(frozen=True)
class Upload:
    token: str
    size: int
    sha256: str
    user_id: int | None
    received: int


def _folder() -> Path:
    return Path(current_app.config["DATA_DIR"]) / "sync" / "uploads"


def max_bytes() -> int:
    return int(current_app.config.get("SYNC_MAX_PACKAGE_MB", 512)) * 1024 * 1024


def start_upload(size: int, sha256: str, user_id: int | None) -> Upload:
    if size <= 0 or size > max_bytes():
        raise ValidationFailed(
            {"size": [(TOO_LARGE, {"limit": current_app.config.get("SYNC_MAX_PACKAGE_MB", 512)})]}
        )
    if not re.fullmatch(r"[0-9a-f]{64}", sha256 or ""):
        raise ValidationFailed({"sha256": [(CHECKSUM, {})]})
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    (folder / f"{token}.json").write_text(
        json.dumps({"size": size, "sha256": sha256, "user_id": user_id})
    )
    (folder / f"{token}.part").touch()
    return Upload(token, size, sha256, user_id, 0)


def find_upload(token: str, user_id: int | None) -> Upload:
    """The upload if it exists and belongs to this account (another's is not found)."""
    if not TOKEN.match(token or ""):
        raise NotFound(NO_UPLOAD)
    meta_path = _folder() / f"{token}.json"
    if not meta_path.exists():
        raise NotFound(NO_UPLOAD)
    meta = json.loads(meta_path.read_text())
    if meta["user_id"] != user_id:
        raise NotFound(NO_UPLOAD)
    received = (_folder() / f"{token}.part").stat().st_size
    return Upload(token, meta["size"], meta["sha256"], meta["user_id"], received)


def parse_range(header: str | None) -> tuple[int, int, int]:
    match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", (header or "").strip())
    if not match:
        raise ValidationFailed({"Content-Range": [(BAD_RANGE, {})]})
    start, end, total = (int(value) for value in match.groups())
    if end < start:
        raise ValidationFailed({"Content-Range": [(BAD_RANGE, {})]})
    return start, end, total


def append_chunk(upload: Upload, start: int, chunk: bytes) -> Upload:
    """Append `chunk` at `start`, which must be where the file ends now (a resent chunk
    that is already here is refused with the offset to resume from)."""
    if start != upload.received:
        raise OffsetMismatch(WRONG_OFFSET, start=start, received=upload.received)
    if upload.received + len(chunk) > upload.size:
        raise ValidationFailed({"size": [(TOO_LARGE, {"limit": upload.size // (1024 * 1024)})]})
    with open(_folder() / f"{upload.token}.part", "ab") as handle:
        handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    return find_upload(upload.token, upload.user_id)


def complete_bytes(upload: Upload) -> bytes:
    """The whole file, once every byte has arrived and its checksum holds."""
    if upload.received < upload.size:
        raise ValidationFailed(
            {"size": [(INCOMPLETE, {"received": upload.received, "size": upload.size})]}
        )
    data = (_folder() / f"{upload.token}.part").read_bytes()
    if hashlib.sha256(data).hexdigest() != upload.sha256:
        raise ValidationFailed({"sha256": [(CHECKSUM, {})]})
    return data


def discard(upload: Upload) -> None:
    for suffix in (".part", ".json"):
        (_folder() / f"{upload.token}{suffix}").unlink(missing_ok=True)
