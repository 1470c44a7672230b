"""A long-running mutation fuzzer for the IKEv2 codec (no hypothesis, stdlib only).

Run from the repository root:

    .venv/bin/python -m tests.ike.fuzz_codec --seconds 600 [--seed 1]

It mutates valid messages (bit flips, truncation, extension, splices, length
fixes) and feeds them, and pure random bytes, to ``pull_message``,
``pull_payload_chain`` and ``check_message_rules``.  Anything but
InvalidSyntax/UnsupportedCriticalPayload (or a failed re-encode check) stops
the run and prints the input as hex.  For the hypothesis-based fuzz tests with
more examples, use ``IKECLIENT_FUZZ_EXAMPLES=100000 .venv/bin/python -m pytest
tests/ike/test_fuzz.py``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback

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
from tests.ike.test_fuzz import parse_chain, parse_everything
from tests.ike.test_message import IKE_SA_INIT_REQUEST


def _corpus() -> list[bytes]:
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


def _mutate(rng: random.Random, data: bytes) -> bytes:
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
    if len(buf) >= 28 and rng.random() < 0.7:
        buf[24:28] = len(buf).to_bytes(4, "big")
    return bytes(buf)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    corpus = _corpus()
    deadline = time.monotonic() + args.seconds
    runs = 0
    print(f"fuzzing for {args.seconds:.0f}s with seed {seed}")
    while time.monotonic() < deadline:
        for _ in range(1000):
            if rng.random() < 0.1:
                data = rng.randbytes(rng.randint(0, 300))
            else:
                data = _mutate(rng, rng.choice(corpus))
            try:
                parse_everything(data)
                parse_chain(data[28:], rng.randrange(256))
            except Exception:
                traceback.print_exc()
                print(f"seed {seed}, run {runs}, input:\n{data.hex()}", file=sys.stderr)
                return 1
            runs += 1
    print(f"{runs} inputs, no unexpected exception")
    return 0


if __name__ == "__main__":
    sys.exit(main())
