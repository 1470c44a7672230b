"""Shared helpers for the ESP engine tests: SA configs for both ends and inner packets."""

from __future__ import annotations

import ipaddress
import struct

from ikeclient.crypto.encr import get_encr
from ikeclient.crypto.integ import get_integ
from ikeclient.crypto.random import DeterministicRandomSource
from ikeclient.crypto.transforms import EncrId, IntegId
from ikeclient.esp import EspEngine, EspSaConfig, Selector

CLIENT_VIP = "10.99.0.2"
CLIENT_VIP6 = "fd00:99::2"
SPI_CLIENT = 0xC0000001  # our inbound SPI
SPI_GATEWAY = 0xC0000002  # the gateway's inbound SPI (our outbound)

SUITES: list[tuple[str, int, int | None, int | None]] = [
    ("aes128gcm16", EncrId.AES_GCM_16, 128, None),
    ("aes256gcm16", EncrId.AES_GCM_16, 256, None),
    ("chacha20poly1305", EncrId.CHACHA20_POLY1305, None, None),
    ("aes128-sha256", EncrId.AES_CBC, 128, IntegId.HMAC_SHA2_256_128),
    ("aes192-sha384", EncrId.AES_CBC, 192, IntegId.HMAC_SHA2_384_192),
    ("aes256-sha512", EncrId.AES_CBC, 256, IntegId.HMAC_SHA2_512_256),
    ("aes256-sha1", EncrId.AES_CBC, 256, IntegId.HMAC_SHA1_96),
    ("aes128ctr-sha256", EncrId.AES_CTR, 128, IntegId.HMAC_SHA2_256_128),
    ("aes256ctr-sha1", EncrId.AES_CTR, 256, IntegId.HMAC_SHA1_96),
]
SUITE_IDS = [s[0] for s in SUITES]


def keys(encr: int, bits: int | None, integ: int | None, seed: bytes) -> tuple[bytes, ...]:
    """(encr_key_in, integ_key_in, encr_key_out, integ_key_out) of the right sizes."""
    rng = DeterministicRandomSource(seed)
    esize = get_encr(encr).key_size(bits)
    isize = get_integ(integ).key_size if integ else 0
    return (
        rng.random_bytes(esize),
        rng.random_bytes(isize),
        rng.random_bytes(esize),
        rng.random_bytes(isize),
    )


def sa_pair(
    encr: int,
    bits: int | None,
    integ: int | None,
    *,
    esn: bool = False,
    window: int = 1024,
    local_ts: tuple[Selector, ...] | None = None,
    remote_ts: tuple[Selector, ...] | None = None,
    spi_client: int = SPI_CLIENT,
    spi_gateway: int = SPI_GATEWAY,
    seed: bytes = b"keys",
) -> tuple[EspSaConfig, EspSaConfig]:
    """The client's SA and the gateway's mirror image (same keys, SPIs and selectors swapped)."""
    ein, iin, eout, iout = keys(encr, bits, integ, seed)
    local = local_ts or (Selector.from_network(CLIENT_VIP), Selector.from_network(CLIENT_VIP6))
    remote = remote_ts or (Selector.any(4), Selector.any(6))
    client = EspSaConfig(
        spi_client, spi_gateway, encr, bits, integ, esn, ein, iin, eout, iout, local, remote, window
    )
    gateway = EspSaConfig(
        spi_gateway, spi_client, encr, bits, integ, esn, eout, iout, ein, iin, remote, local, window
    )
    return client, gateway


def engine_pair(
    encr: int, bits: int | None, integ: int | None, **kwargs: object
) -> tuple[EspEngine, EspEngine]:
    """A client engine and a gateway engine with one mirrored SA installed."""
    client_sa, gateway_sa = sa_pair(encr, bits, integ, **kwargs)  # type: ignore[arg-type]
    client = EspEngine(DeterministicRandomSource(b"client"))
    gateway = EspEngine(DeterministicRandomSource(b"gateway"))
    client.install_sa(client_sa)
    gateway.install_sa(gateway_sa)
    return client, gateway


def ipv4(src: str, dst: str, payload: bytes = b"hello", protocol: int = 17) -> bytes:
    """An IPv4 packet (header checksum left 0: the engine does not check it)."""
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(payload),
        0x1234,
        0,
        64,
        protocol,
        0,
        ipaddress.IPv4Address(src).packed,
        ipaddress.IPv4Address(dst).packed,
    )
    return header + payload


def ipv6(src: str, dst: str, payload: bytes = b"hello", next_header: int = 17) -> bytes:
    """An IPv6 packet."""
    header = struct.pack(
        "!IHBB16s16s",
        6 << 28,
        len(payload),
        next_header,
        64,
        ipaddress.IPv6Address(src).packed,
        ipaddress.IPv6Address(dst).packed,
    )
    return header + payload


def udp(sport: int, dport: int, data: bytes = b"data") -> bytes:
    """A UDP header and data (checksum 0)."""
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
