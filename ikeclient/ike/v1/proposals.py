"""IKEv1 proposals on the wire: phase 1 (RFC 2409 §5, Appendix A) and phase 2 (RFC 2407 §4.5).

Our typed ``ProposalSpec`` offers (IKEv2 IANA numbers, from the shared keyword parser) become
IKEv1 transforms here: in IKEv1 every transform is one complete suite, so each combination of
cipher, hash (or integrity) and group is one transform of one proposal. The responder returns
exactly one of them (RFC 2408 §4.2); :func:`select_phase1` and :func:`select_phase2` check
that it is one we offered, attribute for attribute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ikeclient.crypto.transforms import EncrId, IntegId, KeGroup, PrfId
from ikeclient.errors import InvalidSyntax, NoProposalChosen, UnsupportedAlgorithm
from ikeclient.ike.proposals import ProposalSpec
from ikeclient.ike.v1.enums import (
    AuthMethod,
    Doi,
    EncapsulationMode,
    EspAuthAlgorithm,
    HashAlgorithm,
    IsakmpTransformId,
    LifeType,
    Phase1Attribute,
    Phase1Encryption,
    Phase2Attribute,
    ProtocolId,
    Situation,
)
from ikeclient.ike.v1.payloads import Attribute, Proposal, SaPayload, Transform, attribute_int

_P1_ENCR: Final[dict[int, Phase1Encryption]] = {
    EncrId.AES_CBC: Phase1Encryption.AES_CBC,
    EncrId.DES3: Phase1Encryption.TRIPLE_DES_CBC,
}
_HASH_OF_PRF: Final[dict[int, HashAlgorithm]] = {
    PrfId.HMAC_MD5: HashAlgorithm.MD5,
    PrfId.HMAC_SHA1: HashAlgorithm.SHA,
    PrfId.HMAC_SHA2_256: HashAlgorithm.SHA2_256,
    PrfId.HMAC_SHA2_384: HashAlgorithm.SHA2_384,
    PrfId.HMAC_SHA2_512: HashAlgorithm.SHA2_512,
}
_HASH_OF_INTEG: Final[dict[int, HashAlgorithm]] = {
    IntegId.HMAC_MD5_96: HashAlgorithm.MD5,
    IntegId.HMAC_SHA1_96: HashAlgorithm.SHA,
    IntegId.HMAC_SHA2_256_128: HashAlgorithm.SHA2_256,
    IntegId.HMAC_SHA2_384_192: HashAlgorithm.SHA2_384,
    IntegId.HMAC_SHA2_512_256: HashAlgorithm.SHA2_512,
}
_ESP_AUTH: Final[dict[int, EspAuthAlgorithm]] = {
    IntegId.HMAC_MD5_96: EspAuthAlgorithm.HMAC_MD5,
    IntegId.HMAC_SHA1_96: EspAuthAlgorithm.HMAC_SHA,
    IntegId.HMAC_SHA2_256_128: EspAuthAlgorithm.HMAC_SHA2_256,
    IntegId.HMAC_SHA2_384_192: EspAuthAlgorithm.HMAC_SHA2_384,
    IntegId.HMAC_SHA2_512_256: EspAuthAlgorithm.HMAC_SHA2_512,
    IntegId.AES_XCBC_96: EspAuthAlgorithm.AES_XCBC_MAC,
}
_INTEG_OF_ESP_AUTH: Final = {v: k for k, v in _ESP_AUTH.items()}
_ESP_CIPHERS: Final = frozenset(
    {EncrId.DES3, EncrId.AES_CBC, EncrId.AES_CTR, EncrId.AES_GCM_8, EncrId.AES_GCM_12,
     EncrId.AES_GCM_16}
)  # fmt: skip
_AEAD: Final = frozenset({EncrId.AES_GCM_8, EncrId.AES_GCM_12, EncrId.AES_GCM_16})


def _name(enum: type[HashAlgorithm] | type[Phase1Encryption] | type[KeGroup], v: int) -> str:
    try:
        return enum(v).name
    except ValueError:
        return str(v)


def _lifetime_attributes(
    kind: type[Phase1Attribute] | type[Phase2Attribute], seconds: int
) -> list[Attribute]:
    life_type = (
        Phase1Attribute.LIFE_TYPE if kind is Phase1Attribute else Phase2Attribute.SA_LIFE_TYPE
    )
    life = (
        Phase1Attribute.LIFE_DURATION
        if kind is Phase1Attribute
        else Phase2Attribute.SA_LIFE_DURATION
    )
    value: int | bytes = seconds if seconds < 1 << 16 else seconds.to_bytes(4, "big")
    return [Attribute(life_type, LifeType.SECONDS), Attribute(life, value)]


@dataclass(frozen=True, slots=True)
class Phase1Suite:
    """One phase 1 transform: cipher, key length, hash, authentication method, group."""

    encr: int
    key_bits: int | None
    hash_alg: int
    auth: int
    group: int

    def __str__(self) -> str:
        encr = _name(Phase1Encryption, self.encr)
        if self.key_bits is not None:
            encr += f"_{self.key_bits}"
        return f"{encr}/HMAC_{_name(HashAlgorithm, self.hash_alg)}/{_name(KeGroup, self.group)}"


def phase1_suites(offers: Sequence[ProposalSpec], auth: int) -> list[Phase1Suite]:
    """Every phase 1 transform our profile's IKE proposals describe, in preference order."""
    suites: list[Phase1Suite] = []
    for spec in offers:
        hashes = [_HASH_OF_PRF[p] for p in spec.prf if p in _HASH_OF_PRF]
        if not hashes:
            hashes = [_HASH_OF_INTEG[i] for i in spec.integ if i in _HASH_OF_INTEG]
        for encr in spec.encr:
            if encr.id not in _P1_ENCR:
                raise UnsupportedAlgorithm(f"{encr} cannot protect IKEv1 phase 1 (AES-CBC or 3DES)")
            for h in hashes:
                for group in spec.ke:
                    bits = encr.key_bits if encr.id == EncrId.AES_CBC else None
                    suite = Phase1Suite(_P1_ENCR[encr.id], bits, h, auth, group)
                    if suite not in suites:
                        suites.append(suite)
    if not suites:
        raise UnsupportedAlgorithm("no IKE proposal usable for IKEv1 phase 1")
    return suites


