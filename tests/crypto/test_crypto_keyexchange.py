"""Key exchange: RFC 5903 §8, RFC 7748 §6 / RFC 8031, MODP groups (RFC 2409 §6, RFC 3526)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ikeclient.crypto.keyexchange import (
    _ECP_GROUPS,
    _MODP_PRIMES,
    KeyExchange,
    create_key_exchange,
    supported_ke_groups,
)
from ikeclient.crypto.random import DeterministicRandomSource
from ikeclient.crypto.transforms import KeGroup
from ikeclient.errors import InvalidPublicValue, UnsupportedAlgorithm

VECTORS = Path(__file__).resolve().parents[1] / "vectors"

MODP_GROUPS = [
    KeGroup.MODP768,
    KeGroup.MODP1024,
    KeGroup.MODP1536,
    KeGroup.MODP2048,
    KeGroup.MODP3072,
    KeGroup.MODP4096,
    KeGroup.MODP6144,
    KeGroup.MODP8192,
]


class FixedRandom:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def random_bytes(self, n: int) -> bytes:
        out, self._data = self._data[:n], self._data[n:]
        assert len(out) == n
        return out


def _load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


@pytest.mark.parametrize("case", _load("ecp_rfc5903.json")["cases"], ids=lambda c: str(c["group"]))
def test_rfc5903_ecp_vectors(case: dict[str, Any]) -> None:
    i = create_key_exchange(case["group"], FixedRandom(bytes.fromhex(case["i"])))
    r = create_key_exchange(case["group"], FixedRandom(bytes.fromhex(case["r"])))
    assert i.public_value == bytes.fromhex(case["gi"])
    assert r.public_value == bytes.fromhex(case["gr"])
    gir = bytes.fromhex(case["gir"])
    assert i.compute_shared_secret(r.public_value) == gir
    assert r.compute_shared_secret(i.public_value) == gir


@pytest.mark.parametrize("case", _load("x25519_x448.json")["cases"], ids=lambda c: str(c["group"]))
def test_rfc7748_vectors(case: dict[str, Any]) -> None:
    a = create_key_exchange(case["group"], FixedRandom(bytes.fromhex(case["a_priv"])))
    b = create_key_exchange(case["group"], FixedRandom(bytes.fromhex(case["b_priv"])))
    assert a.public_value == bytes.fromhex(case["a_pub"])
    assert b.public_value == bytes.fromhex(case["b_pub"])
    shared = bytes.fromhex(case["shared"])
    assert a.compute_shared_secret(b.public_value) == shared
    assert b.compute_shared_secret(a.public_value) == shared


@pytest.mark.parametrize("group", [KeGroup.CURVE25519, KeGroup.CURVE448])
def test_rfc8031_rejections(group: KeGroup) -> None:
    ke = create_key_exchange(group, DeterministicRandomSource(b"x"))
    size = len(ke.public_value)
    assert size == {KeGroup.CURVE25519: 32, KeGroup.CURVE448: 56}[group]
    # u = 0 and u = 1 are small-order points: the shared secret is all zero.
    for low_order in (bytes(size), b"\x01" + bytes(size - 1)):
        with pytest.raises(InvalidPublicValue):
            ke.compute_shared_secret(low_order)
    for bad_len in (b"", bytes(size - 1), bytes(size + 1)):
        with pytest.raises(InvalidPublicValue):
            ke.compute_shared_secret(bad_len)


@pytest.mark.parametrize("group", [KeGroup.ECP256, KeGroup.ECP384, KeGroup.ECP521])
def test_ecp_rejections(group: KeGroup) -> None:
    ke = create_key_exchange(group, DeterministicRandomSource(b"e"))
    peer = create_key_exchange(group, DeterministicRandomSource(b"p"))
    size = len(ke.public_value)
    assert size == {KeGroup.ECP256: 64, KeGroup.ECP384: 96, KeGroup.ECP521: 132}[group]
    assert ke.compute_shared_secret(peer.public_value) == peer.compute_shared_secret(
        ke.public_value
    )
    off_curve = peer.public_value[:-1] + bytes([peer.public_value[-1] ^ 1])
    for bad in (off_curve, bytes(size), b"\x04" + peer.public_value, peer.public_value[:-1]):
        with pytest.raises(InvalidPublicValue):
            ke.compute_shared_secret(bad)


@pytest.mark.parametrize("group", list(_ECP_GROUPS))
def test_ecp_group_orders(group: KeGroup) -> None:
    """(n-1)G = -G, so n is the group order used for private-scalar sampling."""
    curve_type, _size, order = _ECP_GROUPS[group]
    g = ec.derive_private_key(1, curve_type()).public_key().public_numbers()
    minus_g = ec.derive_private_key(order - 1, curve_type()).public_key().public_numbers()
    assert minus_g.x == g.x and minus_g.y != g.y


def _pi_scaled(bits: int) -> int:
    """floor(pi * 2**bits) by Machin's formula, in integers."""
    guard = 64
    one = 1 << (bits + guard)

    def atan_inv(x: int) -> int:
        total = term = one // x
        x2, n, sign = x * x, 1, -1
        while term:
            term //= x2
            total += sign * (term // (2 * n + 1))
            sign, n = -sign, n + 1
        return total

    return (16 * atan_inv(5) - 4 * atan_inv(239)) >> guard


def test_modp_primes_match_their_definition() -> None:
    """p = 2^n - 2^(n-64) - 1 + 2^64 * ([2^(n-130) pi] + k), RFC 2409 §6.1-6.2, RFC 3526."""
    offsets = {
        KeGroup.MODP768: (768, 149686),
        KeGroup.MODP1024: (1024, 129093),
        KeGroup.MODP1536: (1536, 741804),
        KeGroup.MODP2048: (2048, 124476),
        KeGroup.MODP3072: (3072, 1690314),
        KeGroup.MODP4096: (4096, 240904),
        KeGroup.MODP6144: (6144, 929484),
        KeGroup.MODP8192: (8192, 4743158),
    }
    assert set(offsets) == set(_MODP_PRIMES)
    for group, (n, k) in offsets.items():
        expected = 2**n - 2 ** (n - 64) - 1 + 2**64 * (_pi_scaled(n - 130) + k)
        assert int(_MODP_PRIMES[group], 16) == expected, group.name


@pytest.mark.parametrize("group", MODP_GROUPS)
def test_modp_round_trip(group: KeGroup) -> None:
    a = create_key_exchange(group, DeterministicRandomSource(b"a"))
    b = create_key_exchange(group, DeterministicRandomSource(b"b"))
    prime = int(_MODP_PRIMES[group], 16)
    size = (prime.bit_length() + 7) // 8
    assert len(a.public_value) == len(b.public_value) == size
    secret = a.compute_shared_secret(b.public_value)
    assert secret == b.compute_shared_secret(a.public_value)
    assert len(secret) == size
    # the public value is really g^x mod p for an x drawn from the rng
    again = create_key_exchange(group, DeterministicRandomSource(b"a"))
    assert again.public_value == a.public_value


def test_modp_public_value_is_g_to_the_x() -> None:
    group = KeGroup.MODP2048
    x_bytes = bytes(range(1, 41))
    ke = create_key_exchange(group, FixedRandom(x_bytes))
    prime = int(_MODP_PRIMES[group], 16)
    x = int.from_bytes(x_bytes, "big") | (1 << (8 * len(x_bytes) - 1))
    assert ke.public_value == pow(2, x, prime).to_bytes(256, "big")
    peer_y = pow(2, 12345678901234567890, prime)
    expected = pow(peer_y, x, prime).to_bytes(256, "big")
    assert ke.compute_shared_secret(peer_y.to_bytes(256, "big")) == expected


@pytest.mark.parametrize("group", [KeGroup.MODP1024, KeGroup.MODP2048])
def test_modp_invalid_public_values(group: KeGroup) -> None:
    ke = create_key_exchange(group, DeterministicRandomSource(b"m"))
    prime = int(_MODP_PRIMES[group], 16)
    size = len(ke.public_value)
    for y in (0, 1, prime - 1, prime, 2 ** (8 * size) - 1):
        with pytest.raises(InvalidPublicValue):
            ke.compute_shared_secret(y.to_bytes(size, "big"))
    for bad_len in (b"", ke.public_value[1:], b"\x00" + ke.public_value):
        with pytest.raises(InvalidPublicValue):
            ke.compute_shared_secret(bad_len)
    assert len(ke.compute_shared_secret((2).to_bytes(size, "big"))) == size


def test_supported_and_unsupported_groups() -> None:
    groups = supported_ke_groups()
    assert set(groups) == set(MODP_GROUPS) | {
        KeGroup.ECP256,
        KeGroup.ECP384,
        KeGroup.ECP521,
        KeGroup.CURVE25519,
        KeGroup.CURVE448,
    }
    for bad in (0, 22, 23, 24, 25, 26, 28, 99, 1000):
        with pytest.raises(UnsupportedAlgorithm):
            create_key_exchange(bad, DeterministicRandomSource(b""))


def test_repr_has_no_private_value() -> None:
    rng_bytes = bytes(range(32))
    ke: KeyExchange = create_key_exchange(KeGroup.CURVE25519, FixedRandom(rng_bytes))
    assert rng_bytes.hex() not in repr(ke)
    assert "CURVE25519" in repr(ke)


def test_common_groups_are_fast() -> None:
    """Connect latency matters: one full exchange in the usual groups stays well under 50 ms."""
    for group in (KeGroup.CURVE25519, KeGroup.ECP256, KeGroup.ECP384, KeGroup.MODP2048):
        start = time.perf_counter()
        a = create_key_exchange(group, DeterministicRandomSource(b"a"))
        b = create_key_exchange(group, DeterministicRandomSource(b"b"))
        a.compute_shared_secret(b.public_value)
        assert time.perf_counter() - start < 0.05, group.name
