"""Signature schemes, RFC 7427 AlgorithmIdentifiers, the DER reader and MD4.

Encodings: RFC 7427 Appendix A (A.1 sha*WithRSAEncryption, A.3 ecdsa-with-sha*),
RFC 8410 §3 (Ed25519/Ed448) and strongSwan's RSASSA-PSS test vectors
(src/libstrongswan/tests/suites/test_signature_params.c, which follow
RFC 4055 §3.1 with every parameter written out).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from ikeclient.crypto.der import DerReader, decode_oid, encode_oid
from ikeclient.crypto.md4 import md4
from ikeclient.crypto.signature import (
    HASH_IDENTITY,
    HASH_SHA1,
    HASH_SHA2_256,
    HASH_SHA2_384,
    HASH_SHA2_512,
    SignatureScheme,
    ecdsa_der_to_raw,
    ecdsa_raw_to_der,
    parse_algorithm_identifier,
    sign,
    verify,
)
from ikeclient.errors import CryptoError, IntegrityError, UnsupportedAlgorithm

VECTORS = Path(__file__).resolve().parents[1] / "vectors"

ENCODINGS = [
    # RFC 7427 A.1.1-A.1.4: sha1/sha256/sha384/sha512WithRSAEncryption, NULL parameters
    (SignatureScheme("rsa", HASH_SHA1), "300d06092a864886f70d0101050500"),
    (SignatureScheme("rsa", HASH_SHA2_256), "300d06092a864886f70d01010b0500"),
    (SignatureScheme("rsa", HASH_SHA2_384), "300d06092a864886f70d01010c0500"),
    (SignatureScheme("rsa", HASH_SHA2_512), "300d06092a864886f70d01010d0500"),
    # RFC 7427 A.3.1-A.3.4: ecdsa-with-sha1/256/384/512, no parameters
    (SignatureScheme("ecdsa", HASH_SHA1), "300906072a8648ce3d0401"),
    (SignatureScheme("ecdsa", HASH_SHA2_256), "300a06082a8648ce3d040302"),
    (SignatureScheme("ecdsa", HASH_SHA2_384), "300a06082a8648ce3d040303"),
    (SignatureScheme("ecdsa", HASH_SHA2_512), "300a06082a8648ce3d040304"),
    # RFC 8410 §3 / RFC 8420: id-Ed25519, id-Ed448
    (SignatureScheme("ed25519", HASH_IDENTITY), "300506032b6570"),
    (SignatureScheme("ed448", HASH_IDENTITY), "300506032b6571"),
    # strongSwan test_signature_params.c: RSASSA-PSS SHA-256 and SHA-512, salt = hash length
    (
        SignatureScheme.rsa_pss(HASH_SHA2_256),
        "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a8648"
        "86f70d010108300d06096086480165030402010500a203020120",
    ),
    (
        SignatureScheme.rsa_pss(HASH_SHA2_512),
        "304106092a864886f70d01010a3034a00f300d06096086480165030402030500a11c301a06092a8648"
        "86f70d010108300d06096086480165030402030500a203020140",
    ),
]


@pytest.mark.parametrize(("scheme", "der"), ENCODINGS, ids=lambda x: str(x)[:20])
def test_algorithm_identifiers(scheme: SignatureScheme, der: str) -> None:
    assert scheme.algorithm_identifier().hex() == der
    assert parse_algorithm_identifier(bytes.fromhex(der)) == scheme


PSS_DEFAULTS = [
    # strongSwan: empty parameters = RFC 4055 defaults (SHA-1, MGF1-SHA-1, salt 20)
    ("300d06092a864886f70d01010a3000", SignatureScheme("rsa", HASH_SHA1, True, 20)),
    # only the salt given
    ("301206092a864886f70d01010a3005a203020120", SignatureScheme("rsa", HASH_SHA1, True, 32)),
    # SHA-256 with no salt
    (
        "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a8648"
        "86f70d010108300d06096086480165030402010500a203020100",
        SignatureScheme("rsa", HASH_SHA2_256, True, 0),
    ),
]


@pytest.mark.parametrize(("der", "scheme"), PSS_DEFAULTS)
def test_pss_parameter_defaults(der: str, scheme: SignatureScheme) -> None:
    assert parse_algorithm_identifier(bytes.fromhex(der)) == scheme


INVALID = [
    # strongSwan's invalid cases: unknown hash, unknown MGF, unknown MGF hash, bad trailer
    (
        "301e06092a864886f70d01010a3011a00f300d06096086480165030402000500",
        UnsupportedAlgorithm,
    ),
    (
        "302b06092a864886f70d01010a301ea11c301a06092a864886f70d010100300d0609608648016503040201"
        "0500",
        UnsupportedAlgorithm,
    ),
    ("301206092a864886f70d01010a3005a303020102", CryptoError),
    ("301306092a864886f70d01010a3006a30402020101", CryptoError),
    # an MGF1 hash different from the message hash (not supported)
    (
        "302b06092a864886f70d01010a301ea11c301a06092a864886f70d010108300d06096086480165030402"
        "010500",
        UnsupportedAlgorithm,
    ),
    ("300506032b6572", UnsupportedAlgorithm),  # id-X25519 is no signature
    ("300506032b65", CryptoError),  # truncated
    ("300d06092a864886f70d01010b050000", CryptoError),  # trailing byte inside
    ("300d06092a864886f70d01010b0500ff", CryptoError),  # trailing byte outside
    ("30810d06092a864886f70d01010b0500", CryptoError),  # length not minimal
    ("300a06082a8648ce3d04030205", CryptoError),  # ECDSA with a stray parameter
]


@pytest.mark.parametrize(("der", "error"), INVALID)
def test_invalid_algorithm_identifiers(der: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_algorithm_identifier(bytes.fromhex(der))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_any_bytes_parse_or_raise_crypto_error(data: bytes) -> None:
    with contextlib.suppress(CryptoError):
        parse_algorithm_identifier(data)


def test_oids_round_trip() -> None:
    for oid in ("1.2.840.113549.1.1.10", "2.16.840.1.101.3.4.2.3", "1.3.101.112", "2.999.3"):
        assert decode_oid(encode_oid(oid)) == oid
    with pytest.raises(CryptoError):
        decode_oid(bytes.fromhex("2a8086"))  # an arc starting with 0x80
    with pytest.raises(CryptoError):
        decode_oid(bytes.fromhex("2a86"))  # unterminated arc


def test_der_integers() -> None:
    assert DerReader(bytes.fromhex("020100")).read_integer() == 0
    assert DerReader(bytes.fromhex("02020080")).read_integer() == 128
    for bad in ("0200", "0201ff", "02020001"):
        with pytest.raises(CryptoError):
            DerReader(bytes.fromhex(bad)).read_integer()


KEYS = {
    "rsa": lambda: rsa.generate_private_key(65537, 2048),
    "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "p521": lambda: ec.generate_private_key(ec.SECP521R1()),
    "ed25519": ed25519.Ed25519PrivateKey.generate,
    "ed448": ed448.Ed448PrivateKey.generate,
}
SCHEMES = [
    ("rsa", SignatureScheme("rsa", HASH_SHA2_256)),
    ("rsa", SignatureScheme("rsa", HASH_SHA1)),
    ("rsa", SignatureScheme.rsa_pss(HASH_SHA2_384)),
    ("p256", SignatureScheme("ecdsa", HASH_SHA2_256)),
    ("p521", SignatureScheme("ecdsa", HASH_SHA2_512)),
    ("ed25519", SignatureScheme("ed25519", HASH_IDENTITY)),
    ("ed448", SignatureScheme("ed448", HASH_IDENTITY)),
]


@pytest.mark.parametrize(("key_name", "scheme"), SCHEMES)
def test_sign_and_verify(key_name: str, scheme: SignatureScheme) -> None:
    key = KEYS[key_name]()
    data = b"RealMessage1 | NonceRData | MACedIDForI"
    signature = sign(key, scheme, data)  # type: ignore[arg-type]
    verify(key.public_key(), scheme, data, signature)  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):
        verify(key.public_key(), scheme, data + b"!", signature)  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):
        verify(key.public_key(), scheme, data, signature[:-1] + bytes((signature[-1] ^ 1,)))  # type: ignore[arg-type]


def test_key_and_scheme_must_match() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(CryptoError):
        sign(key, SignatureScheme("rsa", HASH_SHA2_256), b"x")
    with pytest.raises(IntegrityError):
        verify(key.public_key(), SignatureScheme("rsa", HASH_SHA2_256), b"x", b"sig")
    with pytest.raises(ValueError):
        SignatureScheme("ed25519", HASH_SHA2_256)


def test_ecdsa_raw_form() -> None:
    """RFC 4754 §7: r | s, each as long as the curve's order (66 octets for P-521)."""
    key = ec.generate_private_key(ec.SECP521R1())
    der = sign(key, SignatureScheme("ecdsa", HASH_SHA2_512), b"data")
    raw = ecdsa_der_to_raw(der, 521)
    assert len(raw) == 132
    assert ecdsa_raw_to_der(raw) == der
    with pytest.raises(IntegrityError):
        ecdsa_raw_to_der(b"\x01\x02\x03")


def test_md4_rfc1320_suite() -> None:
    doc = json.loads((VECTORS / "md4_rfc1320.json").read_text())
    for message, digest in doc["cases"]:
        assert md4(message.encode()).hex() == digest
