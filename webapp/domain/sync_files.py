"""Files that travel with rows between instances: the photos' and the scans' files named by
the rows of member_photo and member_document_version (docs/sync.md, "Payload"; used by the
upward packages, webapp/domain/sync.py, and the transfers between provinces,
webapp/domain/transfers.py).

A package carries them as `{stored path: base64 content}`; a stored path names its content
(`files/KIND/ab/SHA256.ext`, webapp/filestore.py), so the receiver stores each under the
same path in its own FileStore and refuses one whose content does not match its name.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from webapp.filestore import KINDS

# The columns of each table that name a stored file.
FILE_COLUMNS = {
    "member_photo": ("original_path", "standard_path", "thumb_path", "preview_path"),
    "member_document_version": ("path", "preview_path"),
}
STORED_PATH = re.compile(r"files/([a-z]+)/[0-9a-f]{2}/([0-9a-f]{64})(\.[a-z0-9]{1,5})?")


class DamagedFile(ValueError):
    """A carried file that is not what its path says (the caller refuses the package)."""


def file_paths(rows: Iterable[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """The stored paths the rows name, each once, in order."""
    seen: dict[str, None] = {}
    for table_name, data in rows:
        for column in FILE_COLUMNS.get(table_name, ()):
            path = data.get(column)
            if path:
                seen.setdefault(path, None)
    return list(seen)


def files_of(rows: Iterable[tuple[str, Mapping[str, Any]]], files) -> dict[str, str]:
    """The files the rows name that this instance's store holds, base64-encoded by path."""
    return {
        path: base64.b64encode(files.absolute(path).read_bytes()).decode()
        for path in file_paths(rows)
        if files.exists(path)
    }


def checked_files(carried: Mapping[str, str]) -> list[tuple[str, str, bytes, str]]:
    """(path, kind, content, suffix) of every carried file, each checked against its name;
    DamagedFile for the first one that is not."""
    checked = []
    for path, encoded in carried.items():
        match = STORED_PATH.fullmatch(path) if isinstance(path, str) else None
        if not match or match.group(1) not in KINDS or not isinstance(encoded, str):
            raise DamagedFile(path)
        try:
            content = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise DamagedFile(path) from None
        if hashlib.sha256(content).hexdigest() != match.group(2):
            raise DamagedFile(path)
        checked.append((path, match.group(1), content, match.group(3) or ""))
    return checked


def store_files(carried: Mapping[str, str], files) -> int:
    """Store the carried files in this instance's store under their own paths; all are
    checked before any is written. Returns how many were new here."""
    new = [
        (kind, content, suffix)
        for path, kind, content, suffix in checked_files(carried)
        if not files.exists(path)
    ]
    if new:
        files.put_many(new)
    return len(new)
