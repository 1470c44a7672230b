"""Encrypting and decrypting whole IKEv2 messages with the SK payload (RFC 7296 §3.14).

The SK payload is always the last one. Its ICV (or, for AEAD ciphers, the
AAD of RFC 5282 §5.1) covers the IKE header and the SK payload header, so the
header's length is computed first from ``SkCipher.sealed_length``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ikeclient.crypto.encr import SkCipher
from ikeclient.crypto.random import RandomSource
from ikeclient.errors import InvalidSyntax
from ikeclient.ike.v2.enums import PayloadType
from ikeclient.ike.v2.message import HEADER_SIZE, IkeHeader, Message, push_header
from ikeclient.ike.v2.payloads import (
    Payload,
    SkfPayload,
    SkPayload,
    pull_payload_chain,
    push_payload_chain,
)

_GENERIC_HEADER_SIZE = 4


def encrypt_message(
    *,
    spi_i: bytes,
    spi_r: bytes,
    exchange_type: int,
    flags: int,
    message_id: int,
    payloads: Sequence[Payload],
    cipher: SkCipher,
    rng: RandomSource,
) -> bytes:
    """Build ``HDR, SK {payloads}`` protected with ``cipher``."""
    first, inner = push_payload_chain(list(payloads))
    sk_length = _GENERIC_HEADER_SIZE + cipher.sealed_length(len(inner))
    header = IkeHeader(
        spi_i=spi_i,
        spi_r=spi_r,
        next_payload=PayloadType.SK,
        major_version=2,
        minor_version=0,
        exchange_type=exchange_type,
        flags=flags,
        message_id=message_id,
        length=HEADER_SIZE + sk_length,
    )
    aad = push_header(header) + bytes((first, 0)) + sk_length.to_bytes(2, "big")
    return aad + cipher.seal(aad, inner, rng)


def decrypt_message(data: bytes, message: Message, cipher: SkCipher) -> tuple[Payload, ...]:
    """Verify and decrypt the SK payload of ``message`` (parsed from ``data``).

    Raises ``IntegrityError``/``CryptoError`` when the ICV fails or the body is
    malformed, and ``InvalidSyntax`` when the message has no SK payload or the
    decrypted payloads do not parse.
    """
    if not message.payloads or not isinstance(message.payloads[-1], SkPayload):
        raise InvalidSyntax("message is not protected by an SK payload")
    sk = message.payloads[-1]
    aad = data[: len(data) - len(sk.body)]
    plaintext = cipher.open(aad, sk.body)
    return pull_payload_chain(plaintext, sk.first_inner)


def decrypt_fragment(data: bytes, message: Message) -> tuple[SkfPayload, bytes]:
    """The SKF payload of a fragment message and the AAD its ICV covers (RFC 7383 §2.5).

    The AAD runs from the IKE header through the SKF payload's 8-byte header;
    the caller opens ``skf.body`` with it and keeps the plaintext for reassembly.
    """
    if not message.payloads or not isinstance(message.payloads[-1], SkfPayload):
        raise InvalidSyntax("message is not an SKF fragment")
    skf = message.payloads[-1]
    return skf, data[: len(data) - len(skf.body)]
