"""Benchmark of the sans-I/O ESP engine: packets/s on one core, per suite (not a test).

Encapsulates 1400-byte inner IPv4 packets with one engine and decapsulates
them with a mirrored engine (our outbound ↔ the peer's inbound), timing each
direction separately; no sockets, no TUN. Run::

    .venv/bin/python bench/esp_engine.py [--packets N] [--size BYTES]

Reference (LAB-FACTS.md): ``AESGCM.encrypt`` on 1400 bytes takes ~0.8 µs on
the project's machines; the target is >= 200k packets/s for AES-GCM.
"""

from __future__ import annotations

import argparse
import statistics
import struct
import time

from ikeclient.crypto.encr import get_encr
from ikeclient.crypto.integ import get_integ
from ikeclient.crypto.random import DeterministicRandomSource
from ikeclient.crypto.transforms import EncrId, IntegId
from ikeclient.esp import EspEngine, EspSaConfig, Selector

SUITES: list[tuple[str, EncrId, int | None, IntegId | None]] = [
    ("aes128gcm16", EncrId.AES_GCM_16, 128, None),
    ("aes256gcm16", EncrId.AES_GCM_16, 256, None),
    ("chacha20poly1305", EncrId.CHACHA20_POLY1305, None, None),
    ("aes128-sha256", EncrId.AES_CBC, 128, IntegId.HMAC_SHA2_256_128),
    ("aes256-sha1", EncrId.AES_CBC, 256, IntegId.HMAC_SHA1_96),
    ("aes128ctr-sha256", EncrId.AES_CTR, 128, IntegId.HMAC_SHA2_256_128),
]


def ipv4_packet(size: int) -> bytes:
    """A UDP-in-IPv4 packet of ``size`` bytes from 10.0.0.2 to 192.0.2.1."""
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, size, 1, 0, 64, 17, 0, bytes([10, 0, 0, 2]), bytes([192, 0, 2, 1])
    )
    return header + bytes(size - len(header))


def engines(encr: EncrId, bits: int | None, integ: IntegId | None) -> tuple[EspEngine, EspEngine]:
    """Our engine and the mirrored peer engine for one suite, with a full-tunnel selector."""
    rng = DeterministicRandomSource(b"bench")
    ek = [rng.random_bytes(get_encr(encr).key_size(bits)) for _ in range(2)]
    ik = [rng.random_bytes(get_integ(integ).key_size) if integ else b"" for _ in range(2)]
    local = (Selector.from_network("10.0.0.2/32"),)
    remote = (Selector.any(4),)
    ours = EspSaConfig(
        0x1001, 0x2002, encr, bits, integ, True, ek[0], ik[0], ek[1], ik[1], local, remote
    )
    theirs = EspSaConfig(
        0x2002, 0x1001, encr, bits, integ, True, ek[1], ik[1], ek[0], ik[0], remote, local
    )
    a, b = EspEngine(DeterministicRandomSource(b"a")), EspEngine(DeterministicRandomSource(b"b"))
    a.install_sa(ours)
    b.install_sa(theirs)
    return a, b


def run(count: int, size: int, batch: int) -> None:
    """Time each suite in batches (median over batches, so a noisy neighbour or a GC pass
    does not decide the result) and print the table."""
    packet = ipv4_packet(size)
    packets = [packet] * batch
    rounds = max(1, count // batch)
    print(f"{rounds} x {batch} packets of {size} bytes, one core, ESN on, in-memory (no I/O)")
    print("median per batch; packets/s = 1 / (µs per packet)\n")
    print(f"{'suite':<18} {'encap pkt/s':>12} {'µs/pkt':>7} {'decap pkt/s':>12} {'µs/pkt':>7}")
    for name, encr, bits, integ in SUITES:
        a, b = engines(encr, bits, integ)
        decapsulate = b.decapsulate
        enc_times, dec_times = [], []
        for _ in range(rounds):
            t0 = time.perf_counter()
            esp = a.encapsulate_batch(packets, 1.0)
            t1 = time.perf_counter()
            out = [decapsulate(e, 1.0) for e in esp]
            t2 = time.perf_counter()
            enc_times.append(t1 - t0)
            dec_times.append(t2 - t1)
            if len(esp) != batch or out[-1] != packet or any(o is None for o in out):
                raise SystemExit(f"{name}: round trip failed: {b.drops}")
        enc_us = statistics.median(enc_times) / batch * 1e6
        dec_us = statistics.median(dec_times) / batch * 1e6
        enc = f"{1e6 / enc_us:>12,.0f} {enc_us:>7.2f}"
        dec = f"{1e6 / dec_us:>12,.0f} {dec_us:>7.2f}"
        print(f"{name:<18} {enc} {dec}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=1400)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    run(args.packets, args.size, args.batch)


if __name__ == "__main__":
    main()
