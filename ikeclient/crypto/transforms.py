"""IANA transform identifiers for IKEv2 (RFC 7296 §3.3.2, IANA "IKEv2 Parameters").

Every registry is an ``IntEnum`` so values read from the wire compare and print
by name, while unknown numbers can still be kept as plain ints by the codec.
Only the members named here are implemented by :mod:`ikeclient.crypto` unless
stated otherwise; the extra members exist so logs and proposals print names.
"""

from __future__ import annotations

from enum import IntEnum


class TransformType(IntEnum):
    """Transform Type values (RFC 7296 §3.3.2)."""

    ENCR = 1
    PRF = 2
    INTEG = 3
    KE = 4  # "D-H" in RFC 7296; renamed "Key Exchange Method" by RFC 9370
    ESN = 5


class EncrId(IntEnum):
    """Transform Type 1, Encryption Algorithm Transform IDs (RFC 7296 §3.3.2, IANA)."""

    DES_IV64 = 1
    DES = 2
    DES3 = 3
    RC5 = 4
    IDEA = 5
    CAST = 6
    BLOWFISH = 7
    IDEA3 = 8
    DES_IV32 = 9
    NULL = 11
    AES_CBC = 12
    AES_CTR = 13
    AES_CCM_8 = 14
    AES_CCM_12 = 15
    AES_CCM_16 = 16
    AES_GCM_8 = 18
    AES_GCM_12 = 19
    AES_GCM_16 = 20
    NULL_AUTH_AES_GMAC = 21
    CAMELLIA_CBC = 23
    CAMELLIA_CTR = 24
    CAMELLIA_CCM_8 = 25
    CAMELLIA_CCM_12 = 26
    CAMELLIA_CCM_16 = 27
    CHACHA20_POLY1305 = 28


class PrfId(IntEnum):
    """Transform Type 2, Pseudorandom Function Transform IDs (RFC 7296 §3.3.2, IANA)."""

    HMAC_MD5 = 1
    HMAC_SHA1 = 2
    HMAC_TIGER = 3
    AES128_XCBC = 4
    HMAC_SHA2_256 = 5
    HMAC_SHA2_384 = 6
    HMAC_SHA2_512 = 7
    AES128_CMAC = 8


class IntegId(IntEnum):
    """Transform Type 3, Integrity Algorithm Transform IDs (RFC 7296 §3.3.2, IANA)."""

    NONE = 0
    HMAC_MD5_96 = 1
    HMAC_SHA1_96 = 2
    DES_MAC = 3
    KPDK_MD5 = 4
    AES_XCBC_96 = 5
    HMAC_MD5_128 = 6
    HMAC_SHA1_160 = 7
    AES_CMAC_96 = 8
    AES_128_GMAC = 9
    AES_192_GMAC = 10
    AES_256_GMAC = 11
    HMAC_SHA2_256_128 = 12
    HMAC_SHA2_384_192 = 13
    HMAC_SHA2_512_256 = 14


class KeGroup(IntEnum):
    """Transform Type 4, Key Exchange Method Transform IDs (RFC 7296 §3.3.2, IANA).

    MODP groups: RFC 2409 §6 (1, 2) and RFC 3526 (5, 14-18); ECP groups: RFC 5903
    (19-21); Curve25519/Curve448: RFC 8031 (31, 32).
    """

    NONE = 0
    MODP768 = 1
    MODP1024 = 2
    MODP1536 = 5
    MODP2048 = 14
    MODP3072 = 15
    MODP4096 = 16
    MODP6144 = 17
    MODP8192 = 18
    ECP256 = 19
    ECP384 = 20
    ECP521 = 21
    MODP1024_S160 = 22
    MODP2048_S224 = 23
    MODP2048_S256 = 24
    ECP192 = 25
    ECP224 = 26
    BRAINPOOLP224 = 27
    BRAINPOOLP256 = 28
    BRAINPOOLP384 = 29
    BRAINPOOLP512 = 30
    CURVE25519 = 31
    CURVE448 = 32


class EsnId(IntEnum):
    """Transform Type 5, Extended Sequence Numbers Transform IDs (RFC 7296 §3.3.2)."""

    NO_ESN = 0
    ESN = 1


class TransformAttributeType(IntEnum):
    """Transform attribute types (RFC 7296 §3.3.5); only Key Length is defined."""

    KEY_LENGTH = 14
