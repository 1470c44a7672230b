"""strongSwan-style proposal keywords → typed proposals.

A proposal string is a dash-separated list of algorithm keywords, as in
strongSwan's ``proposals``/``esp_proposals`` settings, e.g.
``aes256gcm16-prfsha256-ecp256`` or ``aes128-sha256-modp2048``. This module is
the only place where transform names are strings; everything below it uses
the IANA numbers of RFC 7296 §3.3.2.

Rules, following strongSwan so that gateway-side settings can be copied:
- For IKE, an AEAD cipher takes no integrity algorithm; an integrity keyword
  next to an AEAD cipher names the PRF instead. Without a ``prf*`` keyword a
  non-AEAD IKE proposal uses the PRFs matching its integrity algorithms.
- AEAD and non-AEAD ciphers in one string are split into two proposals
  (RFC 7296 §3.3 forbids mixing them in one proposal).
- For ESP, key exchange keywords set the PFS groups used on rekeying.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ikeclient.crypto.transforms import EncrId, EsnId, IntegId, KeGroup, PrfId
from ikeclient.errors import ConfigError
from ikeclient.ike.proposals import EncrSpec, ProposalSpec

_AEAD = {EncrId.AES_GCM_8, EncrId.AES_GCM_12, EncrId.AES_GCM_16, EncrId.CHACHA20_POLY1305}

_GCM_BY_ICV = {8: EncrId.AES_GCM_8, 12: EncrId.AES_GCM_12, 16: EncrId.AES_GCM_16}
# strongSwan also accepts the ICV length in bits.
_GCM_BY_ICV_BITS = {64: EncrId.AES_GCM_8, 96: EncrId.AES_GCM_12, 128: EncrId.AES_GCM_16}

_INTEG = {
    "md5": IntegId.HMAC_MD5_96,
    "sha1": IntegId.HMAC_SHA1_96,
    "sha": IntegId.HMAC_SHA1_96,
    "sha256": IntegId.HMAC_SHA2_256_128,
    "sha2_256": IntegId.HMAC_SHA2_256_128,
    "sha384": IntegId.HMAC_SHA2_384_192,
    "sha2_384": IntegId.HMAC_SHA2_384_192,
    "sha512": IntegId.HMAC_SHA2_512_256,
    "sha2_512": IntegId.HMAC_SHA2_512_256,
    "aesxcbc": IntegId.AES_XCBC_96,
    "aescmac": IntegId.AES_CMAC_96,
}

_PRF = {
    "prfmd5": PrfId.HMAC_MD5,
    "prfsha1": PrfId.HMAC_SHA1,
    "prfsha256": PrfId.HMAC_SHA2_256,
    "prfsha384": PrfId.HMAC_SHA2_384,
    "prfsha512": PrfId.HMAC_SHA2_512,
    "prfaesxcbc": PrfId.AES128_XCBC,
    "prfaescmac": PrfId.AES128_CMAC,
}

_PRF_FOR_INTEG: dict[int, PrfId] = {
    IntegId.HMAC_MD5_96: PrfId.HMAC_MD5,
    IntegId.HMAC_SHA1_96: PrfId.HMAC_SHA1,
    IntegId.HMAC_SHA2_256_128: PrfId.HMAC_SHA2_256,
    IntegId.HMAC_SHA2_384_192: PrfId.HMAC_SHA2_384,
    IntegId.HMAC_SHA2_512_256: PrfId.HMAC_SHA2_512,
    IntegId.AES_XCBC_96: PrfId.AES128_XCBC,
    IntegId.AES_CMAC_96: PrfId.AES128_CMAC,
}

_KE = {
    "modp768": KeGroup.MODP768,
    "modp1024": KeGroup.MODP1024,
    "modp1536": KeGroup.MODP1536,
    "modp2048": KeGroup.MODP2048,
    "modp3072": KeGroup.MODP3072,
    "modp4096": KeGroup.MODP4096,
    "modp6144": KeGroup.MODP6144,
    "modp8192": KeGroup.MODP8192,
    "ecp256": KeGroup.ECP256,
    "ecp384": KeGroup.ECP384,
    "ecp521": KeGroup.ECP521,
    "x25519": KeGroup.CURVE25519,
    "curve25519": KeGroup.CURVE25519,
    "x448": KeGroup.CURVE448,
    "curve448": KeGroup.CURVE448,
}

# Legacy algorithms: accepted only when the profile says ``allow_legacy = true``.
LEGACY_ENCR = frozenset({EncrId.DES3})
LEGACY_INTEG = frozenset({IntegId.HMAC_MD5_96})
LEGACY_PRF = frozenset({PrfId.HMAC_MD5})
LEGACY_KE = frozenset({KeGroup.MODP768, KeGroup.MODP1024, KeGroup.MODP1536})

_AES_RE = re.compile(r"^aes(128|192|256)?(ctr|gcm(\d+)|ccm\d+)?$")


def _parse_encr(word: str) -> EncrSpec | None:
    if word == "chacha20poly1305":
        return EncrSpec(EncrId.CHACHA20_POLY1305, None)
    if word == "3des":
        return EncrSpec(EncrId.DES3, None)
    match = _AES_RE.match(word)
    if match is None:
        return None
    bits = int(match.group(1) or 128)
    mode = match.group(2)
    if mode is None:
        return EncrSpec(EncrId.AES_CBC, bits)
    if mode == "ctr":
        return EncrSpec(EncrId.AES_CTR, bits)
    if mode.startswith("gcm"):
        icv = int(match.group(3))
        encr = _GCM_BY_ICV.get(icv) or _GCM_BY_ICV_BITS.get(icv)
        if encr is not None:
            return EncrSpec(encr, bits)
    return None


def parse_proposal(text: str, *, ike: bool, allow_legacy: bool = False) -> list[ProposalSpec]:
    """Parse one keyword string into one proposal (or two, if it mixes AEAD and non-AEAD).

    Raises ``ConfigError`` naming the offending keyword.
    """
    encrs: list[EncrSpec] = []
    integs: list[int] = []
    prfs: list[int] = []
    kes: list[int] = []
    esns: list[int] = []
    words = [w for w in text.strip().lower().split("-")]
    if not text.strip() or any(not w for w in words):
        raise ConfigError(f"proposal {text!r} is empty or has an empty keyword")
    for word in words:
        encr = _parse_encr(word)
        if encr is not None:
            _check_legacy(encr.id in LEGACY_ENCR, word, allow_legacy)
            encrs.append(encr)
        elif word in _INTEG:
            _check_legacy(_INTEG[word] in LEGACY_INTEG, word, allow_legacy)
            integs.append(_INTEG[word])
        elif word in _PRF:
            if not ike:
                raise ConfigError(f"proposal {text!r}: {word!r} is a PRF, which ESP has none of")
            _check_legacy(_PRF[word] in LEGACY_PRF, word, allow_legacy)
            prfs.append(_PRF[word])
        elif word in _KE:
            _check_legacy(_KE[word] in LEGACY_KE, word, allow_legacy)
            kes.append(_KE[word])
        elif word in ("esn", "noesn"):
            if ike:
                raise ConfigError(f"proposal {text!r}: {word!r} applies to ESP proposals only")
            esns.append(EsnId.ESN if word == "esn" else EsnId.NO_ESN)
        else:
            raise ConfigError(f"proposal {text!r}: unknown algorithm keyword {word!r}")
    if not encrs:
        raise ConfigError(f"proposal {text!r} names no encryption algorithm")
    if ike and not kes:
        raise ConfigError(f"proposal {text!r} names no key exchange group (e.g. ecp256)")

    aead = tuple(dict.fromkeys(e for e in encrs if e.id in _AEAD))
    plain = tuple(dict.fromkeys(e for e in encrs if e.id not in _AEAD))
    integ_t = tuple(dict.fromkeys(integs))
    ke_t = tuple(dict.fromkeys(kes))
    esn_t = tuple(dict.fromkeys(esns)) if esns else ((EsnId.NO_ESN,) if not ike else ())
    result: list[ProposalSpec] = []
    if aead:
        prf_aead = prfs or [_PRF_FOR_INTEG[i] for i in integs]
        if ike and not prf_aead:
            raise ConfigError(
                f"proposal {text!r}: an AEAD cipher needs a PRF keyword for IKE (e.g. prfsha256)"
            )
        result.append(
            ProposalSpec(
                encr=aead,
                prf=tuple(dict.fromkeys(prf_aead)) if ike else (),
                ke=ke_t,
                esn=esn_t,
            )
        )
    if plain:
        if not integ_t:
            raise ConfigError(
                f"proposal {text!r}: {plain[0]} needs an integrity algorithm (e.g. sha256)"
            )
        prf_plain = prfs or [_PRF_FOR_INTEG[i] for i in integs]
        result.append(
            ProposalSpec(
                encr=plain,
                integ=integ_t,
                prf=tuple(dict.fromkeys(prf_plain)) if ike else (),
                ke=ke_t,
                esn=esn_t,
            )
        )
    return result


def parse_proposals(
    texts: Iterable[str], *, ike: bool, allow_legacy: bool = False
) -> tuple[ProposalSpec, ...]:
    """Parse a list of proposal strings, in order of preference."""
    out: list[ProposalSpec] = []
    for text in texts:
        out.extend(parse_proposal(text, ike=ike, allow_legacy=allow_legacy))
    if not out:
        raise ConfigError("no proposals given")
    return tuple(out)


def _check_legacy(is_legacy: bool, word: str, allow_legacy: bool) -> None:
    if is_legacy and not allow_legacy:
        raise ConfigError(
            f"{word!r} is a legacy algorithm; set allow_legacy = true in the profile to use it"
        )
