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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ikeclient.crypto.encr import SkCipher, get_encr, make_sk_cipher
from ikeclient.crypto.integ import get_integ
from ikeclient.crypto.keyexchange import create_key_exchange
from ikeclient.crypto.prf import Prf, get_prf, prf_plus
from ikeclient.crypto.random import DeterministicRandomSource
from ikeclient.crypto.transforms import TransformType
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
) -> Proposal | None:
    """RFC 7296 §2.7: the first offered proposal we support, one transform of each type.

    ``prefer_ke`` is the group of KEi: chosen when the proposal offers it.
    The returned proposal has an empty SPI; the caller fills in its own.
    """
    for prop in offered:
        if prop.protocol != protocol:
            continue
        by_type: dict[int, list[Transform]] = {}
        for t in prop.transforms:
            by_type.setdefault(t.type, []).append(t)
        for spec in allowed:
            chosen = _match(by_type, spec, protocol, prefer_ke)
            if chosen is not None:
                return Proposal(prop.number, protocol, b"", chosen)
    return None


def _match(
    by_type: dict[int, list[Transform]], spec: ProposalSpec, protocol: int, prefer_ke: int | None
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
    if protocol == ProtocolId.IKE:
        wanted.append((TransformType.KE, spec.ke))
    else:
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
    """The responder's view of the child SA: its SPIs and keys (RFC 7296 §2.17)."""

    spi_in: int  # ours (in SAr2): the initiator sends to it
    spi_out: int  # the initiator's (in SAi2)
    proposal: Proposal
    encr_in: bytes = field(repr=False)  # KEYMAT encr_i: initiator -> responder
    integ_in: bytes = field(repr=False)
    encr_out: bytes = field(repr=False)  # KEYMAT encr_r: responder -> initiator
    integ_out: bytes = field(repr=False)
    tsi: tuple[TrafficSelector, ...]
    tsr: tuple[TrafficSelector, ...]


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
        self._cookie_secret = self.rng.random_bytes(16)
        self._init_cache: dict[bytes, bytes] = {}  # IKE_SA_INIT request -> response
        self.sas: dict[tuple[bytes, bytes], _Sa] = {}
        self.received: list[Received] = []
        self.ignored = 0  # datagrams dropped (malformed, not ours, failed ICV)
        self.cookie_sent = False
        self.cookie_ok: bool | None = None
        self.initiator_behind_nat: bool | None = None
        self.child: ChildView | None = None
        self.peer_identity: Identity | None = None
        self.auth_verified: bool | None = None

    # -- what tests read ---------------------------------------------------------------

    @property
    def sa(self) -> _Sa:
        """The (single) IKE SA that completed IKE_SA_INIT."""
        if len(self.sas) != 1:
            raise LookupError(f"{len(self.sas)} IKE SAs")
        return next(iter(self.sas.values()))

    def requests(self, exchange: int) -> list[Received]:
        return [r for r in self.received if r.exchange == exchange and not r.response]

    # -- receiving -------------------------------------------------------------------------

    def receive(self, data: bytes, src: Endpoint, dst_port: int) -> list[tuple[bytes, Endpoint]]:
        """One datagram from ``src`` to our port ``dst_port``; returns what we answer."""
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
        encr_t = next(t for t in chosen.transforms if t.type == TransformType.ENCR)
        integ_id = next((t.id for t in chosen.transforms if t.type == TransformType.INTEG), None)
        prf = get_prf(prf_id)
        encr_size = get_encr(encr_t.id).key_size(encr_t.key_length)
        integ_size = get_integ(integ_id).key_size if integ_id is not None else 0
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
            inbound=make_sk_cipher(
                encr_t.id, encr_t.key_length, keys.sk_ei, integ_id, keys.sk_ai or None
            ),
            outbound=make_sk_cipher(
                encr_t.id, encr_t.key_length, keys.sk_er, integ_id, keys.sk_ar or None
            ),
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
        if header.is_response:
            # The answer to a request we originated.
            self.received.append(
                Received(
                    header.exchange_type, header.message_id, True, inner, src, dst_port, framed
                )
            )
            return []
        if sa.cached is not None and header.message_id == sa.cached[0]:
            return list(sa.cached[1])  # §2.1: a retransmitted request gets the same response
        if header.message_id != sa.next_request_id:
            self.ignored += 1
            return []
        self.received.append(
            Received(header.exchange_type, header.message_id, False, inner, src, dst_port, framed)
        )
        sa.next_request_id += 1
        if header.exchange_type == ExchangeType.IKE_AUTH:
            payloads = self._ike_auth(sa, inner, src)
        elif header.exchange_type == ExchangeType.INFORMATIONAL:
            payloads = self._informational(sa, inner)
        else:
            payloads = [NotifyPayload(0, b"", NotifyType.NO_ADDITIONAL_SAS, b"")]
        wires = self._seal_response(sa, header.exchange_type, header.message_id, payloads)
        sa.cached = (header.message_id, tuple(wires))
        return wires

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
            flags=HeaderFlag.RESPONSE,
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
                HeaderFlag.RESPONSE,
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
        spi_in = self.rng.random_bytes(4)
        if int.from_bytes(spi_in, "big") <= 255:
            spi_in = b"\x40" + spi_in[1:]
        chosen = Proposal(chosen.number, chosen.protocol, spi_in, chosen.transforms)
        encr_t = next(t for t in chosen.transforms if t.type == TransformType.ENCR)
        integ_id = next((t.id for t in chosen.transforms if t.type == TransformType.INTEG), None)
        e = get_encr(encr_t.id).key_size(encr_t.key_length)
        i = get_integ(integ_id).key_size if integ_id is not None else 0
        # §2.17: KEYMAT = prf+(SK_d, Ni | Nr); initiator->responder keys first, encr before integ.
        keymat = prf_plus(sa.prf, sa.keys.sk_d, sa.nonce_i + sa.nonce_r, 2 * (e + i))
        self.child = ChildView(
            spi_in=int.from_bytes(spi_in, "big"),
            spi_out=int.from_bytes(offered_spi, "big"),
            proposal=chosen,
            encr_in=keymat[:e],
            integ_in=keymat[e : e + i],
            encr_out=keymat[e + i : 2 * e + i],
            integ_out=keymat[2 * e + i :],
            tsi=tsi_n,
            tsr=tsr_n,
        )
        return [SaPayload((chosen,)), TsiPayload(tsi_n), TsrPayload(tsr_n)]

    # -- INFORMATIONAL (RFC 7296 §1.4) -----------------------------------------------------

    def _informational(self, sa: _Sa, inner: tuple[Payload, ...]) -> list[Payload]:
        answer: list[bytes] = []
        for d in find_all(inner, DeletePayload):
            if d.protocol == ProtocolId.IKE:
                sa.deleted = True
                return []  # §1.4.1: the answer to a Delete of the IKE SA is empty
            child = self.child
            if (
                d.protocol == ProtocolId.ESP
                and child
                and child.spi_out.to_bytes(4, "big") in d.spis
            ):
                answer.append(child.spi_in.to_bytes(4, "big"))
                self.child = None
        return [DeletePayload(ProtocolId.ESP, tuple(answer))] if answer else []

    def request(
        self,
        payloads: Sequence[Payload],
        *,
        framed: bool,
        exchange: int = ExchangeType.INFORMATIONAL,
    ) -> bytes:
        """A request we originate (liveness check, Delete, ...), as sent on the wire."""
        sa = self.sa
        wire = seal(
            spi_i=sa.spi_i,
            spi_r=sa.spi_r,
            exchange=exchange,
            flags=0,  # neither Initiator (we are the original responder) nor Response
            message_id=sa.our_next_id,
            payloads=payloads,
            cipher=sa.outbound,
            rng=self.rng,
        )
        sa.our_next_id += 1
        return NON_ESP_MARKER + wire if framed else wire

    def liveness_check(self, *, framed: bool = True) -> bytes:
        """HDR, SK {} (RFC 7296 §2.4)."""
        return self.request([], framed=framed)

    def delete_child(self, *, framed: bool = True) -> bytes:
        """HDR, SK {D(ESP, our inbound SPI)} (RFC 7296 §1.4.1)."""
        assert self.child is not None
        return self.request(
            [DeletePayload(ProtocolId.ESP, (self.child.spi_in.to_bytes(4, "big"),))], framed=framed
        )

    def delete_ike_sa(self, *, framed: bool = True) -> bytes:
        """HDR, SK {D(IKE)} (RFC 7296 §1.4.1)."""
        return self.request([DeletePayload(ProtocolId.IKE, ())], framed=framed)


__all__ = [
    "GATEWAY",
    "NON_ESP_MARKER",
    "ChildView",
    "Received",
    "ResponderDouble",
    "derive_keys",
    "id_body",
    "natd",
    "psk_auth_value",
    "seal",
    "unseal",
]
