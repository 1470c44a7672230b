"""CREATE_CHILD_SA for child SAs: rekeying (and re-creating) them, both ways (RFC 7296 §1.3).

We rekey a child SA (§1.3.3), or create a new one when the gateway lost it (§1.3.1)::

    HDR, SK {[N(REKEY_SA),] SA, Ni, [KEi,] TSi, TSr}  -->
                           <--  HDR, SK {SA, Nr, [KEr,] TSi, TSr}
                           <--  HDR, SK {N(TEMPORARY_FAILURE | CHILD_SA_NOT_FOUND |
                                           NO_PROPOSAL_CHOSEN | INVALID_KE_PAYLOAD | ...)}

The gateway rekeys one of ours; we answer (:func:`answer_child_rekey`)::

                           <--  HDR, SK {N(REKEY_SA), SA, Ni, [KEi,] TSi, TSr}
    HDR, SK {SA, Nr, [KEr,] TSi, TSr}  -->

Keys (§2.17): KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr), Ni and Nr those of
this exchange; the first keys protect traffic from the exchange's initiator.
With a key exchange group in the ESP proposal the profile asks for perfect
forward secrecy: KEi/KEr carry a fresh Diffie-Hellman exchange.

Make-before-break. As initiator our KEYMAT needs Nr, so the new SA can be
installed only when the response arrives (not before the request, as a
responder could); the connection then installs it in both directions at once
(the gateway, having answered, already receives on it) and deletes the old SA.
As responder we install the new SA before the response leaves, with its
outbound half deferred until the gateway has it (``outbound_deferred``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from ikeclient.crypto.encr import get_encr
from ikeclient.crypto.integ import get_integ
from ikeclient.crypto.kdf import derive_child_sa_keys
from ikeclient.crypto.keyexchange import KeyExchange, create_key_exchange
from ikeclient.crypto.random import RandomSource
from ikeclient.errors import (
    CryptoError,
    InvalidKePayload,
    InvalidSyntax,
    NoProposalChosen,
    PeerNotify,
    RemoteProtocolError,
    TsUnacceptable,
)
from ikeclient.ike.events import (
    ChildSaEstablished,
    ChildSaKeys,
    Endpoint,
    TrafficSelectorRange,
)
from ikeclient.ike.proposals import ChosenAlgorithms
from ikeclient.ike.v2.enums import NotifyType, ProtocolId, is_error
from ikeclient.ike.v2.ike_init import notify_name
from ikeclient.ike.v2.ike_sa import IkeSa
from ikeclient.ike.v2.message import find_all, find_notify, find_payload
from ikeclient.ike.v2.negotiation import (
    build_sa_payload,
    check_narrowed,
    choose_proposal,
    narrow_selectors,
    select_accepted,
    ts_to_wire,
)
from ikeclient.ike.v2.payloads import (
    KePayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    Proposal,
    SaPayload,
    TsiPayload,
    TsrPayload,
)
from ikeclient.ike.v2.settings import Ikev2Settings

NONCE_SIZE = 32


def new_child_spi(rng: RandomSource) -> bytes:
    """A fresh 4-byte ESP SPI above the reserved 1-255 (RFC 4303 §2.1)."""
    spi = rng.random_bytes(4)
    return spi if int.from_bytes(spi, "big") > 255 else b"\x80" + spi[1:]


class TemporaryFailure(PeerNotify):
    """The gateway answered TEMPORARY_FAILURE: try again later (RFC 7296 §2.25)."""

    default_notify = int(NotifyType.TEMPORARY_FAILURE)


class ChildSaNotFound(PeerNotify):
    """The gateway does not know the child SA we asked to rekey (RFC 7296 §2.25)."""

    default_notify = int(NotifyType.CHILD_SA_NOT_FOUND)


@dataclass(frozen=True, slots=True)
class ChildSaTemplate:
    """What a new or rekeyed child SA should look like: selectors and endpoints."""

    name: str
    local_ts: tuple[TrafficSelectorRange, ...]
    remote_ts: tuple[TrafficSelectorRange, ...]
    local: Endpoint
    remote: Endpoint
    udp_encapsulation: bool


@dataclass(frozen=True, slots=True)
class RetryWithGroup:
    """The gateway wants another PFS group (INVALID_KE_PAYLOAD, RFC 7296 §1.3)."""

    group: int


@dataclass(frozen=True, slots=True)
class ChildSaMade:
    """A child SA both sides now have, with the two nonces that made it (for §2.8.1)."""

    child: ChildSaEstablished
    nonce_i: bytes = field(repr=False)
    nonce_r: bytes = field(repr=False)
    shared_secret: bytes | None = field(default=None, repr=False)


def _keys(
    ike_sa: IkeSa,
    chosen: ChosenAlgorithms,
    nonce_i: bytes,
    nonce_r: bytes,
    shared_secret: bytes | None,
    *,
    we_initiated: bool,
) -> ChildSaKeys:
    encr = get_encr(chosen.encr.id)
    integ = get_integ(chosen.integ) if chosen.integ is not None else None
    keymat = derive_child_sa_keys(
        ike_sa.prf,
        ike_sa.keys.sk_d,
        nonce_i,
        nonce_r,
        encr.key_size(chosen.encr.key_bits),
        integ.key_size if integ is not None else 0,
        shared_secret,
    )
    if we_initiated:
        return ChildSaKeys(keymat.encr_i, keymat.integ_i, keymat.encr_r, keymat.integ_r)
    return ChildSaKeys(keymat.encr_r, keymat.integ_r, keymat.encr_i, keymat.integ_i)


class ChildSaRequest:
    """Our CREATE_CHILD_SA request: rekey ``rekeyed_spi_in`` (or create a new child SA)."""

    def __init__(
        self,
        settings: Ikev2Settings,
        ike_sa: IkeSa,
        rng: RandomSource,
        template: ChildSaTemplate,
        *,
        rekeyed_spi_in: int | None,
        group: int | None = None,
    ) -> None:
        self._settings = settings
        self._sa = ike_sa
        self._template = template
        self.rekeyed_spi_in = rekeyed_spi_in
        self.spi = new_child_spi(rng)
        self.nonce_i = rng.random_bytes(NONCE_SIZE)
        pfs = [k for p in settings.esp_proposals for k in p.ke]
        if group is None and pfs:
            group = pfs[0]
        self.key_exchange: KeyExchange | None = (
            create_key_exchange(group, rng) if group is not None else None
        )
        self._retried_group = False

    @property
    def pfs(self) -> bool:
        return self.key_exchange is not None

    def build_request(self) -> list[Payload]:
        """N(REKEY_SA), SA, Ni, [KEi,] TSi, TSr (RFC 7296 §1.3.3)."""
        payloads: list[Payload] = []
        if self.rekeyed_spi_in is not None:
            payloads.append(
                NotifyPayload(
                    ProtocolId.ESP,
                    self.rekeyed_spi_in.to_bytes(4, "big"),
                    NotifyType.REKEY_SA,
                    b"",
                )
            )
        payloads.append(
            build_sa_payload(
                self._settings.esp_proposals, ProtocolId.ESP, self.spi, include_ke=self.pfs
            )
        )
        payloads.append(NoncePayload(self.nonce_i))
        if self.key_exchange is not None:
            payloads.append(KePayload(self.key_exchange.group, self.key_exchange.public_value))
        payloads.append(TsiPayload(tuple(ts_to_wire(t) for t in self._template.local_ts)))
        payloads.append(TsrPayload(tuple(ts_to_wire(t) for t in self._template.remote_ts)))
        return payloads

    def process_response(self, payloads: Sequence[Payload]) -> ChildSaMade | RetryWithGroup:
        """The new child SA, or a retry; raises ``RemoteProtocolError`` when the gateway refused.

        ``TemporaryFailure`` and ``ChildSaNotFound`` tell the caller to retry
        later or to create a fresh child SA (RFC 7296 §2.25).
        """
        for n in find_all(payloads, NotifyPayload):
            if not is_error(n.notify_type):
                continue
            if n.notify_type == NotifyType.TEMPORARY_FAILURE:
                raise TemporaryFailure("the gateway is busy with this SA (TEMPORARY_FAILURE)")
            if n.notify_type == NotifyType.CHILD_SA_NOT_FOUND:
                raise ChildSaNotFound("the gateway does not know the child SA (CHILD_SA_NOT_FOUND)")
            if n.notify_type == NotifyType.INVALID_KE_PAYLOAD:
                return self._retry_group(n)
            if n.notify_type == NotifyType.NO_PROPOSAL_CHOSEN:
                offered = ", ".join(str(p) for p in self._settings.esp_proposals)
                raise NoProposalChosen(f"the gateway accepted none of the ESP proposals: {offered}")
            if n.notify_type == NotifyType.TS_UNACCEPTABLE:
                raise TsUnacceptable("the gateway refused the child SA's traffic selectors")
            raise PeerNotify(
                f"the gateway refused CREATE_CHILD_SA with {notify_name(n.notify_type)}",
                n.notify_type,
            )
        sa = find_payload(payloads, SaPayload)
        nonce = find_payload(payloads, NoncePayload)
        tsi = find_payload(payloads, TsiPayload)
        tsr = find_payload(payloads, TsrPayload)
        if sa is None or nonce is None or tsi is None or tsr is None:
            raise InvalidSyntax("CREATE_CHILD_SA response lacks SA, Nonce, TSi or TSr")
        if not 16 <= len(nonce.data) <= 256:
            raise InvalidSyntax(f"responder nonce is {len(nonce.data)} bytes (RFC: 16-256)")
        chosen, spi_r = select_accepted(
            sa, self._settings.esp_proposals, ProtocolId.ESP, spi_size=4, include_ke=self.pfs
        )
        shared: bytes | None = None
        ke = find_payload(payloads, KePayload)
        if self.key_exchange is not None:
            if ke is None or chosen.ke != self.key_exchange.group or ke.group != chosen.ke:
                raise InvalidSyntax("CREATE_CHILD_SA response lacks the KE of the chosen group")
            try:
                shared = self.key_exchange.compute_shared_secret(ke.data)
            except CryptoError as exc:
                raise InvalidSyntax(f"the gateway's KEr is unusable: {exc}") from exc
        local_ts = check_narrowed(tsi.selectors, self._template.local_ts, "TSi")
        remote_ts = check_narrowed(tsr.selectors, self._template.remote_ts, "TSr")
        keys = _keys(self._sa, chosen, self.nonce_i, nonce.data, shared, we_initiated=True)
        child = ChildSaEstablished(
            name=self._template.name,
            spi_in=int.from_bytes(self.spi, "big"),
            spi_out=int.from_bytes(spi_r, "big"),
            encr_id=chosen.encr.id,
            encr_key_bits=chosen.encr.key_bits,
            integ_id=chosen.integ,
            esn=chosen.esn,
            keys=keys,
            local_ts=local_ts,
            remote_ts=remote_ts,
            local=self._template.local,
            remote=self._template.remote,
            udp_encapsulation=self._template.udp_encapsulation,
            algorithms=str(chosen),
            rekeyed_spi_in=self.rekeyed_spi_in,
        )
        return ChildSaMade(child, self.nonce_i, nonce.data, shared)

    def _retry_group(self, notify: NotifyPayload) -> RetryWithGroup:
        if len(notify.data) != 2:
            raise InvalidSyntax("INVALID_KE_PAYLOAD notify without a 2-byte group")
        group = int.from_bytes(notify.data, "big")
        offered = {k for p in self._settings.esp_proposals for k in p.ke}
        if group not in offered or (
            self.key_exchange is not None and group == self.key_exchange.group
        ):
            raise InvalidKePayload(
                f"the gateway wants PFS group {group}, which the profile does not allow", group
            )
        return RetryWithGroup(group)


@dataclass(frozen=True, slots=True)
class ChildAnswer:
    """Our answer to the gateway's CREATE_CHILD_SA: the payloads, and the SA when accepted."""

    payloads: list[Payload]
    made: ChildSaMade | None = None


