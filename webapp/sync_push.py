"""Delivery of packages to the upstream (docs/sync.md, "Delivery"): export what changed,
then send every package not yet acknowledged, in sequence order — over HTTP with the Sync
account (whole, or in resumable chunks when large), or written to the upstream's folder
(a USB stick) for `flask import` on the other side. A package counts as delivered only
when the upstream's signed receipt has been accepted (webapp/domain/sync.py)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import requests
from flask import current_app
from sqlalchemy.orm import Session

from webapp.domain.commands import Requester
from webapp.domain.errors import DomainError
from webapp.sync_keys import load_key, load_upstream_account

TIMEOUT_S = 60


class UpstreamUnreachable(Exception):
    """The upstream did not answer (down, network, 5xx): try again later; nothing is lost,
    the packages stay pending."""


@dataclass
class Delivery:
    exported: int | None = None  # the sequence of the package made now, if any
    delivered: list[int] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    reference: int | None = None  # the version of the reference data applied now


def export_now(session: Session, requester: Requester, *, full: bool = False):
    """Make the next package (None when nothing changed), carrying photos' and scans'
    files when SYNC_CARRY_FILES is on."""
    from webapp.domain.sync import export_package
    from webapp.domain.sync_delivery import first_package_due
    from webapp.filestore import app_store

    files = app_store() if current_app.config.get("SYNC_CARRY_FILES") else None
    # The first package to an upstream carries everything: what was entered before the
    # instance had its identity was never captured.
    full = full or first_package_due(session)
    return export_package(session, requester, seed=load_key(), full=full, files=files)


class UpstreamClient:
    """The upstream's sync API, logged in with our Sync account."""

    def __init__(self, url: str, username: str, password: str) -> None:
        self.url = url.rstrip("/")
        self.http = requests.Session()
        self.username, self.password = username, password
        self.token: str | None = None

    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        if self.token is None:
            self.login()
        try:
            response = self.http.request(
                method,
                f"{self.url}/api/v1/sync{path}",
                headers={"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})},
                timeout=TIMEOUT_S,
                **kwargs,
            )
        except requests.RequestException as error:
            raise UpstreamUnreachable(str(error)) from error
        if response.status_code >= 500:
            raise UpstreamUnreachable(f"{response.status_code} from the upstream")
        return response

    def login(self) -> None:
        try:
            response = self.http.post(
                f"{self.url}/api/v1/security/login",
                json={"username": self.username, "password": self.password, "provider": "db"},
                timeout=TIMEOUT_S,
            )
        except requests.RequestException as error:
            raise UpstreamUnreachable(str(error)) from error
        if response.status_code >= 500:
            raise UpstreamUnreachable(f"{response.status_code} from the upstream")
        if response.status_code != 200:
            raise UpstreamRefused(f"login refused ({response.status_code}): {response.text[:200]}")
        self.token = response.json()["access_token"]

    def reference(self) -> bytes | None:
        """The upstream's current reference data, sealed for us (None if it has none for us)."""
        response = self._call("GET", "/reference")
        return response.content if response.status_code == 200 else None

    def send(self, data: bytes, chunk_bytes: int) -> requests.Response:
        """The whole package, or in chunks from wherever the upstream says it has got to."""
        if len(data) <= chunk_bytes:
            return self._call(
                "POST", "/packages", data=data, headers={"Content-Type": "application/octet-stream"}
            )
        started = self._call(
            "POST", "/uploads", json={"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        )
        if started.status_code != 201:
            return started
        token = started.json()["id"]
        received = 0
        while received < len(data):
            end = min(received + chunk_bytes, len(data))
            answer = self._call(
                "PUT",
                f"/uploads/{token}",
                data=data[received:end],
                headers={
                    "Content-Range": f"bytes {received}-{end - 1}/{len(data)}",
                    "Content-Type": "application/octet-stream",
                },
            )
            if answer.status_code not in (200, 409):
                return answer
            received = answer.json()["received"]
        return self._call("POST", f"/uploads/{token}/apply")


class UpstreamRefused(Exception):
    """The upstream answered and said no (credentials, a refused package)."""


def deliver_pending(session: Session, requester: Requester) -> Delivery:
    """Send every pending package to the upstream, oldest first; stop at the first refusal
    (what follows it would only be refused as a gap)."""
    from webapp.domain.sync import accept_receipt, package_file_name
    from webapp.domain.sync_delivery import mark_refused, pending_packages
    from webapp.domain.sync_setup import identity, upstream

    delivery = Delivery()
    peer = upstream(session)
    if peer is None:
        return delivery
    me = identity(session)
    chunk = int(current_app.config.get("SYNC_CHUNK_MB", 4) * 1024 * 1024)
    client = None
    for package in pending_packages(session):
        data = package.data
        if peer.folder:
            target = Path(peer.folder) / package_file_name(me.unit_code, package.sequence)
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".part")
            partial.write_bytes(data)
            partial.replace(target)
            delivery.written.append(str(target))
            continue
        if client is None:
            client = _client(peer)
        response = client.send(data, chunk)
        if response.status_code == 200:
            try:
                accept_receipt(session, requester, response.content)
            except DomainError as error:
                delivery.refused.append((package.sequence, error.message % error.params))
                break
            delivery.delivered.append(package.sequence)
            continue
        message = _message_of(response)
        sequence = package.sequence
        mark_refused(session, requester, sequence, message)
        delivery.refused.append((sequence, message))
        break
    if peer.url:
        delivery.reference = pull_reference(session, requester, client or _client(peer))
    return delivery


def _client(peer) -> UpstreamClient:
    account = load_upstream_account()
    if account is None:
        raise UpstreamRefused("no Sync account for the upstream: run `sync upstream set`")
    return UpstreamClient(peer.url, *account)


def pull_reference(session: Session, requester: Requester, client: UpstreamClient) -> int | None:
    """Take the upstream's reference data when it has a newer version than ours."""
    from webapp.domain.sync_reference import apply_reference

    data = client.reference()
    if data is None:
        return None
    applied = apply_reference(session, requester, data, seed=load_key())
    return applied.version if applied.state == "applied" else None


def _message_of(response: requests.Response) -> str:
    try:
        message = response.json().get("message")
    except ValueError:
        message = None
    if isinstance(message, dict):
        message = "; ".join(f"{k}: {', '.join(v)}" for k, v in message.items())
    return str(message or f"{response.status_code} {response.text[:200]}")
