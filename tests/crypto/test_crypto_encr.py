"""SK payload protection (RFC 7296 §3.14, RFC 5282, RFC 7634 §3 and Appendix B)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from ikeclient.crypto.encr import Encr, SkCipher, get_encr, make_sk_cipher, supported_encrs
from ikeclient.crypto.integ import get_integ
from ikeclient.crypto.random import DeterministicRandomSource
from ikeclient.crypto.transforms import EncrId, IntegId
from ikeclient.errors import CryptoError, IntegrityError, UnsupportedAlgorithm

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
AAD = bytes(range(28)) + b"\x29\x00\x00\x00"  # stand-in IKE header + SK generic header


class FixedRandom:
    """Returns queued byte strings, for driving IVs in known-answer tests."""

    def __init__(self, *chunks: bytes) -> None:
        self._data = b"".join(chunks)

    def random_bytes(self, n: int) -> bytes:
        out, self._data = self._data[:n], self._data[n:]
        assert len(out) == n
        return out


# (encr, key bits, integ) combinations covered by round-trip tests
SUITES: list[tuple[EncrId, int | None, IntegId | None]] = [
    (EncrId.AES_CBC, 128, IntegId.HMAC_SHA2_256_128),
    (EncrId.AES_CBC, 192, IntegId.HMAC_SHA2_384_192),
    (EncrId.AES_CBC, 256, IntegId.HMAC_SHA2_512_256),
    (EncrId.AES_CBC, 128, IntegId.HMAC_SHA1_96),
    (EncrId.AES_CBC, 128, IntegId.AES_XCBC_96),
    (EncrId.AES_CBC, 256, IntegId.AES_CMAC_96),
    (EncrId.AES_CTR, 128, IntegId.HMAC_SHA2_256_128),
    (EncrId.AES_CTR, 256, IntegId.HMAC_SHA2_256_128),
    (EncrId.DES3, None, IntegId.HMAC_SHA1_96),
    (EncrId.AES_GCM_8, 128, None),
    (EncrId.AES_GCM_12, 192, None),
    (EncrId.AES_GCM_16, 256, None),
    (EncrId.AES_GCM_16, 128, IntegId.NONE),
    (EncrId.CHACHA20_POLY1305, None, None),
]


def _make(
    encr_id: EncrId, key_bits: int | None, integ_id: IntegId | None, seed: bytes = b"k"
) -> SkCipher:
    rng = DeterministicRandomSource(seed)
    encr = get_encr(encr_id)
    encr_key = rng.random_bytes(encr.key_size(key_bits))
    integ_key = None
    if integ_id is not None and integ_id != IntegId.NONE:
        integ_key = rng.random_bytes(get_integ(integ_id).key_size)
    return make_sk_cipher(encr_id, key_bits, encr_key, integ_id, integ_key)


def _suite_id(suite: tuple[EncrId, int | None, IntegId | None]) -> str:
    encr_id, bits, integ_id = suite
    return f"{encr_id.name}-{bits}-{integ_id.name if integ_id is not None else 'none'}"


def test_rfc7634_appendix_b_open_and_seal() -> None:
    v: dict[str, Any] = json.loads((VECTORS / "chacha20poly1305_ikev2.json").read_text())
    key = bytes.fromhex(v["key"]) + bytes.fromhex(v["salt"])
    cipher = make_sk_cipher(v["encr_id"], None, key, None, None)
    aad = bytes.fromhex(v["aad"])
    plaintext = bytes.fromhex(v["plaintext"])
    body = bytes.fromhex(v["iv"]) + bytes.fromhex(v["ciphertext"]) + bytes.fromhex(v["icv"])
    # The AAD's IKE header length (0x45) and SK payload length (0x29) match the body.
    assert int.from_bytes(aad[24:28], "big") == len(aad) + len(body)
    assert int.from_bytes(aad[30:32], "big") == 4 + len(body)
    assert cipher.sealed_length(len(plaintext)) == len(body)
    assert cipher.open(aad, body) == plaintext
    # Sealing with an rng that yields the example IV as the counter start gives the same bytes.
    assert cipher.seal(aad, plaintext, FixedRandom(bytes.fromhex(v["iv"]))) == body
    with pytest.raises(IntegrityError):
        cipher.open(aad[:-1] + b"\x2a", body)


@pytest.mark.parametrize("suite", SUITES, ids=_suite_id)
@pytest.mark.parametrize("size", [0, 1, 7, 15, 16, 17, 100, 1000])
def test_round_trip(suite: tuple[EncrId, int | None, IntegId | None], size: int) -> None:
    sender = _make(*suite)
    receiver = _make(*suite)
    rng = DeterministicRandomSource(b"iv")
    plaintext = bytes((i * 7) & 0xFF for i in range(size))
    sealed = sender.seal(AAD, plaintext, rng)
    assert len(sealed) == sender.sealed_length(size)
    encr = sender.encr
    ct_len = len(sealed) - encr.iv_size - sender.icv_size
    assert ct_len % encr.block_size == 0
    # minimum padding: fewer than block_size pad bytes before the Pad Length byte
    assert size + 1 <= ct_len < size + 1 + encr.block_size
    assert receiver.open(AAD, sealed) == plaintext


@pytest.mark.parametrize("suite", SUITES, ids=_suite_id)
def test_tampering_raises_integrity_error(suite: tuple[EncrId, int | None, IntegId | None]) -> None:
    cipher = _make(*suite)
    sealed = cipher.seal(AAD, b"payloads" * 5, DeterministicRandomSource(b"iv"))
    for i in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[i] ^= 0x01
        with pytest.raises(IntegrityError):
            cipher.open(AAD, bytes(tampered))
    for i in range(len(AAD)):
        aad = bytearray(AAD)
        aad[i] ^= 0x80
        with pytest.raises(IntegrityError):
            cipher.open(bytes(aad), sealed)
    other_key = _make(*suite, seed=b"other")
    with pytest.raises(IntegrityError):
        other_key.open(AAD, sealed)


@pytest.mark.parametrize("suite", SUITES, ids=_suite_id)
def test_malformed_bodies_raise_crypto_error(
    suite: tuple[EncrId, int | None, IntegId | None],
) -> None:
    cipher = _make(*suite)
    sealed = cipher.seal(AAD, b"x" * 20, DeterministicRandomSource(b"iv"))
    for cut in range(len(sealed)):
        with pytest.raises(CryptoError):
            cipher.open(AAD, sealed[:cut])
    with pytest.raises(CryptoError):
        cipher.open(AAD, sealed + b"\x00")


def test_pad_length_too_big_raises_crypto_error() -> None:
    """A body whose ICV verifies but whose Pad Length overruns the data (CBC + HMAC)."""
    key, integ_key = bytes(16), bytes(32)
    cipher = make_sk_cipher(EncrId.AES_CBC, 128, key, IntegId.HMAC_SHA2_256_128, integ_key)
    iv = bytes(16)
    block = bytes(15) + b"\x20"  # Pad Length 32 > 15 bytes available
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ct = enc.update(block) + enc.finalize()
    icv = get_integ(IntegId.HMAC_SHA2_256_128).signer(integ_key).sign(AAD + iv + ct)
    with pytest.raises(CryptoError) as info:
        cipher.open(AAD, iv + ct + icv)
    assert not isinstance(info.value, IntegrityError)
    # and a pad length that fits is accepted and stripped (receivers accept any padding)
    block = b"abc" + bytes(12) + b"\x0c"
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ct = enc.update(block) + enc.finalize()
    icv = get_integ(IntegId.HMAC_SHA2_256_128).signer(integ_key).sign(AAD + iv + ct)
    assert cipher.open(AAD, iv + ct + icv) == b"abc"


def test_gcm_receiver_accepts_extra_padding() -> None:
    """RFC 5282 / RFC 7296 §3.14: any padding is accepted on receipt."""
    key, salt, iv = bytes(range(32)), b"SALT", bytes(8)
    cipher = make_sk_cipher(EncrId.AES_GCM_16, 256, key + salt, None, None)
    padded = b"payload" + bytes(5) + b"\x05"
    body = iv + AESGCM(key).encrypt(salt + iv, padded, AAD)
    assert cipher.open(AAD, body) == b"payload"


@given(body=st.binary(max_size=200), aad=st.binary(max_size=40))
@settings(max_examples=200, deadline=None)
def test_open_arbitrary_bodies_only_raises_crypto_error(body: bytes, aad: bytes) -> None:
    for suite in SUITES:
        cipher = _make(*suite)
        with contextlib.suppress(CryptoError):
            cipher.open(aad, body)


def test_aead_ivs_never_repeat_and_count_up() -> None:
    cipher = _make(EncrId.AES_GCM_16, 128, None)
    rng = FixedRandom(b"\xff" * 7 + b"\xfe")
    ivs = [cipher.seal(AAD, b"", rng)[:8] for _ in range(3)]
    assert ivs == [b"\xff" * 7 + b"\xfe", b"\xff" * 8, bytes(8)]  # wraps, still unique


def test_cbc_iv_comes_from_rng() -> None:
    cipher = _make(EncrId.AES_CBC, 128, IntegId.HMAC_SHA2_256_128)
    sealed = cipher.seal(AAD, b"abc", FixedRandom(b"I" * 16))
    assert sealed[:16] == b"I" * 16


def test_seal_is_deterministic_given_rng() -> None:
    for suite in SUITES:
        a = _make(*suite).seal(AAD, b"hello", DeterministicRandomSource(b"r"))
        b = _make(*suite).seal(AAD, b"hello", DeterministicRandomSource(b"r"))
        assert a == b


def test_gcm_short_tags_are_prefixes_of_the_full_tag() -> None:
    key = bytes(range(16)) + b"salt"
    rng_bytes = bytes(8)
    full = make_sk_cipher(EncrId.AES_GCM_16, 128, key, None, None)
    s16 = full.seal(AAD, b"data", FixedRandom(rng_bytes))
    for encr_id, icv in ((EncrId.AES_GCM_8, 8), (EncrId.AES_GCM_12, 12)):
        short = make_sk_cipher(encr_id, 128, key, None, None)
        s = short.seal(AAD, b"data", FixedRandom(rng_bytes))
        assert s == s16[: len(s16) - 16 + icv]


@pytest.mark.parametrize(
    ("encr_id", "key_bits", "size"),
    [
        (EncrId.AES_CBC, 128, 16),
        (EncrId.AES_CBC, 192, 24),
        (EncrId.AES_CBC, 256, 32),
        (EncrId.AES_CTR, 128, 20),
        (EncrId.AES_CTR, 256, 36),
        (EncrId.AES_GCM_8, 128, 20),
        (EncrId.AES_GCM_12, 192, 28),
        (EncrId.AES_GCM_16, 256, 36),
        (EncrId.CHACHA20_POLY1305, None, 36),
        (EncrId.CHACHA20_POLY1305, 256, 36),
        (EncrId.DES3, None, 24),
        (EncrId.DES3, 192, 24),
    ],
)
def test_key_sizes(encr_id: EncrId, key_bits: int | None, size: int) -> None:
    assert get_encr(encr_id).key_size(key_bits) == size


def test_descriptors() -> None:
    gcm = get_encr(EncrId.AES_GCM_12)
    assert (gcm.is_aead, gcm.icv_size, gcm.iv_size, gcm.block_size) == (True, 12, 8, 1)
    assert gcm.key_bits_allowed == (128, 192, 256)
    cbc = get_encr(EncrId.AES_CBC)
    assert (cbc.is_aead, cbc.icv_size, cbc.iv_size, cbc.block_size) == (False, 0, 16, 16)
    assert cbc.default_key_bits == 128
    chacha = get_encr(EncrId.CHACHA20_POLY1305)
    assert chacha.default_key_bits is None and chacha.is_aead
    des3 = get_encr(EncrId.DES3)
    assert (des3.default_key_bits, des3.block_size, des3.iv_size) == (None, 8, 8)
    assert set(supported_encrs()) >= {EncrId.AES_CBC, EncrId.AES_GCM_16, EncrId.DES3}


def test_invalid_configurations() -> None:
    enc: Encr = get_encr(EncrId.AES_CBC)
    with pytest.raises(UnsupportedAlgorithm):
        enc.key_size(None)  # AES needs a Key Length attribute
    with pytest.raises(UnsupportedAlgorithm):
        enc.key_size(64)
    with pytest.raises(UnsupportedAlgorithm):
        get_encr(EncrId.CHACHA20_POLY1305).key_size(128)
    for bad in (EncrId.NULL, EncrId.AES_CCM_16, 0, 1000):
        with pytest.raises(UnsupportedAlgorithm):
            get_encr(bad)
    with pytest.raises(CryptoError):  # wrong key length
        make_sk_cipher(EncrId.AES_GCM_16, 128, bytes(16), None, None)
    with pytest.raises(UnsupportedAlgorithm):  # AEAD with an integrity algorithm
        make_sk_cipher(EncrId.AES_GCM_16, 128, bytes(20), IntegId.HMAC_SHA2_256_128, bytes(32))
    with pytest.raises(UnsupportedAlgorithm):  # CBC without one
        make_sk_cipher(EncrId.AES_CBC, 128, bytes(16), None, None)
    with pytest.raises(UnsupportedAlgorithm):
        make_sk_cipher(EncrId.AES_CBC, 128, bytes(16), IntegId.NONE, b"")
    with pytest.raises(CryptoError):  # wrong integrity key length
        make_sk_cipher(EncrId.AES_CBC, 128, bytes(16), IntegId.HMAC_SHA2_256_128, bytes(16))
