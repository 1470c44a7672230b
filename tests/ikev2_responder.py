"""A minimal, honest IKEv2 responder for the sans-I/O tests of the initiator (RFC 7296).

``ResponderDouble`` plays the gateway. It is written from the RFC, independently
of the initiator's exchange modules: it uses only the codec
(``ikeclient.ike.v2.{message,payloads,enums,rules}``) and the crypto primitives
(``ikeclient.crypto``). AUTH (§2.15), NAT detection (§2.23), key derivation
(§2.14, §2.17), SK protection (§3.14), proposal selection (§2.7) and traffic
selector narrowing (§2.9) are computed here on their own, so a test that
passes shows that two independent readings of the RFC agree.

What it does::

    HDR, SAi1, KEi, Ni, N(NAT_D*) -->
                    <-- HDR, N(COOKIE)                       (require_cookie)
                    <-- HDR, N(INVALID_KE_PAYLOAD)           (want_group / KEi not chosen)
                    <-- HDR, N(NO_PROPOSAL_CHOSEN)           (reject_proposals / no match)
                    <-- HDR, SAr1, KEr, Nr, N(NAT_D*), [N(IKEV2_FRAGMENTATION_SUPPORTED)]
    HDR, SK {IDi, [CERT,] [CERTREQ,] [IDr,] AUTH, [CP(CFG_REQUEST),] SAi2, TSi, TSr} -->
                    <-- HDR, SK {IDr, [CERT,] AUTH, CP(CFG_REPLY), SAr2, TSi, TSr}
                    <-- HDR, SK {N(AUTHENTICATION_FAILED)}   (PSK or signature wrong)
    HDR, SK {IDi, [IDr,] SAi2, TSi, TSr} -->                  (EAP, RFC 7296 §2.16)
                    <-- HDR, SK {IDr, [CERT,] AUTH, EAP}     (AUTH left out: EAP-only)
    HDR, SK {EAP} --> <-- HDR, SK {EAP}  ...  <-- HDR, SK {EAP(Success)}
    HDR, SK {AUTH} --> <-- HDR, SK {AUTH, CP(CFG_REPLY), SAr2, TSi, TSr}
    HDR, SK {[D]} -->  <-- HDR, SK {[D]}                      (INFORMATIONAL)
                    <-- HDR, SK {}  /  SK {D(ESP)}  /  SK {D(IKE)}   (originated by us)
    HDR, SK {N(UPDATE_SA_ADDRESSES), N(NAT_D*), N(COOKIE2)} -->   (MOBIKE, RFC 4555 §3.5)
                    <-- HDR, SK {N(NAT_D*), N(COOKIE2)}
    HDR, SK {N(REKEY_SA), SA, Ni, [KEi,] TSi, TSr} -->         (child rekey, §1.3.3)
                    <-- HDR, SK {SA, Nr, [KEr,] TSi, TSr}  |  SK {N(TEMPORARY_FAILURE) ...}
    HDR, SK {SA(IKE), Ni, KEi} -->                             (IKE rekey, §1.3.2, §2.18)
                    <-- HDR, SK {SA, Nr, KEr}
                    <-- HDR, SK {N(REKEY_SA), SA, Ni, [KEi,] TSi, TSr}   (``start_child_rekey``)
                    <-- HDR, SK {SA(IKE), Ni, KEi}                      (``start_ike_rekey``)
    (after ``restart()``)  HDR, SK {...} -->  <-- HDR, N(INVALID_IKE_SPI)  (§2.21.4)

Its own rekeys end as the RFC says: it deletes the old SA, and after a collision
(both ends rekeying at once, §2.8.1) whichever new SA has the lowest nonce in an
exchange it started.

Certificates, signatures and the EAP server live in ``tests.responder_auth``.
Requests that arrive as RFC 7383 fragments are reassembled, and responses can
be sent as fragments (``fragment_size``).

Every random value comes from one ``DeterministicRandomSource``, so with a
deterministic initiator whole exchanges replay byte for byte (EAP-TLS and
ECDSA/RSA-PSS signatures excepted: OpenSSL draws their randomness). The responder
keeps its own view of every key, so tests can compare both sides.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ikeclient.crypto.encr import SkCipher, get_encr, make_sk_cipher
from ikeclient.crypto.integ import get_integ
from ikeclient.crypto.keyexchange import create_key_exchange
from ikeclient.crypto.prf import Prf, get_prf, prf_plus
from ikeclient.crypto.random import DeterministicRandomSource
from ikeclient.crypto.transforms import TransformAttributeType, TransformType
from ikeclient.errors import CryptoError, InvalidSyntax, UnsupportedCriticalPayload
from ikeclient.ike.events import Endpoint
from ikeclient.ike.identity import Identity
from ikeclient.ike.proposals import ProposalSpec
from ikeclient.ike.v2.enums import (
    AuthMethod,
    CfgType,
    ConfigAttributeType,
    ExchangeType,
    HeaderFlag,
    NotifyType,
    PayloadType,
    ProtocolId,
    TsType,
)
from ikeclient.ike.v2.message import (
    HEADER_SIZE,
    IkeHeader,
    Message,
    encode_message,
    find_all,
    find_notify,
    find_payload,
    pull_message,
    push_header,
)
from ikeclient.ike.v2.payloads import (
    AuthPayload,
    CertPayload,
    CertReqPayload,
    ConfigAttribute,
    CpPayload,
    DeletePayload,
    EapPayload,
    IdiPayload,
    IdrPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    Proposal,
    SaPayload,
    SkfPayload,
    SkPayload,
    TrafficSelector,
    Transform,
    TransformAttribute,
    TsiPayload,
    TsrPayload,
    pull_payload_chain,
    push_payload_chain,
)
from ikeclient.ike.v2.rules import check_message_rules
from tests.responder_auth import EapServer, gateway_signature, verify_client_signature

NON_ESP_MARKER = b"\x00\x00\x00\x00"
KEY_PAD = b"Key Pad for IKEv2"  # RFC 7296 §2.15
GATEWAY = "203.0.113.1"


# --------------------------------------------------------------------- helpers (from the RFC)


def natd(spi_i: bytes, spi_r: bytes, endpoint: Endpoint) -> bytes:
    """RFC 7296 §2.23: SHA-1(SPIi | SPIr | IP | Port)."""
    ip = ipaddress.ip_address(endpoint.host).packed
    return hashlib.sha1(spi_i + spi_r + ip + endpoint.port.to_bytes(2, "big")).digest()


def psk_auth_value(
    prf: Prf, psk: bytes, message: bytes, nonce: bytes, sk_p: bytes, ident: bytes
) -> bytes:
    """RFC 7296 §2.15: prf(prf(PSK, "Key Pad for IKEv2"), Msg | Nonce | prf(SK_p, ID body))."""
    octets = message + nonce + prf.compute(sk_p, ident)
    return prf.compute(prf.compute(psk, KEY_PAD), octets)


def id_body(id_type: int, data: bytes) -> bytes:
    """RestOfIDPayload: ID Type, three reserved octets, data (RFC 7296 §3.5)."""
    return bytes((id_type, 0, 0, 0)) + data


@dataclass(frozen=True, slots=True)
class IkeKeys:
    """SK_* of RFC 7296 §2.14, as derived by the responder."""

    sk_d: bytes = field(repr=False)
    sk_ai: bytes = field(repr=False)
    sk_ar: bytes = field(repr=False)
    sk_ei: bytes = field(repr=False)
    sk_er: bytes = field(repr=False)
    sk_pi: bytes = field(repr=False)
    sk_pr: bytes = field(repr=False)


def derive_keys(
    prf: Prf,
    ni: bytes,
    nr: bytes,
    shared: bytes,
    spi_i: bytes,
    spi_r: bytes,
    encr_size: int,
    integ_size: int,
) -> IkeKeys:
    """RFC 7296 §2.14: SKEYSEED = prf(Ni | Nr, g^ir);
    {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).
    """
    key = ni[:8] + nr[:8] if prf.fixed_key else ni + nr
    skeyseed = prf.compute(key, shared)
    sizes = [prf.key_size, integ_size, integ_size, encr_size, encr_size, prf.key_size, prf.key_size]
    stream = prf_plus(prf, skeyseed, ni + nr + spi_i + spi_r, sum(sizes))
    parts: list[bytes] = []
    offset = 0
    for size in sizes:
        parts.append(stream[offset : offset + size])
        offset += size
    return IkeKeys(*parts)


def seal(
    *,
    spi_i: bytes,
    spi_r: bytes,
    exchange: int,
    flags: int,
    message_id: int,
    payloads: Sequence[Payload],
    cipher: SkCipher,
    rng: DeterministicRandomSource,
) -> bytes:
    """HDR, SK {payloads} (RFC 7296 §3.14): the AAD is the header and the SK generic header."""
    first, inner = push_payload_chain(list(payloads))
    return seal_chain(
        spi_i=spi_i,
        spi_r=spi_r,
        exchange=exchange,
        flags=flags,
        message_id=message_id,
        first=first,
        inner=inner,
        cipher=cipher,
        rng=rng,
    )


def seal_chain(
    *,
    spi_i: bytes,
    spi_r: bytes,
    exchange: int,
    flags: int,
    message_id: int,
    first: int,
    inner: bytes,
    cipher: SkCipher,
    rng: DeterministicRandomSource,
) -> bytes:
    """HDR, SK {inner}, for an encoded (or deliberately broken) payload chain."""
    sk_len = 4 + cipher.sealed_length(len(inner))
    header = IkeHeader(
        spi_i, spi_r, PayloadType.SK, 2, 0, exchange, flags, message_id, HEADER_SIZE + sk_len
    )
    aad = push_header(header) + bytes((first, 0)) + sk_len.to_bytes(2, "big")
    return aad + cipher.seal(aad, inner, rng)


def unseal(data: bytes, message: Message, cipher: SkCipher) -> tuple[Payload, ...]:
    """Verify and decrypt the SK payload that ends ``message``."""
    if not message.payloads or not isinstance(message.payloads[-1], SkPayload):
        raise InvalidSyntax("no SK payload")
    sk = message.payloads[-1]
    aad = data[: len(data) - len(sk.body)]
    return pull_payload_chain(cipher.open(aad, sk.body), sk.first_inner)


def _range_of(ts: TrafficSelector) -> tuple[int, int] | None:
    if ts.ts_type != TsType.TS_IPV4_ADDR_RANGE or len(ts.start_address) != 4:
        return None
    return int.from_bytes(ts.start_address, "big"), int.from_bytes(ts.end_address, "big")


def narrow(offered: Sequence[TrafficSelector], lo: int, hi: int) -> tuple[TrafficSelector, ...]:
    """RFC 7296 §2.9: intersect each offered IPv4 selector with [lo, hi]; drop empty ones."""
    out: list[TrafficSelector] = []
    for ts in offered:
        rng = _range_of(ts)
        if rng is None:
            continue
        start, end = max(rng[0], lo), min(rng[1], hi)
        if start > end:
            continue
        out.append(
            TrafficSelector(
                ts.ts_type,
                ts.ip_protocol,
                ts.start_port,
                ts.end_port,
                start.to_bytes(4, "big"),
                end.to_bytes(4, "big"),
            )
        )
    return tuple(out)


def select_proposal(
    offered: Sequence[Proposal],
    allowed: Sequence[ProposalSpec],
    protocol: int,
    *,
    prefer_ke: int | None = None,
    pfs: bool = False,
) -> Proposal | None:
    """RFC 7296 §2.7: the first offered proposal we support, one transform of each type.

    ``prefer_ke`` is the group of KEi: chosen when the proposal offers it. For ESP,
    key exchange groups count only with ``pfs`` (CREATE_CHILD_SA; IKE_AUTH has none).
    The returned proposal has an empty SPI; the caller fills in its own.
    """
    for prop in offered:
        if prop.protocol != protocol:
            continue
        by_type: dict[int, list[Transform]] = {}
        for t in prop.transforms:
            by_type.setdefault(t.type, []).append(t)
        for spec in allowed:
            chosen = _match(by_type, spec, protocol, prefer_ke, pfs)
            if chosen is not None:
                return Proposal(prop.number, protocol, b"", chosen)
    return None


def _match(
    by_type: dict[int, list[Transform]],
    spec: ProposalSpec,
    protocol: int,
    prefer_ke: int | None,
    pfs: bool = False,
) -> tuple[Transform, ...] | None:
    out: list[Transform] = []
    encr = next(
        (
            t
            for t in by_type.get(TransformType.ENCR, [])
            if any(e.id == t.id and e.key_bits == t.key_length for e in spec.encr)
        ),
        None,
    )
    if encr is None:
        return None
    out.append(encr)
    wanted: list[tuple[int, tuple[int, ...]]] = []
    if protocol == ProtocolId.IKE:
        wanted.append((TransformType.PRF, spec.prf))
    if spec.integ:
        wanted.append((TransformType.INTEG, spec.integ))
    if protocol == ProtocolId.IKE or (pfs and spec.ke):
        wanted.append((TransformType.KE, spec.ke))
    if protocol != ProtocolId.IKE:
        wanted.append((TransformType.ESN, spec.esn or (0,)))
    for ttype, ids in wanted:
        offered_ids = [t.id for t in by_type.get(ttype, [])]
        if ttype == TransformType.ESN and not offered_ids:
            continue
        candidates = [i for i in offered_ids if i in ids]
        if ttype == TransformType.KE and prefer_ke is not None and prefer_ke in candidates:
            candidates.insert(0, prefer_ke)
        if not candidates:
            return None
        out.append(Transform(ttype, candidates[0], ()))
    return tuple(out)


# --------------------------------------------------------------------- the responder


@dataclass(slots=True)
class ChildView:
    """The responder's view of one child SA: its SPIs and keys (RFC 7296 §2.17).

    ``tsi`` is always the initiator's (client's) side and ``tsr`` ours, whoever
    started the exchange that made the SA.
    """

    spi_in: int  # ours: the initiator sends to it
    spi_out: int  # the initiator's
    proposal: Proposal
    encr_in: bytes = field(repr=False)  # initiator -> responder (client -> us)
    integ_in: bytes = field(repr=False)
    encr_out: bytes = field(repr=False)  # responder -> initiator (us -> client)
    integ_out: bytes = field(repr=False)
    tsi: tuple[TrafficSelector, ...]
    tsr: tuple[TrafficSelector, ...]
    nonce_i: bytes = field(default=b"", repr=False)  # the exchange that made it
    nonce_r: bytes = field(default=b"", repr=False)
    pfs: bool = False
    deleted: bool = False
    rekeyed_by: int | None = None  # spi_in of the SA that replaced it


@dataclass(slots=True)
class Received:
    """One message the responder accepted, with its decrypted payloads."""

    exchange: int
    message_id: int
    response: bool
    payloads: tuple[Payload, ...]
    src: Endpoint
    dst_port: int
    framed: bool


Handler = Callable[["_Sa", tuple[Payload, ...]], list[bytes]]


@dataclass(slots=True)
class _Sa:
    spi_i: bytes
    spi_r: bytes
    prf: Prf
    proposal: Proposal
    nonce_i: bytes
    nonce_r: bytes
    init_request: bytes
    init_response: bytes
    keys: IkeKeys
    inbound: SkCipher
    outbound: SkCipher
    next_request_id: int = 1  # the initiator's next message ID
    cached: tuple[int, tuple[bytes, ...]] | None = None  # our last response (unframed datagrams)
    our_next_id: int = 0  # message IDs of requests we originate
    authenticated: bool = False
    deleted: bool = False
    fragments: dict[int, dict[int, tuple[int, bytes]]] = field(default_factory=dict)
    eap: EapServer | None = None
    eap_request: tuple[Payload, ...] = ()  # the first IKE_AUTH request, answered at the end
    peer_id: tuple[int, bytes] | None = None
    we_initiated: bool = False  # we started the exchange that made it (an IKE rekey of ours)
    framed: bool = True
    mobike: bool = False
    peer: Endpoint | None = None
    outstanding: tuple[int, Handler, bytes] | None = None  # our tracked request in flight
    outbox: deque[tuple[int, list[Payload], Handler]] = field(default_factory=deque)
    ike_rekey: dict[str, Any] | None = None  # our IKE rekey in flight
    collision: tuple[_Sa, bytes, bytes] | None = None  # the initiator's IKE rekey, crossing ours

    @property
    def flags(self) -> int:
        """The I flag of our messages on this SA (RFC 7296 §3.1)."""
        return HeaderFlag.INITIATOR if self.we_initiated else 0


def derive_rekeyed_keys(
    old_prf: Prf,
    old_sk_d: bytes,
    new_prf: Prf,
    shared: bytes,
    ni: bytes,
    nr: bytes,
    spi_i: bytes,
    spi_r: bytes,
    encr_size: int,
    integ_size: int,
) -> IkeKeys:
    """RFC 7296 §2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), with the old SA's
    PRF; then {SK_d | ...} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr) with the new SA's."""
    skeyseed = old_prf.compute(old_sk_d, shared + ni + nr)
    sizes = [
        new_prf.key_size, integ_size, integ_size, encr_size, encr_size,
        new_prf.key_size, new_prf.key_size,
    ]  # fmt: skip
    stream = prf_plus(new_prf, skeyseed, ni + nr + spi_i + spi_r, sum(sizes))
    parts: list[bytes] = []
    offset = 0
    for size in sizes:
        parts.append(stream[offset : offset + size])
        offset += size
    return IkeKeys(*parts)


