"""Cryptographic suites for IKEv2, keyed by IANA transform ID.

PRFs and prf+ (RFC 7296 §2.13), integrity algorithms, SK payload ciphers
(RFC 7296 §3.14), key exchange methods and key derivation (§2.14, §2.17,
§2.18). Everything comes from ``cryptography`` and the stdlib; this package
does no I/O and reads no clock.
"""

from __future__ import annotations

from ikeclient.crypto.encr import Encr, SkCipher, get_encr, make_sk_cipher, supported_encrs
from ikeclient.crypto.integ import Integ, Signer, get_integ, supported_integs
from ikeclient.crypto.kdf import (
    ChildSaKeys,
    IkeSaKeys,
    derive_child_sa_keys,
    derive_ike_sa_keys,
    derive_rekeyed_ike_sa_keys,
)
from ikeclient.crypto.keyexchange import KeyExchange, create_key_exchange, supported_ke_groups
from ikeclient.crypto.prf import Prf, get_prf, prf_plus, supported_prfs
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

__all__ = [
    "ChildSaKeys",
    "DeterministicRandomSource",
    "Encr",
    "EncrId",
    "EsnId",
    "IkeSaKeys",
    "Integ",
    "IntegId",
    "KeGroup",
    "KeyExchange",
    "Prf",
    "PrfId",
    "RandomSource",
    "Signer",
    "SkCipher",
    "SystemRandomSource",
    "TransformAttributeType",
    "TransformType",
    "create_key_exchange",
    "derive_child_sa_keys",
    "derive_ike_sa_keys",
    "derive_rekeyed_ike_sa_keys",
    "get_encr",
    "get_integ",
    "get_prf",
    "make_sk_cipher",
    "prf_plus",
    "supported_encrs",
    "supported_integs",
    "supported_ke_groups",
    "supported_prfs",
]
