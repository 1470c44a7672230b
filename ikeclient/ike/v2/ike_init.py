"""The IKE_SA_INIT exchange, initiator side (RFC 7296 §1.2, §1.2 COOKIE, §2.6, §2.23).

HDR, [N(COOKIE),] SAi1, KEi, Ni, N(NAT_DETECTION_SOURCE_IP),
     N(NAT_DETECTION_DESTINATION_IP), N(IKEV2_FRAGMENTATION_SUPPORTED),
     N(SIGNATURE_HASH_ALGORITHMS)  -->
                            <--  HDR, SAr1, KEr, Nr, [CERTREQ,] N(NAT_DETECTION_*)
or                          <--  HDR, N(COOKIE)              (resend with the cookie)
or                          <--  HDR, N(INVALID_KE_PAYLOAD)  (resend with that group)
or                          <--  HDR, N(NO_PROPOSAL_CHOSEN)  (give up)

None of these answers is authenticated. The connection takes a response only from the
address and port the request went to, and a refusal raised here (any error notify, a COOKIE
or INVALID_KE_PAYLOAD that cannot be followed, a proposal we never offered) ends the attempt
only if no valid response arrives within a short grace (RFC 7296 §2.21.1, §2.4; see
``Ikev2Connection._sa_init_error_hint``). COOKIE and INVALID_KE_PAYLOAD are followed at most
``MAX_COOKIE_RETRIES`` times and once, so forged ones cannot keep the attempt going forever.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ikeclient.crypto.keyexchange import KeyExchange, create_key_exchange
from ikeclient.crypto.random import RandomSource
from ikeclient.errors import (
    InvalidKePayload,
    InvalidSyntax,
    NoProposalChosen,
    PeerNotify,
)
from ikeclient.ike.events import Endpoint
from ikeclient.ike.proposals import ChosenAlgorithms
from ikeclient.ike.v2.enums import NotifyType, ProtocolId, is_error
from ikeclient.ike.v2.message import Message, find_all, find_payload
from ikeclient.ike.v2.natd import natd_hash
from ikeclient.ike.v2.negotiation import build_sa_payload, select_accepted
from ikeclient.ike.v2.payloads import (
    KePayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    SaPayload,
)
from ikeclient.ike.v2.settings import Ikev2Settings
from ikeclient.ike.v2.signature_auth import OUR_SIGNATURE_HASHES

NONCE_SIZE = 32
MAX_COOKIE_RETRIES = 3
_ZERO_SPI = bytes(8)


def notify_name(notify_type: int) -> str:
    """The IANA name of a notify type, or its number."""
    try:
        return NotifyType(notify_type).name
    except ValueError:
        return f"notify {notify_type}"


@dataclass(frozen=True, slots=True)
class Retry:
    """Send IKE_SA_INIT again (with a cookie, or with another key exchange group)."""

    why: str


@dataclass(frozen=True, slots=True)
class SaInitDone:
    """The responder accepted: what IKE_AUTH and key derivation need."""

    spi_r: bytes
    chosen: ChosenAlgorithms
    nonce_r: bytes = field(repr=False)
    shared_secret: bytes = field(repr=False)
    local_behind_nat: bool
    remote_behind_nat: bool
    fragmentation: bool
    signature_hashes: tuple[int, ...] = ()


class IkeSaInitExchange:
    """Builds the IKE_SA_INIT request and processes the response."""

    def __init__(
        self,
        settings: Ikev2Settings,
        rng: RandomSource,
        spi_i: bytes,
        local: Endpoint,
        remote: Endpoint,
    ) -> None:
        self._settings = settings
        self._rng = rng
        self._spi_i = spi_i
        self._local = local
        self._remote = remote
        self.nonce_i = rng.random_bytes(NONCE_SIZE)
        self._cookie: bytes | None = None
        self._cookie_retries = 0
        self._group_retried = False
        # With forced encapsulation, claim a source that cannot match, so the
        # gateway sees a NAT and encapsulates ESP in UDP (strongSwan's encap=yes).
        # Drawn once: a COOKIE retry must repeat every other payload unchanged (§2.6).
        self._fake_natd_source = rng.random_bytes(20) if settings.force_encapsulation else None
        self.key_exchange: KeyExchange = create_key_exchange(settings.ike_proposals[0].ke[0], rng)

    @property
    def fake_natd_source(self) -> bytes | None:
        """The NAT_DETECTION_SOURCE_IP value used instead of ours (forced encapsulation)."""
        return self._fake_natd_source

    def build_request(self) -> list[Payload]:
        """The payloads of the (next) IKE_SA_INIT request."""
        payloads: list[Payload] = []
        if self._cookie is not None:
            payloads.append(NotifyPayload(0, b"", NotifyType.COOKIE, self._cookie))
        payloads.append(build_sa_payload(self._settings.ike_proposals, ProtocolId.IKE, b""))
        payloads.append(KePayload(self.key_exchange.group, self.key_exchange.public_value))
        payloads.append(NoncePayload(self.nonce_i))
        if self._fake_natd_source is not None:
            source = self._fake_natd_source
        else:
            source = natd_hash(self._spi_i, _ZERO_SPI, self._local)
        payloads.append(NotifyPayload(0, b"", NotifyType.NAT_DETECTION_SOURCE_IP, source))
        payloads.append(
            NotifyPayload(
                0,
                b"",
                NotifyType.NAT_DETECTION_DESTINATION_IP,
                natd_hash(self._spi_i, _ZERO_SPI, self._remote),
            )
        )
        payloads.append(NotifyPayload(0, b"", NotifyType.IKEV2_FRAGMENTATION_SUPPORTED, b""))
        # RFC 7427 §4; IDENTITY (RFC 8420) lets the gateway sign with Ed25519/Ed448.
        hashes = b"".join(h.to_bytes(2, "big") for h in OUR_SIGNATURE_HASHES)
        payloads.append(NotifyPayload(0, b"", NotifyType.SIGNATURE_HASH_ALGORITHMS, hashes))
        return payloads

    def process_response(self, message: Message) -> Retry | SaInitDone:
        """Handle the response; raises a ``RemoteProtocolError`` when the attempt failed."""
        payloads = message.payloads
        notifies = find_all(payloads, NotifyPayload)
        sa = find_payload(payloads, SaPayload)
        if sa is None:
            return self._handle_notify_only(notifies)
        ke = find_payload(payloads, KePayload)
        nonce = find_payload(payloads, NoncePayload)
        if ke is None or nonce is None:
            raise InvalidSyntax("IKE_SA_INIT response lacks KE or Nonce")
        if not 16 <= len(nonce.data) <= 256:
            raise InvalidSyntax(f"responder nonce is {len(nonce.data)} bytes (RFC: 16-256)")
        if message.header.spi_r == _ZERO_SPI:
            raise InvalidSyntax("IKE_SA_INIT response has a zero responder SPI")
        chosen, _ = select_accepted(sa, self._settings.ike_proposals, ProtocolId.IKE, spi_size=0)
        if chosen.ke != self.key_exchange.group or ke.group != self.key_exchange.group:
            raise InvalidSyntax(
                f"the gateway answered with group {ke.group}, but we sent {self.key_exchange.group}"
            )
        shared = self.key_exchange.compute_shared_secret(ke.data)
        spi_r = message.header.spi_r
        local_nat, remote_nat = self._detect_nat(notifies, spi_r)
        fragmentation = any(
            n.notify_type == NotifyType.IKEV2_FRAGMENTATION_SUPPORTED for n in notifies
        )
        return SaInitDone(
            spi_r,
            chosen,
            nonce.data,
            shared,
            local_nat,
            remote_nat,
            fragmentation,
            _signature_hashes(notifies),
        )

    def _handle_notify_only(self, notifies: Sequence[NotifyPayload]) -> Retry:
        for n in notifies:
            if n.notify_type == NotifyType.COOKIE:
                if not 1 <= len(n.data) <= 64:
                    raise InvalidSyntax(f"COOKIE of {len(n.data)} bytes (RFC: 1-64)")
                if self._cookie_retries >= MAX_COOKIE_RETRIES:
                    raise PeerNotify("the gateway keeps asking for a new COOKIE")
                self._cookie_retries += 1
                self._cookie = n.data
                return Retry("the gateway asked for a COOKIE")
        for n in notifies:
            if n.notify_type == NotifyType.INVALID_KE_PAYLOAD:
                return self._retry_group(n)
        for n in notifies:
            if n.notify_type == NotifyType.NO_PROPOSAL_CHOSEN:
                offered = ", ".join(str(p) for p in self._settings.ike_proposals)
                raise NoProposalChosen(f"the gateway accepted none of the IKE proposals: {offered}")
        for n in notifies:
            if is_error(n.notify_type):
                raise PeerNotify(
                    f"the gateway refused IKE_SA_INIT with {notify_name(n.notify_type)}",
                    n.notify_type,
                )
        raise InvalidSyntax("IKE_SA_INIT response has no SA payload and no error notify")

    def _retry_group(self, notify: NotifyPayload) -> Retry:
        if len(notify.data) != 2:
            raise InvalidSyntax("INVALID_KE_PAYLOAD notify without a 2-byte group")
        group = int.from_bytes(notify.data, "big")
        offered = {k for p in self._settings.ike_proposals for k in p.ke}
        if (
            not self._settings.retry_other_ke_group
            or self._group_retried
            or group not in offered
            or group == self.key_exchange.group
        ):
            raise InvalidKePayload(
                f"the gateway wants key exchange group {group}, which the profile does not allow",
                group,
            )
        self._group_retried = True
        self.key_exchange = create_key_exchange(group, self._rng)
        self._cookie = None
        return Retry(f"the gateway asked for key exchange group {group}")

    def _detect_nat(self, notifies: Sequence[NotifyPayload], spi_r: bytes) -> tuple[bool, bool]:
        """RFC 7296 §2.23: compare the responder's NAT-D hashes with our view of the path."""
        sources = [n.data for n in notifies if n.notify_type == NotifyType.NAT_DETECTION_SOURCE_IP]
        dests = [
            n.data for n in notifies if n.notify_type == NotifyType.NAT_DETECTION_DESTINATION_IP
        ]
        if not sources and not dests:
            return False, False
        local_nat = natd_hash(self._spi_i, spi_r, self._local) not in dests
        remote_nat = natd_hash(self._spi_i, spi_r, self._remote) not in sources
        return local_nat, remote_nat


def _signature_hashes(notifies: Sequence[NotifyPayload]) -> tuple[int, ...]:
    """The hashes the gateway announced in SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4), in order."""
    for n in notifies:
        if n.notify_type == NotifyType.SIGNATURE_HASH_ALGORITHMS:
            data = n.data[: len(n.data) & ~1]  # 2 octets each; a stray odd octet is ignored
            return tuple(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))
    return ()
