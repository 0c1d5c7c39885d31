"""The envelope every package between instances travels in (docs/sync.md, "Envelope").

Built only from NaCl's established constructions through PyNaCl, nothing home-made:

- each instance has one Ed25519 key pair (its identity); its public key is what an
  administrator exchanges with a peer (`sync init` prints it);
- the payload is encrypted for the recipient with a NaCl **sealed box** (X25519 +
  XSalsa20-Poly1305, to the recipient's key converted from Ed25519 to Curve25519), so only
  the recipient can read it and any change to the ciphertext fails its MAC;
- the header and the ciphertext are **signed** with the sender's Ed25519 key (a detached
  signature at the end), so the recipient checks who sent it, and that nothing was cut or
  altered, before it decrypts anything.

File layout (all integers big-endian):

    MAGIC (8 bytes "DVPKG\\x00\\x00\\x01") | header length (4) | header (UTF-8 JSON)
    | ciphertext | signature (64, over everything before it)

The header is readable without the key (sender, recipient, kind, format): enough to route a
file and to name the sender in a refusal. The payload's own manifest repeats the sender,
and `open_envelope` checks that they agree (a signature swapped onto another's ciphertext
is refused).
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.public import PrivateKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

from webapp.domain.errors import N_, DomainError, ValidationFailed

MAGIC = b"DVPKG\x00\x00\x01"
ENVELOPE_FORMAT = 1
KEY_PREFIX = "dvk1:"
SIGNATURE_BYTES = 64
# A header is a few hundred bytes; more is not ours.
MAX_HEADER_BYTES = 64 * 1024


class EnvelopeRefused(DomainError):
    """A file that is not a package for us, or not from whom it says."""

    status_code = 422


NOT_A_PACKAGE = N_("This file is not a DangVien package (or it is truncated).")
NEWER_ENVELOPE = N_(
    "The package was written in envelope format %(format)s; this version reads up to "
    "%(known)s. Upgrade DangVien to read it."
)
UNKNOWN_SENDER = N_("The package comes from an instance this one does not know (key %(key)s).")
BAD_SIGNATURE = N_(
    "The package's signature is not valid: it was altered or cut after it was signed. "
    "Nothing was applied."
)
NOT_FOR_US = N_("The package is addressed to another instance (key %(key)s), not this one.")
UNREADABLE = N_("The package cannot be decrypted with this instance's key.")
SENDER_MISMATCH = N_("The package's contents do not name the instance that signed it.")
BAD_KEY = N_("“%(key)s” is not a DangVien public key (it starts with dvk1:).")


# -- keys ---------------------------------------------------------------------------------


def generate_key() -> bytes:
    """A new identity: the 32-byte Ed25519 seed (kept secret, in the key file)."""
    return bytes(SigningKey.generate())


def public_key(seed: bytes) -> str:
    """The public key of a seed, as administrators copy it: "dvk1:" + base64url."""
    verify = SigningKey(seed).verify_key
    return KEY_PREFIX + base64.urlsafe_b64encode(bytes(verify)).decode().rstrip("=")


def parse_public_key(text: str) -> VerifyKey:
    """A public key as pasted by an administrator; refused with a message if malformed."""
    value = (text or "").strip()
    if not value.startswith(KEY_PREFIX):
        raise ValidationFailed({"key": [(BAD_KEY, {"key": value[:20]})]})
    body = value[len(KEY_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        if len(raw) != 32:
            raise ValueError
        return VerifyKey(raw)
    except (ValueError, TypeError):
        raise ValidationFailed({"key": [(BAD_KEY, {"key": value[:20]})]}) from None


def normalise_public_key(text: str) -> str:
    """The canonical spelling of a pasted key (the one stored and compared)."""
    verify = parse_public_key(text)
    return KEY_PREFIX + base64.urlsafe_b64encode(bytes(verify)).decode().rstrip("=")


def fingerprint(key: str) -> str:
    """A short, stable name of a public key for headers, screens and messages."""
    return hashlib.sha256(normalise_public_key(key).encode()).hexdigest()[:16]


# -- sealing and opening --------------------------------------------------------------------


def seal(
    payload: bytes,
    *,
    kind: str,
    sender_seed: bytes,
    recipient_key: str,
    header: Mapping[str, Any] | None = None,
) -> bytes:
    """`payload` encrypted for `recipient_key`, signed by `sender_seed`, as file bytes.

    `kind` says what the package is ("delta", "full", "receipt", "transfer", ...);
    `header` adds readable routing fields (never secrets: anyone can read them)."""
    signing = SigningKey(sender_seed)
    recipient = parse_public_key(recipient_key).to_curve25519_public_key()
    ciphertext = SealedBox(recipient).encrypt(payload)
    fields = {
        **(header or {}),
        "envelope": ENVELOPE_FORMAT,
        "kind": kind,
        "sender": public_key(sender_seed),
        "recipient": normalise_public_key(recipient_key),
        "ciphertext_sha256": hashlib.sha256(ciphertext).hexdigest(),
    }
    header_bytes = json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()
    signed = MAGIC + struct.pack(">I", len(header_bytes)) + header_bytes + ciphertext
    return signed + signing.sign(signed).signature


def sign_only(payload: bytes, *, kind: str, sender_seed: bytes) -> bytes:
    """A signed, unencrypted file in the same layout (recipient empty): for what anyone may
    read but nobody may forge, such as a receipt."""
    signing = SigningKey(sender_seed)
    fields = {
        "envelope": ENVELOPE_FORMAT,
        "kind": kind,
        "sender": public_key(sender_seed),
        "recipient": None,
        "ciphertext_sha256": hashlib.sha256(payload).hexdigest(),
    }
    header_bytes = json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()
    signed = MAGIC + struct.pack(">I", len(header_bytes)) + header_bytes + payload
    return signed + signing.sign(signed).signature


@dataclass(frozen=True)
class Opened:
    header: dict[str, Any]
    payload: bytes

    @property
    def sender(self) -> str:
        return self.header["sender"]

    @property
    def kind(self) -> str:
        return self.header["kind"]


def read_header(data: bytes) -> dict[str, Any]:
    """The readable header of a package, checked for shape only (not yet trusted)."""
    if len(data) < len(MAGIC) + 4 + SIGNATURE_BYTES or not data.startswith(MAGIC):
        raise EnvelopeRefused(NOT_A_PACKAGE)
    (length,) = struct.unpack(">I", data[len(MAGIC) : len(MAGIC) + 4])
    start = len(MAGIC) + 4
    if length > MAX_HEADER_BYTES or start + length + SIGNATURE_BYTES > len(data):
        raise EnvelopeRefused(NOT_A_PACKAGE)
    try:
        header = json.loads(data[start : start + length].decode())
    except (UnicodeDecodeError, ValueError):
        raise EnvelopeRefused(NOT_A_PACKAGE) from None
    if not isinstance(header, dict) or not isinstance(header.get("envelope"), int):
        raise EnvelopeRefused(NOT_A_PACKAGE)
    if header["envelope"] > ENVELOPE_FORMAT:
        raise EnvelopeRefused(NEWER_ENVELOPE, format=header["envelope"], known=ENVELOPE_FORMAT)
    if not isinstance(header.get("sender"), str) or not isinstance(header.get("kind"), str):
        raise EnvelopeRefused(NOT_A_PACKAGE)
    return header


def open_envelope(
    data: bytes,
    *,
    recipient_seed: bytes | None,
    is_known_sender: Callable[[str], bool],
) -> Opened:
    """Check and open a package: shape, known sender, signature, addressee, then decrypt.

    `is_known_sender(public_key)` says whether the sender is registered here (a peer);
    `recipient_seed` None opens a `sign_only` file. Refusals are `EnvelopeRefused` with a
    message for the user; nothing is decrypted before the signature holds."""
    header = read_header(data)
    sender = header["sender"]
    try:
        verify = parse_public_key(sender)
    except ValidationFailed:
        raise EnvelopeRefused(NOT_A_PACKAGE) from None
    if not is_known_sender(normalise_public_key(sender)):
        raise EnvelopeRefused(UNKNOWN_SENDER, key=fingerprint(sender))
    signed, signature = data[:-SIGNATURE_BYTES], data[-SIGNATURE_BYTES:]
    try:
        verify.verify(signed, signature)
    except BadSignatureError:
        raise EnvelopeRefused(BAD_SIGNATURE) from None
    start = len(MAGIC) + 4 + struct.unpack(">I", data[len(MAGIC) : len(MAGIC) + 4])[0]
    body = signed[start:]
    if hashlib.sha256(body).hexdigest() != header.get("ciphertext_sha256"):
        raise EnvelopeRefused(BAD_SIGNATURE)
    if header.get("recipient") is None:
        if recipient_seed is not None and header["kind"] not in SIGNED_ONLY_KINDS:
            raise EnvelopeRefused(UNREADABLE)
        return Opened(header, body)
    if recipient_seed is None:
        raise EnvelopeRefused(UNREADABLE)
    ours = public_key(recipient_seed)
    if normalise_public_key(header["recipient"]) != ours:
        raise EnvelopeRefused(NOT_FOR_US, key=fingerprint(header["recipient"]))
    private = PrivateKey(bytes(SigningKey(recipient_seed).to_curve25519_private_key()))
    try:
        payload = SealedBox(private).decrypt(body)
    except CryptoError:
        raise EnvelopeRefused(UNREADABLE) from None
    return Opened(header, payload)


# Kinds that travel signed but not encrypted (their content is not secret).
SIGNED_ONLY_KINDS = frozenset({"receipt"})


def check_inner_sender(opened: Opened, manifest: Mapping[str, Any]) -> None:
    """The manifest inside the payload must name the key that signed the envelope."""
    named = manifest.get("sender_key")
    if not isinstance(named, str) or normalise_public_key(named) != opened.sender:
        raise EnvelopeRefused(SENDER_MISMATCH)
