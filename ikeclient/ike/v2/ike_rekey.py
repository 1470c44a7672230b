"""Rekeying the IKE SA with CREATE_CHILD_SA, both ways (RFC 7296 §1.3.2, §2.18).

We rekey::

    HDR, SK {SA, Ni, KEi}  -->            (SA: IKE proposals carrying our new SPI)
                      <--  HDR, SK {SA, Nr, KEr}
                      <--  HDR, SK {N(TEMPORARY_FAILURE | NO_PROPOSAL_CHOSEN |
                                      INVALID_KE_PAYLOAD | ...)}

The gateway rekeys (:func:`answer_ike_rekey`)::

                      <--  HDR, SK {SA, Ni, KEi}
    HDR, SK {SA, Nr, KEr}  -->

The new IKE SA's initiator is whoever sent the request: its SPI is SPIi, its
nonce Ni, and it sets the I flag from then on. Keys (§2.18):
SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr); message IDs start at 0. The
child SAs move to the new IKE SA; the one who started the rekey deletes the
old IKE SA (a simultaneous rekey is settled by the nonces, §2.8.1, in the
connection).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ikeclient.crypto.keyexchange import KeyExchange, create_key_exchange
from ikeclient.crypto.random import RandomSource
from ikeclient.errors import CryptoError, InvalidKePayload, InvalidSyntax, NoProposalChosen
from ikeclient.ike.v2.create_child_sa import ChildAnswer as _Answer
from ikeclient.ike.v2.create_child_sa import TemporaryFailure, refuse
from ikeclient.ike.v2.enums import NotifyType, ProtocolId, is_error
from ikeclient.ike.v2.ike_init import notify_name
from ikeclient.ike.v2.ike_sa import IkeSa
from ikeclient.ike.v2.message import find_all, find_payload
from ikeclient.ike.v2.negotiation import build_sa_payload, choose_proposal, select_accepted
from ikeclient.ike.v2.payloads import (
    KePayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    Proposal,
    SaPayload,
)
from ikeclient.ike.v2.settings import Ikev2Settings

NONCE_SIZE = 32
NON_ESP_MARKER = b"\x00\x00\x00\x00"


def new_ike_spi(rng: RandomSource) -> bytes:
    """A fresh 8-byte IKE SPI; never zero in its first word (that is the non-ESP marker)."""
    spi = rng.random_bytes(8)
    return spi if spi[:4] != NON_ESP_MARKER else b"\x01" + spi[1:]


@dataclass(frozen=True, slots=True)
class IkeSaMade:
    """A new IKE SA both sides have, with the two nonces of the exchange (for §2.8.1)."""

    sa: IkeSa
    nonce_i: bytes = field(repr=False)
    nonce_r: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class RetryIkeRekey:
    """The gateway wants another key exchange group (INVALID_KE_PAYLOAD)."""

    group: int


def is_ike_rekey(payloads: Sequence[Payload]) -> bool:
    """True when a CREATE_CHILD_SA request's SA payload proposes IKE (§1.3.2)."""
    sa = find_payload(payloads, SaPayload)
    return sa is not None and any(p.protocol == ProtocolId.IKE for p in sa.proposals)


