"""Signature schemes for IKEv2 authentication (RFC 7296 §3.8, RFC 4754, RFC 7427, RFC 8420).

A :class:`SignatureScheme` names what a signature is: the key type, the hash
(by its RFC 7427 §7 Hash Algorithm Identifier) and, for RSA, the padding.
It knows its ASN.1 AlgorithmIdentifier (RFC 7427 §3), and
:func:`parse_algorithm_identifier` maps the identifiers a peer may send back
to a scheme. :func:`sign` and :func:`verify` run it with ``cryptography``.

ECDSA signatures are DER ``ECDSA-Sig-Value`` here (RFC 3279 §2.2.3, what RFC
7427 carries); the fixed-size ``r | s`` form of RFC 4754 §7 (AUTH methods
9-11) is converted with :func:`ecdsa_der_to_raw` / :func:`ecdsa_raw_to_der`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from ikeclient.crypto.der import (
    NULL,
    SEQUENCE,
    DerReader,
    context,
    encode_integer,
    encode_oid,
    tlv,
)
from ikeclient.errors import CryptoError, IntegrityError, UnsupportedAlgorithm

__all__ = [
    "HASH_IDENTITY",
    "HASH_SHA1",
    "HASH_SHA2_256",
    "HASH_SHA2_384",
    "HASH_SHA2_512",
    "PrivateKey",
    "PublicKey",
    "SignatureScheme",
    "ecdsa_der_to_raw",
    "ecdsa_raw_to_der",
    "key_type",
    "parse_algorithm_identifier",
    "sign",
    "verify",
]

PrivateKey: TypeAlias = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)
PublicKey: TypeAlias = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)

# Hash Algorithm Identifiers (RFC 7427 §7; IDENTITY: RFC 8420 §2).
HASH_SHA1 = 1
HASH_SHA2_256 = 2
HASH_SHA2_384 = 3
HASH_SHA2_512 = 4
HASH_IDENTITY = 5

_HASHES: dict[int, tuple[type[hashes.HashAlgorithm], str, int]] = {
    # id: (hash class, OID, output size)
    HASH_SHA1: (hashes.SHA1, "1.3.14.3.2.26", 20),
    HASH_SHA2_256: (hashes.SHA256, "2.16.840.1.101.3.4.2.1", 32),
    HASH_SHA2_384: (hashes.SHA384, "2.16.840.1.101.3.4.2.2", 48),
    HASH_SHA2_512: (hashes.SHA512, "2.16.840.1.101.3.4.2.3", 64),
}
_HASH_BY_OID = {oid: hash_id for hash_id, (_, oid, _) in _HASHES.items()}
_HASH_NAMES = {HASH_SHA1: "sha1", HASH_SHA2_256: "sha256", HASH_SHA2_384: "sha384"}
_HASH_NAMES[HASH_SHA2_512] = "sha512"

_RSA_PKCS1_OIDS = {
    HASH_SHA1: "1.2.840.113549.1.1.5",  # sha1WithRSAEncryption
    HASH_SHA2_256: "1.2.840.113549.1.1.11",  # sha256WithRSAEncryption (RFC 4055 §5)
    HASH_SHA2_384: "1.2.840.113549.1.1.12",
    HASH_SHA2_512: "1.2.840.113549.1.1.13",
}
_ECDSA_OIDS = {
    HASH_SHA1: "1.2.840.10045.4.1",  # ecdsa-with-SHA1 (RFC 3279 §2.2.3)
    HASH_SHA2_256: "1.2.840.10045.4.3.2",  # ecdsa-with-SHA256 (RFC 5758 §3.2)
    HASH_SHA2_384: "1.2.840.10045.4.3.3",
    HASH_SHA2_512: "1.2.840.10045.4.3.4",
}
_RSASSA_PSS = "1.2.840.113549.1.1.10"  # RFC 4055 §3.1
_MGF1 = "1.2.840.113549.1.1.8"
_ED25519 = "1.3.101.112"  # RFC 8410 §3
_ED448 = "1.3.101.113"
_PKCS1_BY_OID = {oid: h for h, oid in _RSA_PKCS1_OIDS.items()}
_ECDSA_BY_OID = {oid: h for h, oid in _ECDSA_OIDS.items()}


@dataclass(frozen=True, slots=True)
class SignatureScheme:
    """One way of signing: ``key`` is rsa, ecdsa, ed25519 or ed448.

    ``hash_id`` is the RFC 7427 hash (IDENTITY for EdDSA, which signs the
    message itself); RSA uses PKCS#1 v1.5 unless ``pss`` (then MGF1 with the
    same hash and ``salt_length`` bytes of salt, RFC 8017 §9.1).
    """

    key: str
    hash_id: int
    pss: bool = False
    salt_length: int = 0

    def __post_init__(self) -> None:
        if self.key in ("ed25519", "ed448"):
            if self.hash_id != HASH_IDENTITY:
                raise ValueError("EdDSA signs with the identity hash")
        elif self.hash_id not in _HASHES:
            raise ValueError(f"hash {self.hash_id} is not a signature hash")

    @classmethod
    def rsa_pss(cls, hash_id: int) -> SignatureScheme:
        """RSASSA-PSS with MGF1 of the same hash and a salt as long as the hash (RFC 8017 §9.1)."""
        return cls("rsa", hash_id, pss=True, salt_length=_HASHES[hash_id][2])

    def __str__(self) -> str:
        if self.key in ("ed25519", "ed448"):
            return self.key.capitalize()
        name = _HASH_NAMES[self.hash_id]
        if self.key == "rsa":
            return f"RSA-PSS-{name.upper()}" if self.pss else f"RSA-PKCS1-{name.upper()}"
        return f"ECDSA-{name.upper()}"

    @property
    def hash_algorithm(self) -> hashes.HashAlgorithm | None:
        """The ``cryptography`` hash, or None for EdDSA."""
        entry = _HASHES.get(self.hash_id)
        return entry[0]() if entry is not None else None

    def algorithm_identifier(self) -> bytes:
        """The DER AlgorithmIdentifier of this scheme (RFC 7427 §3, Appendix A)."""
        if self.key == "ed25519":
            return tlv(SEQUENCE, tlv(0x06, encode_oid(_ED25519)))
        if self.key == "ed448":
            return tlv(SEQUENCE, tlv(0x06, encode_oid(_ED448)))
        if self.key == "ecdsa":
            return tlv(SEQUENCE, tlv(0x06, encode_oid(_ECDSA_OIDS[self.hash_id])))
        if not self.pss:
            oid = tlv(0x06, encode_oid(_RSA_PKCS1_OIDS[self.hash_id]))
            return tlv(SEQUENCE, oid + tlv(NULL, b""))
        # RSASSA-PSS-params (RFC 4055 §3.1), every field written out as strongSwan does.
        hash_aid = tlv(SEQUENCE, tlv(0x06, encode_oid(_HASHES[self.hash_id][1])) + tlv(NULL, b""))
        mgf = tlv(SEQUENCE, tlv(0x06, encode_oid(_MGF1)) + hash_aid)
        params = tlv(
            SEQUENCE,
            tlv(context(0), hash_aid)
            + tlv(context(1), mgf)
            + tlv(context(2), tlv(0x02, encode_integer(self.salt_length))),
        )
        return tlv(SEQUENCE, tlv(0x06, encode_oid(_RSASSA_PSS)) + params)


def _hash_aid(reader: DerReader) -> int:
    """A hash AlgorithmIdentifier, parameters absent or NULL (RFC 4055 §2.1)."""
    inner = DerReader(reader.read(SEQUENCE))
    oid = inner.read_oid()
    if not inner.at_end():
        inner.read(NULL)
    inner.finish()
    hash_id = _HASH_BY_OID.get(oid)
    if hash_id is None:
        raise UnsupportedAlgorithm(f"unknown hash algorithm {oid}")
    return hash_id


def _pss_params(content: bytes) -> SignatureScheme:
    """RSASSA-PSS-params (RFC 4055 §3.1) with their DEFAULTs (SHA-1, MGF1-SHA-1, 20, 1)."""
    reader = DerReader(content)
    hash_id, mgf_hash, salt, trailer = HASH_SHA1, HASH_SHA1, 20, 1
    if reader.peek_tag() == context(0):
        hash_id = _hash_aid(DerReader(reader.read(context(0))))
    if reader.peek_tag() == context(1):
        mgf = DerReader(DerReader(reader.read(context(1))).read(SEQUENCE))
        if mgf.read_oid() != _MGF1:
            raise UnsupportedAlgorithm("RSASSA-PSS with a mask generation function other than MGF1")
        mgf_hash = _hash_aid(mgf)
        mgf.finish()
    if reader.peek_tag() == context(2):
        salt = DerReader(reader.read(context(2))).read_integer()
    if reader.peek_tag() == context(3):
        trailer = DerReader(reader.read(context(3))).read_integer()
    reader.finish()
    if trailer != 1:
        raise CryptoError(f"RSASSA-PSS trailer field {trailer} (RFC 4055: must be 1)")
    if mgf_hash != hash_id:
        raise UnsupportedAlgorithm("RSASSA-PSS with an MGF1 hash other than the message hash")
    if salt > 512:
        raise CryptoError(f"RSASSA-PSS salt of {salt} bytes")
    return SignatureScheme("rsa", hash_id, pss=True, salt_length=salt)


def parse_algorithm_identifier(der: bytes) -> SignatureScheme:
    """The scheme an RFC 7427 AlgorithmIdentifier names; raises for anything else.

    ``UnsupportedAlgorithm`` for a well-formed identifier this client does not
    implement, ``CryptoError`` for a malformed one.
    """
    outer = DerReader(der)
    reader = DerReader(outer.read(SEQUENCE))
    outer.finish()
    oid = reader.read_oid()
    if oid in _PKCS1_BY_OID:
        if not reader.at_end():
            reader.read(NULL)  # RFC 4055 §5: NULL parameters (absent is tolerated)
        reader.finish()
        return SignatureScheme("rsa", _PKCS1_BY_OID[oid])
    if oid in _ECDSA_BY_OID:
        reader.finish()  # RFC 5758 §3.2: parameters absent
        return SignatureScheme("ecdsa", _ECDSA_BY_OID[oid])
    if oid in (_ED25519, _ED448):
        reader.finish()
        return SignatureScheme("ed25519" if oid == _ED25519 else "ed448", HASH_IDENTITY)
    if oid == _RSASSA_PSS:
        params = reader.read(SEQUENCE) if not reader.at_end() else b""
        reader.finish()
        return _pss_params(params)
    raise UnsupportedAlgorithm(f"unknown signature algorithm {oid}")


def key_type(key: PrivateKey | PublicKey) -> str:
    """rsa, ecdsa, ed25519 or ed448."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "rsa"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "ecdsa"
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(key, ed448.Ed448PrivateKey | ed448.Ed448PublicKey):
        return "ed448"
    raise UnsupportedAlgorithm(f"{type(key).__name__} keys cannot make IKE signatures")