def _sizes(proposal: Proposal) -> tuple[int, int | None, int, int]:
    """(encr id, key length, encr key size, integ key size) of a chosen proposal."""
    encr_t = next(t for t in proposal.transforms if t.type == TransformType.ENCR)
    integ_id = next((t.id for t in proposal.transforms if t.type == TransformType.INTEG), None)
    e = get_encr(encr_t.id).key_size(encr_t.key_length)
    i = get_integ(integ_id).key_size if integ_id is not None else 0
    return encr_t.id, encr_t.key_length, e, i


def _integ_id(proposal: Proposal) -> int | None:
    return next((t.id for t in proposal.transforms if t.type == TransformType.INTEG), None)


def _ke_id(proposal: Proposal) -> int | None:
    return next((t.id for t in proposal.transforms if t.type == TransformType.KE), None)


def _offer(specs: Sequence[ProposalSpec], protocol: int, spi: bytes, ke: int | None) -> SaPayload:
    """Our own offer when we start an exchange (RFC 7296 §3.3)."""
    proposals = []
    for number, spec in enumerate(specs, start=1):
        ts: list[Transform] = []
        for e in spec.encr:
            attrs = (
                (TransformAttribute(TransformAttributeType.KEY_LENGTH, e.key_bits),)
                if e.key_bits is not None
                else ()
            )
            ts.append(Transform(TransformType.ENCR, e.id, attrs))
        ts += [Transform(TransformType.PRF, x, ()) for x in spec.prf]
        ts += [Transform(TransformType.INTEG, x, ()) for x in spec.integ]
        if ke is not None:
            ts.append(Transform(TransformType.KE, ke, ()))
        if protocol == ProtocolId.ESP:
            ts += [Transform(TransformType.ESN, x, ()) for x in (spec.esn or (0,))]
        proposals.append(Proposal(number, protocol, spi, tuple(ts)))
    return SaPayload(tuple(proposals))


