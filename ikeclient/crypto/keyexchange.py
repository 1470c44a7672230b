"""Key exchange methods for the KE payload (RFC 7296 §1.2, §3.4).

* MODP groups 1 and 2 (RFC 2409 §6) and 5, 14-18 (RFC 3526), generator 2.
  Key Exchange Data is g^x mod p, big-endian, zero-padded to the length of
  the prime; the shared secret likewise (RFC 7296 §2.14). Peer values must
  satisfy 1 < y < p-1 (RFC 6989 §2.1).
* ECP groups 19, 20, 21 (RFC 5903 §7): Key Exchange Data is x | y with fixed
  length coordinates and no point-format octet; the shared secret is the x
  coordinate only, fixed length. Peer points must be on the curve.
* Curve25519 and Curve448 (RFC 8031 §2): raw 32/56-byte values; an all-zero
  shared secret is rejected.

Private values are drawn from the injected :class:`RandomSource`, so tests
can replay an exchange; the arithmetic itself is done by ``cryptography``.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dh, ec, x448, x25519
from cryptography.utils import CryptographyDeprecationWarning

from ikeclient.crypto.random import RandomSource
from ikeclient.crypto.transforms import KeGroup
from ikeclient.errors import CryptoError, InvalidPublicValue, UnsupportedAlgorithm

__all__ = ["KeyExchange", "create_key_exchange", "supported_ke_groups"]

# Primes of the MODP groups, 2^n - 2^(n-64) - 1 + 2^64 * ([2^(n-130) pi] + k):
# RFC 2409 §6.1, §6.2 (groups 1, 2) and RFC 3526 §2-§7 (groups 5, 14-18).
# tests/crypto/test_keyexchange.py recomputes them from that formula.
_MODP_PRIMES: Final[dict[KeGroup, str]] = {
    KeGroup.MODP768: (
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
        "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
        "4FE1356D6D51C245E485B576625E7EC6F44C42E9A63A3620FFFFFFFFFFFFFFFF"
    ),
    KeGroup.MODP1024: (
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
        "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
        "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF"
    ),
    KeGroup.MODP1536: (
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
        "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
        "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
        "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
        "9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF"
    ),
    KeGroup.MODP2048: (
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
        "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
        "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
        "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
        "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
        "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
        "3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF"
    ),
    KeGroup.MODP3072: (
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
        "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
        "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
        "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
        "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
        "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
        "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33"
        "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
        "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864"
        "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2"
        "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
    ),
    KeGroup.MODP4096: (
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
        "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
        "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
        "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
        "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
        "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
        "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33"
        "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
        "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864"
        "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2"
        "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D7"
        "88719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8"
        "DBBBC2DB04DE8EF92E8EFC141FBECAA6287C59474E6BC05D99B2964FA090C3A2"
        "233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA9"
        "93B4EA988D8FDDC186FFB7DC90A6C08F4DF435C934063199FFFFFFFFFFFFFFFF"
    ),
    KeGroup.MODP6144: (
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
        "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
        "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
        "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
        "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
        "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
        "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33"
        "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
        "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864"
        "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2"
        "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D7"
        "88719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8"
        "DBBBC2DB04DE8EF92E8EFC141FBECAA6287C59474E6BC05D99B2964FA090C3A2"
        "233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA9"
        "93B4EA988D8FDDC186FFB7DC90A6C08F4DF435C93402849236C3FAB4D27C7026"
        "C1D4DCB2602646DEC9751E763DBA37BDF8FF9406AD9E530EE5DB382F413001AE"
        "B06A53ED9027D831179727B0865A8918DA3EDBEBCF9B14ED44CE6CBACED4BB1B"
        "DB7F1447E6CC254B332051512BD7AF426FB8F401378CD2BF5983CA01C64B92EC"
        "F032EA15D1721D03F482D7CE6E74FEF6D55E702F46980C82B5A84031900B1C9E"
        "59E7C97FBEC7E8F323A97A7E36CC88BE0F1D45B7FF585AC54BD407B22B4154AA"
        "CC8F6D7EBF48E1D814CC5ED20F8037E0A79715EEF29BE32806A1D58BB7C5DA76"
        "F550AA3D8A1FBFF0EB19CCB1A313D55CDA56C9EC2EF29632387FE8D76E3C0468"
        "043E8F663F4860EE12BF2D5B0B7474D6E694F91E6DCC4024FFFFFFFFFFFFFFFF"
    ),
    KeGroup.MODP8192: (
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
        "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
        "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
        "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
        "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
        "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
        "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33"
        "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
        "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864"
        "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2"
        "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D7"
        "88719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8"
        "DBBBC2DB04DE8EF92E8EFC141FBECAA6287C59474E6BC05D99B2964FA090C3A2"
        "233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA9"
        "93B4EA988D8FDDC186FFB7DC90A6C08F4DF435C93402849236C3FAB4D27C7026"
        "C1D4DCB2602646DEC9751E763DBA37BDF8FF9406AD9E530EE5DB382F413001AE"
        "B06A53ED9027D831179727B0865A8918DA3EDBEBCF9B14ED44CE6CBACED4BB1B"
        "DB7F1447E6CC254B332051512BD7AF426FB8F401378CD2BF5983CA01C64B92EC"
        "F032EA15D1721D03F482D7CE6E74FEF6D55E702F46980C82B5A84031900B1C9E"
        "59E7C97FBEC7E8F323A97A7E36CC88BE0F1D45B7FF585AC54BD407B22B4154AA"
        "CC8F6D7EBF48E1D814CC5ED20F8037E0A79715EEF29BE32806A1D58BB7C5DA76"
        "F550AA3D8A1FBFF0EB19CCB1A313D55CDA56C9EC2EF29632387FE8D76E3C0468"
        "043E8F663F4860EE12BF2D5B0B7474D6E694F91E6DBE115974A3926F12FEE5E4"
        "38777CB6A932DF8CD8BEC4D073B931BA3BC832B68D9DD300741FA7BF8AFC47ED"
        "2576F6936BA424663AAB639C5AE4F5683423B4742BF1C978238F16CBE39D652D"
        "E3FDB8BEFC848AD922222E04A4037C0713EB57A81A23F0C73473FC646CEA306B"
        "4BCBC8862F8385DDFA9D4B7FA2C087E879683303ED5BDD3A062B3CF5B3A278A6"
        "6D2A13F83F44F82DDF310EE074AB6A364597E899A0255DC164F31CC50846851D"
        "F9AB48195DED7EA1B1D510BD7EE74D73FAF36BC31ECFA268359046F4EB879F92"
        "4009438B481C6CD7889A002ED5EE382BC9190DA6FC026E479558E4475677E9AA"
        "9E3050E2765694DFC81F56E880B96E7160C980DD98EDD3DFFFFFFFFFFFFFFFFF"
    ),
}
_MODP_GENERATOR: Final = 2

# Private exponent lengths in bytes: about twice each group's security strength,
# at or above the upper exponent sizes suggested by RFC 3526 §8.
_MODP_EXPONENT_BYTES: Final[dict[KeGroup, int]] = {
    KeGroup.MODP768: 32,
    KeGroup.MODP1024: 32,
    KeGroup.MODP1536: 32,
    KeGroup.MODP2048: 40,
    KeGroup.MODP3072: 56,
    KeGroup.MODP4096: 64,
    KeGroup.MODP6144: 72,
    KeGroup.MODP8192: 80,
}

# RFC 5903 §3: curve, coordinate length in bytes, group order n.
_ECP_GROUPS: Final[dict[KeGroup, tuple[type[ec.EllipticCurve], int, int]]] = {
    KeGroup.ECP256: (
        ec.SECP256R1,
        32,
        0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    ),
    KeGroup.ECP384: (
        ec.SECP384R1,
        48,
        int(
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
            "581A0DB248B0A77AECEC196ACCC52973",
            16,
        ),
    ),
    KeGroup.ECP521: (
        ec.SECP521R1,
        66,
        int(
            "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
            "FA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
            16,
        ),
    ),
}

_X_KEY_SIZES: Final[dict[KeGroup, int]] = {KeGroup.CURVE25519: 32, KeGroup.CURVE448: 56}


def supported_ke_groups() -> tuple[KeGroup, ...]:
    """The key exchange methods :func:`create_key_exchange` implements."""
    return (*_MODP_PRIMES, *_ECP_GROUPS, *_X_KEY_SIZES)


class KeyExchange(ABC):
    """One side of a key exchange: our public value and the shared-secret step.

    ``public_value`` is exactly the KE payload's Key Exchange Data
    (RFC 7296 §3.4). The private value never appears in a repr.
    """

    __slots__ = ("group", "public_value")

    group: KeGroup
    public_value: bytes

    def __init__(self, group: KeGroup, public_value: bytes) -> None:
        self.group = group
        self.public_value = public_value

    @abstractmethod
    def compute_shared_secret(self, peer_value: bytes) -> bytes:
        """Return g^ir for the peer's Key Exchange Data (RFC 7296 §2.14).

        Raises :class:`InvalidPublicValue` for a value of the wrong length, out
        of range, off the curve, or giving an all-zero secret.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}(group={self.group.name})"


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def _der(tag: int, value: bytes) -> bytes:
    return bytes((tag,)) + _der_length(len(value)) + value