def _phase1_transform(number: int, s: Phase1Suite, lifetime: int) -> Transform:
    attrs = [Attribute(Phase1Attribute.ENCRYPTION_ALGORITHM, s.encr)]
    if s.key_bits is not None:
        attrs.append(Attribute(Phase1Attribute.KEY_LENGTH, s.key_bits))
    attrs += [
        Attribute(Phase1Attribute.HASH_ALGORITHM, s.hash_alg),
        Attribute(Phase1Attribute.AUTHENTICATION_METHOD, s.auth),
        Attribute(Phase1Attribute.GROUP_DESCRIPTION, s.group),
        *_lifetime_attributes(Phase1Attribute, lifetime),
    ]
    return Transform(number, IsakmpTransformId.KEY_IKE, tuple(attrs))


def build_phase1_sa(suites: Sequence[Phase1Suite], lifetime: int) -> SaPayload:
    """SAi: one ISAKMP proposal with one transform per suite (RFC 2409 §5, RFC 2408 §3.4)."""
    transforms = tuple(_phase1_transform(i, s, lifetime) for i, s in enumerate(suites, 1))
    proposal = Proposal(1, ProtocolId.ISAKMP, b"", transforms)
    return SaPayload(Doi.IPSEC, Situation.SIT_IDENTITY_ONLY, (proposal,))


@dataclass(frozen=True, slots=True)
class Phase1Choice:
    """What the gateway picked for phase 1, and the lifetime it wants."""

    suite: Phase1Suite
    lifetime: int | None


def _lifetime(transform: Transform, kinds: tuple[int, int]) -> int | None:
    life_type, duration = kinds
    seconds: int | None = None
    current = None
    for a in transform.attributes:
        if a.type == life_type:
            current = attribute_int(a.value)
        elif a.type == duration and current == LifeType.SECONDS:
            seconds = attribute_int(a.value)
    return seconds