class IkeRekeyRequest:
    """Our request to rekey ``old`` (RFC 7296 §1.3.2)."""

    def __init__(
        self,
        settings: Ikev2Settings,
        old: IkeSa,
        rng: RandomSource,
        *,
        group: int | None = None,
    ) -> None:
        self._settings = settings
        self._old = old
        self.spi = new_ike_spi(rng)
        self.nonce_i = rng.random_bytes(NONCE_SIZE)
        # The group of the current IKE SA was acceptable once: offer it first.
        chosen_group = group or old.chosen.ke or settings.ike_proposals[0].ke[0]
        self.key_exchange: KeyExchange = create_key_exchange(chosen_group, rng)

    def build_request(self) -> list[Payload]:
        """SA (our new SPI), Ni, KEi."""
        return [
            build_sa_payload(self._settings.ike_proposals, ProtocolId.IKE, self.spi),
            NoncePayload(self.nonce_i),
            KePayload(self.key_exchange.group, self.key_exchange.public_value),
        ]

    def process_response(self, payloads: Sequence[Payload]) -> IkeSaMade | RetryIkeRekey:
        """The new IKE SA, or a retry; raises ``RemoteProtocolError`` when refused."""
        for n in find_all(payloads, NotifyPayload):
            if not is_error(n.notify_type):
                continue
            if n.notify_type == NotifyType.TEMPORARY_FAILURE:
                raise TemporaryFailure("the gateway is busy (TEMPORARY_FAILURE)")
            if n.notify_type == NotifyType.INVALID_KE_PAYLOAD and len(n.data) == 2:
                group = int.from_bytes(n.data, "big")
                offered = {k for p in self._settings.ike_proposals for k in p.ke}
                if group in offered and group != self.key_exchange.group:
                    return RetryIkeRekey(group)
                raise InvalidKePayload(f"the gateway wants group {group} to rekey", group)
            if n.notify_type == NotifyType.NO_PROPOSAL_CHOSEN:
                raise NoProposalChosen("the gateway accepted none of the IKE proposals to rekey")
            raise TemporaryFailure(
                f"the gateway refused the IKE rekey with {notify_name(n.notify_type)}",
                n.notify_type,
            )
        sa = find_payload(payloads, SaPayload)
        nonce = find_payload(payloads, NoncePayload)
        ke = find_payload(payloads, KePayload)
        if sa is None or nonce is None or ke is None:
            raise InvalidSyntax("IKE rekey response lacks SA, Nonce or KE")
        if not 16 <= len(nonce.data) <= 256:
            raise InvalidSyntax(f"responder nonce is {len(nonce.data)} bytes (RFC: 16-256)")
        chosen, spi_r = select_accepted(
            sa, self._settings.ike_proposals, ProtocolId.IKE, spi_size=8
        )
        if chosen.ke != self.key_exchange.group or ke.group != chosen.ke:
            raise InvalidSyntax("IKE rekey response: KE group differs from the one we sent")
        if spi_r == bytes(8):
            raise InvalidSyntax("IKE rekey response has a zero SPI")
        try:
            shared = self.key_exchange.compute_shared_secret(ke.data)
        except CryptoError as exc:
            raise InvalidSyntax(f"the gateway's KEr is unusable: {exc}") from exc
        new = IkeSa.derive_rekeyed(
            old_sk_d=self._old.keys.sk_d,
            old_prf=self._old.prf,
            spi_i=self.spi,
            spi_r=spi_r,
            chosen=chosen,
            nonce_i=self.nonce_i,
            nonce_r=nonce.data,
            shared_secret=shared,
            we_initiated=True,
        )
        return IkeSaMade(new, self.nonce_i, nonce.data)


@dataclass(frozen=True, slots=True)
class IkeRekeyAnswer:
    """Our answer to the gateway's IKE rekey: payloads, and the new IKE SA when accepted."""

    payloads: list[Payload]
    made: IkeSaMade | None = None


def answer_ike_rekey(
    settings: Ikev2Settings, old: IkeSa, rng: RandomSource, payloads: Sequence[Payload]
) -> IkeRekeyAnswer:
    """Answer the gateway's request to rekey ``old`` (RFC 7296 §1.3.2, §2.18)."""
    sa = find_payload(payloads, SaPayload)
    nonce = find_payload(payloads, NoncePayload)
    ke = find_payload(payloads, KePayload)
    if sa is None or nonce is None or ke is None or not 16 <= len(nonce.data) <= 256:
        return _ike(refuse(NotifyType.INVALID_SYNTAX))
    picked = choose_proposal(
        sa, settings.ike_proposals, ProtocolId.IKE, include_ke=True, prefer_ke=ke.group
    )
    if picked is None:
        return _ike(refuse(NotifyType.NO_PROPOSAL_CHOSEN))
    proposal, chosen = picked
    if len(proposal.spi) != 8 or proposal.spi == bytes(8) or chosen.ke is None:
        return _ike(refuse(NotifyType.INVALID_SYNTAX))
    if ke.group != chosen.ke:
        return _ike(refuse(NotifyType.INVALID_KE_PAYLOAD, chosen.ke.to_bytes(2, "big")))
    mine = create_key_exchange(chosen.ke, rng)
    try:
        shared = mine.compute_shared_secret(ke.data)
    except CryptoError:
        return _ike(refuse(NotifyType.INVALID_SYNTAX))
    spi = new_ike_spi(rng)
    nonce_r = rng.random_bytes(NONCE_SIZE)
    new = IkeSa.derive_rekeyed(
        old_sk_d=old.keys.sk_d,
        old_prf=old.prf,
        spi_i=proposal.spi,
        spi_r=spi,
        chosen=chosen,
        nonce_i=nonce.data,
        nonce_r=nonce_r,
        shared_secret=shared,
        we_initiated=False,
    )
    reply: list[Payload] = [
        SaPayload((Proposal(proposal.number, ProtocolId.IKE, spi, proposal.transforms),)),
        NoncePayload(nonce_r),
        KePayload(mine.group, mine.public_value),
    ]
    return IkeRekeyAnswer(reply, IkeSaMade(new, nonce.data, nonce_r))


def _ike(answer: _Answer) -> IkeRekeyAnswer:
    return IkeRekeyAnswer(answer.payloads)