class ResponderDouble:
    """A small IKEv2 responder with PSK authentication and knobs to misbehave on purpose."""

    def __init__(
        self,
        *,
        psk: bytes = b"correct horse battery staple",
        identity: Identity | None = None,
        ike_proposals: Sequence[ProposalSpec] = (),
        esp_proposals: Sequence[ProposalSpec] = (),
        seed: bytes = b"responder",
        host: str = GATEWAY,
        require_cookie: bool = False,
        want_group: int | None = None,
        reject_proposals: bool = False,
        fragmentation: bool = True,
        ts_unacceptable: bool = False,
        bad_auth: bool = False,
        child_reject: bool = False,
        virtual_ip: str = "198.18.200.1",
        dns: Sequence[str] = ("198.18.3.53", "198.18.3.54"),
        domain: str = "corp.example",
        subnet: str = "198.18.3.0/24",
        auth: str = "psk",
        certificate: Any = None,
        send_certs: Sequence[tuple[int, bytes]] | None = None,
        rfc7427: bool | None = None,
        announce_hashes: Sequence[int] | None = (2, 3, 4, 5),
        client_auth: str = "psk",
        client_ca: Any = None,
        eap_method: str = "mschapv2",
        eap_users: dict[bytes, str] | None = None,
        eap_identity_request: bool = True,
        eap_tls_context: Any = None,
        eap_only: bool = False,
        omit_auth_before_eap: bool = False,
        fragment_size: int | None = None,
        mobike: bool = True,
        auth_lifetime: int | None = None,
        answer_invalid_ike_spi: bool = True,
    ) -> None:
        self.psk = psk
        self.identity = identity or Identity(2, b"vpn.example.net")  # ID_FQDN
        self.ike_proposals = tuple(ike_proposals)
        self.esp_proposals = tuple(esp_proposals)
        self.rng = DeterministicRandomSource(seed)
        self.host = host
        self.require_cookie = require_cookie
        self.want_group = want_group
        self.reject_proposals = reject_proposals
        self.fragmentation = fragmentation
        self.ts_unacceptable = ts_unacceptable
        self.bad_auth = bad_auth
        self.child_reject = child_reject
        self.virtual_ip = ipaddress.IPv4Address(virtual_ip)
        self.dns = tuple(ipaddress.IPv4Address(d) for d in dns)
        self.domain = domain
        self.subnet = ipaddress.IPv4Network(subnet)
        self.auth = auth  # how the gateway authenticates: psk or pubkey
        self.certificate = certificate  # tests.pki.Issued
        self.send_certs = send_certs  # CERT payloads to send instead of the certificate's
        self.rfc7427 = rfc7427  # None: method 14 when the initiator announced hashes
        self.announce_hashes = announce_hashes
        self.client_auth = client_auth  # psk, pubkey or eap
        self.client_ca = client_ca  # tests.pki.Issued: the CA of client certificates
        self.eap_method = eap_method
        self.eap_users = eap_users if eap_users is not None else {b"client@ike.lab": "pa55word"}
        self.eap_identity_request = eap_identity_request
        self.eap_tls_context = eap_tls_context
        self.eap_only = eap_only
        self.omit_auth_before_eap = omit_auth_before_eap
        self.fragment_size = fragment_size
        self.peer_hashes: tuple[int, ...] = ()
        self.certreqs: list[bytes] = []
        self.client_scheme: str | None = None
        self.client_cert_der: bytes | None = None
        self.fragments_received = 0
        self.fragments_sent = 0
        self.eap_server: EapServer | None = None
        self.eap_only_requested = False
        self.mobike = mobike
        self.auth_lifetime = auth_lifetime
        self.answer_invalid_ike_spi = answer_invalid_ike_spi
        self.refuse_child_rekeys: list[int] = []  # notify types for the next child rekeys
        self.refuse_ike_rekeys: list[int] = []
        self._cookie_secret = self.rng.random_bytes(16)
        self._init_cache: dict[bytes, bytes] = {}  # IKE_SA_INIT request -> response
        self.sas: dict[tuple[bytes, bytes], _Sa] = {}
        self.received: list[Received] = []
        self.ignored = 0  # datagrams dropped (malformed, not ours, failed ICV)
        self.cookie_sent = False
        self.cookie_ok: bool | None = None
        self.initiator_behind_nat: bool | None = None
        self.children: dict[int, ChildView] = {}  # by our inbound SPI, oldest first
        self.peer_identity: Identity | None = None
        self.auth_verified: bool | None = None
        self.initial_contacts = 0
        self.requested_addresses: list[bytes] = []
        self.address_updates: list[Endpoint] = []
        self.invalid_ike_spi_sent = 0
        self.child_rekeys_done = 0  # by us (completed)
        self.child_rekeys_answered = 0
        self.ike_rekeys_done = 0
        self.ike_rekeys_answered = 0
        self._child_rekeys: dict[int, dict[str, Any]] = {}  # ours in flight, by old spi_in
        self._child_collisions: dict[int, ChildView] = {}  # the initiator's, crossing ours

    # -- what tests read ---------------------------------------------------------------

    @property
    def sa(self) -> _Sa:
        """The single IKE SA, or the single live one once rekeys made more."""
        if len(self.sas) == 1:
            return next(iter(self.sas.values()))
        live = [s for s in self.sas.values() if not s.deleted]
        if len(live) != 1:
            raise LookupError(f"{len(live)} live IKE SAs")
        return live[0]

    @property
    def current(self) -> _Sa:
        """The newest live IKE SA: where we send our own requests."""
        live = [s for s in self.sas.values() if not s.deleted and s.authenticated]
        if not live:
            raise LookupError("no live IKE SA")
        return live[-1]

    @property
    def child(self) -> ChildView | None:
        """The newest child SA not deleted (the one carrying traffic)."""
        live = self.live_children()
        return live[-1] if live else None

    def live_children(self) -> list[ChildView]:
        return [c for c in self.children.values() if not c.deleted]

    def requests(self, exchange: int) -> list[Received]:
        return [r for r in self.received if r.exchange == exchange and not r.response]

    def restart(self) -> None:
        """Forget every SA, as a gateway whose daemon restarted (RFC 7296 §2.21.4)."""
        self.sas.clear()
        self.children.clear()
        self._child_rekeys.clear()
        self._child_collisions.clear()
        self._init_cache.clear()

    # -- receiving -------------------------------------------------------------------------

    def receive(self, data: bytes, src: Endpoint, dst_port: int) -> list[tuple[bytes, Endpoint]]:
        """One datagram from ``src`` to our port ``dst_port``; returns what we send in answer."""
        framed = False
        if dst_port == 4500:
            if data[:4] != NON_ESP_MARKER:
                self.ignored += 1  # ESP or a keepalive, not IKE
                return []
            data, framed = data[4:], True
        try:
            message = pull_message(data)
        except (InvalidSyntax, UnsupportedCriticalPayload):
            self.ignored += 1
            return []
        header = message.header
        if header.exchange_type == ExchangeType.IKE_SA_INIT and not header.is_response:
            reply = self._ike_sa_init(message, data, src, dst_port)
            replies = [] if reply is None else [reply]
        else:
            replies = self._encrypted(message, data, src, dst_port, framed)
        return [(NON_ESP_MARKER + r if framed else r, src) for r in replies]

    # -- IKE_SA_INIT (RFC 7296 §1.2) -----------------------------------------------------

    def _ike_sa_init(
        self, message: Message, data: bytes, src: Endpoint, dst_port: int
    ) -> bytes | None:
        header = message.header
        if data in self._init_cache:  # a retransmission: the same answer (§2.1)
            return self._init_cache[data]
        if header.message_id != 0 or header.spi_r != bytes(8) or not header.is_initiator:
            self.ignored += 1
            return None
        try:
            check_message_rules(ExchangeType.IKE_SA_INIT, False, message.payloads, None)
        except InvalidSyntax:
            self.ignored += 1
            return None
        payloads = message.payloads
        self.received.append(
            Received(header.exchange_type, 0, False, payloads, src, dst_port, False)
        )
        sa_i = find_payload(payloads, SaPayload)
        ke_i = find_payload(payloads, KePayload)
        nonce = find_payload(payloads, NoncePayload)
        assert sa_i is not None and ke_i is not None and nonce is not None
        notifies = find_all(payloads, NotifyPayload)

        def notify_only(kind: int, value: bytes = b"") -> bytes:
            return encode_message(
                header.spi_i,
                bytes(8),
                ExchangeType.IKE_SA_INIT,
                HeaderFlag.RESPONSE,
                0,
                [NotifyPayload(0, b"", kind, value)],
            )

        if self.require_cookie:
            # §2.6: Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>)
            expected = (
                b"\x01"
                + hashlib.sha256(
                    nonce.data
                    + ipaddress.ip_address(src.host).packed
                    + header.spi_i
                    + self._cookie_secret
                ).digest()
            )
            first = payloads[0]
            if not (
                isinstance(first, NotifyPayload)
                and first.notify_type == NotifyType.COOKIE
                and hmac.compare_digest(first.data, expected)
            ):
                self.cookie_sent = True
                self.cookie_ok = False
                return notify_only(NotifyType.COOKIE, expected)
            self.cookie_ok = True
        if self.reject_proposals:
            return notify_only(NotifyType.NO_PROPOSAL_CHOSEN)
        chosen = select_proposal(
            sa_i.proposals, self.ike_proposals, ProtocolId.IKE, prefer_ke=ke_i.group
        )
        if chosen is None:
            return notify_only(NotifyType.NO_PROPOSAL_CHOSEN)
        group = next(t.id for t in chosen.transforms if t.type == TransformType.KE)
        if self.want_group is not None:
            if ke_i.group != self.want_group:
                return notify_only(
                    NotifyType.INVALID_KE_PAYLOAD, self.want_group.to_bytes(2, "big")
                )
            group = self.want_group
            chosen = Proposal(
                chosen.number,
                chosen.protocol,
                b"",
                tuple(
                    Transform(t.type, group, ()) if t.type == TransformType.KE else t
                    for t in chosen.transforms
                ),
            )
        if ke_i.group != group:
            return notify_only(NotifyType.INVALID_KE_PAYLOAD, group.to_bytes(2, "big"))

        spi_r = self.rng.random_bytes(8)
        nonce_r = self.rng.random_bytes(32)
        ke = create_key_exchange(group, self.rng)
        shared = ke.compute_shared_secret(ke_i.data)
        here = Endpoint(self.host, dst_port)
        # §2.23: the initiator is behind a NAT when its source hash does not match.
        sources = [n.data for n in notifies if n.notify_type == NotifyType.NAT_DETECTION_SOURCE_IP]
        if sources:
            self.initiator_behind_nat = natd(header.spi_i, bytes(8), src) not in sources
        reply: list[Payload] = [
            SaPayload((chosen,)),
            KePayload(group, ke.public_value),
            NoncePayload(nonce_r),
            NotifyPayload(
                0, b"", NotifyType.NAT_DETECTION_SOURCE_IP, natd(header.spi_i, spi_r, here)
            ),
            NotifyPayload(
                0, b"", NotifyType.NAT_DETECTION_DESTINATION_IP, natd(header.spi_i, spi_r, src)
            ),
        ]
        offered_frag = any(
            n.notify_type == NotifyType.IKEV2_FRAGMENTATION_SUPPORTED for n in notifies
        )
        if self.fragmentation and offered_frag:
            reply.append(NotifyPayload(0, b"", NotifyType.IKEV2_FRAGMENTATION_SUPPORTED, b""))
        for n in notifies:
            if n.notify_type == NotifyType.SIGNATURE_HASH_ALGORITHMS:
                self.peer_hashes = tuple(
                    int.from_bytes(n.data[i : i + 2], "big") for i in range(0, len(n.data), 2)
                )
        if self.announce_hashes is not None and self.peer_hashes:
            hashes = b"".join(h.to_bytes(2, "big") for h in self.announce_hashes)
            reply.append(NotifyPayload(0, b"", NotifyType.SIGNATURE_HASH_ALGORITHMS, hashes))
        response = encode_message(
            header.spi_i, spi_r, ExchangeType.IKE_SA_INIT, HeaderFlag.RESPONSE, 0, reply
        )

        prf_id = next(t.id for t in chosen.transforms if t.type == TransformType.PRF)
        encr_id, key_len, encr_size, integ_size = _sizes(chosen)
        integ_id = _integ_id(chosen)
        prf = get_prf(prf_id)
        keys = derive_keys(
            prf, nonce.data, nonce_r, shared, header.spi_i, spi_r, encr_size, integ_size
        )
        self.sas[(header.spi_i, spi_r)] = _Sa(
            spi_i=header.spi_i,
            spi_r=spi_r,
            prf=prf,
            proposal=chosen,
            nonce_i=nonce.data,
            nonce_r=nonce_r,
            init_request=data,
            init_response=response,
            keys=keys,
            # Our inbound protects initiator -> responder: SK_ei/SK_ai; outbound SK_er/SK_ar.
            inbound=make_sk_cipher(encr_id, key_len, keys.sk_ei, integ_id, keys.sk_ai or None),
            outbound=make_sk_cipher(encr_id, key_len, keys.sk_er, integ_id, keys.sk_ar or None),
            peer=src,
        )
        self._init_cache[data] = response
        return response

    # -- encrypted exchanges ---------------------------------------------------------------

    def _encrypted(
        self, message: Message, data: bytes, src: Endpoint, dst_port: int, framed: bool
    ) -> list[bytes]:
        header = message.header
        sa = self.sas.get((header.spi_i, header.spi_r))
        if sa is None or sa.deleted:
            self.ignored += 1
            if sa is None and not header.is_response and self.answer_invalid_ike_spi:
                # RFC 7296 §1.5, §2.21.4: unprotected, SPIs, Message ID and exchange copied.
                self.invalid_ike_spi_sent += 1
                return [
                    encode_message(
                        header.spi_i,
                        header.spi_r,
                        header.exchange_type,
                        HeaderFlag.RESPONSE,
                        header.message_id,
                        [NotifyPayload(0, b"", NotifyType.INVALID_IKE_SPI, b"")],
                    )
                ]
            return []
        try:
            if message.payloads and isinstance(message.payloads[-1], SkfPayload):
                whole = self._fragment(sa, message, data)
                if whole is None:
                    return []
                inner = whole
            else:
                inner = unseal(data, message, sa.inbound)
            check_message_rules(header.exchange_type, header.is_response, message.payloads, inner)
        except (InvalidSyntax, UnsupportedCriticalPayload, CryptoError):
            self.ignored += 1
            return []
        sa.framed = framed
        if header.is_response:
            # The answer to a request we originated.
            self.received.append(
                Received(
                    header.exchange_type, header.message_id, True, inner, src, dst_port, framed
                )
            )
            out = sa.outstanding
            if out is None or out[0] != header.message_id:
                return []
            sa.outstanding = None
            followups = out[1](sa, inner)
            return followups + self._flush(sa)
        if sa.cached is not None and header.message_id == sa.cached[0]:
            return list(sa.cached[1])  # §2.1: a retransmitted request gets the same response
        if header.message_id != sa.next_request_id:
            self.ignored += 1
            return []
        self.received.append(
            Received(header.exchange_type, header.message_id, False, inner, src, dst_port, framed)
        )
        sa.next_request_id += 1
        after: list[bytes] = []
        if header.exchange_type == ExchangeType.IKE_AUTH:
            payloads = self._ike_auth(sa, inner, src)
        elif header.exchange_type == ExchangeType.INFORMATIONAL:
            payloads = self._informational(sa, inner, src, dst_port)
        elif header.exchange_type == ExchangeType.CREATE_CHILD_SA:
            payloads, after = self._create_child_sa(sa, inner)
        else:
            payloads = [NotifyPayload(0, b"", NotifyType.NO_ADDITIONAL_SAS, b"")]
        wires = self._seal_response(sa, header.exchange_type, header.message_id, payloads)
        sa.cached = (header.message_id, tuple(wires))
        return [*wires, *after]

    def _fragment(self, sa: _Sa, message: Message, data: bytes) -> tuple[Payload, ...] | None:
        """RFC 7383 §2.6: verify one SKF fragment; the whole inner chain once all are here."""
        skf = message.payloads[-1]
        assert isinstance(skf, SkfPayload)
        plain = sa.inbound.open(data[: len(data) - len(skf.body)], skf.body)
        self.fragments_received += 1
        parts = sa.fragments.setdefault(message.header.message_id, {})
        parts[skf.fragment_number] = (skf.first_inner, plain)
        if len(parts) < skf.total_fragments:
            return None
        del sa.fragments[message.header.message_id]
        chain = b"".join(parts[n][1] for n in range(1, skf.total_fragments + 1))
        return pull_payload_chain(chain, parts[1][0])

    def _seal_response(
        self, sa: _Sa, exchange: int, message_id: int, payloads: list[Payload]
    ) -> list[bytes]:
        wire = seal(
            spi_i=sa.spi_i,
            spi_r=sa.spi_r,
            exchange=exchange,
            flags=HeaderFlag.RESPONSE | sa.flags,
            message_id=message_id,
            payloads=payloads,
            cipher=sa.outbound,
            rng=self.rng,
        )
        limit = self.fragment_size
        if limit is None or len(wire) <= limit:
            return [wire]
        # RFC 7383 §2.5: cut the inner chain; each piece in its own SKF, sealed alone.
        first, inner = push_payload_chain(list(payloads))
        room = limit - HEADER_SIZE - 8 - sa.outbound.sealed_length(0) - 16
        pieces = [inner[i : i + room] for i in range(0, len(inner), room)]
        out = []
        for number, piece in enumerate(pieces, start=1):
            skf_len = 8 + sa.outbound.sealed_length(len(piece))
            header = IkeHeader(
                sa.spi_i,
                sa.spi_r,
                PayloadType.SKF,
                2,
                0,
                exchange,
                HeaderFlag.RESPONSE | sa.flags,
                message_id,
                HEADER_SIZE + skf_len,
            )
            aad = (
                push_header(header)
                + bytes((first if number == 1 else 0, 0))
                + skf_len.to_bytes(2, "big")
                + number.to_bytes(2, "big")
                + len(pieces).to_bytes(2, "big")
            )
            out.append(aad + sa.outbound.seal(aad, piece, self.rng))
        self.fragments_sent += len(out)
        return out

    # -- IKE_AUTH (RFC 7296 §1.2, §2.15, §2.16) ------------------------------------------

    def _initiator_octets(self, sa: _Sa) -> bytes:
        """InitiatorSignedOctets = RealMessage1 | NonceRData | prf(SK_pi, RestOfInitIDPayload)."""
        assert sa.peer_id is not None
        return sa.init_request + sa.nonce_r + sa.prf.compute(sa.keys.sk_pi, id_body(*sa.peer_id))

    def _responder_octets(self, sa: _Sa) -> bytes:
        """ResponderSignedOctets = RealMessage2 | NonceIData | prf(SK_pr, RestOfRespIDPayload)."""
        ident = self.identity
        return (
            sa.init_response
            + sa.nonce_i
            + sa.prf.compute(sa.keys.sk_pr, id_body(ident.id_type, ident.data))
        )

    def _ike_auth(self, sa: _Sa, inner: tuple[Payload, ...], src: Endpoint) -> list[Payload]:
        def fail(kind: int) -> list[Payload]:
            return [NotifyPayload(0, b"", kind, b"")]

        if sa.eap is not None:
            return self._eap_round(sa, inner, src)
        idi = find_payload(inner, IdiPayload)
        auth = find_payload(inner, AuthPayload)
        if idi is None:
            return fail(NotifyType.AUTHENTICATION_FAILED)
        self.peer_identity = Identity(idi.id_type, idi.data)
        sa.peer_id = (idi.id_type, idi.data)
        self.certreqs = [c.data for c in find_all(inner, CertReqPayload)]
        self.eap_only_requested = any(
            n.notify_type == NotifyType.EAP_ONLY_AUTHENTICATION
            for n in find_all(inner, NotifyPayload)
        )
        ident = self.identity
        if auth is None:
            if self.client_auth != "eap":
                return fail(NotifyType.AUTHENTICATION_FAILED)
            # §2.16: the gateway authenticates now, the initiator after EAP.
            sa.eap = EapServer(
                self.eap_method,
                self.eap_users,
                self.rng,
                ask_identity=self.eap_identity_request,
                tls_context=self.eap_tls_context,
                identity=idi.data,  # the EAP identity unless EAP-Identity asks another
            )
            self.eap_server = sa.eap
            sa.eap_request = inner
            out: list[Payload] = [IdrPayload(ident.id_type, ident.data)]
            eap_only = self.eap_only and self.eap_only_requested
            if not (eap_only or self.omit_auth_before_eap):
                out += self._gateway_auth(sa)
            return [*out, EapPayload(sa.eap.start())]
        if self.client_auth == "psk" and auth.method == AuthMethod.SHARED_KEY_MIC:
            expected = psk_auth_value(
                sa.prf,
                self.psk,
                sa.init_request,
                sa.nonce_r,
                sa.keys.sk_pi,
                id_body(idi.id_type, idi.data),
            )
            self.auth_verified = hmac.compare_digest(expected, auth.data)
        elif self.client_auth == "pubkey" and auth.method != AuthMethod.SHARED_KEY_MIC:
            self.auth_verified = self._verify_client_certificate(sa, inner, auth)
        else:
            self.auth_verified = False
        if not self.auth_verified:
            sa.deleted = True  # §2.21.2: the IKE SA is not created
            return fail(NotifyType.AUTHENTICATION_FAILED)
        sa.authenticated = True
        if find_notify(inner, NotifyType.INITIAL_CONTACT) is not None:
            # §2.4: the initiator has no other SAs with us: forget any we still hold.
            self.initial_contacts += 1
            for other in self.sas.values():
                if other is not sa:
                    other.deleted = True
            for c in self.children.values():
                c.deleted = True
        out = [IdrPayload(ident.id_type, ident.data), *self._gateway_auth(sa)]
        return out + self._config_and_child(sa, inner, src)

    def _verify_client_certificate(
        self, sa: _Sa, inner: tuple[Payload, ...], auth: AuthPayload
    ) -> bool:
        from cryptography import x509  # noqa: PLC0415

        certs = [c for c in find_all(inner, CertPayload) if c.encoding == 4]
        if not certs or self.client_ca is None:
            return False
        cert = x509.load_der_x509_certificate(certs[0].data)
        self.client_cert_der = certs[0].data
        try:
            cert.verify_directly_issued_by(self.client_ca.cert)
        except (ValueError, TypeError, Exception):  # InvalidSignature too
            return False
        self.client_scheme = verify_client_signature(
            cert, auth.method, auth.data, self._initiator_octets(sa)
        )
        return self.client_scheme is not None

    def _gateway_auth(self, sa: _Sa) -> list[Payload]:
        """[CERT,] AUTH of the gateway (§2.15), with ``bad_auth`` flipping one bit."""
        out: list[Payload] = []
        if self.auth == "psk":
            ident = self.identity
            data = psk_auth_value(
                sa.prf,
                self.psk,
                sa.init_response,
                sa.nonce_i,
                sa.keys.sk_pr,
                id_body(ident.id_type, ident.data),
            )
            method = int(AuthMethod.SHARED_KEY_MIC)
        else:
            certs = self.send_certs
            if certs is None:
                certs = [(4, self.certificate.der)]
            out += [CertPayload(encoding, der) for encoding, der in certs]
            rfc7427 = self.rfc7427 if self.rfc7427 is not None else bool(self.peer_hashes)
            method, data = gateway_signature(
                self.certificate.key, self._responder_octets(sa), rfc7427=rfc7427
            )
        if self.bad_auth:
            data = bytes((data[0] ^ 0x01,)) + data[1:]
        return [*out, AuthPayload(method, data)]

    def _eap_round(self, sa: _Sa, inner: tuple[Payload, ...], src: Endpoint) -> list[Payload]:
        """§2.16: EAP Responses in, EAP Requests out; then the MSK-keyed AUTH both ways."""
        assert sa.eap is not None
        eap = find_payload(inner, EapPayload)
        if eap is not None:
            answer = sa.eap.receive(eap.data)
            out: list[Payload] = [EapPayload(answer)]
            if sa.eap.succeeded is False and answer[0] == 4:
                sa.deleted = True
                out.append(NotifyPayload(0, b"", NotifyType.AUTHENTICATION_FAILED, b""))
            return out
        auth = find_payload(inner, AuthPayload)
        if auth is None or not sa.eap.succeeded:
            sa.deleted = True
            return [NotifyPayload(0, b"", NotifyType.AUTHENTICATION_FAILED, b"")]
        msk = sa.eap.msk
        key_i = msk if msk is not None else sa.keys.sk_pi
        expected = sa.prf.compute(sa.prf.compute(key_i, KEY_PAD), self._initiator_octets(sa))
        self.auth_verified = hmac.compare_digest(expected, auth.data)
        if not self.auth_verified:
            sa.deleted = True
            return [NotifyPayload(0, b"", NotifyType.AUTHENTICATION_FAILED, b"")]
        sa.authenticated = True
        key_r = msk if msk is not None else sa.keys.sk_pr
        mine = sa.prf.compute(sa.prf.compute(key_r, KEY_PAD), self._responder_octets(sa))
        if self.bad_auth:
            mine = bytes((mine[0] ^ 0x01,)) + mine[1:]
        out = [AuthPayload(AuthMethod.SHARED_KEY_MIC, mine)]
        return out + self._config_and_child(sa, sa.eap_request, src)

    def _config_and_child(
        self, sa: _Sa, inner: tuple[Payload, ...], src: Endpoint
    ) -> list[Payload]:
        out: list[Payload] = []
        cp = find_payload(inner, CpPayload)
        if cp is not None and cp.cfg_type == CfgType.CFG_REQUEST:
            for a in cp.attributes:
                if a.type == ConfigAttributeType.INTERNAL_IP4_ADDRESS and a.value:
                    self.requested_addresses.append(a.value)
            attrs = [
                ConfigAttribute(ConfigAttributeType.INTERNAL_IP4_ADDRESS, self.virtual_ip.packed)
            ]
            attrs += [
                ConfigAttribute(ConfigAttributeType.INTERNAL_IP4_DNS, d.packed) for d in self.dns
            ]
            attrs.append(
                ConfigAttribute(ConfigAttributeType.INTERNAL_DNS_DOMAIN, self.domain.encode())
            )
            out.append(CpPayload(CfgType.CFG_REPLY, tuple(attrs)))
        if self.mobike and find_notify(inner, NotifyType.MOBIKE_SUPPORTED) is not None:
            sa.mobike = True  # RFC 4555 §3.1
            out.append(NotifyPayload(0, b"", NotifyType.MOBIKE_SUPPORTED, b""))
        if self.auth_lifetime is not None:
            out.append(
                NotifyPayload(
                    0, b"", NotifyType.AUTH_LIFETIME, self.auth_lifetime.to_bytes(4, "big")
                )
            )
        out += self._child(sa, inner, src, cp is not None)
        return out

    def _child(
        self, sa: _Sa, inner: tuple[Payload, ...], src: Endpoint, gave_vip: bool
    ) -> list[Payload]:
        sa_i = find_payload(inner, SaPayload)
        tsi = find_payload(inner, TsiPayload)
        tsr = find_payload(inner, TsrPayload)
        if sa_i is None or tsi is None or tsr is None:
            return []
        if self.child_reject:
            return [NotifyPayload(0, b"", NotifyType.NO_PROPOSAL_CHOSEN, b"")]
        chosen = select_proposal(sa_i.proposals, self.esp_proposals, ProtocolId.ESP)
        if chosen is None:
            return [NotifyPayload(0, b"", NotifyType.NO_PROPOSAL_CHOSEN, b"")]
        # §2.9: narrow TSi to the address we hand out, TSr to the protected subnet.
        peer = int(self.virtual_ip) if gave_vip else int(ipaddress.IPv4Address(src.host))
        tsi_n = narrow(tsi.selectors, peer, peer)
        tsr_n = narrow(
            tsr.selectors, int(self.subnet.network_address), int(self.subnet.broadcast_address)
        )
        if self.ts_unacceptable or not tsi_n or not tsr_n:
            return [NotifyPayload(0, b"", NotifyType.TS_UNACCEPTABLE, b"")]
        offered_spi = next(p.spi for p in sa_i.proposals if p.number == chosen.number)
        spi_in = self._new_spi()
        chosen = Proposal(chosen.number, chosen.protocol, spi_in, chosen.transforms)
        self._make_child(
            sa,
            chosen,
            spi_in,
            offered_spi,
            sa.nonce_i,
            sa.nonce_r,
            None,
            tsi_n,
            tsr_n,
            we_initiated=False,
        )
        return [SaPayload((chosen,)), TsiPayload(tsi_n), TsrPayload(tsr_n)]

    def _new_spi(self) -> bytes:
        spi_in = self.rng.random_bytes(4)
        if int.from_bytes(spi_in, "big") <= 255:
            spi_in = b"\x40" + spi_in[1:]
        return spi_in

    def _make_child(
        self,
        sa: _Sa,
        chosen: Proposal,
        spi_in: bytes,
        spi_out: bytes,
        nonce_i: bytes,
        nonce_r: bytes,
        shared: bytes | None,
        tsi: tuple[TrafficSelector, ...],
        tsr: tuple[TrafficSelector, ...],
        *,
        we_initiated: bool,
    ) -> ChildView:
        _, _, e, i = _sizes(chosen)
        # §2.17: KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr); the exchange initiator's
        # outbound keys first, encryption before integrity.
        keymat = prf_plus(sa.prf, sa.keys.sk_d, (shared or b"") + nonce_i + nonce_r, 2 * (e + i))
        first = (keymat[:e], keymat[e : e + i])
        second = (keymat[e + i : 2 * e + i], keymat[2 * e + i :])
        # encr_in is always client -> us.
        (encr_in, integ_in), (encr_out, integ_out) = (
            (second, first) if we_initiated else (first, second)
        )
        child = ChildView(
            spi_in=int.from_bytes(spi_in, "big"),
            spi_out=int.from_bytes(spi_out, "big"),
            proposal=chosen,
            encr_in=encr_in,
            integ_in=integ_in,
            encr_out=encr_out,
            integ_out=integ_out,
            tsi=tsi,
            tsr=tsr,
            nonce_i=nonce_i,
            nonce_r=nonce_r,
            pfs=shared is not None,
        )
        self.children[child.spi_in] = child
        return child

    # -- CREATE_CHILD_SA (RFC 7296 §1.3) -----------------------------------------------------

    def _create_child_sa(
        self, sa: _Sa, inner: tuple[Payload, ...]
    ) -> tuple[list[Payload], list[bytes]]:
        def refuse(kind: int, data: bytes = b"") -> tuple[list[Payload], list[bytes]]:
            return [NotifyPayload(0, b"", kind, data)], []

        sa_i = find_payload(inner, SaPayload)
        nonce = find_payload(inner, NoncePayload)
        ke_i = find_payload(inner, KePayload)
        if sa_i is None or nonce is None:
            return refuse(NotifyType.INVALID_SYNTAX)
        if any(p.protocol == ProtocolId.IKE for p in sa_i.proposals):
            return self._answer_ike_rekey(sa, sa_i, nonce, ke_i)
        rekey = find_notify(inner, NotifyType.REKEY_SA)
        old: ChildView | None = None
        if rekey is not None:
            old = self.children.get(
                next(
                    (
                        c.spi_in
                        for c in self.children.values()
                        if c.spi_out.to_bytes(4, "big") == rekey.spi
                    ),
                    -1,
                )
            )
            if old is None or old.deleted:
                return [NotifyPayload(ProtocolId.ESP, rekey.spi, NotifyType.CHILD_SA_NOT_FOUND,
                                      b"")], []  # fmt: skip
            if old.rekeyed_by is not None:
                return refuse(NotifyType.TEMPORARY_FAILURE)  # §2.25: it is on its way out
            if self.refuse_child_rekeys:
                return refuse(self.refuse_child_rekeys.pop(0))
        if sa.ike_rekey is not None:
            return refuse(NotifyType.TEMPORARY_FAILURE)  # §2.25.2
        tsi = find_payload(inner, TsiPayload)
        tsr = find_payload(inner, TsrPayload)
        if tsi is None or tsr is None:
            return refuse(NotifyType.INVALID_SYNTAX)
        pfs = ke_i is not None
        chosen = select_proposal(
            sa_i.proposals,
            self.esp_proposals,
            ProtocolId.ESP,
            prefer_ke=ke_i.group if ke_i else None,
            pfs=True,
        )
        if chosen is None:
            return refuse(NotifyType.NO_PROPOSAL_CHOSEN)
        group = _ke_id(chosen)
        if group is not None and (ke_i is None or ke_i.group != group):
            return refuse(NotifyType.INVALID_KE_PAYLOAD, group.to_bytes(2, "big"))
        if group is None and pfs:
            return refuse(NotifyType.NO_PROPOSAL_CHOSEN)
        shared: bytes | None = None
        ke_r: KePayload | None = None
        if group is not None and ke_i is not None:
            mine = create_key_exchange(group, self.rng)
            shared = mine.compute_shared_secret(ke_i.data)
            ke_r = KePayload(group, mine.public_value)
        if old is not None:
            tsi_n, tsr_n = old.tsi, old.tsr
        else:
            tsi_n = narrow(tsi.selectors, int(self.virtual_ip), int(self.virtual_ip))
            tsr_n = narrow(
                tsr.selectors,
                int(self.subnet.network_address),
                int(self.subnet.broadcast_address),
            )
            if not tsi_n or not tsr_n:
                return refuse(NotifyType.TS_UNACCEPTABLE)
        offered_spi = next(p.spi for p in sa_i.proposals if p.number == chosen.number)
        spi_in = self._new_spi()
        nonce_r = self.rng.random_bytes(32)
        chosen = Proposal(chosen.number, chosen.protocol, spi_in, chosen.transforms)
        new = self._make_child(
            sa, chosen, spi_in, offered_spi, nonce.data, nonce_r, shared, tsi_n, tsr_n,
            we_initiated=False,
        )  # fmt: skip
        if old is not None:
            self.child_rekeys_answered += 1
            if old.spi_in in self._child_rekeys:
                # §2.8.1: we are rekeying it too; the nonces decide when our answer comes.
                self._child_collisions[old.spi_in] = new
            else:
                old.rekeyed_by = new.spi_in  # the initiator deletes the old SA
        reply: list[Payload] = [SaPayload((chosen,)), NoncePayload(nonce_r)]
        if ke_r is not None:
            reply.append(ke_r)
        reply += [TsiPayload(tsi_n), TsrPayload(tsr_n)]
        return reply, []

    def _answer_ike_rekey(
        self, sa: _Sa, sa_i: SaPayload, nonce: NoncePayload, ke_i: KePayload | None
    ) -> tuple[list[Payload], list[bytes]]:
        """§1.3.2, §2.18: the initiator rekeys the IKE SA."""

        def refuse(kind: int, data: bytes = b"") -> tuple[list[Payload], list[bytes]]:
            return [NotifyPayload(0, b"", kind, data)], []

        if self.refuse_ike_rekeys:
            return refuse(self.refuse_ike_rekeys.pop(0))
        if ke_i is None:
            return refuse(NotifyType.INVALID_SYNTAX)
        if self._child_rekeys:
            return refuse(NotifyType.TEMPORARY_FAILURE)  # §2.25.2: busy with a child SA
        chosen = select_proposal(
            sa_i.proposals, self.ike_proposals, ProtocolId.IKE, prefer_ke=ke_i.group
        )
        if chosen is None:
            return refuse(NotifyType.NO_PROPOSAL_CHOSEN)
        group = _ke_id(chosen)
        assert group is not None
        if ke_i.group != group:
            return refuse(NotifyType.INVALID_KE_PAYLOAD, group.to_bytes(2, "big"))
        offered_spi = next(p.spi for p in sa_i.proposals if p.number == chosen.number)
        mine = create_key_exchange(group, self.rng)
        shared = mine.compute_shared_secret(ke_i.data)
        spi_r = self.rng.random_bytes(8)
        nonce_r = self.rng.random_bytes(32)
        new = self._rekeyed_sa(
            sa, chosen, offered_spi, spi_r, nonce.data, nonce_r, shared, we_initiated=False
        )
        self.ike_rekeys_answered += 1
        if sa.ike_rekey is not None:
            sa.collision = (new, nonce.data, nonce_r)
        reply: list[Payload] = [
            SaPayload((Proposal(chosen.number, ProtocolId.IKE, spi_r, chosen.transforms),)),
            NoncePayload(nonce_r),
            KePayload(group, mine.public_value),
        ]
        return reply, []

    def _rekeyed_sa(
        self,
        old: _Sa,
        chosen: Proposal,
        spi_i: bytes,
        spi_r: bytes,
        nonce_i: bytes,
        nonce_r: bytes,
        shared: bytes,
        *,
        we_initiated: bool,
    ) -> _Sa:
        prf_id = next(t.id for t in chosen.transforms if t.type == TransformType.PRF)
        prf = get_prf(prf_id)
        encr_id, key_len, e, i = _sizes(chosen)
        integ_id = _integ_id(chosen)
        keys = derive_rekeyed_keys(
            old.prf, old.keys.sk_d, prf, shared, nonce_i, nonce_r, spi_i, spi_r, e, i
        )
        initiator = make_sk_cipher(encr_id, key_len, keys.sk_ei, integ_id, keys.sk_ai or None)
        responder = make_sk_cipher(encr_id, key_len, keys.sk_er, integ_id, keys.sk_ar or None)
        new = _Sa(
            spi_i=spi_i,
            spi_r=spi_r,
            prf=prf,
            proposal=chosen,
            nonce_i=nonce_i,
            nonce_r=nonce_r,
            init_request=b"",
            init_response=b"",
            keys=keys,
            inbound=responder if we_initiated else initiator,
            outbound=initiator if we_initiated else responder,
            next_request_id=0,
            authenticated=True,
            we_initiated=we_initiated,
            framed=old.framed,
            mobike=old.mobike,
            peer=old.peer,
        )
        self.sas[(spi_i, spi_r)] = new
        return new

    # -- INFORMATIONAL (RFC 7296 §1.4, RFC 4555) ----------------------------------------------

    def _informational(
        self, sa: _Sa, inner: tuple[Payload, ...], src: Endpoint, dst_port: int
    ) -> list[Payload]:
        answer: list[bytes] = []
        for d in find_all(inner, DeletePayload):
            if d.protocol == ProtocolId.IKE:
                sa.deleted = True
                return []  # §1.4.1: the answer to a Delete of the IKE SA is empty
            if d.protocol != ProtocolId.ESP:
                continue
            for child in self.children.values():
                if not child.deleted and child.spi_out.to_bytes(4, "big") in d.spis:
                    answer.append(child.spi_in.to_bytes(4, "big"))
                    child.deleted = True
        out: list[Payload] = [DeletePayload(ProtocolId.ESP, tuple(answer))] if answer else []
        notifies = find_all(inner, NotifyPayload)
        kinds = {n.notify_type for n in notifies}
        if NotifyType.UPDATE_SA_ADDRESSES in kinds and sa.mobike:
            sa.peer = src  # RFC 4555 §3.5: IKE and ESP go where the request came from
            self.address_updates.append(src)
        if kinds & {NotifyType.NAT_DETECTION_SOURCE_IP, NotifyType.NAT_DETECTION_DESTINATION_IP}:
            here = Endpoint(self.host, dst_port)
            out += [
                NotifyPayload(
                    0, b"", NotifyType.NAT_DETECTION_SOURCE_IP, natd(sa.spi_i, sa.spi_r, here)
                ),
                NotifyPayload(
                    0, b"", NotifyType.NAT_DETECTION_DESTINATION_IP, natd(sa.spi_i, sa.spi_r, src)
                ),
            ]
        cookie2 = find_notify(inner, NotifyType.COOKIE2)
        if cookie2 is not None:
            out.append(NotifyPayload(0, b"", NotifyType.COOKIE2, cookie2.data))
        return out

    # -- requests we originate ---------------------------------------------------------------

    def request(
        self,
        payloads: Sequence[Payload],
        *,
        framed: bool,
        exchange: int = ExchangeType.INFORMATIONAL,
        sa: _Sa | None = None,
    ) -> bytes:
        """A request we originate (liveness check, Delete, ...), as sent on the wire.

        Not tracked: its answer is only recorded in ``received``.
        """
        sa = sa or self.current
        wire = seal(
            spi_i=sa.spi_i,
            spi_r=sa.spi_r,
            exchange=exchange,
            flags=sa.flags,  # not Response; Initiator only on an IKE SA we created
            message_id=sa.our_next_id,
            payloads=payloads,
            cipher=sa.outbound,
            rng=self.rng,
        )
        sa.our_next_id += 1
        return NON_ESP_MARKER + wire if framed else wire

    def _send(
        self, sa: _Sa, exchange: int, payloads: list[Payload], handler: Handler
    ) -> list[bytes]:
        """A tracked request: one at a time per IKE SA (§2.3); the rest waits in the outbox."""
        if sa.outstanding is not None:
            sa.outbox.append((exchange, payloads, handler))
            return []
        wire = seal(
            spi_i=sa.spi_i,
            spi_r=sa.spi_r,
            exchange=exchange,
            flags=sa.flags,
            message_id=sa.our_next_id,
            payloads=payloads,
            cipher=sa.outbound,
            rng=self.rng,
        )
        sa.outstanding = (sa.our_next_id, handler, wire)
        sa.our_next_id += 1
        return [wire]

    def _flush(self, sa: _Sa) -> list[bytes]:
        if sa.outstanding is None and sa.outbox:
            exchange, payloads, handler = sa.outbox.popleft()
            return self._send(sa, exchange, payloads, handler)
        return []

    def _framed(self, sa: _Sa, wires: list[bytes]) -> list[bytes]:
        return [NON_ESP_MARKER + w if sa.framed else w for w in wires]

    def retransmit(self) -> list[bytes]:
        """Our tracked requests in flight, again (as a gateway whose timer fired, §2.1)."""
        return [
            NON_ESP_MARKER + sa.outstanding[2] if sa.framed else sa.outstanding[2]
            for sa in self.sas.values()
            if sa.outstanding is not None and not sa.deleted
        ]

    def liveness_check(self, *, framed: bool = True) -> bytes:
        """HDR, SK {} (RFC 7296 §2.4)."""
        return self.request([], framed=framed)

    def delete_child(self, *, framed: bool = True) -> bytes:
        """HDR, SK {D(ESP, our inbound SPI)} (RFC 7296 §1.4.1)."""
        child = self.child
        assert child is not None
        return self.request(
            [DeletePayload(ProtocolId.ESP, (child.spi_in.to_bytes(4, "big"),))], framed=framed
        )

    def delete_ike_sa(self, *, framed: bool = True) -> bytes:
        """HDR, SK {D(IKE)} (RFC 7296 §1.4.1)."""
        return self.request([DeletePayload(ProtocolId.IKE, ())], framed=framed)

    def start_child_rekey(
        self, spi_in: int | None = None, *, pfs: int | None = None
    ) -> list[bytes]:
        """We rekey a child SA (§1.3.3): HDR, SK {N(REKEY_SA), SA, Ni, [KEi,] TSi, TSr}.

        Returns the datagrams to send now (the request, unless another is in flight).
        When the answer comes we delete the old SA, or after a collision (§2.8.1)
        whichever SA the nonces make ours to delete.
        """
        sa = self.current
        old = self.children[spi_in] if spi_in is not None else self.child
        assert old is not None and not old.deleted
        spi = self._new_spi()
        nonce_i = self.rng.random_bytes(32)
        mine = create_key_exchange(pfs, self.rng) if pfs is not None else None
        payloads: list[Payload] = [
            NotifyPayload(ProtocolId.ESP, old.spi_in.to_bytes(4, "big"), NotifyType.REKEY_SA, b""),
            _offer(self.esp_proposals, ProtocolId.ESP, spi, pfs),
            NoncePayload(nonce_i),
        ]
        if mine is not None:
            payloads.append(KePayload(mine.group, mine.public_value))
        # We are the exchange's initiator: TSi is our side, TSr the client's (§2.9).
        payloads += [TsiPayload(old.tsr), TsrPayload(old.tsi)]
        self._child_rekeys[old.spi_in] = {"spi": spi, "nonce_i": nonce_i, "ke": mine}

        def on_response(sa: _Sa, inner: tuple[Payload, ...]) -> list[bytes]:
            return self._child_rekeyed(sa, old, inner)

        return self._framed(sa, self._send(sa, ExchangeType.CREATE_CHILD_SA, payloads, on_response))

    def _child_rekeyed(self, sa: _Sa, old: ChildView, inner: tuple[Payload, ...]) -> list[bytes]:
        state = self._child_rekeys.pop(old.spi_in)
        collision = self._child_collisions.pop(old.spi_in, None)
        sa_r = find_payload(inner, SaPayload)
        nonce = find_payload(inner, NoncePayload)
        if sa_r is None or nonce is None or len(sa_r.proposals) != 1:
            if collision is not None:
                old.rekeyed_by = collision.spi_in
            return []  # refused; a real gateway would retry later
        chosen = sa_r.proposals[0]
        ke_r = find_payload(inner, KePayload)
        shared = None
        if state["ke"] is not None:
            assert ke_r is not None
            shared = state["ke"].compute_shared_secret(ke_r.data)
        new = self._make_child(
            sa, chosen, state["spi"], chosen.spi, state["nonce_i"], nonce.data, shared,
            old.tsi, old.tsr, we_initiated=True,
        )  # fmt: skip
        self.child_rekeys_done += 1
        if collision is not None and min(new.nonce_i, new.nonce_r) < min(
            collision.nonce_i, collision.nonce_r
        ):
            # §2.8.1: ours is redundant; we delete it, the initiator deletes the old SA.
            old.rekeyed_by = collision.spi_in
            new.rekeyed_by = collision.spi_in
            delete = DeletePayload(ProtocolId.ESP, (new.spi_in.to_bytes(4, "big"),))
        else:
            old.rekeyed_by = new.spi_in
            delete = DeletePayload(ProtocolId.ESP, (old.spi_in.to_bytes(4, "big"),))
        return self._send(sa, ExchangeType.INFORMATIONAL, [delete], self._on_delete_answer)

    def _on_delete_answer(self, sa: _Sa, inner: tuple[Payload, ...]) -> list[bytes]:
        for d in find_all(inner, DeletePayload):
            for child in self.children.values():
                if child.spi_out.to_bytes(4, "big") in d.spis:
                    child.deleted = True
        # A Delete of ours names our inbound SPIs; the answer names the initiator's.
        return []

    def start_ike_rekey(self) -> list[bytes]:
        """We rekey the IKE SA (§1.3.2): HDR, SK {SA, Ni, KEi}; then we delete the old one."""
        sa = self.current
        spi = self.rng.random_bytes(8)
        nonce_i = self.rng.random_bytes(32)
        group = _ke_id(sa.proposal)
        assert group is not None
        mine = create_key_exchange(group, self.rng)
        payloads: list[Payload] = [
            _offer(self.ike_proposals, ProtocolId.IKE, spi, group),
            NoncePayload(nonce_i),
            KePayload(group, mine.public_value),
        ]
        sa.ike_rekey = {"spi": spi, "nonce_i": nonce_i, "ke": mine}
        return self._framed(
            sa, self._send(sa, ExchangeType.CREATE_CHILD_SA, payloads, self._ike_rekeyed)
        )

    def _ike_rekeyed(self, sa: _Sa, inner: tuple[Payload, ...]) -> list[bytes]:
        state, sa.ike_rekey = sa.ike_rekey, None
        collision, sa.collision = sa.collision, None
        assert state is not None
        sa_r = find_payload(inner, SaPayload)
        nonce = find_payload(inner, NoncePayload)
        ke_r = find_payload(inner, KePayload)
        if sa_r is None or nonce is None or ke_r is None or len(sa_r.proposals) != 1:
            return []  # refused
        chosen = sa_r.proposals[0]
        shared = state["ke"].compute_shared_secret(ke_r.data)
        new = self._rekeyed_sa(
            sa, chosen, state["spi"], chosen.spi, state["nonce_i"], nonce.data, shared,
            we_initiated=True,
        )  # fmt: skip
        self.ike_rekeys_done += 1
        if collision is not None:
            _, t_ni, t_nr = collision
            if min(state["nonce_i"], nonce.data) < min(t_ni, t_nr):
                # §2.8.1: ours is redundant: delete it; the initiator deletes the old one.
                return self._send(
                    new,
                    ExchangeType.INFORMATIONAL,
                    [DeletePayload(ProtocolId.IKE, ())],
                    self._on_ike_deleted,
                )
        return self._send(
            sa,
            ExchangeType.INFORMATIONAL,
            [DeletePayload(ProtocolId.IKE, ())],
            self._on_ike_deleted,
        )

    def _on_ike_deleted(self, sa: _Sa, inner: tuple[Payload, ...]) -> list[bytes]:
        sa.deleted = True
        return []


__all__ = [
    "GATEWAY",
    "NON_ESP_MARKER",
    "ChildView",
    "Received",
    "ResponderDouble",
    "derive_keys",
    "derive_rekeyed_keys",
    "id_body",
    "natd",
    "psk_auth_value",
    "seal",
    "unseal",
]
