"""Proposals and traffic selectors on the wire (RFC 7296 §3.3, §3.13, §2.9).

Turns our typed ``ProposalSpec`` offers into an SA payload, checks that the
single proposal a responder returns is one we offered (and picks exactly one
transform of each type from it), and converts traffic selectors between the
wire form and ``TrafficSelectorRange``, including the narrowing check.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from ikeclient.crypto.transforms import EsnId, TransformAttributeType, TransformType
from ikeclient.errors import InvalidSyntax, NoProposalChosen, TsUnacceptable
from ikeclient.ike.events import TrafficSelectorRange
from ikeclient.ike.proposals import ChosenAlgorithms, EncrSpec, ProposalSpec
from ikeclient.ike.v2.enums import ProtocolId, TsType
from ikeclient.ike.v2.payloads import (
    Proposal,
    SaPayload,
    TrafficSelector,
    Transform,
    TransformAttribute,
)


def _transforms(spec: ProposalSpec, *, include_ke: bool) -> tuple[Transform, ...]:
    out: list[Transform] = []
    for encr in spec.encr:
        attrs: tuple[TransformAttribute, ...] = ()
        if encr.key_bits is not None:
            attrs = (TransformAttribute(TransformAttributeType.KEY_LENGTH, encr.key_bits),)
        out.append(Transform(TransformType.ENCR, encr.id, attrs))
    out += [Transform(TransformType.PRF, p, ()) for p in spec.prf]
    out += [Transform(TransformType.INTEG, i, ()) for i in spec.integ]
    if include_ke:
        out += [Transform(TransformType.KE, k, ()) for k in spec.ke]
    out += [Transform(TransformType.ESN, e, ()) for e in spec.esn]
    return tuple(out)


def build_sa_payload(
    offers: Sequence[ProposalSpec], protocol: int, spi: bytes, *, include_ke: bool = True
) -> SaPayload:
    """Our SA payload: proposals numbered from 1 in order of preference (RFC 7296 §3.3.1)."""
    return SaPayload(
        tuple(
            Proposal(number, protocol, spi, _transforms(spec, include_ke=include_ke))
            for number, spec in enumerate(offers, start=1)
        )
    )


def select_accepted(
    sa: SaPayload,
    offers: Sequence[ProposalSpec],
    protocol: int,
    *,
    spi_size: int,
    include_ke: bool = True,
) -> tuple[ChosenAlgorithms, bytes]:
    """Check the responder's choice against our offers; return the algorithms and its SPI.

    RFC 7296 §2.7: the responder returns exactly one proposal, with our proposal
    number and exactly one transform of each type that proposal carried.
    """
    if len(sa.proposals) != 1:
        raise InvalidSyntax(f"the gateway returned {len(sa.proposals)} proposals, not one")
    prop = sa.proposals[0]
    if not 1 <= prop.number <= len(offers):
        raise NoProposalChosen(f"the gateway picked proposal #{prop.number}, which was not offered")
    if prop.protocol != protocol:
        raise NoProposalChosen(f"the gateway picked protocol {prop.protocol}, not {protocol}")
    if len(prop.spi) != spi_size:
        raise InvalidSyntax(f"the gateway's SPI is {len(prop.spi)} bytes, expected {spi_size}")
    spec = offers[prop.number - 1]
    by_type: dict[int, list[Transform]] = {}
    for t in prop.transforms:
        by_type.setdefault(t.type, []).append(t)
    for ttype, items in by_type.items():
        if len(items) != 1:
            raise InvalidSyntax(
                f"the gateway's proposal has {len(items)} transforms of type {ttype}"
            )

    def pick(ttype: TransformType, offered: Sequence[int]) -> int | None:
        chosen = by_type.pop(ttype, [])
        if not offered:
            if chosen:
                raise NoProposalChosen(f"the gateway added transform type {ttype.name}")
            return None
        if not chosen:
            raise NoProposalChosen(f"the gateway's proposal lacks a {ttype.name} transform")
        if chosen[0].id not in offered:
            raise NoProposalChosen(
                f"the gateway chose {ttype.name} {chosen[0].id}, which was not offered"
            )
        return chosen[0].id

    encr_t = by_type.pop(TransformType.ENCR, [])
    if not encr_t:
        raise NoProposalChosen("the gateway's proposal lacks an encryption transform")
    encr = EncrSpec(encr_t[0].id, encr_t[0].key_length)
    if encr not in spec.encr:
        raise NoProposalChosen(f"the gateway chose cipher {encr}, which was not offered")
    prf = pick(TransformType.PRF, spec.prf)
    integ = pick(TransformType.INTEG, spec.integ)
    ke = pick(TransformType.KE, spec.ke if include_ke else ())
    esn = pick(TransformType.ESN, spec.esn)
    if by_type:
        raise NoProposalChosen(
            f"the gateway's proposal has unexpected transform types {sorted(by_type)}"
        )
    return ChosenAlgorithms(encr, integ, prf, ke, esn == EsnId.ESN), prop.spi


def ts_to_wire(ts: TrafficSelectorRange) -> TrafficSelector:
    """A selector range in the RFC 7296 §3.13.1 wire form."""
    kind = TsType.TS_IPV4_ADDR_RANGE if ts.start.version == 4 else TsType.TS_IPV6_ADDR_RANGE
    return TrafficSelector(
        kind, ts.ip_protocol, ts.start_port, ts.end_port, ts.start.packed, ts.end.packed
    )


def ts_from_wire(ts: TrafficSelector) -> TrafficSelectorRange:
    """Parse one wire selector; raises ``InvalidSyntax`` for unknown types or bad ranges."""
    if ts.ts_type == TsType.TS_IPV4_ADDR_RANGE and len(ts.start_address) == 4:
        start: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv4Address(
            ts.start_address
        )
        end: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv4Address(ts.end_address)
    elif ts.ts_type == TsType.TS_IPV6_ADDR_RANGE and len(ts.start_address) == 16:
        start = ipaddress.IPv6Address(ts.start_address)
        end = ipaddress.IPv6Address(ts.end_address)
    else:
        raise InvalidSyntax(f"traffic selector type {ts.ts_type} is not supported")
    if end < start or ts.end_port < ts.start_port:  # type: ignore[operator]
        raise InvalidSyntax("traffic selector range ends before it starts")
    return TrafficSelectorRange(start, end, ts.ip_protocol, ts.start_port, ts.end_port)


def check_narrowed(
    returned: Sequence[TrafficSelector], asked: Sequence[TrafficSelectorRange], which: str
) -> tuple[TrafficSelectorRange, ...]:
    """RFC 7296 §2.9: every selector the responder returns must lie within what we asked."""
    if not returned:
        raise TsUnacceptable(f"the gateway returned no {which} traffic selectors")
    out = []
    for wire in returned:
        ts = ts_from_wire(wire)
        if not any(a.contains(ts) for a in asked):
            raise TsUnacceptable(f"the gateway's {which} selector {ts} is outside what was asked")
        out.append(ts)
    return tuple(out)


IKE_PROTOCOL = ProtocolId.IKE
ESP_PROTOCOL = ProtocolId.ESP
