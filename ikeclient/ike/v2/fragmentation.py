"""Sending IKE messages as RFC 7383 fragments (SKF payloads).

Used once both sides announced IKEV2_FRAGMENTATION_SUPPORTED in IKE_SA_INIT
(RFC 7383 §2.3) and a protected message would not fit the path: the inner
payload chain is cut into pieces, each sealed on its own in an SKF payload
(§2.5) whose ICV covers its own IKE header and SKF header, so every fragment is
authenticated alone. Fragment 1 names the first inner payload; the others say
0 (§2.5). All fragments share the message ID and are resent together (§2.6.1).

``max_size`` is the largest IKE message allowed (the UDP payload without the
non-ESP marker); :func:`ike_message_limit` derives it from an IP datagram size
the way strongSwan's ``fragment_size`` does (RFC 7383 §2.5.1: the IP datagram
is what must fit the path).
"""

from __future__ import annotations

from collections.abc import Sequence

from ikeclient.crypto.encr import SkCipher
from ikeclient.crypto.random import RandomSource
from ikeclient.errors import LocalProtocolError
from ikeclient.ike.v2.enums import PayloadType
from ikeclient.ike.v2.message import HEADER_SIZE, IkeHeader, push_header
from ikeclient.ike.v2.payloads import Payload, push_payload_chain
from ikeclient.ike.v2.protection import encrypt_message

__all__ = ["MAX_SEND_FRAGMENTS", "fragment_message", "ike_message_limit"]

_SKF_HEADER = 8  # generic header (4) + Fragment Number (2) + Total Fragments (2)
_UDP_HEADER = 8
MAX_SEND_FRAGMENTS = 64
MIN_FRAGMENT_ROOM = 64


def ike_message_limit(ip_datagram: int, *, ipv6: bool, non_esp_marker: bool) -> int:
    """The largest IKE message in an IP datagram of ``ip_datagram`` bytes."""
    return ip_datagram - (40 if ipv6 else 20) - _UDP_HEADER - (4 if non_esp_marker else 0)


def _room(cipher: SkCipher, space: int) -> int:
    """The most plaintext bytes whose sealed form fits ``space`` bytes."""
    low, high = 0, space
    while low < high:
        mid = (low + high + 1) // 2
        if cipher.sealed_length(mid) <= space:
            low = mid
        else:
            high = mid - 1
    return low


def fragment_message(
    *,
    spi_i: bytes,
    spi_r: bytes,
    exchange_type: int,
    flags: int,
    message_id: int,
    payloads: Sequence[Payload],
    cipher: SkCipher,
    rng: RandomSource,
    max_size: int | None,
) -> list[bytes]:
    """``HDR, SK {payloads}`` as one message when it fits ``max_size`` (or no limit is
    given), else as ``HDR, SKF {...}`` fragments (RFC 7383 §2.5)."""
    first, inner = push_payload_chain(list(payloads))
    if max_size is None or HEADER_SIZE + 4 + cipher.sealed_length(len(inner)) <= max_size:
        whole = encrypt_message(
            spi_i=spi_i,
            spi_r=spi_r,
            exchange_type=exchange_type,
            flags=flags,
            message_id=message_id,
            payloads=payloads,
            cipher=cipher,
            rng=rng,
        )
        return [whole]
    room = _room(cipher, max_size - HEADER_SIZE - _SKF_HEADER)
    if room < MIN_FRAGMENT_ROOM:
        raise LocalProtocolError(f"IKE fragments of {max_size} bytes leave no room for data")
    pieces = [inner[i : i + room] for i in range(0, len(inner), room)]
    total = len(pieces)
    if total > MAX_SEND_FRAGMENTS:
        raise LocalProtocolError(f"an IKE message of {len(inner)} bytes needs {total} fragments")
    out = []
    for number, piece in enumerate(pieces, start=1):
        skf_length = _SKF_HEADER + cipher.sealed_length(len(piece))
        header = IkeHeader(
            spi_i=spi_i,
            spi_r=spi_r,
            next_payload=PayloadType.SKF,
            major_version=2,
            minor_version=0,
            exchange_type=exchange_type,
            flags=flags,
            message_id=message_id,
            length=HEADER_SIZE + skf_length,
        )
        next_payload = first if number == 1 else 0
        aad = (
            push_header(header)
            + bytes((next_payload, 0))
            + skf_length.to_bytes(2, "big")
            + number.to_bytes(2, "big")
            + total.to_bytes(2, "big")
        )
        out.append(aad + cipher.seal(aad, piece, rng))
    return out
