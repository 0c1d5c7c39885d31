"""The package envelope: signed by the sender, readable only by the recipient, refused
with a message for every kind of tampering (webapp/domain/sync_envelope.py)."""

from __future__ import annotations

import pytest

from webapp.domain.errors import ValidationFailed
from webapp.domain.sync_envelope import (
    BAD_SIGNATURE,
    NEWER_ENVELOPE,
    NOT_A_PACKAGE,
    NOT_FOR_US,
    UNKNOWN_SENDER,
    EnvelopeRefused,
    generate_key,
    normalise_public_key,
    open_envelope,
    public_key,
    read_header,
    seal,
    sign_only,
)

SENDER, RECIPIENT, STRANGER = generate_key(), generate_key(), generate_key()


def known(*seeds):
    keys = {public_key(seed) for seed in seeds}
    return lambda key: key in keys


def sealed(payload=b"members", **header):
    return seal(
        payload,
        kind="delta",
        sender_seed=SENDER,
        recipient_key=public_key(RECIPIENT),
        header=header,
    )


def test_round_trip_carries_payload_and_readable_header():
    data = sealed(b"x" * 10_000, sequence=7)
    assert b"x" * 100 not in data  # encrypted
    assert read_header(data)["sequence"] == 7
    opened = open_envelope(data, recipient_seed=RECIPIENT, is_known_sender=known(SENDER))
    assert opened.payload == b"x" * 10_000
    assert opened.sender == public_key(SENDER)
    assert opened.kind == "delta"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda data: data[:-1],  # cut
        lambda data: data[:-70] + bytes([data[-70] ^ 1]) + data[-69:],  # a ciphertext bit
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # a signature bit
    ],
)
def test_altered_or_truncated_package_is_refused_before_decrypting(tamper):
    with pytest.raises(EnvelopeRefused) as refused:
        open_envelope(tamper(sealed()), recipient_seed=RECIPIENT, is_known_sender=known(SENDER))
    assert refused.value.message in {BAD_SIGNATURE, NOT_A_PACKAGE}


def test_header_cannot_be_rewritten():
    data = sealed(sequence=7)
    forged = data.replace(b'"sequence": 7', b'"sequence": 8')
    assert forged != data
    with pytest.raises(EnvelopeRefused) as refused:
        open_envelope(forged, recipient_seed=RECIPIENT, is_known_sender=known(SENDER))
    assert refused.value.message == BAD_SIGNATURE


def test_unknown_sender_wrong_recipient_and_garbage():
    with pytest.raises(EnvelopeRefused) as refused:
        open_envelope(sealed(), recipient_seed=RECIPIENT, is_known_sender=known(STRANGER))
    assert refused.value.message == UNKNOWN_SENDER
    with pytest.raises(EnvelopeRefused) as refused:
        open_envelope(sealed(), recipient_seed=STRANGER, is_known_sender=known(SENDER))
    assert refused.value.message == NOT_FOR_US
    for garbage in (
        b"",
        b"PK\x03\x04" + b"0" * 100,
        b"DVPKG\x00\x00\x01\xff\xff\xff\xff" + b"0" * 80,
    ):
        with pytest.raises(EnvelopeRefused) as refused:
            open_envelope(garbage, recipient_seed=RECIPIENT, is_known_sender=known(SENDER))
        assert refused.value.message == NOT_A_PACKAGE


def test_a_newer_envelope_format_is_named():
    data = sealed()
    newer = data.replace(b'"envelope": 1', b'"envelope": 9')
    with pytest.raises(EnvelopeRefused) as refused:
        open_envelope(newer, recipient_seed=RECIPIENT, is_known_sender=known(SENDER))
    assert refused.value.message == NEWER_ENVELOPE
    assert refused.value.params == {"format": 9, "known": 1}


def test_signed_only_receipt_opens_without_recipient_key():
    data = sign_only(b'{"received": [1, 2]}', kind="receipt", sender_seed=SENDER)
    opened = open_envelope(data, recipient_seed=RECIPIENT, is_known_sender=known(SENDER))
    assert opened.payload == b'{"received": [1, 2]}'
    forged = data.replace(b"[1, 2]", b"[1, 3]")
    with pytest.raises(EnvelopeRefused):
        open_envelope(forged, recipient_seed=RECIPIENT, is_known_sender=known(SENDER))


def test_public_keys_are_checked_when_pasted():
    key = public_key(SENDER)
    assert normalise_public_key("  " + key + "\n") == key
    for bad in ("", "dvk1:abc", "ssh-ed25519 AAAA", key[:-3]):
        with pytest.raises(ValidationFailed):
            normalise_public_key(bad)
