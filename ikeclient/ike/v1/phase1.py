"""Phase 1 with a pre-shared key: Main Mode and Aggressive Mode (RFC 2409 §5, §5.4).

    Main Mode (identity protection):
    HDR, SA, VID                       -->
                                       <--  HDR, SA, VID
    HDR, KE, Ni, NAT-D, NAT-D          -->
                                       <--  HDR, KE, Nr, NAT-D, NAT-D
    HDR*, IDii, HASH_I                 -->      (on port 4500 when a NAT was found)
                                       <--  HDR*, IDir, HASH_R

    Aggressive Mode (the PSK hash is exposed to offline cracking: warn):
    HDR, SA, KE, Ni, IDii, VID         -->
                                       <--  HDR, SA, KE, Nr, IDir, HASH_R, NAT-D, NAT-D, VID
    HDR, HASH_I, NAT-D, NAT-D          -->

NAT-T (RFC 3947): the RFC and draft vendor IDs are offered; the NAT-D payloads use the
payload number of the version the gateway chose. HASH_R is verified in constant time before
anything of the responder's identity is believed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from ikeclient.crypto.keyexchange import KeyExchange, create_key_exchange
from ikeclient.crypto.prf import Prf
from ikeclient.crypto.random import RandomSource
from ikeclient.errors import AuthenticationFailed, IdentityMismatch, InvalidSyntax
from ikeclient.ike.events import Endpoint
from ikeclient.ike.identity import Identity
from ikeclient.ike.v1 import keys as k
from ikeclient.ike.v1.enums import (
    NAT_T_VIDS,
    VID_CISCO_UNITY,
    VID_DPD,
    VID_NAT_T_RFC3947,
    VID_XAUTH,
)
from ikeclient.ike.v1.message import Message, find_all, find_payload
from ikeclient.ike.v1.natd import natd_hash
from ikeclient.ike.v1.payloads import (
    HashPayload,
    IdPayload,
    KePayload,
    NatDPayload,
    NoncePayload,
    Payload,
    SaPayload,
    VendorIdPayload,
    encode_body,
)
from ikeclient.ike.v1.proposals import (
    PSK_AUTH,
    XAUTH_AUTH,
    Phase1Choice,
    Phase1Suite,
    build_phase1_sa,
    phase1_suites,
    select_phase1,
)
from ikeclient.ike.v1.protection import Phase1Cipher, phase1_cipher_spec
from ikeclient.ike.v1.settings import Ikev1Settings

NONCE_SIZE = 32


@dataclass(slots=True)
class Phase1Sa:
    """The keys and facts of an authenticated ISAKMP SA."""

    cky_i: bytes
    cky_r: bytes
    suite: Phase1Suite
    prf: Prf
    keys: k.Phase1Keys = field(repr=False)
    cipher: Phase1Cipher = field(repr=False)
    remote_identity: Identity
    lifetime: int | None
    peer_dpd: bool
    natt_draft: bool
    nat_t: bool
    local_behind_nat: bool
    remote_behind_nat: bool


class Phase1Exchange:
    """Builds our phase 1 messages and checks the gateway's (RFC 2409 §5)."""

    def __init__(
        self,
        settings: Ikev1Settings,
        rng: RandomSource,
        cky_i: bytes,
        local: Endpoint,
        remote: Endpoint,
    ) -> None:
        self.s = settings
        self._rng = rng
        self.cky_i = cky_i
        self.cky_r = bytes(8)
        self._local = local
        self._remote = remote
        auth = XAUTH_AUTH if settings.xauth_user else PSK_AUTH
        suites = phase1_suites(settings.ike_proposals, auth)
        if settings.mode == "aggressive":
            # One KE in the first message: every transform must use its group.
            suites = [s for s in suites if s.group == suites[0].group]
        self.suites = suites
        self.aggressive = settings.mode == "aggressive"
        self.nonce_i = rng.random_bytes(NONCE_SIZE)
        self._ke: KeyExchange | None = None
        self.sa_i = build_phase1_sa(suites, settings.ike_lifetime)
        self.sa_i_b = encode_body(self.sa_i)
        self._id_i = IdPayload(settings.local_id.id_type, 0, 0, settings.local_id.data)
        self._choice: Phase1Choice | None = None
        self._natt_draft = False
        self._nat_t = False
        self._peer_dpd = False
        self.gxr = b""

    # -- first message ------------------------------------------------------------------------

    def _vendor_ids(self) -> list[Payload]:
        vids: list[Payload] = [VendorIdPayload(v) for v in NAT_T_VIDS]
        vids.append(VendorIdPayload(VID_DPD))
        if self.s.xauth_user:
            vids.append(VendorIdPayload(VID_XAUTH))
            vids.append(VendorIdPayload(VID_CISCO_UNITY))
        elif self.s.request_virtual_ip:
            vids.append(VendorIdPayload(VID_CISCO_UNITY))
        return vids

    def first_message(self) -> list[Payload]:
        """MM: SA, VIDs. AM: SA, KE, Ni, IDii, VIDs."""
        if not self.aggressive:
            return [self.sa_i, *self._vendor_ids()]
        self._ke = create_key_exchange(self.suites[0].group, self._rng)
        return [
            self.sa_i,
            KePayload(self._ke.public_value),
            NoncePayload(self.nonce_i),
            self._id_i,
            *self._vendor_ids(),
        ]

    def _note_vendor_ids(self, message: Message) -> None:
        vids = {v.data for v in find_all(message.payloads, VendorIdPayload)}
        self._peer_dpd = VID_DPD in vids
        if VID_NAT_T_RFC3947 in vids:
            self._nat_t, self._natt_draft = True, False
        elif any(v in vids for v in NAT_T_VIDS[1:]):
            self._nat_t, self._natt_draft = True, True

    def _natd_payloads(self, hash_alg: int, remote_port: int | None = None) -> list[Payload]:
        if not self._nat_t:
            return []
        dest = Endpoint(self._remote.host, remote_port or self._remote.port)
        remote = natd_hash(hash_alg, self.cky_i, self.cky_r, dest)
        if self.s.force_encapsulation:
            # Pretend to be behind a NAT so the gateway encapsulates ESP (strongSwan's
            # forceencaps does the same): a hash that matches no address.
            local = self._rng.random_bytes(len(remote))
        else:
            local = natd_hash(hash_alg, self.cky_i, self.cky_r, self._local)
        return [NatDPayload(remote, self._natt_draft), NatDPayload(local, self._natt_draft)]

    # -- Main Mode ----------------------------------------------------------------------------

    def mm_process_sa(self, message: Message) -> list[Payload]:
        """Message 2 (SA) → message 3: KE, Ni, NAT-D, NAT-D."""
        sa = find_payload(message.payloads, SaPayload)
        if sa is None:
            raise InvalidSyntax("Main Mode message 2 has no SA payload")
        self.cky_r = message.header.cky_r
        self._choice = select_phase1(sa, self.suites)
        self._note_vendor_ids(message)
        self._ke = create_key_exchange(self._choice.suite.group, self._rng)
        return [
            KePayload(self._ke.public_value),
            NoncePayload(self.nonce_i),
            *self._natd_payloads(self._choice.suite.hash_alg),
        ]

    def mm_process_ke(self, message: Message) -> tuple[Phase1Sa, list[Payload]]:
        """Message 4 (KE, Nr) → the keys and message 5's payloads: IDii, HASH_I."""
        ke = find_payload(message.payloads, KePayload)
        nonce = find_payload(message.payloads, NoncePayload)
        if ke is None or nonce is None:
            raise InvalidSyntax("Main Mode message 4 lacks KE or Nonce")
        sa = self._derive(message, ke, nonce, Identity(0, b""))
        hash_i = k.hash_i(
            sa.prf, sa.keys.skeyid, self._gxi, self.gxr, self.cky_i, self.cky_r,
            self.sa_i_b, encode_body(self._id_i),
        )  # fmt: skip
        return sa, [self._id_i, HashPayload(hash_i)]

    def mm_process_auth(self, message: Message, sa: Phase1Sa) -> Identity:
        """Message 6 (IDir, HASH_R): verify HASH_R; return the gateway's identity."""
        return self._verify_hash_r(message, sa)

    # -- Aggressive Mode ----------------------------------------------------------------------

    def am_process(self, message: Message) -> tuple[Phase1Sa, list[Payload]]:
        """Message 2 → the verified keys and message 3's payloads: HASH_I, NAT-D, NAT-D."""
        sa_r = find_payload(message.payloads, SaPayload)
        ke = find_payload(message.payloads, KePayload)
        nonce = find_payload(message.payloads, NoncePayload)
        if sa_r is None or ke is None or nonce is None:
            raise InvalidSyntax("Aggressive Mode message 2 lacks SA, KE or Nonce")
        self.cky_r = message.header.cky_r
        self._choice = select_phase1(sa_r, self.suites)
        self._note_vendor_ids(message)
        sa = self._derive(message, ke, nonce, Identity(0, b""))
        sa.remote_identity = self._verify_hash_r(message, sa)
        hash_i = k.hash_i(
            sa.prf, sa.keys.skeyid, self._gxi, self.gxr, self.cky_i, self.cky_r,
            self.sa_i_b, encode_body(self._id_i),
        )  # fmt: skip
        # Message 3 goes to the NAT-T port once a NAT was seen (RFC 3947 §4): hash that.
        floats = sa.nat_t and (
            sa.local_behind_nat or sa.remote_behind_nat or self.s.force_encapsulation
        )
        port = self.s.nat_t_port if floats else None
        return sa, [HashPayload(hash_i), *self._natd_payloads(sa.suite.hash_alg, port)]

    # -- shared -------------------------------------------------------------------------------

    @property
    def _gxi(self) -> bytes:
        if self._ke is None:  # pragma: no cover - guarded by the state machine
            raise InvalidSyntax("no key exchange yet")
        return self._ke.public_value

    def _derive(
        self, message: Message, ke: KePayload, nonce: NoncePayload, remote_id: Identity
    ) -> Phase1Sa:
        if self._ke is None or self._choice is None:  # pragma: no cover - state machine
            raise InvalidSyntax("phase 1 answer out of order")
        suite = self._choice.suite
        gxy = self._ke.compute_shared_secret(ke.data)
        self.gxr = ke.data
        self.nonce_r = nonce.data
        prf = k.prf_for(suite.hash_alg)
        block, key_len = phase1_cipher_spec(suite.encr, suite.key_bits)
        keys = k.derive_phase1_keys(
            prf, psk=self.s.psk, ni=self.nonce_i, nr=nonce.data, gxy=gxy,
            cky_i=self.cky_i, cky_r=self.cky_r, key_length=key_len,
        )  # fmt: skip
        iv = k.initial_iv(suite.hash_alg, self._ke.public_value, ke.data, block)
        cipher = Phase1Cipher(suite.encr, keys.encryption_key, suite.hash_alg, iv)
        local_nat, remote_nat = self._detect_nat(message, suite.hash_alg)
        return Phase1Sa(
            cky_i=self.cky_i,
            cky_r=self.cky_r,
            suite=suite,
            prf=prf,
            keys=keys,
            cipher=cipher,
            remote_identity=remote_id,
            lifetime=self._choice.lifetime,
            peer_dpd=self._peer_dpd,
            natt_draft=self._natt_draft,
            nat_t=self._nat_t,
            local_behind_nat=local_nat,
            remote_behind_nat=remote_nat,
        )

    def _detect_nat(self, message: Message, hash_alg: int) -> tuple[bool, bool]:
        natds = [p.data for p in find_all(message.payloads, NatDPayload)]
        if not self._nat_t or len(natds) < 2:
            return False, False
        local = natd_hash(hash_alg, self.cky_i, self.cky_r, self._local)
        remote = natd_hash(hash_alg, self.cky_i, self.cky_r, self._remote)
        return natds[0] != local, remote not in natds[1:]

    def _verify_hash_r(self, message: Message, sa: Phase1Sa) -> Identity:
        idr_index = next(
            (i for i, p in enumerate(message.payloads) if isinstance(p, IdPayload)), None
        )
        hash_r = find_payload(message.payloads, HashPayload)
        if idr_index is None or hash_r is None:
            raise InvalidSyntax("the gateway's authentication lacks IDir or HASH_R")
        start, end = message.spans[idr_index]
        idir_b = message.body[start + 4 : end]
        expected = k.hash_r(
            sa.prf, sa.keys.skeyid, self._gxi, self.gxr, self.cky_i, self.cky_r,
            self.sa_i_b, idir_b,
        )  # fmt: skip
        if not k.verify(expected, hash_r.data):
            raise AuthenticationFailed(
                "the gateway's HASH_R does not verify: wrong pre-shared key (or group name)?"
            )
        idr = cast(IdPayload, message.payloads[idr_index])
        identity = Identity(idr.id_type, idr.data)
        expected_id = self.s.remote_id
        if expected_id is not None and identity != expected_id:
            raise IdentityMismatch(
                f"the gateway identified as {identity}, but the profile expects {expected_id}"
            )
        return identity


def random_cookie(rng: RandomSource) -> bytes:
    """An initiator cookie (RFC 2408 §2.5.3); never starting with the non-ESP marker."""
    cky = rng.random_bytes(8)
    return cky if cky[:4] != b"\x00\x00\x00\x00" else b"\x01" + cky[1:]


__all__ = ["NONCE_SIZE", "Phase1Exchange", "Phase1Sa", "random_cookie"]
