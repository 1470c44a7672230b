"""A minimal, deterministic IKEv1 responder for sans-I/O tests of ``Ikev1Connection``.

It plays a strongSwan-like road-warrior gateway with a PSK: Main Mode or Aggressive Mode,
optional XAUTH (it asks, checks the password, sends XAUTH_STATUS), Mode Config pull (a fixed
virtual IP, DNS and a Unity split network), Quick Mode as responder, and on request it
starts a Quick Mode rekey or a DPD R-U-THERE itself. It uses the client's codec and key
derivation, so it checks framing, hashes and IV chaining, not the formulas (the KDF vectors
and the strongSwan interop tests do that).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from ikeclient.crypto.encr import get_encr
from ikeclient.crypto.integ import get_integ
from ikeclient.crypto.keyexchange import KeyExchange, create_key_exchange
from ikeclient.crypto.random import DeterministicRandomSource
from ikeclient.errors import InvalidSyntax
from ikeclient.ike.events import Endpoint
from ikeclient.ike.v1 import keys as k
from ikeclient.ike.v1.enums import (
    VID_DPD,
    VID_NAT_T_RFC3947,
    CfgType,
    ConfigAttribute,
    Doi,
    ExchangeType,
    HeaderFlag,
    IdType,
    NotifyType,
    ProtocolId,
)
from ikeclient.ike.v1.message import (
    HEADER_SIZE,
    Message,
    find_all,
    find_payload,
    pull_header,
    push_header,
)
from ikeclient.ike.v1.natd import natd_hash
from ikeclient.ike.v1.payloads import (
    Attribute,
    AttributePayload,
    DeletePayload,
    HashPayload,
    IdPayload,
    KePayload,
    NatDPayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    Proposal,
    SaPayload,
    VendorIdPayload,
    attribute_int,
    encode_body,
    pull_payload_chain,
    push_payload_chain,
)
from ikeclient.ike.v1.proposals import (
    Phase1Suite,
    build_phase2_sa,
    parse_phase2_transform,
)
from ikeclient.ike.v1.protection import Phase1Cipher, phase1_cipher_spec
from ikeclient.ike.v1.quick_mode import id_from_ts, protected_body, with_hash

GATEWAY = Endpoint("198.18.2.2", 500)
CLIENT = Endpoint("198.18.1.2", 500)
VIRTUAL_IP = "198.18.200.7"
SPLIT = "198.18.3.0/24"


@dataclass
class ResponderChild:
    spi_r: bytes
    spi_i: bytes
    keymat_r: bytes = field(repr=False)  # for the SA with the responder's SPI (its inbound)
    keymat_i: bytes = field(repr=False)


class Ikev1Responder:
    """The gateway side; ``receive`` takes a datagram and returns the datagrams it answers."""

    def __init__(
        self,
        psk: bytes,
        *,
        seed: bytes = b"responder",
        xauth: tuple[str, bytes] | None = None,
        gateway_id: bytes = b"gw.ike.lab",
        peer: Endpoint = CLIENT,
        virtual_ip: str = VIRTUAL_IP,
    ) -> None:
        self.virtual_ip = virtual_ip
        self.requested_ips: list[bytes] = []
        self.psk = psk
        self.rng = DeterministicRandomSource(seed)
        self.xauth = xauth
        self.gateway_id = gateway_id
        self.peer = peer
        self.cky_i = b""
        self.cky_r = self.rng.random_bytes(8)
        self.suite: Phase1Suite | None = None
        self.sa_i_b = b""
        self.ke: KeyExchange | None = None
        self.gxi = b""
        self.ni = b""
        self.nr = self.rng.random_bytes(16)
        self.keys: k.Phase1Keys | None = None
        self.cipher: Phase1Cipher | None = None
        self.established = False
        self.xauth_ok: bool | None = None
        self.children: list[ResponderChild] = []
        self.deleted: list[tuple[int, tuple[bytes, ...]]] = []
        self.dpd_acks: list[int] = []
        self.natt = False
        self._qm: dict[int, tuple[bytes, bytes, bytes, bytes]] = {}  # mid -> ni, nr, spi_i, spi_r
        self.log: list[str] = []

    # -- helpers ---------------------------------------------------------------------------

    @property
    def prf(self):  # type: ignore[no-untyped-def]
        assert self.suite is not None
        return k.prf_for(self.suite.hash_alg)

    def _wire(self, exchange: int, mid: int, payloads: list[Payload], *, encrypt: bool) -> bytes:
        first, body = push_payload_chain(payloads)
        return self._wrap(exchange, mid, first, body, encrypt)

    def _wrap(self, exchange: int, mid: int, first: int, body: bytes, encrypt: bool) -> bytes:
        flags = 0
        if encrypt:
            assert self.cipher is not None
            body = self.cipher.encrypt(mid, body)
            flags = HeaderFlag.ENCRYPTION
        data = push_header(
            self.cky_i, self.cky_r, first, exchange, flags, mid, HEADER_SIZE + len(body)
        )
        data += body
        return b"\x00\x00\x00\x00" + data if self.natt else data

    def _protected(self, exchange: int, mid: int, payloads: list[Payload]) -> bytes:
        return self._wrap(exchange, mid, 8, protected_body(self._sa_view(), mid, payloads), True)

    def _sa_view(self):  # type: ignore[no-untyped-def]
        """What ``protected_body`` needs of a Phase1Sa: prf and keys."""

        class View:
            prf = self.prf
            keys = self.keys

        return View()

    def _parse(self, data: bytes) -> Message:
        if data[:4] == b"\x00\x00\x00\x00":
            data = data[4:]
            self.natt = True
        header = pull_header(data)
        body = data[HEADER_SIZE:]
        if header.encrypted:
            assert self.cipher is not None
            opened = self.cipher.decrypt(header.message_id, body)
            self.cipher.commit(header.message_id, opened.next_iv)
            body = opened.plaintext
        payloads, spans = pull_payload_chain(
            body, header.next_payload, allow_padding=header.encrypted
        )
        end = spans[-1][1] if spans else 0
        return Message(header, payloads, body[:end], tuple(spans))

    # -- dispatch ----------------------------------------------------------------------------

    def receive(self, data: bytes) -> list[bytes]:
        try:
            msg = self._parse(data)
        except InvalidSyntax:
            self.log.append("undecryptable or malformed")  # as strongSwan: PAYLOAD_MALFORMED
            return []
        h = msg.header
        self.log.append(
            f"{ExchangeType(h.exchange_type).name} {[type(p).__name__ for p in msg.payloads]}"
        )
        if h.exchange_type == ExchangeType.IDENTITY_PROTECTION:
            return self._main_mode(msg)
        if h.exchange_type == ExchangeType.AGGRESSIVE:
            return self._aggressive(msg)
        if h.exchange_type == ExchangeType.TRANSACTION:
            return self._transaction(msg)
        if h.exchange_type == ExchangeType.QUICK:
            return self._quick(msg)
        if h.exchange_type == ExchangeType.INFORMATIONAL:
            self._informational(msg)
        return []

    # -- phase 1 ----------------------------------------------------------------------------

    def _choose(self, msg: Message) -> list[Payload]:
        sa = find_payload(msg.payloads, SaPayload)
        assert sa is not None
        self.cky_i = msg.header.cky_i
        self.sa_i_b = encode_body(sa)
        t = sa.proposals[0].transforms[0]
        values = {a.type: attribute_int(a.value) for a in t.attributes}
        self.suite = Phase1Suite(values[1], values.get(14), values[2], values[3], values[4])
        vids = {v.data for v in find_all(msg.payloads, VendorIdPayload)}
        self.natt_offered = VID_NAT_T_RFC3947 in vids
        reply_sa = SaPayload(sa.doi, sa.situation, (Proposal(1, 1, b"", (t,)),))
        return [reply_sa, VendorIdPayload(VID_NAT_T_RFC3947), VendorIdPayload(VID_DPD)]

    def _keys(self, ke_i: bytes, ni: bytes) -> None:
        assert self.suite is not None
        self.ke = create_key_exchange(self.suite.group, self.rng)
        self.gxi, self.ni = ke_i, ni
        gxy = self.ke.compute_shared_secret(ke_i)
        block, key_len = phase1_cipher_spec(self.suite.encr, self.suite.key_bits)
        self.keys = k.derive_phase1_keys(
            self.prf, psk=self.psk, ni=ni, nr=self.nr, gxy=gxy, cky_i=self.cky_i,
            cky_r=self.cky_r, key_length=key_len,
        )  # fmt: skip
        iv = k.initial_iv(self.suite.hash_alg, ke_i, self.ke.public_value, block)
        self.cipher = Phase1Cipher(
            self.suite.encr, self.keys.encryption_key, self.suite.hash_alg, iv
        )

    def _natd(self) -> list[Payload]:
        assert self.suite is not None
        h = self.suite.hash_alg
        return [
            NatDPayload(natd_hash(h, self.cky_i, self.cky_r, self.peer)),
            NatDPayload(natd_hash(h, self.cky_i, self.cky_r, GATEWAY)),
        ]

    def _id_and_hash_r(self) -> list[Payload]:
        assert self.keys is not None and self.ke is not None
        idr = IdPayload(IdType.ID_FQDN, 0, 0, self.gateway_id)
        hash_r = k.hash_r(
            self.prf, self.keys.skeyid, self.gxi, self.ke.public_value, self.cky_i, self.cky_r,
            self.sa_i_b, encode_body(idr),
        )  # fmt: skip
        return [idr, HashPayload(hash_r)]

    def _check_hash_i(self, msg: Message) -> bool:
        assert self.keys is not None and self.ke is not None
        idx = next(i for i, p in enumerate(msg.payloads) if isinstance(p, IdPayload))
        s, e = msg.spans[idx]
        hash_i = find_payload(msg.payloads, HashPayload)
        assert hash_i is not None
        want = k.hash_i(
            self.prf, self.keys.skeyid, self.gxi, self.ke.public_value, self.cky_i, self.cky_r,
            self.sa_i_b, msg.body[s + 4 : e],
        )  # fmt: skip
        return k.verify(want, hash_i.data)

    def _main_mode(self, msg: Message) -> list[bytes]:
        if find_payload(msg.payloads, SaPayload) is not None:
            return [self._wire(2, 0, self._choose(msg), encrypt=False)]
        ke = find_payload(msg.payloads, KePayload)
        if ke is not None:
            nonce = find_payload(msg.payloads, NoncePayload)
            assert nonce is not None
            self._keys(ke.data, nonce.data)
            assert self.ke is not None
            payloads: list[Payload] = [KePayload(self.ke.public_value), NoncePayload(self.nr)]
            return [self._wire(2, 0, payloads + self._natd(), encrypt=False)]
        # message 5: the cipher already decrypted it with the phase 1 IV
        if not self._check_hash_i(msg):
            self.log.append("HASH_I mismatch")
            return []
        self.established = True
        out = [self._wire(2, 0, self._id_and_hash_r(), encrypt=True)]
        return out + self._after_phase1()

    def _aggressive(self, msg: Message) -> list[bytes]:
        if find_payload(msg.payloads, SaPayload) is not None:
            reply = self._choose(msg)
            ke = find_payload(msg.payloads, KePayload)
            nonce = find_payload(msg.payloads, NoncePayload)
            assert ke is not None and nonce is not None and self.ke is None
            self._keys(ke.data, nonce.data)
            self._am_msg1 = msg
            assert self.ke is not None
            payloads = [reply[0], KePayload(self.ke.public_value), NoncePayload(self.nr)]
            payloads += self._id_and_hash_r() + self._natd() + reply[1:]
            return [self._wire(4, 0, payloads, encrypt=False)]
        if not self._check_hash_i(self._am_msg1_with(msg)):
            self.log.append("HASH_I mismatch")
            return []
        self.established = True
        return self._after_phase1()

    def _am_msg1_with(self, msg3: Message) -> Message:
        """HASH_I of Aggressive Mode covers IDii from message 1 and HASH_I from message 3."""
        m1 = self._am_msg1
        hash_i = find_payload(msg3.payloads, HashPayload)
        assert hash_i is not None
        return Message(m1.header, (*m1.payloads, hash_i), m1.body, m1.spans)

    def _after_phase1(self) -> list[bytes]:
        if self.xauth is None:
            return []
        self.xauth_mid = int.from_bytes(self.rng.random_bytes(4), "big")
        req = AttributePayload(
            CfgType.REQUEST, 7,
            (Attribute(ConfigAttribute.XAUTH_USER_NAME, b""),
             Attribute(ConfigAttribute.XAUTH_USER_PASSWORD, b"")),
        )  # fmt: skip
        return [self._protected(ExchangeType.TRANSACTION, self.xauth_mid, [req])]

    # -- transactions, quick mode, informational ---------------------------------------------

    def _transaction(self, msg: Message) -> list[bytes]:
        attr = find_payload(msg.payloads, AttributePayload)
        assert attr is not None
        mid = msg.header.message_id
        if attr.cfg_type == CfgType.REPLY and self.xauth is not None:
            values = {a.type: a.value for a in attr.attributes}
            user, password = self.xauth
            self.xauth_ok = (
                values.get(ConfigAttribute.XAUTH_USER_NAME) == user.encode()
                and values.get(ConfigAttribute.XAUTH_USER_PASSWORD) == password
            )
            set_mid = int.from_bytes(self.rng.random_bytes(4), "big")
            status = AttributePayload(
                CfgType.SET, 8, (Attribute(ConfigAttribute.XAUTH_STATUS, int(self.xauth_ok)),)
            )
            return [self._protected(ExchangeType.TRANSACTION, set_mid, [status])]
        if attr.cfg_type == CfgType.REQUEST:
            self.requested_ips += [
                a.value
                for a in attr.attributes
                if a.type == ConfigAttribute.INTERNAL_IP4_ADDRESS and isinstance(a.value, bytes)
            ]
            reply = AttributePayload(
                CfgType.REPLY,
                attr.identifier,
                (
                    Attribute(
                        ConfigAttribute.INTERNAL_IP4_ADDRESS,
                        ipaddress.IPv4Address(self.virtual_ip).packed,
                    ),
                    Attribute(ConfigAttribute.INTERNAL_IP4_DNS, bytes((198, 18, 3, 53))),
                    Attribute(
                        ConfigAttribute.UNITY_SPLIT_INCLUDE,
                        bytes((198, 18, 3, 0, 255, 255, 255, 0)) + bytes(6),
                    ),
                ),
            )
            return [self._protected(ExchangeType.TRANSACTION, mid, [reply])]
        return []  # ACK

    def _quick(self, msg: Message) -> list[bytes]:
        mid = msg.header.message_id
        hash_p = msg.payloads[0]
        assert isinstance(hash_p, HashPayload) and self.keys is not None
        mid_b = mid.to_bytes(4, "big")
        if mid in self._qm and len(msg.payloads) == 1:
            ni, nr, spi_i, spi_r = self._qm.pop(mid)
            if hash_p.data != self.prf.compute(self.keys.skeyid_a, b"\x00" + mid_b + ni + nr):
                self.log.append("HASH(3) mismatch")
                return []
            self._add_child(ni, nr, spi_i, spi_r)
            return []
        if mid in self._qm:  # our own rekey: message 2 from the client
            ni, _, _, spi_r = self._qm.pop(mid)
            sa = find_payload(msg.payloads, SaPayload)
            nonce = find_payload(msg.payloads, NoncePayload)
            assert sa is not None and nonce is not None
            want = self.prf.compute(self.keys.skeyid_a, mid_b + ni + msg.after(0))
            assert hash_p.data == want
            self._add_child(ni, nonce.data, spi_r, sa.proposals[0].spi, initiator=True)
            hash3 = self.prf.compute(self.keys.skeyid_a, b"\x00" + mid_b + ni + nonce.data)
            return [self._wrap(ExchangeType.QUICK, mid, 8, with_hash(hash3, []), True)]
        assert hash_p.data == self.prf.compute(self.keys.skeyid_a, mid_b + msg.after(0))
        sa = find_payload(msg.payloads, SaPayload)
        nonce = find_payload(msg.payloads, NoncePayload)
        assert sa is not None and nonce is not None
        prop = sa.proposals[0]
        t = prop.transforms[0]
        spi_r = self.rng.random_bytes(4)
        nr = self.rng.random_bytes(16)
        rest: list[Payload] = [
            SaPayload(1, 1, (Proposal(prop.number, 3, spi_r, (t,)),)),
            NoncePayload(nr),
        ]
        ids = find_all(msg.payloads, IdPayload)
        rest += list(ids)
        _, body = push_payload_chain(rest)
        hash2 = self.prf.compute(self.keys.skeyid_a, mid_b + nonce.data + body)
        self._qm[mid] = (nonce.data, nr, prop.spi, spi_r)
        self.suite2 = parse_phase2_transform(t)[0]
        self.ids = ids
        return [self._wrap(ExchangeType.QUICK, mid, 8, with_hash(hash2, rest), True)]

    def _add_child(
        self, ni: bytes, nr: bytes, spi_i: bytes, spi_r: bytes, *, initiator: bool = False
    ) -> None:
        assert self.keys is not None
        s = self.suite2
        length = get_encr(s.encr).key_size(s.key_bits) + (
            get_integ(s.integ).key_size if s.integ else 0
        )
        km = lambda spi: k.quick_mode_keymat(self.prf, self.keys.skeyid_d, 3, spi, ni, nr, length)  # noqa: E731
        self.children.append(ResponderChild(spi_r, spi_i, km(spi_r), km(spi_i)))

    def start_rekey(
        self, ids: tuple[IdPayload, IdPayload] | None = None, *, omit_ids: bool = False
    ) -> bytes:
        """The gateway starts a Quick Mode (rekeying) with the first child's selectors.

        ``ids``: (IDci, IDcr) to send instead (the gateway's side first); ``omit_ids``: send
        none at all (RFC 2409 §5.5: then the selectors are the phase 1 endpoints).
        """
        assert self.keys is not None
        mid = int.from_bytes(self.rng.random_bytes(4), "big")
        spi = self.rng.random_bytes(4)
        ni = self.rng.random_bytes(16)
        rest: list[Payload] = [build_phase2_sa([self.suite2], spi, 1, 3600), NoncePayload(ni)]
        if omit_ids:
            pass
        elif ids is None:
            rest += [self.ids[1], self.ids[0]]  # from the gateway's side: its net first
        else:
            rest += list(ids)
        _, body = push_payload_chain(rest)
        hash1 = self.prf.compute(self.keys.skeyid_a, mid.to_bytes(4, "big") + body)
        self._qm[mid] = (ni, b"", b"", spi)
        return self._wrap(ExchangeType.QUICK, mid, 8, with_hash(hash1, rest), True)

    def r_u_there(self, seq: int) -> bytes:
        mid = int.from_bytes(self.rng.random_bytes(4), "big")
        n = NotifyPayload(
            Doi.IPSEC,
            ProtocolId.ISAKMP,
            NotifyType.R_U_THERE,
            self.cky_i + self.cky_r,
            seq.to_bytes(4, "big"),
        )
        return self._protected(ExchangeType.INFORMATIONAL, mid, [n])

    def delete_ike(self) -> bytes:
        mid = int.from_bytes(self.rng.random_bytes(4), "big")
        d = DeletePayload(Doi.IPSEC, ProtocolId.ISAKMP, (self.cky_i + self.cky_r,))
        return self._protected(ExchangeType.INFORMATIONAL, mid, [d])

    def _informational(self, msg: Message) -> None:
        for p in msg.payloads:
            if isinstance(p, DeletePayload):
                self.deleted.append((p.protocol, p.spis))
            elif isinstance(p, NotifyPayload) and p.notify_type == NotifyType.R_U_THERE_ACK:
                self.dpd_acks.append(int.from_bytes(p.data, "big"))
            elif isinstance(p, NotifyPayload) and p.notify_type == NotifyType.R_U_THERE:
                self.dpd_seen = int.from_bytes(p.data, "big")


def initiator_cookie(data: bytes) -> bytes:
    """The initiator cookie of a datagram, with or without the non-ESP marker."""
    return data[4:12] if data[:4] == b"\x00\x00\x00\x00" else data[:8]


class Ikev1Gateway:
    """A gateway with several ISAKMP SAs for one client (phase 1 renewal, RFC 2409 §4.1).

    One :class:`Ikev1Responder` per initiator cookie; ``current`` is the newest one that
    finished phase 1 (where the gateway's own Quick Modes, DPD and Deletes go). IPsec SAs
    stay with the responder that made them, as with a gateway that adopts them.
    """

    def __init__(self, psk: bytes, **kw: Any) -> None:
        self.psk = psk
        self._kw = kw
        self.sas: dict[bytes, Ikev1Responder] = {}
        self.current = Ikev1Responder(psk, **kw)
        self._unused: Ikev1Responder | None = self.current
        self.phase1_count = 0

    def receive(self, data: bytes) -> list[bytes]:
        cky = initiator_cookie(data)
        r = self.sas.get(cky)
        if r is None:
            r = self._unused or self._new()
            self._unused = None
            self.sas[cky] = r
        was = r.established
        out = r.receive(data)
        if r.established and not was:
            self.phase1_count += 1
            if r is not self.current:
                r.suite2, r.ids = self.current.suite2, self.current.ids
                self.current = r
        return out

    def _new(self) -> Ikev1Responder:
        kw = dict(self._kw)
        seed = kw.pop("seed", b"responder") + bytes([len(self.sas)])
        return Ikev1Responder(self.psk, seed=seed, **kw)

    @property
    def children(self) -> list[ResponderChild]:
        return [c for r in self.sas.values() for c in r.children]

    @property
    def deleted(self) -> list[tuple[int, tuple[bytes, ...]]]:
        return [d for r in self.sas.values() for d in r.deleted]

    @property
    def log(self) -> list[str]:
        return [line for r in self.sas.values() for line in r.log]

    @property
    def xauth_ok(self) -> bool | None:
        return self.current.xauth_ok

    @property
    def dpd_acks(self) -> list[int]:
        return [a for r in self.sas.values() for a in r.dpd_acks]

    def isakmp_deleted(self, r: Ikev1Responder) -> bool:
        """Did the client delete the ISAKMP SA ``r`` (a Delete on ``r`` itself)?"""
        return any(p == ProtocolId.ISAKMP and s == (r.cky_i + r.cky_r,) for p, s in r.deleted)

    def start_rekey(
        self, ids: tuple[IdPayload, IdPayload] | None = None, *, omit_ids: bool = False
    ) -> bytes:
        return self.current.start_rekey(ids, omit_ids=omit_ids)

    def r_u_there(self, seq: int) -> bytes:
        return self.current.r_u_there(seq)

    def delete_ike(self) -> bytes:
        return self.current.delete_ike()


__all__ = ["GATEWAY", "SPLIT", "VIRTUAL_IP", "Ikev1Gateway", "Ikev1Responder", "id_from_ts"]
