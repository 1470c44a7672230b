"""Seed messages and a byte-level mutator shared by the stdlib fuzzers.

``tests/ike/fuzz_codec.py`` (the codec fuzzer) and ``bench/fuzz.py`` (the
million-input bench over parsers, connections and ESP) both build their inputs
from these: a few valid IKEv2 messages covering every payload kind, and
:func:`mutate`, which applies bit flips, truncation, extension, interesting
byte values, insertions, deletions and duplicated slices, and usually fixes the
IKE header's Length so the payload parsers are reached.
"""

from __future__ import annotations

import random

from ikeclient.ike.v2.enums import CfgType, NotifyType, ProtocolId
from ikeclient.ike.v2.message import encode_message
from ikeclient.ike.v2.payloads import (
    AuthPayload,
    ConfigAttribute,
    CpPayload,
    DeletePayload,
    EapPayload,
    IdiPayload,
    NotifyPayload,
    Payload,
    SkfPayload,
    SkPayload,
    TrafficSelector,
    TsiPayload,
    TsrPayload,
    UnknownPayload,
    push_payload_chain,
)
from tests.ike.test_message import IKE_SA_INIT_REQUEST


def ikev2_corpus() -> list[bytes]:
    """Valid IKEv2 messages: an IKE_SA_INIT request, SK and SKF messages, clear payloads."""
    spi = bytes(range(8))
    ts = TrafficSelector(7, 0, 0, 65535, bytes(4), b"\xff" * 4)
    ts6 = TrafficSelector(8, 6, 443, 443, bytes(16), b"\xff" * 16)
    inner: list[Payload] = [
        IdiPayload(2, b"client.example"),
        AuthPayload(2, bytes(32)),
        CpPayload(CfgType.CFG_REPLY, (ConfigAttribute(1, bytes(4)), ConfigAttribute(3, bytes(4)))),
        TsiPayload((ts, ts6)),
        TsrPayload((ts,)),
        NotifyPayload(3, b"abcd", NotifyType.REKEY_SA),
        DeletePayload(ProtocolId.ESP, (b"1234", b"5678")),
        EapPayload(b"\x01\x02\x00\x06\x01x"),
        UnknownPayload(200, False, b"??"),
    ]
    first, plain = push_payload_chain(inner)
    return [
        IKE_SA_INIT_REQUEST,
        encode_message(spi, spi, 35, 0x08, 1, [SkPayload(first, plain)]),
        encode_message(spi, spi, 35, 0x20, 1, [SkfPayload(first, 1, 2, plain)]),
        encode_message(spi, spi, 37, 0x20, 2, [*inner[:6], SkPayload(0, bytes(40))]),
    ]


def mutate(
    rng: random.Random, data: bytes, *, length_at: int | None = 24, fix_length: float = 0.7
) -> bytes:
    """1 to 6 random edits of ``data``; then, with probability ``fix_length``, the 32-bit
    length field at ``length_at`` (the IKE/ISAKMP header's Length) is set to the new size."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(7)
        n = len(buf)
        if op == 0 and n:
            buf[rng.randrange(n)] ^= 1 << rng.randrange(8)
        elif op == 1:
            del buf[rng.randint(0, n) :]
        elif op == 2:
            buf += rng.randbytes(rng.randint(1, 64))
        elif op == 3 and n:
            buf[rng.randrange(n)] = rng.choice((0, 1, 3, 4, 8, 0x7F, 0x80, 0xFF))
        elif op == 4:
            i = rng.randint(0, n)
            buf[i:i] = rng.randbytes(rng.randint(1, 8))
        elif op == 5 and n:
            i = rng.randrange(n)
            del buf[i : i + rng.randint(1, 8)]
        elif op == 6 and n >= 2:  # duplicate a slice (repeated payloads, nested lengths)
            i = rng.randrange(n)
            j = rng.randint(i, n)
            buf[j:j] = buf[i:j]
    if length_at is not None and len(buf) >= length_at + 4 and rng.random() < fix_length:
        buf[length_at : length_at + 4] = len(buf).to_bytes(4, "big")
    return bytes(buf)
