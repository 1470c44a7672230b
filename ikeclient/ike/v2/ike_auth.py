"""The IKE_AUTH exchange and the first child SA (RFC 7296 §1.2, §2.15, §2.16).

    HDR, SK {IDi, [CERT+,] [CERTREQ,] N(INITIAL_CONTACT), [IDr,] [AUTH,]
             CP(CFG_REQUEST), SAi2, TSi, TSr}  -->
                         <--  HDR, SK {IDr, [CERT+,] AUTH, CP(CFG_REPLY), SAr2, TSi, TSr}

With EAP the exchange takes more round trips (:mod:`authenticator`), and the
config and child SA arrive with the last response. AUTH, CERT, CERTREQ and
EAP belong to :class:`~ikeclient.ike.v2.authenticator.Ikev2Authenticator`;
this module owns identities, config and the child SA. The responder's AUTH is
verified before anything else in the response is used. Errors about the
child SA (TS_UNACCEPTABLE, NO_PROPOSAL_CHOSEN, ...) may come with a valid
AUTH: the IKE SA then exists but carries no child.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ikeclient.crypto.encr import get_encr
from ikeclient.crypto.integ import get_integ
from ikeclient.crypto.kdf import derive_child_sa_keys
from ikeclient.crypto.random import RandomSource
from ikeclient.errors import (
    AuthenticationFailed,
    InvalidSyntax,
    NoProposalChosen,
    PeerNotify,
    RemoteProtocolError,
    TsUnacceptable,
)
from ikeclient.ike.events import (
    ChildSaEstablished,
    ChildSaKeys,
    ConfigReceived,
    Endpoint,
)
from ikeclient.ike.identity import Identity
from ikeclient.ike.v2.authenticator import Ikev2Authenticator
from ikeclient.ike.v2.config_payload import build_cfg_request, parse_cfg_reply
from ikeclient.ike.v2.enums import NotifyType, ProtocolId, is_error
from ikeclient.ike.v2.ike_init import notify_name
from ikeclient.ike.v2.ike_sa import IkeSa
from ikeclient.ike.v2.message import find_all, find_payload
from ikeclient.ike.v2.negotiation import (
    build_sa_payload,
    check_narrowed,
    select_accepted,
    ts_to_wire,
)
from ikeclient.ike.v2.payloads import (
    AuthPayload,
    CpPayload,
    EapPayload,
    IdiPayload,
    IdrPayload,
    NotifyPayload,
    Payload,
    SaPayload,
    TsiPayload,
    TsrPayload,
)
from ikeclient.ike.v2.settings import ANY_IPV4, ANY_IPV6, Ikev2Settings

_REJECTED_HINTS = {
    "psk": "wrong pre-shared key or identity?",
    "pubkey": "certificate not trusted or not for our identity?",
    "eap": "wrong EAP user name or password?",
}
_CHILD_ERRORS: dict[int, type[RemoteProtocolError]] = {
    NotifyType.NO_PROPOSAL_CHOSEN: NoProposalChosen,
    NotifyType.TS_UNACCEPTABLE: TsUnacceptable,
}


@dataclass(frozen=True, slots=True)
class AuthDone:
    """What a successful IKE_AUTH gave: the gateway's identity, config and first child SA."""

    remote_identity: Identity
    config: ConfigReceived | None
    child: ChildSaEstablished | None
    child_error: RemoteProtocolError | None


@dataclass(frozen=True, slots=True)
class AuthContinue:
    """IKE_AUTH needs another round trip (EAP, RFC 7296 §2.16): send these payloads."""

    payloads: list[Payload]


