"""Proposals and traffic selectors on the wire (RFC 7296 §3.3, §3.13, §2.9).

Turns our typed ``ProposalSpec`` offers into an SA payload, checks that the
single proposal a responder returns is one we offered (and picks exactly one
transform of each type from it), and converts traffic selectors between the
wire form and ``TrafficSelectorRange``, including the narrowing check.

When the gateway starts a CREATE_CHILD_SA exchange (a rekey, RFC 7296 §2.8,
§2.18) we are the responder: :func:`choose_proposal` picks one of its
proposals that our profile allows, and :func:`narrow_selectors` narrows its
traffic selectors to the ones the SA already has.
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


def choose_proposal(
    sa: SaPayload,
    allowed: Sequence[ProposalSpec],
    protocol: int,
    *,
    include_ke: bool,
    prefer_ke: int | None = None,
) -> tuple[Proposal, ChosenAlgorithms] | None:
    """As responder: the first of the peer's proposals our profile allows (RFC 7296 §2.7).

    Returns the proposal to send back (the peer's number, exactly one transform of
    each type, the peer's SPI: the caller puts its own there) and the algorithms;
    None when nothing matches. With ``include_ke`` a key exchange group must be
    agreed too (PFS for a child SA, always for an IKE SA); ``prefer_ke`` (the
    group of the peer's KE payload) wins when acceptable, so no INVALID_KE round
    trip is needed.
    """
    for prop in sa.proposals:
        if prop.protocol != protocol:
            continue
        for spec in allowed:
            picked = _pick_transforms(prop, spec, include_ke=include_ke, prefer_ke=prefer_ke)
            if picked is not None:
                transforms, chosen = picked
                return Proposal(prop.number, protocol, prop.spi, transforms), chosen
    return None


def _pick_transforms(
    prop: Proposal, spec: ProposalSpec, *, include_ke: bool, prefer_ke: int | None
) -> tuple[tuple[Transform, ...], ChosenAlgorithms] | None:
    by_type: dict[int, list[Transform]] = {}
    for t in prop.transforms:
        by_type.setdefault(t.type, []).append(t)
    encr = next(
        (
            t
            for t in by_type.get(TransformType.ENCR, [])
            if EncrSpec(t.id, t.key_length) in spec.encr
        ),
        None,
    )
    if encr is None:
        return None
    out = [encr]

    def pick(ttype: TransformType, ours: Sequence[int], prefer: int | None = None) -> int | None:
        theirs = [t.id for t in by_type.get(ttype, [])]
        if not ours:
            # We want none: acceptable when they offer none, or offer NONE (0).
            return 0 if not theirs or 0 in theirs else -1
        candidates = [i for i in theirs if i in ours]
        if prefer is not None and prefer in candidates:
            return prefer
        return candidates[0] if candidates else -1

    prf = pick(TransformType.PRF, spec.prf)
    integ = pick(TransformType.INTEG, spec.integ)
    ke = pick(TransformType.KE, spec.ke if include_ke else (), prefer_ke)
    if TransformType.ESN in by_type or spec.esn:
        esn = pick(TransformType.ESN, spec.esn or (EsnId.NO_ESN,))
    else:
        esn = 0
    if -1 in (prf, integ, ke, esn):
        return None
    for ttype, value in (
        (TransformType.PRF, prf),
        (TransformType.INTEG, integ),
        (TransformType.KE, ke),
    ):
        if value:
            out.append(Transform(ttype, value, ()))
    if TransformType.ESN in by_type:
        out.append(Transform(TransformType.ESN, esn or 0, ()))
    chosen = ChosenAlgorithms(
        EncrSpec(encr.id, encr.key_length),
        integ or None,
        prf or None,
        ke or None,
        esn == EsnId.ESN,
    )
    return tuple(out), chosen


def narrow_selectors(
    offered: Sequence[TrafficSelector], ours: Sequence[TrafficSelectorRange]
) -> tuple[TrafficSelectorRange, ...]:
    """As responder: the parts of the peer's selectors that lie within ours (RFC 7296 §2.9).

    Each offered selector is intersected with each of ours (addresses, protocol,
    ports); empty intersections and selector types we do not know are left out.
    """
    out: list[TrafficSelectorRange] = []
    for wire in offered:
        try:
            theirs = ts_from_wire(wire)
        except InvalidSyntax:
            continue
        for mine in ours:
            cut = _intersect(theirs, mine)
            if cut is not None and cut not in out:
                out.append(cut)
    return tuple(out)


def _intersect(a: TrafficSelectorRange, b: TrafficSelectorRange) -> TrafficSelectorRange | None:
    if a.start.version != b.start.version:
        return None
    if a.ip_protocol and b.ip_protocol and a.ip_protocol != b.ip_protocol:
        return None
    start = max(int(a.start), int(b.start))
    end = min(int(a.end), int(b.end))
    lo, hi = max(a.start_port, b.start_port), min(a.end_port, b.end_port)
    if end < start or hi < lo:
        return None
    return TrafficSelectorRange(
        ipaddress.ip_address(start) if a.start.version == 4 else ipaddress.IPv6Address(start),
        ipaddress.ip_address(end) if a.start.version == 4 else ipaddress.IPv6Address(end),
        a.ip_protocol or b.ip_protocol,
        lo,
        hi,
    )


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
