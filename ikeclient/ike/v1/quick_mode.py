"""Quick Mode (RFC 2409 §5.5): the IPsec SAs, as initiator and as responder.

    HDR*, HASH(1), SA, Ni [, KE ] [, IDci, IDcr ]  -->
                    <--  HDR*, HASH(2), SA, Nr [, KE ] [, IDci, IDcr ] [, N(RESPONDER-LIFETIME)]
    HDR*, HASH(3)                                  -->

    HASH(1) = prf(SKEYID_a, M-ID | SA | Ni [ | KE ] [ | IDci | IDcr ])
    HASH(2) = prf(SKEYID_a, M-ID | Ni_b | SA | Nr [ | KE ] [ | IDci | IDcr ])
    HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b)

Each HASH covers every payload after it, headers included, padding excluded; it is checked
in constant time before anything else in the message is used. KEYMAT for the inbound SA is
derived with the SPI we chose, for the outbound one with the peer's (§5.5). The gateway
also runs Quick Mode towards us when it rekeys: :class:`QuickModeResponder`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from ikeclient.crypto.encr import get_encr
from ikeclient.crypto.integ import get_integ
from ikeclient.crypto.keyexchange import KeyExchange, create_key_exchange
from ikeclient.crypto.random import RandomSource
from ikeclient.errors import (
    IntegrityError,
    InvalidSyntax,
    NoProposalChosen,
    TsUnacceptable,
)
from ikeclient.ike.buffer import Buffer
from ikeclient.ike.events import (
    ChildSaEstablished,
    ChildSaKeys,
    Endpoint,
    TrafficSelectorRange,
)
from ikeclient.ike.v1 import keys as k
from ikeclient.ike.v1.enums import (
    EncapsulationMode,
    IdType,
    NotifyType,
    Phase2Attribute,
    ProtocolId,
)
from ikeclient.ike.v1.message import Message, find_all, find_payload
from ikeclient.ike.v1.payloads import (
    Attribute,
    HashPayload,
    IdPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    SaPayload,
    attribute_int,
    pull_attribute,
    push_payload,
    push_payload_chain,
)
from ikeclient.ike.v1.phase1 import NONCE_SIZE, Phase1Sa
from ikeclient.ike.v1.proposals import (
    Phase2Choice,
    Phase2Suite,
    build_phase2_sa,
    choose_phase2,
    select_phase2,
)


def hashed_body(prf_key_mac: bytes, rest: Sequence[Payload]) -> tuple[bytes, bytes]:
    """(bytes of the payloads after HASH, their first payload type) helper for callers."""
    first, body = push_payload_chain(rest)
    return body, first.to_bytes(1, "big")


def with_hash(hash_value: bytes, rest: Sequence[Payload]) -> bytes:
    """The plaintext body: HASH then ``rest`` (RFC 2409 §5.5: HASH comes first)."""
    first, body = push_payload_chain(rest)
    buf = Buffer()
    push_payload(buf, HashPayload(hash_value), first)
    return buf.data + body


def phase2_hash(sa: Phase1Sa, message_id: int, data: bytes) -> bytes:
    """prf(SKEYID_a, M-ID | data): HASH(1) of Quick Mode, Informational and Transaction."""
    return sa.prf.compute(sa.keys.skeyid_a, message_id.to_bytes(4, "big") + data)


def protected_body(sa: Phase1Sa, message_id: int, rest: Sequence[Payload]) -> bytes:
    """HDR*, HASH(1), rest: the body of an Informational or Transaction message (§5.7)."""
    _, body = push_payload_chain(rest)
    return with_hash(phase2_hash(sa, message_id, body), rest)


def check_hash(message: Message, expected: bytes) -> None:
    """The first payload must be HASH and equal ``expected`` (constant time)."""
    if not message.payloads or not isinstance(message.payloads[0], HashPayload):
        raise InvalidSyntax("a protected message must start with a HASH payload")
    if not k.verify(expected, message.payloads[0].data):
        raise IntegrityError("HASH payload mismatch")


def check_phase2_hash(sa: Phase1Sa, message: Message) -> None:
    """Verify HASH(1) of an Informational or Transaction message (RFC 2409 §5.7)."""
    if not message.payloads or not isinstance(message.payloads[0], HashPayload):
        raise InvalidSyntax("a protected message must start with a HASH payload")
    check_hash(message, phase2_hash(sa, message.header.message_id, message.after(0)))


# -- IDs ------------------------------------------------------------------------------------


def id_from_ts(ts: TrafficSelectorRange) -> IdPayload:
    """An IPv4 selector as an ID payload (RFC 2407 §4.6.2): a host, a subnet or a range."""
    nets = ts.networks()
    proto, port = ts.ip_protocol, 0
    if ts.start == ts.end:
        return IdPayload(IdType.ID_IPV4_ADDR, proto, port, ts.start.packed)
    if len(nets) == 1 and nets[0].version == 4:
        net = nets[0]
        return IdPayload(
            IdType.ID_IPV4_ADDR_SUBNET, proto, port, net.network_address.packed + net.netmask.packed
        )
    return IdPayload(IdType.ID_IPV4_ADDR_RANGE, proto, port, ts.start.packed + ts.end.packed)


def ts_from_id(p: IdPayload) -> TrafficSelectorRange:
    """An ID payload of Quick Mode as a selector; InvalidSyntax for types we cannot use."""
    proto = p.protocol
    sport, eport = (p.port, p.port) if p.port else (0, 65535)
    if p.id_type == IdType.ID_IPV4_ADDR and len(p.data) == 4:
        ip = ipaddress.IPv4Address(p.data)
        return TrafficSelectorRange(ip, ip, proto, sport, eport)
    if p.id_type == IdType.ID_IPV4_ADDR_SUBNET and len(p.data) == 8:
        try:
            net = ipaddress.IPv4Network(
                f"{ipaddress.IPv4Address(p.data[:4])}/{ipaddress.IPv4Address(p.data[4:])}",
                strict=False,
            )
        except ValueError as exc:
            raise InvalidSyntax("ID_IPV4_ADDR_SUBNET with a non-contiguous mask") from exc
        return TrafficSelectorRange(net.network_address, net.broadcast_address, proto, sport, eport)
    if p.id_type == IdType.ID_IPV4_ADDR_RANGE and len(p.data) == 8:
        start, end = ipaddress.IPv4Address(p.data[:4]), ipaddress.IPv4Address(p.data[4:])
        if end < start:
            raise InvalidSyntax("ID_IPV4_ADDR_RANGE ends before it starts")
        return TrafficSelectorRange(start, end, proto, sport, eport)
    raise InvalidSyntax(f"Quick Mode ID of type {p.id_type} is not supported")


def _host_ts(host: str) -> TrafficSelectorRange:
    """One address, any protocol and port: an implicit Quick Mode identity (RFC 2409 §5.5)."""
    ip = ipaddress.ip_address(host)
    return TrafficSelectorRange(ip, ip)


def _responder_lifetime(payloads: Sequence[Payload]) -> int | None:
    """Seconds of a RESPONDER-LIFETIME notify (RFC 2407 §4.6.3.1), if any."""
    for n in find_all(payloads, NotifyPayload):
        if n.notify_type != NotifyType.RESPONDER_LIFETIME:
            continue
        buf = Buffer(n.data)
        seconds = False
        while not buf.eof():
            a = pull_attribute(buf)
            if a.type == Phase2Attribute.SA_LIFE_TYPE:
                seconds = attribute_int(a.value) == 1
            elif a.type == Phase2Attribute.SA_LIFE_DURATION and seconds:
                return attribute_int(a.value)
    return None


@dataclass(frozen=True, slots=True)
class QuickModeDone:
    """An IPsec SA pair ready to install, and its lifetime in seconds."""

    child: ChildSaEstablished
    lifetime: int


def encapsulation_mode(sa: Phase1Sa, udp: bool) -> int:
    """Tunnel mode, UDP-encapsulated when NAT-T is in use (RFC 3947 §5.2, drafts: 61443)."""
    if not udp:
        return EncapsulationMode.TUNNEL
    return EncapsulationMode.UDP_TUNNEL_DRAFT if sa.natt_draft else EncapsulationMode.UDP_TUNNEL


def _make_child(
    *,
    name: str,
    sa: Phase1Sa,
    choice: Phase2Choice,
    spi_in: bytes,
    nonce_i: bytes,
    nonce_r: bytes,
    gxy: bytes | None,
    local_ts: tuple[TrafficSelectorRange, ...],
    remote_ts: tuple[TrafficSelectorRange, ...],
    local: Endpoint,
    remote: Endpoint,
    udp: bool,
    rekeyed_spi_in: int | None,
    started_by_gateway: bool,
) -> ChildSaEstablished:
    """The IPsec SA a Quick Mode made (RFC 2409 §5.5).

    A rekey has its outbound half deferred: the gateway installs the SA only when our next
    message reaches it (our HASH(3) when we started the Quick Mode; our HASH(2) when it
    did), so the old SA carries our traffic until the new one has proven itself (its first
    inbound packet) or the old one is gone.
    """
    suite = choice.suite
    encr = get_encr(suite.encr)
    integ = get_integ(suite.integ) if suite.integ is not None else None
    e_len = encr.key_size(suite.key_bits)
    i_len = integ.key_size if integ is not None else 0
    km_in = k.quick_mode_keymat(
        sa.prf, sa.keys.skeyid_d, ProtocolId.IPSEC_ESP, spi_in, nonce_i, nonce_r, e_len + i_len, gxy
    )
    km_out = k.quick_mode_keymat(
        sa.prf, sa.keys.skeyid_d, ProtocolId.IPSEC_ESP, choice.spi, nonce_i, nonce_r,
        e_len + i_len, gxy,
    )  # fmt: skip
    return ChildSaEstablished(
        name=name,
        spi_in=int.from_bytes(spi_in, "big"),
        spi_out=int.from_bytes(choice.spi, "big"),
        encr_id=suite.encr,
        encr_key_bits=suite.key_bits,
        integ_id=suite.integ,
        esn=False,
        keys=ChildSaKeys(
            encr_out=km_out[:e_len],
            integ_out=km_out[e_len:],
            encr_in=km_in[:e_len],
            integ_in=km_in[e_len:],
        ),
        local_ts=local_ts,
        remote_ts=remote_ts,
        local=local,
        remote=remote,
        udp_encapsulation=udp,
        algorithms=str(suite),
        rekeyed_spi_in=rekeyed_spi_in,
        outbound_deferred=rekeyed_spi_in is not None,
        started_by_gateway=started_by_gateway,
    )


def new_spi(rng: RandomSource) -> bytes:
    """An inbound ESP SPI above the reserved 1-255 (RFC 4303 §2.1)."""
    spi = rng.random_bytes(4)
    return spi if int.from_bytes(spi, "big") > 255 else b"\x80" + spi[1:]


class QuickModeInitiator:
    """Our Quick Mode: builds message 1, checks message 2, builds HASH(3)."""

    def __init__(
        self,
        *,
        sa: Phase1Sa,
        suites: Sequence[Phase2Suite],
        rng: RandomSource,
        message_id: int,
        local_ts: TrafficSelectorRange,
        remote_ts: TrafficSelectorRange,
        lifetime: int,
        udp: bool,
        name: str,
        local: Endpoint,
        remote: Endpoint,
        rekeyed_spi_in: int | None = None,
    ) -> None:
        group = suites[0].group
        self._suites = [s for s in suites if s.group == group]  # one KE per exchange
        self._sa = sa
        self.message_id = message_id
        self.spi = new_spi(rng)
        self.nonce_i = rng.random_bytes(NONCE_SIZE)
        self._ke: KeyExchange | None = create_key_exchange(group, rng) if group else None
        self._local_ts, self._remote_ts = local_ts, remote_ts
        self._lifetime = lifetime
        self._udp = udp
        self._name = name
        self._local, self._remote = local, remote
        self.rekeyed_spi_in = rekeyed_spi_in

    def build_request(self) -> bytes:
        """The plaintext body of message 1: HASH(1), SA, Ni [, KE], IDci, IDcr."""
        encap = encapsulation_mode(self._sa, self._udp)
        rest: list[Payload] = [
            build_phase2_sa(self._suites, self.spi, encap, self._lifetime),
            NoncePayload(self.nonce_i),
        ]
        if self._ke is not None:
            rest.append(KePayload(self._ke.public_value))
        rest += [id_from_ts(self._local_ts), id_from_ts(self._remote_ts)]
        _, body = push_payload_chain(rest)
        return with_hash(phase2_hash(self._sa, self.message_id, body), rest)

    def process_response(self, message: Message) -> tuple[QuickModeDone, bytes]:
        """Check message 2; return the SA pair and the plaintext body of message 3 (HASH(3))."""
        mid = self.message_id.to_bytes(4, "big")
        sa = self._sa
        check_hash(message, sa.prf.compute(sa.keys.skeyid_a, mid + self.nonce_i + message.after(0)))
        sa_r = find_payload(message.payloads, SaPayload)
        nonce = find_payload(message.payloads, NoncePayload)
        if sa_r is None or nonce is None:
            for n in find_all(message.payloads, NotifyPayload):
                if n.notify_type == NotifyType.NO_PROPOSAL_CHOSEN:
                    raise NoProposalChosen("the gateway accepted none of the ESP proposals")
            raise InvalidSyntax("Quick Mode message 2 lacks SA or Nonce")
        choice = select_phase2(sa_r, self._suites)
        gxy = None
        if self._ke is not None:
            ke = find_payload(message.payloads, KePayload)
            if ke is None:
                raise NoProposalChosen("the gateway refused PFS (no KE in Quick Mode)")
            gxy = self._ke.compute_shared_secret(ke.data)
        ids = find_all(message.payloads, IdPayload)
        local_ts, remote_ts = (self._local_ts,), (self._remote_ts,)
        if ids:
            if len(ids) != 2:
                raise InvalidSyntax(f"Quick Mode message 2 carries {len(ids)} ID payloads")
            got_local, got_remote = ts_from_id(ids[0]), ts_from_id(ids[1])
            if not self._local_ts.contains(got_local) or not self._remote_ts.contains(got_remote):
                raise TsUnacceptable(
                    f"the gateway answered {got_local} <=> {got_remote} "
                    f"for {self._local_ts} <=> {self._remote_ts}"
                )
            local_ts, remote_ts = (got_local,), (got_remote,)
        child = _make_child(
            name=self._name, sa=sa, choice=choice, spi_in=self.spi, nonce_i=self.nonce_i,
            nonce_r=nonce.data, gxy=gxy, local_ts=local_ts, remote_ts=remote_ts,
            local=self._local, remote=self._remote, udp=self._udp,
            rekeyed_spi_in=self.rekeyed_spi_in, started_by_gateway=False,
        )  # fmt: skip
        lifetime = _responder_lifetime(message.payloads) or choice.lifetime or self._lifetime
        hash3 = sa.prf.compute(sa.keys.skeyid_a, b"\x00" + mid + self.nonce_i + nonce.data)
        return QuickModeDone(child, min(lifetime, self._lifetime)), with_hash(hash3, [])


def check_responder_selectors(
    *,
    offered_local: TrafficSelectorRange,
    offered_remote: TrafficSelectorRange,
    allowed_local: TrafficSelectorRange,
    allowed_remote: Sequence[TrafficSelectorRange],
) -> None:
    """Refuse a gateway-started Quick Mode whose selectors exceed what we would ask for.

    ``offered_local`` is the gateway's IDcr (our side), ``offered_remote`` its IDci (its
    side). Our side must lie inside ``allowed_local`` (the virtual IP, or our own address
    without one), the gateway's inside one of the profile's remote selectors: the same
    narrowing ``QuickModeInitiator.process_response`` applies to the gateway's answers.
    Installing wider selectors would let the gateway send ESP with any inner source.
    RFC 2409 §5.5: identities the responder does not accept are answered with
    INVALID-ID-INFORMATION (18, RFC 2408 §3.14.1); the error carries that notify type.
    """
    if not allowed_local.contains(offered_local) or not any(
        r.contains(offered_remote) for r in allowed_remote
    ):
        wanted = ", ".join(str(r) for r in allowed_remote)
        raise TsUnacceptable(
            f"the gateway's Quick Mode proposes {offered_local} <=> {offered_remote}, "
            f"outside {allowed_local} <=> {wanted}",
            NotifyType.INVALID_ID_INFORMATION,
        )


class QuickModeResponder:
    """The gateway's Quick Mode (rekeying from its side): answer message 1, check HASH(3).

    The gateway's selectors are checked (``check_responder_selectors``) before anything
    else in message 1 is used, right after HASH(1): a refusal raises ``TsUnacceptable``
    with the INVALID-ID-INFORMATION notify and nothing is installed. Without IDci and
    IDcr the selectors are the phase 1 endpoints (RFC 2409 §5.5), ``local_address`` and
    ``remote_address`` host to host with any protocol and port, and checked the same way:
    with a virtual IP our phase 1 address is not our side of the tunnel, so that is refused.
    """

    def __init__(
        self,
        *,
        sa: Phase1Sa,
        suites: Sequence[Phase2Suite],
        rng: RandomSource,
        message: Message,
        lifetime: int,
        udp: bool,
        name: str,
        local: Endpoint,
        remote: Endpoint,
        allowed_local: TrafficSelectorRange,
        allowed_remote: Sequence[TrafficSelectorRange],
    ) -> None:
        self._sa = sa
        self.message_id = message.header.message_id
        mid = self.message_id.to_bytes(4, "big")
        check_hash(message, sa.prf.compute(sa.keys.skeyid_a, mid + message.after(0)))
        ids = find_all(message.payloads, IdPayload)
        if ids:
            if len(ids) != 2:
                raise InvalidSyntax(f"the gateway's Quick Mode carries {len(ids)} ID payloads")
            # The gateway's IDci is its side, IDcr ours.
            remote_ts, local_ts = ts_from_id(ids[0]), ts_from_id(ids[1])
        else:
            # RFC 2409 §5.5: no client IDs, so the selectors are the ISAKMP peers' addresses.
            remote_ts, local_ts = _host_ts(remote.host), _host_ts(local.host)
        check_responder_selectors(
            offered_local=local_ts,
            offered_remote=remote_ts,
            allowed_local=allowed_local,
            allowed_remote=allowed_remote,
        )
        self._ids = ids
        self.remote_ts = (remote_ts,)
        self.local_ts = (local_ts,)
        sa_i = find_payload(message.payloads, SaPayload)
        nonce = find_payload(message.payloads, NoncePayload)
        if sa_i is None or nonce is None:
            raise InvalidSyntax("the gateway's Quick Mode lacks SA or Nonce")
        proposal, choice = choose_phase2(sa_i, suites)
        self._choice = choice
        self.nonce_i = nonce.data
        self.nonce_r = rng.random_bytes(NONCE_SIZE)
        self.spi = new_spi(rng)
        self._gxy: bytes | None = None
        self._ke_reply: KePayload | None = None
        if choice.suite.group is not None:
            ke_i = find_payload(message.payloads, KePayload)
            if ke_i is None:
                raise InvalidSyntax("the gateway asked for PFS without a KE payload")
            ke = create_key_exchange(choice.suite.group, rng)
            self._gxy = ke.compute_shared_secret(ke_i.data)
            self._ke_reply = KePayload(ke.public_value)
        self._proposal = proposal
        self._lifetime = min(choice.lifetime or lifetime, lifetime)
        self._udp, self._name, self._local, self._remote = udp, name, local, remote

    def build_response(self) -> bytes:
        """The plaintext body of message 2: HASH(2), SA, Nr [, KE], IDci, IDcr."""
        p = self._proposal
        chosen = SaPayload(1, 1, (type(p)(p.number, p.protocol, self.spi, p.transforms),))
        rest: list[Payload] = [chosen, NoncePayload(self.nonce_r)]
        if self._ke_reply is not None:
            rest.append(self._ke_reply)
        rest += list(self._ids)
        _, body = push_payload_chain(rest)
        mid = self.message_id.to_bytes(4, "big")
        hash2 = self._sa.prf.compute(self._sa.keys.skeyid_a, mid + self.nonce_i + body)
        return with_hash(hash2, rest)

    def done(self, rekeyed_spi_in: int | None) -> QuickModeDone:
        """The SA pair (keys with the gateway as initiator), known once HASH(2) is built.

        The responder installs it when it sends HASH(2): the gateway, as Quick Mode
        initiator, installs its SAs on receiving HASH(2) and may send on the new SA before
        its HASH(3) arrives (strongSwan does).
        """
        child = _make_child(
            name=self._name, sa=self._sa, choice=self._choice, spi_in=self.spi,
            nonce_i=self.nonce_i, nonce_r=self.nonce_r, gxy=self._gxy, local_ts=self.local_ts,
            remote_ts=self.remote_ts, local=self._local, remote=self._remote, udp=self._udp,
            rekeyed_spi_in=rekeyed_spi_in, started_by_gateway=True,
        )  # fmt: skip
        return QuickModeDone(child, self._lifetime)

    def check_final(self, message: Message) -> None:
        """Check HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b) (RFC 2409 §5.5)."""
        sa = self._sa
        mid = self.message_id.to_bytes(4, "big")
        check_hash(
            message, sa.prf.compute(sa.keys.skeyid_a, b"\x00" + mid + self.nonce_i + self.nonce_r)
        )


__all__ = [
    "Attribute",
    "QuickModeDone",
    "QuickModeInitiator",
    "QuickModeResponder",
    "check_phase2_hash",
    "check_responder_selectors",
    "encapsulation_mode",
    "id_from_ts",
    "protected_body",
    "ts_from_id",
]