def _der_integer(n: int) -> bytes:
    return _der(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big"))


@contextmanager
def _ffdh_deprecation_silenced() -> Iterator[None]:
    """Silence cryptography's FFDH deprecation warning (raised on attribute access of ``dh``).

    IKEv2 still negotiates MODP groups with many gateways; the warning is about
    cryptography's roadmap, not something a VPN user can act on.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        yield


# PKCS #3 dhKeyAgreement, 1.2.840.113549.1.3.1
_DH_KEY_AGREEMENT_OID: Final = bytes.fromhex("06092a864886f70d010301")


class _ModpKeyExchange(KeyExchange):
    """Finite-field Diffie-Hellman over a MODP group (RFC 3526, RFC 2409 §6)."""

    __slots__ = ("_parameters", "_prime", "_private_key")

    def __init__(self, group: KeGroup, rng: RandomSource) -> None:
        prime = int(_MODP_PRIMES[group], 16)
        size = (prime.bit_length() + 7) // 8
        exponent_bytes = _MODP_EXPONENT_BYTES[group]
        # A full-length exponent: top bit set, so never 0 or 1.
        x = int.from_bytes(rng.random_bytes(exponent_bytes), "big") | (
            1 << (8 * exponent_bytes - 1)
        )
        # Loading PKCS #8 (p, g, x) lets OpenSSL compute g^x, much faster than
        # Python's pow(); the key is the same as DHPrivateNumbers would give.
        params = _der(0x30, _der_integer(prime) + _der_integer(_MODP_GENERATOR))
        pkcs8 = _der(
            0x30,
            _der_integer(0)
            + _der(0x30, _DH_KEY_AGREEMENT_OID + params)
            + _der(0x04, _der_integer(x)),
        )
        with _ffdh_deprecation_silenced():
            private_key = serialization.load_der_private_key(pkcs8, password=None)
            if not isinstance(private_key, dh.DHPrivateKey):  # pragma: no cover - defensive
                raise CryptoError("could not build the MODP private key")
            y = private_key.public_key().public_numbers().y
            parameters = dh.DHParameterNumbers(prime, _MODP_GENERATOR)
        super().__init__(group, y.to_bytes(size, "big"))
        self._prime = prime
        self._parameters = parameters
        self._private_key = private_key

    def compute_shared_secret(self, peer_value: bytes) -> bytes:
        size = len(self.public_value)
        if len(peer_value) != size:
            raise InvalidPublicValue(
                f"{self.group.name} public value must be {size} bytes, got {len(peer_value)}"
            )
        y = int.from_bytes(peer_value, "big")
        if not 1 < y < self._prime - 1:
            raise InvalidPublicValue(f"{self.group.name} public value out of range")
        try:
            with _ffdh_deprecation_silenced():
                peer_key = dh.DHPublicNumbers(y, self._parameters).public_key()
                secret = self._private_key.exchange(peer_key)
        except ValueError as exc:
            raise InvalidPublicValue(f"{self.group.name} public value rejected") from exc
        return secret.rjust(size, b"\x00")


class _EcpKeyExchange(KeyExchange):
    """ECDH over a NIST prime curve with RFC 5903 §7 encodings."""

    __slots__ = ("_coordinate_size", "_curve", "_private_key")

    def __init__(self, group: KeGroup, rng: RandomSource) -> None:
        curve_type, coordinate_size, order = _ECP_GROUPS[group]
        curve = curve_type()
        bits = order.bit_length()
        nbytes = (bits + 7) // 8
        mask = (1 << bits) - 1
        while True:  # rejection sampling of 1 <= d < n
            d = int.from_bytes(rng.random_bytes(nbytes), "big") & mask
            if 1 <= d < order:
                break
        self._private_key = ec.derive_private_key(d, curve)
        numbers = self._private_key.public_key().public_numbers()
        super().__init__(
            group,
            numbers.x.to_bytes(coordinate_size, "big") + numbers.y.to_bytes(coordinate_size, "big"),
        )
        self._curve = curve
        self._coordinate_size = coordinate_size

    def compute_shared_secret(self, peer_value: bytes) -> bytes:
        size = 2 * self._coordinate_size
        if len(peer_value) != size:
            raise InvalidPublicValue(
                f"{self.group.name} public value must be {size} bytes, got {len(peer_value)}"
            )
        try:
            peer_key = ec.EllipticCurvePublicKey.from_encoded_point(
                self._curve, b"\x04" + peer_value
            )
            secret = self._private_key.exchange(ec.ECDH(), peer_key)
        except ValueError as exc:
            raise InvalidPublicValue(f"{self.group.name} point is not on the curve") from exc
        return secret.rjust(self._coordinate_size, b"\x00")


class _MontgomeryKeyExchange(KeyExchange):
    """X25519 / X448 (RFC 7748 §5) as used by IKEv2 (RFC 8031 §2)."""

    __slots__ = ("_private_key",)

    def __init__(self, group: KeGroup, rng: RandomSource) -> None:
        private_bytes = rng.random_bytes(_X_KEY_SIZES[group])
        private_key: x25519.X25519PrivateKey | x448.X448PrivateKey
        if group is KeGroup.CURVE25519:
            private_key = x25519.X25519PrivateKey.from_private_bytes(private_bytes)
        else:
            private_key = x448.X448PrivateKey.from_private_bytes(private_bytes)
        super().__init__(group, private_key.public_key().public_bytes_raw())
        self._private_key = private_key

    def compute_shared_secret(self, peer_value: bytes) -> bytes:
        size = _X_KEY_SIZES[self.group]
        if len(peer_value) != size:
            raise InvalidPublicValue(
                f"{self.group.name} public value must be {size} bytes, got {len(peer_value)}"
            )
        try:
            if isinstance(self._private_key, x25519.X25519PrivateKey):
                secret = self._private_key.exchange(
                    x25519.X25519PublicKey.from_public_bytes(peer_value)
                )
            else:
                secret = self._private_key.exchange(
                    x448.X448PublicKey.from_public_bytes(peer_value)
                )
        except ValueError as exc:  # OpenSSL refuses small-order points (all-zero secret)
            raise InvalidPublicValue(f"{self.group.name} shared secret is all zero") from exc
        if not any(secret):  # RFC 8031 §2: MUST check for the all-zero value
            raise InvalidPublicValue(f"{self.group.name} shared secret is all zero")
        return secret


def create_key_exchange(group: int, rng: RandomSource) -> KeyExchange:
    """Start a key exchange in ``group`` (a Transform Type 4 ID) with a private value from ``rng``.

    Raises :class:`UnsupportedAlgorithm` for a group this build does not implement.
    """
    try:
        ke_group = KeGroup(group)
    except ValueError:
        raise UnsupportedAlgorithm(f"unsupported key exchange method {group}") from None
    if ke_group in _MODP_PRIMES:
        return _ModpKeyExchange(ke_group, rng)
    if ke_group in _ECP_GROUPS:
        return _EcpKeyExchange(ke_group, rng)
    if ke_group in _X_KEY_SIZES:
        return _MontgomeryKeyExchange(ke_group, rng)
    raise UnsupportedAlgorithm(f"unsupported key exchange method {ke_group.name}")