def refuse(notify: int, data: bytes = b"") -> ChildAnswer:
    """HDR, SK {N(error)}: the request is refused (RFC 7296 §1.3, §2.25)."""
    return ChildAnswer([NotifyPayload(0, b"", notify, data)])


def rekey_target(payloads: Sequence[Payload]) -> int | None:
    """The SPI named by N(REKEY_SA) for ESP (the gateway's inbound SPI, our outbound one)."""
    notify = find_notify(payloads, NotifyType.REKEY_SA)
    if notify is None or notify.protocol != ProtocolId.ESP or len(notify.spi) != 4:
        return None
    return int.from_bytes(notify.spi, "big")


def answer_child_rekey(
    settings: Ikev2Settings,
    ike_sa: IkeSa,
    rng: RandomSource,
    payloads: Sequence[Payload],
    old: ChildSaEstablished,
    template: ChildSaTemplate,
) -> ChildAnswer:
    """Answer the gateway's rekey of ``old`` (RFC 7296 §1.3.3, §2.17).

    Our proposals decide (we are the responder); the selectors are narrowed to
    the old SA's, so a rekey never widens what the SA carries. A KEi of another
    group than the one we choose gets INVALID_KE_PAYLOAD naming ours.
    """
    sa = find_payload(payloads, SaPayload)
    nonce = find_payload(payloads, NoncePayload)
    tsi = find_payload(payloads, TsiPayload)
    tsr = find_payload(payloads, TsrPayload)
    ke = find_payload(payloads, KePayload)
    if sa is None or nonce is None or tsi is None or tsr is None:
        return refuse(NotifyType.INVALID_SYNTAX)
    if not 16 <= len(nonce.data) <= 256:
        return refuse(NotifyType.INVALID_SYNTAX)
    allowed = tuple(settings.esp_proposals)
    pfs = any(p.ke for p in allowed)
    if not pfs and ke is not None:
        # The gateway wants PFS where the profile does not ask for it: more secrecy is
        # welcome, with a group the profile already trusts for the IKE SA.
        groups = tuple(dict.fromkeys(k for p in settings.ike_proposals for k in p.ke))
        allowed = tuple(dataclasses.replace(p, ke=groups) for p in allowed)
    picked = choose_proposal(
        sa,
        allowed,
        ProtocolId.ESP,
        include_ke=pfs or ke is not None,
        prefer_ke=ke.group if ke is not None else None,
    )
    if picked is None:
        return refuse(NotifyType.NO_PROPOSAL_CHOSEN)
    proposal, chosen = picked
    if len(proposal.spi) != 4:
        return refuse(NotifyType.INVALID_SYNTAX)
    shared: bytes | None = None
    mine: KeyExchange | None = None
    if chosen.ke is not None:
        if ke is None or ke.group != chosen.ke:
            return refuse(NotifyType.INVALID_KE_PAYLOAD, chosen.ke.to_bytes(2, "big"))
        mine = create_key_exchange(chosen.ke, rng)
        try:
            shared = mine.compute_shared_secret(ke.data)
        except CryptoError:
            return refuse(NotifyType.INVALID_SYNTAX)
    # The gateway's TSi is its side (our remote), its TSr our side (§2.9).
    remote_ts = narrow_selectors(tsi.selectors, old.remote_ts)
    local_ts = narrow_selectors(tsr.selectors, old.local_ts)
    if not remote_ts or not local_ts:
        return refuse(NotifyType.TS_UNACCEPTABLE)
    spi = new_child_spi(rng)
    nonce_r = rng.random_bytes(NONCE_SIZE)
    keys = _keys(ike_sa, chosen, nonce.data, nonce_r, shared, we_initiated=False)
    child = ChildSaEstablished(
        name=template.name,
        spi_in=int.from_bytes(spi, "big"),
        spi_out=int.from_bytes(proposal.spi, "big"),
        encr_id=chosen.encr.id,
        encr_key_bits=chosen.encr.key_bits,
        integ_id=chosen.integ,
        esn=chosen.esn,
        keys=keys,
        local_ts=local_ts,
        remote_ts=remote_ts,
        local=template.local,
        remote=template.remote,
        udp_encapsulation=template.udp_encapsulation,
        algorithms=str(chosen),
        rekeyed_spi_in=old.spi_in,
        outbound_deferred=True,
    )
    reply: list[Payload] = [
        SaPayload((Proposal(proposal.number, ProtocolId.ESP, spi, proposal.transforms),)),
        NoncePayload(nonce_r),
    ]
    if mine is not None:
        reply.append(KePayload(mine.group, mine.public_value))
    reply.append(TsiPayload(tuple(ts_to_wire(t) for t in remote_ts)))
    reply.append(TsrPayload(tuple(ts_to_wire(t) for t in local_ts)))
    return ChildAnswer(reply, ChildSaMade(child, nonce.data, nonce_r, shared))


__all__ = [
    "ChildAnswer",
    "ChildSaMade",
    "ChildSaNotFound",
    "ChildSaRequest",
    "ChildSaTemplate",
    "RemoteProtocolError",
    "RetryWithGroup",
    "TemporaryFailure",
    "answer_child_rekey",
    "new_child_spi",
    "refuse",
    "rekey_target",
]