def _rsa_padding(scheme: SignatureScheme) -> padding.AsymmetricPadding:
    algorithm = scheme.hash_algorithm
    if not scheme.pss or algorithm is None:
        return padding.PKCS1v15()
    return padding.PSS(mgf=padding.MGF1(algorithm), salt_length=scheme.salt_length)


def sign(key: PrivateKey, scheme: SignatureScheme, data: bytes) -> bytes:
    """Sign ``data``; ECDSA signatures come out DER-encoded."""
    kind = key_type(key)
    if kind != scheme.key:
        raise CryptoError(f"a {kind} key cannot make a {scheme} signature")
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return key.sign(data)
    algorithm = scheme.hash_algorithm
    if algorithm is None:  # pragma: no cover - __post_init__ forbids it
        raise CryptoError(f"{scheme} has no hash")
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, _rsa_padding(scheme), algorithm)
    return key.sign(data, ec.ECDSA(algorithm))


def verify(key: PublicKey, scheme: SignatureScheme, data: bytes, signature: bytes) -> None:
    """Raise ``IntegrityError`` unless ``signature`` over ``data`` verifies with ``key``."""
    kind = key_type(key)
    if kind != scheme.key:
        raise IntegrityError(f"a {scheme} signature cannot come from a {kind} key")
    try:
        if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
            return
        algorithm = scheme.hash_algorithm
        if algorithm is None:  # pragma: no cover - __post_init__ forbids it
            raise CryptoError(f"{scheme} has no hash")
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, _rsa_padding(scheme), algorithm)
        else:
            key.verify(signature, data, ec.ECDSA(algorithm))
    except InvalidSignature:
        raise IntegrityError(f"the {scheme} signature does not verify") from None
    except ValueError as exc:  # malformed DER, wrong length
        raise IntegrityError(f"the {scheme} signature is malformed: {exc}") from None


def ecdsa_der_to_raw(der: bytes, curve_bits: int) -> bytes:
    """DER ECDSA-Sig-Value → ``r | s``, each as long as the curve order (RFC 4754 §7)."""
    r, s = decode_dss_signature(der)
    size = (curve_bits + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def ecdsa_raw_to_der(raw: bytes) -> bytes:
    """``r | s`` (RFC 4754 §7) → DER ECDSA-Sig-Value; the halves must be equally long."""
    if not raw or len(raw) % 2:
        raise IntegrityError(f"an ECDSA signature of {len(raw)} bytes cannot be r | s")
    half = len(raw) // 2
    return encode_dss_signature(
        int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
    )
