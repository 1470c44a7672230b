"""IANA numbers, random sources and the crypto package's import rules."""

from __future__ import annotations

import ast
from pathlib import Path

import ikeclient.crypto as crypto_pkg
from ikeclient.crypto.random import DeterministicRandomSource, RandomSource, SystemRandomSource
from ikeclient.crypto.transforms import (
    EncrId,
    EsnId,
    IntegId,
    KeGroup,
    PrfId,
    TransformAttributeType,
    TransformType,
)


def test_iana_numbers() -> None:
    """IANA "IKEv2 Parameters" registries (RFC 7296 §3.3.2, §3.3.5)."""
    assert [int(t) for t in TransformType] == [1, 2, 3, 4, 5]
    assert (EncrId.DES3, EncrId.NULL, EncrId.AES_CBC, EncrId.AES_CTR) == (3, 11, 12, 13)
    assert (EncrId.AES_GCM_8, EncrId.AES_GCM_12, EncrId.AES_GCM_16) == (18, 19, 20)
    assert int(EncrId.CHACHA20_POLY1305) == 28
    assert (PrfId.HMAC_MD5, PrfId.HMAC_SHA1, PrfId.AES128_XCBC) == (1, 2, 4)
    assert (PrfId.HMAC_SHA2_256, PrfId.HMAC_SHA2_384, PrfId.HMAC_SHA2_512) == (5, 6, 7)
    assert int(PrfId.AES128_CMAC) == 8
    assert (IntegId.NONE, IntegId.HMAC_MD5_96, IntegId.HMAC_SHA1_96) == (0, 1, 2)
    assert (IntegId.AES_XCBC_96, IntegId.AES_CMAC_96) == (5, 8)
    assert (IntegId.HMAC_SHA2_256_128, IntegId.HMAC_SHA2_384_192) == (12, 13)
    assert int(IntegId.HMAC_SHA2_512_256) == 14
    assert [int(g) for g in (KeGroup.NONE, KeGroup.MODP768, KeGroup.MODP1024)] == [0, 1, 2]
    assert [int(g) for g in (KeGroup.MODP1536, KeGroup.MODP2048, KeGroup.MODP8192)] == [5, 14, 18]
    assert [int(g) for g in (KeGroup.ECP256, KeGroup.ECP384, KeGroup.ECP521)] == [19, 20, 21]
    assert (KeGroup.CURVE25519, KeGroup.CURVE448) == (31, 32)
    assert (EsnId.NO_ESN, EsnId.ESN) == (0, 1)
    assert int(TransformAttributeType.KEY_LENGTH) == 14


def test_deterministic_random_source_is_reproducible() -> None:
    a = DeterministicRandomSource(b"seed")
    b = DeterministicRandomSource(b"seed")
    # Same stream regardless of how it is sliced.
    first = a.random_bytes(5) + a.random_bytes(0) + a.random_bytes(40) + a.random_bytes(100)
    assert first == b.random_bytes(145)
    assert DeterministicRandomSource(b"other").random_bytes(145) != first
    assert len(set(first)) > 50
    assert repr(b"seed") not in repr(a)


def test_system_random_source() -> None:
    rng: RandomSource = SystemRandomSource()
    assert len(rng.random_bytes(33)) == 33
    assert rng.random_bytes(16) != rng.random_bytes(16)
    assert rng.random_bytes(0) == b""


FORBIDDEN = (
    "socket",
    "time",
    "asyncio",
    "ikeclient.ike",
    "ikeclient.esp",
    "ikeclient.net",
    "ikeclient.runtime",
)


def test_crypto_package_imports_stay_inside_their_layer() -> None:
    package_dir = Path(crypto_pkg.__file__).parent
    for path in package_dir.glob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                for forbidden in FORBIDDEN:
                    assert name != forbidden and not name.startswith(forbidden + "."), (
                        f"{path.name} imports {name}"
                    )