def select_phase1(sa: SaPayload, suites: Sequence[Phase1Suite]) -> Phase1Choice:
    """Check the gateway's SAr against our offer (RFC 2408 §4.2: one proposal, one transform)."""
    if sa.doi != Doi.IPSEC:
        raise InvalidSyntax(f"the gateway's SA has DOI {sa.doi}")
    if len(sa.proposals) != 1 or len(sa.proposals[0].transforms) != 1:
        raise InvalidSyntax("the gateway must return exactly one proposal with one transform")
    prop = sa.proposals[0]
    if prop.protocol != ProtocolId.ISAKMP:
        raise NoProposalChosen(f"the gateway chose protocol {prop.protocol}, not ISAKMP")
    t = prop.transforms[0]
    values: dict[int, int] = {}
    for a in t.attributes:
        if a.type in (Phase1Attribute.LIFE_TYPE, Phase1Attribute.LIFE_DURATION):
            continue
        values[a.type] = attribute_int(a.value)
    chosen = Phase1Suite(
        values.get(Phase1Attribute.ENCRYPTION_ALGORITHM, -1),
        values.get(Phase1Attribute.KEY_LENGTH),
        values.get(Phase1Attribute.HASH_ALGORITHM, -1),
        values.get(Phase1Attribute.AUTHENTICATION_METHOD, -1),
        values.get(Phase1Attribute.GROUP_DESCRIPTION, -1),
    )
    if chosen not in suites:
        raise NoProposalChosen(f"the gateway chose {chosen}, which was not offered")
    lifetime = _lifetime(t, (Phase1Attribute.LIFE_TYPE, Phase1Attribute.LIFE_DURATION))
    return Phase1Choice(chosen, lifetime)


# --------------------------------------------------------------------- phase 2


@dataclass(frozen=True, slots=True)
class Phase2Suite:
    """One ESP transform: cipher (IKEv2 ENCR numbers = ESP transform IDs), key, auth, PFS."""

    encr: int
    key_bits: int | None
    integ: int | None  # IKEv2 INTEG number, None for AEAD
    group: int | None

    def __str__(self) -> str:
        encr = _name_encr(self.encr)
        if self.key_bits is not None:
            encr += f"_{self.key_bits}"
        parts = [encr]
        if self.integ is not None:
            parts.append(IntegId(self.integ).name)
        if self.group is not None:
            parts.append(_name(KeGroup, self.group))
        return "/".join(parts)


def _name_encr(v: int) -> str:
    try:
        return EncrId(v).name
    except ValueError:
        return str(v)


def phase2_suites(offers: Sequence[ProposalSpec]) -> list[Phase2Suite]:
    """Every ESP transform our profile's ESP proposals describe, in preference order."""
    suites: list[Phase2Suite] = []
    for spec in offers:
        groups: list[int | None] = list(spec.ke) or [None]
        for encr in spec.encr:
            if encr.id not in _ESP_CIPHERS:
                raise UnsupportedAlgorithm(f"{encr} is not an IKEv1 ESP cipher here")
            integs: list[int | None] = [None] if encr.id in _AEAD else list(spec.integ)
            for integ in integs:
                if integ is not None and integ not in _ESP_AUTH:
                    raise UnsupportedAlgorithm(f"integrity {integ} is not available with IKEv1")
                for group in groups:
                    suite = Phase2Suite(encr.id, encr.key_bits, integ, group)
                    if suite not in suites:
                        suites.append(suite)
    if not suites:
        raise UnsupportedAlgorithm("no ESP proposal usable with IKEv1")
    return suites


def _phase2_transform(number: int, s: Phase2Suite, encap: int, lifetime: int) -> Transform:
    attrs = _lifetime_attributes(Phase2Attribute, lifetime)
    attrs.append(Attribute(Phase2Attribute.ENCAPSULATION_MODE, encap))
    if s.integ is not None:
        attrs.append(Attribute(Phase2Attribute.AUTHENTICATION_ALGORITHM, _ESP_AUTH[s.integ]))
    if s.key_bits is not None:
        attrs.append(Attribute(Phase2Attribute.KEY_LENGTH, s.key_bits))
    if s.group is not None:
        attrs.append(Attribute(Phase2Attribute.GROUP_DESCRIPTION, s.group))
    return Transform(number, s.encr, tuple(attrs))


