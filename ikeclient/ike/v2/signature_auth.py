"""Signature AUTH payloads: methods 1, 9-11 and 14 (RFC 7296 §3.8, RFC 4754 §7, RFC 7427 §3).

    AUTH method 1  (RSA Digital Signature): RSASSA-PKCS1-v1_5 with SHA-1 (RFC 7296 §3.8)
    AUTH method 9  (ECDSA with SHA-256 on the P-256 curve), 10 (SHA-384, P-384),
               11 (SHA-512, P-521): r | s, fixed size (RFC 4754 §7)
    AUTH method 14 (Digital Signature, RFC 7427 §3):

        | ASN.1 Length | AlgorithmIdentifier ASN.1 object (DER) | Signature Value |

What is signed is the side's SignedOctets (RFC 7296 §2.15). With method 14
the hash must be one the peer announced in SIGNATURE_HASH_ALGORITHMS (RFC
7427 §4); EdDSA announces and uses the Identity "hash" (RFC 8420 §2).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from cryptography.hazmat.primitives.asymmetric import ec

from ikeclient.crypto.signature import (
    HASH_IDENTITY,
    HASH_SHA1,
    HASH_SHA2_256,
    HASH_SHA2_384,
    HASH_SHA2_512,
    PrivateKey,
    PublicKey,
    SignatureScheme,
    ecdsa_der_to_raw,
    ecdsa_raw_to_der,
    key_type,
    parse_algorithm_identifier,
    sign,
    verify,
)
from ikeclient.errors import AuthenticationFailed, CryptoError, IntegrityError
from ikeclient.ike.v2.enums import AuthMethod

__all__ = [
    "OUR_SIGNATURE_HASHES",
    "build_signature_auth",
    "choose_signature",
    "verify_signature_auth",
]

#: What we announce in SIGNATURE_HASH_ALGORITHMS and accept in method 14 (RFC 7427 §4).
OUR_SIGNATURE_HASHES = (HASH_SHA2_256, HASH_SHA2_384, HASH_SHA2_512, HASH_IDENTITY)

# RFC 4754 §7: each ECDSA method fixes the curve and the hash.
_ECDSA_METHODS: dict[str, tuple[int, int]] = {
    "secp256r1": (AuthMethod.ECDSA_256, HASH_SHA2_256),
    "secp384r1": (AuthMethod.ECDSA_384, HASH_SHA2_384),
    "secp521r1": (AuthMethod.ECDSA_521, HASH_SHA2_512),
}
_CURVE_OF_METHOD = {method: curve for curve, (method, _) in _ECDSA_METHODS.items()}
_CURVE_BITS = {"secp256r1": 256, "secp384r1": 384, "secp521r1": 521}


def choose_signature(
    key: PrivateKey, peer_hashes: Sequence[int], mode: str = "auto", rsa_pss: bool = False
) -> tuple[int, SignatureScheme]:
    """The AUTH method and scheme to sign with.

    ``mode``: ``auto`` uses RFC 7427 when the gateway announced hashes and the
    classic methods otherwise; ``rfc7427`` insists on method 14; ``classic``
    uses methods 1 and 9-11 only. RSA-PSS exists only in method 14.
    """
    kind = key_type(key)
    curve = key.curve.name if isinstance(key, ec.EllipticCurvePrivateKey) else None
    use_7427 = mode == "rfc7427" or (mode == "auto" and bool(peer_hashes))
    if mode == "rfc7427" and not peer_hashes:
        raise AuthenticationFailed(
            "the profile asks for RFC 7427 signatures, but the gateway did not announce "
            "SIGNATURE_HASH_ALGORITHMS"
        )
    if not use_7427 or kind not in ("rsa", "ecdsa", "ed25519", "ed448"):
        return _classic(kind, curve)
    if kind in ("ed25519", "ed448"):
        if HASH_IDENTITY not in peer_hashes:
            raise AuthenticationFailed(
                f"an {kind} key signs with the Identity hash (RFC 8420), which the gateway did "
                "not announce"
            )
        return AuthMethod.DIGITAL_SIGNATURE, SignatureScheme(kind, HASH_IDENTITY)
    preferred = [HASH_SHA2_256, HASH_SHA2_384, HASH_SHA2_512]
    if curve is not None:
        first = _ECDSA_METHODS.get(curve, (0, HASH_SHA2_256))[1]
        preferred.remove(first)
        preferred.insert(0, first)
    for hash_id in preferred:
        if hash_id in peer_hashes:
            if kind == "rsa" and rsa_pss:
                return AuthMethod.DIGITAL_SIGNATURE, SignatureScheme.rsa_pss(hash_id)
            return AuthMethod.DIGITAL_SIGNATURE, SignatureScheme(kind, hash_id)
    if mode == "rfc7427" or rsa_pss:
        raise AuthenticationFailed("the gateway announced no SHA-2 hash for RFC 7427 signatures")
    return _classic(kind, curve)


def _classic(kind: str, curve: str | None) -> tuple[int, SignatureScheme]:
    if kind == "rsa":
        return AuthMethod.RSA_SIG, SignatureScheme("rsa", HASH_SHA1)
    if kind == "ecdsa" and curve in _ECDSA_METHODS:
        method, hash_id = _ECDSA_METHODS[curve]
        return method, SignatureScheme("ecdsa", hash_id)
    raise AuthenticationFailed(
        f"a {curve or kind} key can only sign with RFC 7427 (AUTH method 14), which the gateway "
        "did not announce (SIGNATURE_HASH_ALGORITHMS)"
    )


def build_signature_auth(
    key: PrivateKey, method: int, scheme: SignatureScheme, octets: bytes
) -> bytes:
    """The Authentication Data of our AUTH payload."""
    signature = sign(key, scheme, octets)
    if method == AuthMethod.DIGITAL_SIGNATURE:
        aid = scheme.algorithm_identifier()
        return bytes((len(aid),)) + aid + signature
    if method in _CURVE_OF_METHOD:
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return ecdsa_der_to_raw(signature, key.curve.key_size)
    return signature


def verify_signature_auth(
    key: PublicKey, method: int, data: bytes, octets: bytes, accepted_hashes: Collection[int]
) -> SignatureScheme:
    """Check the gateway's signature AUTH; returns the scheme it used.

    Raises ``AuthenticationFailed`` when the method, the hash or the key type
    does not fit, or the signature does not verify.
    """
    try:
        key_type(key)  # a key type that cannot sign raises UnsupportedAlgorithm (a CryptoError)
        if method == AuthMethod.DIGITAL_SIGNATURE:
            if not data or len(data) < 1 + data[0]:
                raise AuthenticationFailed("the gateway's RFC 7427 AUTH payload is truncated")
            scheme = parse_algorithm_identifier(data[1 : 1 + data[0]])
            signature = data[1 + data[0] :]
            if scheme.hash_id not in accepted_hashes:
                raise AuthenticationFailed(
                    f"the gateway signed with {scheme}, a hash this client did not announce"
                )
        elif method == AuthMethod.RSA_SIG:
            scheme, signature = SignatureScheme("rsa", HASH_SHA1), data
        elif method in _CURVE_OF_METHOD:
            curve = _CURVE_OF_METHOD[method]
            if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != curve:
                raise AuthenticationFailed(
                    f"AUTH method {method} needs a {curve} key in the gateway's certificate"
                )
            if len(data) != 2 * ((_CURVE_BITS[curve] + 7) // 8):
                raise AuthenticationFailed(f"ECDSA AUTH of {len(data)} bytes for {curve}")
            scheme = SignatureScheme("ecdsa", _ECDSA_METHODS[curve][1])
            signature = ecdsa_raw_to_der(data)
        else:
            raise AuthenticationFailed(
                f"the gateway authenticated with AUTH method {method}, which this profile "
                "does not accept for certificates (1, 9, 10, 11 or 14)"
            )
        verify(key, scheme, octets, signature)
    except IntegrityError as exc:
        raise AuthenticationFailed(
            f"the gateway's AUTH signature does not verify with its certificate's key ({exc})"
        ) from None
    except CryptoError as exc:
        raise AuthenticationFailed(f"the gateway's signature AUTH is unusable: {exc}") from None
    return scheme
