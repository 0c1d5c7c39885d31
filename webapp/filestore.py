"""Files under DATA_DIR, named by their content's SHA-256, written atomically.

A file is written to a temporary name in its final folder, flushed to disk and renamed
into place, so a reader (or a crash) never sees half a file under a real name; the same
content is stored once. Paths kept in the database are relative to the root and are
checked to stay inside it. The user's file name is never part of a path.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

KINDS = ("originals", "photos", "thumbs", "documents", "previews", "batches", "imports")
SUFFIX = re.compile(r"\.[a-z0-9]{1,5}")
RELATIVE = re.compile(r"files/[a-z]+/[0-9a-f]{2}/[0-9a-f]{64}(\.[a-z0-9]{1,5})?")
TEMP_PREFIX = ".part-"
MAX_SYNC_THREADS = 16  # fsyncs waiting side by side (a batch's chunk writes ~100 files)


@dataclass(frozen=True)
class Stored:
    sha256: str
    path: str  # relative to the store's root
    size: int


class FileStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def relative_path(self, kind: str, sha256: str, suffix: str = "") -> str:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        if suffix and not SUFFIX.fullmatch(suffix):
            raise ValueError(f"bad suffix {suffix!r}")
        return f"files/{kind}/{sha256[:2]}/{sha256}{suffix}"

    def absolute(self, relative: str) -> Path:
        """The file for a stored relative path; anything that is not one is refused."""
        if not RELATIVE.fullmatch(relative or ""):
            raise ValueError(f"not a stored file path: {relative!r}")
        return self.root / relative

    def exists(self, relative: str) -> bool:
        return self.absolute(relative).is_file()

    def put_bytes(self, kind: str, data: bytes, suffix: str = "") -> Stored:
        """Store bytes; content already stored is not written again (a batch stores its
        originals together first, then each upload finds its own there)."""
        sha256 = hashlib.sha256(data).hexdigest()
        relative = self.relative_path(kind, sha256, suffix)
        target = self.root / relative
        if target.is_file() and target.stat().st_size == len(data):
            return Stored(sha256=sha256, path=relative, size=len(data))
        return self.put_chunks(kind, [data], suffix)

    def put_stream(
        self, kind: str, stream: BinaryIO, suffix: str = "", *, limit: int | None = None
    ) -> Stored:
        """Store a stream; more than `limit` bytes raises TooLarge (nothing is kept)."""

        def chunks():
            total = 0
            while chunk := stream.read(1 << 20):
                total += len(chunk)
                if limit is not None and total > limit:
                    raise TooLarge(total)
                yield chunk

        return self.put_chunks(kind, chunks(), suffix)

    def put_chunks(self, kind: str, chunks: Iterable[bytes], suffix: str = "") -> Stored:
        (stored,) = self._put([(kind, chunks, suffix)])
        return stored

    def put_many(self, items: Sequence[tuple[str, bytes, str]]) -> list[Stored]:
        """Several files (kind, data, suffix) at once, each as put_bytes would store it.
        Their flushes to disk run side by side (the filesystem commits them together)
        instead of one after the other: a photo's three outputs cost about one fsync."""
        return self._put([(kind, [data], suffix) for kind, data, suffix in items])

    def _put(self, items: Sequence[tuple[str, Iterable[bytes], str]]) -> list[Stored]:
        temps: list[Path] = []
        try:
            written = []
            for kind, chunks, suffix in items:
                temp, sha256, size = self._write_temp(kind, chunks, suffix)
                temps.append(temp)
                written.append((temp, self.relative_path(kind, sha256, suffix), sha256, size))
            _each([temp for temp, *_ in written], _fsync_file)
            stored, folders = [], set()
            for temp, relative, sha256, size in written:
                target = self.root / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.is_file() and target.stat().st_size == size:
                    temp.unlink()  # the same content is there already
                else:
                    os.chmod(temp, 0o640)
                    os.replace(temp, target)
                    folders.add(target.parent)
                stored.append(Stored(sha256=sha256, path=relative, size=size))
            # The renames themselves must survive a power cut, not only the bytes.
            _each(sorted(folders), _fsync_dir)
        except BaseException:
            for temp in temps:
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()
            raise
        return stored

    def _write_temp(self, kind: str, chunks: Iterable[bytes], suffix: str) -> tuple[Path, str, int]:
        """The chunks in a temporary file of the kind's folder: its path, hash and size."""
        self.relative_path(kind, "0" * 64, suffix)  # checks kind and suffix first
        folder = self.root / "files" / kind
        folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        handle = tempfile.NamedTemporaryFile(dir=folder, prefix=TEMP_PREFIX, delete=False)  # noqa: SIM115 - closed below, kept on failure to unlink
        temp = Path(handle.name)
        try:
            with handle:
                for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    handle.write(chunk)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            raise
        return temp, digest.hexdigest(), size

    def read_bytes(self, relative: str) -> bytes:
        return self.absolute(relative).read_bytes()

    def leftover_temporaries(self) -> list[Path]:
        """Temporary files of writes that never finished (a killed process)."""
        base = self.root / "files"
        return sorted(base.glob(f"*/{TEMP_PREFIX}*")) if base.is_dir() else []


class TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"more than the limit ({size} bytes read)")
        self.size = size


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _each(paths: Sequence[Path], sync: Callable[[Path], None]) -> None:
    """`sync` on every path, in threads when there are several (fsync waits on the disk
    without holding the GIL, and concurrent fsyncs share one journal commit)."""
    if len(paths) <= 1:
        for path in paths:
            sync(path)
        return
    with ThreadPoolExecutor(max_workers=min(len(paths), MAX_SYNC_THREADS)) as pool:
        list(pool.map(sync, paths))


def app_store() -> FileStore:
    """The store of the running app (DATA_DIR)."""
    from flask import current_app

    return FileStore(current_app.config["DATA_DIR"])