def build_phase2_sa(
    suites: Sequence[Phase2Suite], spi: bytes, encap: int, lifetime: int
) -> SaPayload:
    """SA of Quick Mode: one ESP proposal with one transform per suite (RFC 2407 §4.5)."""
    transforms = tuple(_phase2_transform(i, s, encap, lifetime) for i, s in enumerate(suites, 1))
    proposal = Proposal(1, ProtocolId.IPSEC_ESP, spi, transforms)
    return SaPayload(Doi.IPSEC, Situation.SIT_IDENTITY_ONLY, (proposal,))


@dataclass(frozen=True, slots=True)
class Phase2Choice:
    """The ESP transform the peer picked, its SPI, encapsulation mode and lifetime."""

    suite: Phase2Suite
    spi: bytes
    encapsulation: int
    lifetime: int | None


def parse_phase2_transform(t: Transform) -> tuple[Phase2Suite, int, int | None]:
    """An ESP transform as (suite, encapsulation mode, lifetime in seconds)."""
    values: dict[int, int] = {}
    for a in t.attributes:
        if a.type in (Phase2Attribute.SA_LIFE_TYPE, Phase2Attribute.SA_LIFE_DURATION):
            continue
        values[a.type] = attribute_int(a.value)
    auth = values.get(Phase2Attribute.AUTHENTICATION_ALGORITHM)
    integ = None
    if auth is not None:
        integ = (
            _INTEG_OF_ESP_AUTH.get(EspAuthAlgorithm(auth))
            if auth in set(int(v) for v in EspAuthAlgorithm)
            else None
        )
        if integ is None:
            integ = -auth  # never offered: fails the comparison below
    suite = Phase2Suite(
        t.transform_id,
        values.get(Phase2Attribute.KEY_LENGTH),
        integ,
        values.get(Phase2Attribute.GROUP_DESCRIPTION),
    )
    encap = values.get(Phase2Attribute.ENCAPSULATION_MODE, EncapsulationMode.TUNNEL)
    lifetime = _lifetime(t, (Phase2Attribute.SA_LIFE_TYPE, Phase2Attribute.SA_LIFE_DURATION))
    return suite, encap, lifetime


def select_phase2(sa: SaPayload, suites: Sequence[Phase2Suite]) -> Phase2Choice:
    """Check the peer's ESP choice against our offer (one proposal, one transform)."""
    if len(sa.proposals) != 1 or len(sa.proposals[0].transforms) != 1:
        raise InvalidSyntax("the gateway must return exactly one ESP proposal with one transform")
    prop = sa.proposals[0]
    if prop.protocol != ProtocolId.IPSEC_ESP:
        raise NoProposalChosen(f"the gateway chose protocol {prop.protocol}, not ESP")
    if len(prop.spi) != 4:
        raise InvalidSyntax(f"the gateway's ESP SPI is {len(prop.spi)} bytes")
    suite, encap, lifetime = parse_phase2_transform(prop.transforms[0])
    if suite not in suites:
        raise NoProposalChosen(f"the gateway chose ESP {suite}, which was not offered")
    return Phase2Choice(suite, prop.spi, encap, lifetime)


def choose_phase2(sa: SaPayload, suites: Sequence[Phase2Suite]) -> tuple[Proposal, Phase2Choice]:
    """As Quick Mode responder: the first ESP transform of the peer's offer we accept."""
    for prop in sa.proposals:
        if prop.protocol != ProtocolId.IPSEC_ESP or len(prop.spi) != 4:
            continue
        for t in prop.transforms:
            try:
                suite, encap, lifetime = parse_phase2_transform(t)
            except InvalidSyntax:
                continue
            if suite in suites:
                return (
                    Proposal(prop.number, prop.protocol, prop.spi, (t,)),
                    Phase2Choice(suite, prop.spi, encap, lifetime),
                )
    raise NoProposalChosen("none of the gateway's ESP proposals is acceptable")


XAUTH_AUTH = AuthMethod.XAUTH_INIT_PRE_SHARED
PSK_AUTH = AuthMethod.PRE_SHARED_KEY