class IkeAuthExchange:
    """Builds the IKE_AUTH request and processes its response."""

    def __init__(
        self,
        settings: Ikev2Settings,
        ike_sa: IkeSa,
        rng: RandomSource,
        local: Endpoint,
        remote: Endpoint,
        udp_encapsulation: bool,
        *,
        peer_signature_hashes: tuple[int, ...] = (),
    ) -> None:
        self._settings = settings
        self._sa = ike_sa
        self._local = local
        self._remote = remote
        self._encap = udp_encapsulation
        spi = rng.random_bytes(4)
        # SPIs 1-255 are reserved (RFC 4303 §2.1); keep ours above them.
        self.child_spi = spi if int.from_bytes(spi, "big") > 255 else b"\x80" + spi[1:]
        self._tsi = (ANY_IPV4, ANY_IPV6) if settings.request_ipv6 else (ANY_IPV4,)
        self._tsr = settings.remote_ts
        self.authenticator = Ikev2Authenticator(
            settings, ike_sa, rng, peer_signature_hashes=peer_signature_hashes
        )

    def build_request(self) -> list[Payload]:
        """The payloads to put inside SK."""
        s = self._settings
        payloads: list[Payload] = [IdiPayload(s.local_id.id_type, s.local_id.data)]
        payloads += self.authenticator.certificate_payloads()
        payloads.append(NotifyPayload(0, b"", NotifyType.INITIAL_CONTACT, b""))
        if s.remote_id is not None and s.send_remote_id:
            payloads.append(IdrPayload(s.remote_id.id_type, s.remote_id.data))
        payloads += self.authenticator.auth_payloads()
        if s.request_virtual_ip:
            payloads.append(build_cfg_request(ipv4=True, ipv6=s.request_ipv6))
        payloads.append(
            build_sa_payload(s.esp_proposals, ProtocolId.ESP, self.child_spi, include_ke=False)
        )
        payloads.append(TsiPayload(tuple(ts_to_wire(t) for t in self._tsi)))
        payloads.append(TsrPayload(tuple(ts_to_wire(t) for t in self._tsr)))
        return payloads

    def process_response(
        self, payloads: tuple[Payload, ...], wall_time: float | None = None
    ) -> AuthDone | AuthContinue:
        """Verify the gateway's AUTH first, then take config and the child SA.

        ``wall_time`` (seconds since the epoch) is the time of day certificates
        are checked against. With EAP, returns :class:`AuthContinue` until the
        last round trip.
        """
        notifies = find_all(payloads, NotifyPayload)
        if (
            find_payload(payloads, AuthPayload) is None
            and find_payload(payloads, EapPayload) is None
        ):
            self._raise_for_notifies(notifies, auth_missing=True)
        step = self.authenticator.process(payloads, wall_time)
        if isinstance(step, list):
            return AuthContinue(step)
        remote_identity = step
        cp = find_payload(payloads, CpPayload)
        config = parse_cfg_reply(cp) if cp is not None else None
        try:
            self._raise_for_notifies(notifies, auth_missing=False)
            child = self._child(payloads)
        except RemoteProtocolError as exc:
            return AuthDone(remote_identity, config, None, exc)
        return AuthDone(remote_identity, config, child, None)

    def _raise_for_notifies(self, notifies: Sequence[NotifyPayload], *, auth_missing: bool) -> None:
        for n in notifies:
            if not is_error(n.notify_type):
                continue
            if n.notify_type == NotifyType.AUTHENTICATION_FAILED:
                hint = _REJECTED_HINTS[self._settings.auth.local]
                raise AuthenticationFailed(f"the gateway rejected our authentication ({hint})")
            cls = _CHILD_ERRORS.get(n.notify_type)
            if cls is NoProposalChosen:
                offered = ", ".join(str(p) for p in self._settings.esp_proposals)
                raise NoProposalChosen(f"the gateway accepted none of the ESP proposals: {offered}")
            if cls is TsUnacceptable:
                asked = ", ".join(str(t) for t in self._tsr)
                raise TsUnacceptable(f"the gateway refused the traffic selectors asked: {asked}")
            raise PeerNotify(
                f"the gateway answered IKE_AUTH with {notify_name(n.notify_type)}", n.notify_type
            )
        if auth_missing:
            return

    def _child(self, payloads: tuple[Payload, ...]) -> ChildSaEstablished:
        sa = find_payload(payloads, SaPayload)
        tsi = find_payload(payloads, TsiPayload)
        tsr = find_payload(payloads, TsrPayload)
        if sa is None or tsi is None or tsr is None:
            raise InvalidSyntax("IKE_AUTH response lacks SA, TSi or TSr for the child SA")
        chosen, spi_r = select_accepted(
            sa, self._settings.esp_proposals, ProtocolId.ESP, spi_size=4, include_ke=False
        )
        local_ts = check_narrowed(tsi.selectors, self._tsi, "TSi")
        remote_ts = check_narrowed(tsr.selectors, self._tsr, "TSr")
        encr = get_encr(chosen.encr.id)
        integ = get_integ(chosen.integ) if chosen.integ is not None else None
        keymat = derive_child_sa_keys(
            self._sa.prf,
            self._sa.keys.sk_d,
            self._sa.nonce_i,
            self._sa.nonce_r,
            encr.key_size(chosen.encr.key_bits),
            integ.key_size if integ is not None else 0,
        )
        return ChildSaEstablished(
            name=self._settings.child_name,
            spi_in=int.from_bytes(self.child_spi, "big"),
            spi_out=int.from_bytes(spi_r, "big"),
            encr_id=chosen.encr.id,
            encr_key_bits=chosen.encr.key_bits,
            integ_id=chosen.integ,
            esn=chosen.esn,
            keys=ChildSaKeys(
                encr_out=keymat.encr_i,
                integ_out=keymat.integ_i,
                encr_in=keymat.encr_r,
                integ_in=keymat.integ_r,
            ),
            local_ts=local_ts,
            remote_ts=remote_ts,
            local=self._local,
            remote=self._remote,
            udp_encapsulation=self._encap,
            algorithms=str(chosen),
        )
