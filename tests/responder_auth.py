"""The gateway double's side of certificate and EAP authentication (RFC 7296 §2.15, §2.16).

Written from the RFCs with ``cryptography`` and ``ssl`` directly, independent of
ikeclient's authenticator, signature and EAP modules:

* :func:`gateway_signature` signs ResponderSignedOctets as AUTH method 1, 9-11
  or 14 (the AlgorithmIdentifiers are the literal DER of RFC 7427 Appendix A
  and strongSwan's test vectors, not built by code);
* :func:`verify_client_signature` checks the initiator's signature AUTH the
  same way and tells which scheme it used;
* :class:`EapServer` runs EAP-Identity, then EAP-MD5 (RFC 3748 §5.4),
  EAP-MSCHAPv2 (RFC 2759, MSK per RFC 3079) or EAP-TLS (RFC 5216, server side
  of ``ssl`` through memory BIOs) and yields the MSK.
"""

from __future__ import annotations

import hashlib
import os
import ssl
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from ikeclient.crypto.md4 import md4
from ikeclient.crypto.random import DeterministicRandomSource
from ikeclient.ike.v2.eap.tls_keys import msk_tls12, msk_tls13, parse_key_log

# RFC 7427 Appendix A (A.1.2, A.3.2-A.3.4) and RFC 8420; RSASSA-PSS from strongSwan's
# src/libstrongswan/tests/suites/test_signature_params.c (SHA-256/384/512, salt = hash length).
AID_SHA256_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
AID_SHA384_RSA = bytes.fromhex("300d06092a864886f70d01010c0500")
AID_SHA512_RSA = bytes.fromhex("300d06092a864886f70d01010d0500")
AID_ECDSA_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")
AID_ECDSA_SHA384 = bytes.fromhex("300a06082a8648ce3d040303")
AID_ECDSA_SHA512 = bytes.fromhex("300a06082a8648ce3d040304")
AID_ED25519 = bytes.fromhex("300506032b6570")
AID_RSA_PSS_SHA256 = bytes.fromhex(
    "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886"
    "f70d010108300d06096086480165030402010500a203020120"
)
AID_RSA_PSS_SHA384 = bytes.fromhex(
    "304106092a864886f70d01010a3034a00f300d06096086480165030402020500a11c301a06092a864886"
    "f70d010108300d06096086480165030402020500a203020130"
)
AID_RSA_PSS_SHA512 = bytes.fromhex(
    "304106092a864886f70d01010a3034a00f300d06096086480165030402030500a11c301a06092a864886"
    "f70d010108300d06096086480165030402030500a203020140"
)
_AIDS: dict[bytes, tuple[str, hashes.HashAlgorithm | None]] = {
    AID_SHA256_RSA: ("rsa-pkcs1", hashes.SHA256()),
    AID_SHA384_RSA: ("rsa-pkcs1", hashes.SHA384()),
    AID_SHA512_RSA: ("rsa-pkcs1", hashes.SHA512()),
    AID_RSA_PSS_SHA256: ("rsa-pss", hashes.SHA256()),
    AID_RSA_PSS_SHA384: ("rsa-pss", hashes.SHA384()),
    AID_RSA_PSS_SHA512: ("rsa-pss", hashes.SHA512()),
    AID_ECDSA_SHA256: ("ecdsa", hashes.SHA256()),
    AID_ECDSA_SHA384: ("ecdsa", hashes.SHA384()),
    AID_ECDSA_SHA512: ("ecdsa", hashes.SHA512()),
    AID_ED25519: ("ed25519", None),
}
_ECDSA_METHOD_HASH = {9: hashes.SHA256(), 10: hashes.SHA384(), 11: hashes.SHA512()}
_CURVE_METHOD = {"secp256r1": 9, "secp384r1": 10, "secp521r1": 11}


def _raw(der: bytes, bits: int) -> bytes:
    r, s = decode_dss_signature(der)
    n = (bits + 7) // 8
    return r.to_bytes(n, "big") + s.to_bytes(n, "big")


def gateway_signature(key: object, octets: bytes, *, rfc7427: bool) -> tuple[int, bytes]:
    """(AUTH method, Authentication Data) for the gateway's key over its signed octets."""
    if isinstance(key, rsa.RSAPrivateKey):
        if not rfc7427:  # method 1: PKCS#1 v1.5 with SHA-1 (RFC 7296 §3.8)
            return 1, key.sign(octets, padding.PKCS1v15(), hashes.SHA1())
        sig = key.sign(octets, padding.PKCS1v15(), hashes.SHA256())
        return 14, bytes((len(AID_SHA256_RSA),)) + AID_SHA256_RSA + sig
    if isinstance(key, ec.EllipticCurvePrivateKey):
        method = _CURVE_METHOD[key.curve.name]
        digest = _ECDSA_METHOD_HASH[method]
        der = key.sign(octets, ec.ECDSA(digest))
        if not rfc7427:
            return method, _raw(der, key.curve.key_size)
        aid = {9: AID_ECDSA_SHA256, 10: AID_ECDSA_SHA384, 11: AID_ECDSA_SHA512}[method]
        return 14, bytes((len(aid),)) + aid + der
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return 14, bytes((len(AID_ED25519),)) + AID_ED25519 + key.sign(octets)


def verify_client_signature(
    cert: x509.Certificate, method: int, data: bytes, octets: bytes
) -> str | None:
    """The scheme name if the initiator's signature AUTH verifies, else None."""
    key = cert.public_key()
    try:
        if method == 14:
            aid = data[1 : 1 + data[0]]
            sig = data[1 + data[0] :]
            kind, digest = _AIDS[aid]
            if kind == "ed25519":
                assert isinstance(key, ed25519.Ed25519PublicKey)
                key.verify(sig, octets)
                return "Ed25519"
            assert digest is not None
            if kind == "ecdsa":
                assert isinstance(key, ec.EllipticCurvePublicKey)
                key.verify(sig, octets, ec.ECDSA(digest))
                return f"ECDSA-{digest.name.upper()}"
            assert isinstance(key, rsa.RSAPublicKey)
            pad: padding.AsymmetricPadding = (
                padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
                if kind == "rsa-pss"
                else padding.PKCS1v15()
            )
            key.verify(sig, octets, pad, digest)
            return f"{'RSA-PSS' if kind == 'rsa-pss' else 'RSA-PKCS1'}-{digest.name.upper()}"
        if method == 1:
            assert isinstance(key, rsa.RSAPublicKey)
            key.verify(data, octets, padding.PKCS1v15(), hashes.SHA1())
            return "RSA-PKCS1-SHA1 (method 1)"
        if method in _ECDSA_METHOD_HASH:
            assert isinstance(key, ec.EllipticCurvePublicKey)
            half = len(data) // 2
            der = encode_dss_signature(
                int.from_bytes(data[:half], "big"), int.from_bytes(data[half:], "big")
            )
            key.verify(der, octets, ec.ECDSA(_ECDSA_METHOD_HASH[method]))
            return f"ECDSA (method {method})"
    except (InvalidSignature, KeyError, IndexError, AssertionError, ValueError):
        return None
    return None


# --------------------------------------------------------------------- EAP (RFC 3748)

EAP_REQUEST, EAP_RESPONSE, EAP_SUCCESS, EAP_FAILURE = 1, 2, 3, 4
TYPE_IDENTITY, TYPE_NAK, TYPE_MD5, TYPE_TLS, TYPE_MSCHAPV2 = 1, 3, 4, 13, 26
_METHOD_TYPES = {"md5": TYPE_MD5, "mschapv2": TYPE_MSCHAPV2, "tls": TYPE_TLS}


def eap_packet(code: int, identifier: int, type_: int | None = None, data: bytes = b"") -> bytes:
    body = b"" if type_ is None else bytes((type_,)) + data
    return bytes((code, identifier)) + (4 + len(body)).to_bytes(2, "big") + body


def _des(clear: bytes, seven: bytes) -> bytes:
    bits = int.from_bytes(seven, "big")
    key = bytes(((bits >> (49 - 7 * i)) & 0x7F) << 1 for i in range(8))
    enc = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return enc.update(clear) + enc.finalize()


def _sha1(*parts: bytes) -> bytes:
    return hashlib.sha1(b"".join(parts)).digest()


def mschapv2_server_values(
    password: str, auth_challenge: bytes, peer_challenge: bytes, user: bytes
) -> tuple[bytes, bytes, bytes]:
    """(NT-Response expected, AuthenticatorResponse, MSK) per RFC 2759 §8 and RFC 3079 §3.4."""
    user = user.rsplit(b"\\", 1)[-1]
    challenge = _sha1(peer_challenge, auth_challenge, user)[:8]
    pw_hash = md4(password.encode("utf-16-le"))
    z = pw_hash + bytes(5)
    nt = b"".join(_des(challenge, z[i : i + 7]) for i in (0, 7, 14))
    hash_hash = md4(pw_hash)
    digest = _sha1(hash_hash, nt, b"Magic server to client signing constant")
    authenticator = _sha1(digest, challenge, b"Pad to make it do more than one iteration")
    master = _sha1(hash_hash, nt, b"This is the MPPE Master Key")[:16]
    magic2 = b"On the client side, this is the send key; on the server side, it is the receive key."
    magic3 = b"On the client side, this is the receive key; on the server side, it is the send key."
    k2 = _sha1(master, bytes(40), magic2, b"\xf2" * 40)[:16]
    k3 = _sha1(master, bytes(40), magic3, b"\xf2" * 40)[:16]
    return nt, authenticator, k2 + k3 + bytes(32)


class _MemfdLog:
    def __init__(self) -> None:
        self.fd = os.memfd_create("double-keylog", os.MFD_CLOEXEC)
        self.path = f"/proc/self/fd/{self.fd}"

    def read(self) -> str:
        return os.pread(self.fd, os.fstat(self.fd).st_size, 0).decode()


@dataclass
class EapServer:
    """One EAP conversation as the authenticator (server)."""

    method: str
    users: dict[bytes, str]
    rng: DeterministicRandomSource
    ask_identity: bool = True
    tls_context: ssl.SSLContext | None = None
    tls_fragment: int = 1000
    identity: bytes | None = None
    msk: bytes | None = None
    succeeded: bool | None = None
    mutual: bool = False
    nak: bytes | None = None
    client_tls_cert: bytes | None = None
    tls_version: str | None = None
    _id: int = 0
    _state: str = "start"
    _challenge: bytes = b""
    _expected_nt: bytes = b""
    _authenticator: bytes = b""
    _tls: ssl.SSLObject | None = None
    _in: ssl.MemoryBIO = field(default_factory=ssl.MemoryBIO)
    _out: ssl.MemoryBIO = field(default_factory=ssl.MemoryBIO)
    _pending: bytes = b""
    _reassembly: bytes = b""
    _log: _MemfdLog | None = None
    _client_random: bytes = b""
    _server_random: bytes = b""
    _sent_first: bool = False

    def _request(self, type_: int, data: bytes) -> bytes:
        self._id = (self._id + 1) % 256
        return eap_packet(EAP_REQUEST, self._id, type_, data)

    def start(self) -> bytes:
        """The first EAP request (for the first IKE_AUTH response)."""
        if self.ask_identity:
            self._state = "identity"
            return self._request(TYPE_IDENTITY, b"")
        return self._method_start()

    def _method_start(self) -> bytes:
        if self.method == "md5":
            self._challenge = self.rng.random_bytes(16)
            self._state = "md5"
            return self._request(TYPE_MD5, b"\x10" + self._challenge + b"double")
        if self.method == "mschapv2":
            self._challenge = self.rng.random_bytes(16)
            self._state = "mschapv2"
            ms_len = (4 + 1 + 16 + 6).to_bytes(2, "big")
            return self._request(
                TYPE_MSCHAPV2,
                b"\x01" + bytes((self._id + 1,)) + ms_len + b"\x10" + self._challenge + b"double",
            )
        assert self.tls_context is not None
        self._log = _MemfdLog()
        self.tls_context.keylog_filename = self._log.path
        self._tls = self.tls_context.wrap_bio(self._in, self._out, server_side=True)
        self._state = "tls"
        return self._request(TYPE_TLS, b"\x20")  # Start

    def _fail(self) -> bytes:
        self.succeeded = False
        self._state = "done"
        return eap_packet(EAP_FAILURE, self._id)

    def _success(self) -> bytes:
        self.succeeded = True
        self._state = "done"
        return eap_packet(EAP_SUCCESS, self._id)

    def receive(self, packet: bytes) -> bytes:
        """The next EAP packet for the peer's Response."""
        if packet[0] != EAP_RESPONSE or packet[1] != self._id:
            return self._fail()
        type_, data = packet[4], packet[5:]
        if type_ == TYPE_NAK:
            self.nak = data
            return self._fail()
        if self._state == "identity" and type_ == TYPE_IDENTITY:
            self.identity = data
            return self._method_start()
        if self._state == "md5" and type_ == TYPE_MD5:
            password = self.users.get(self.identity or b"", "")
            expected = hashlib.md5(
                bytes((self._id,)) + password.encode() + self._challenge
            ).digest()
            return self._success() if data == b"\x10" + expected else self._fail()
        if self._state == "mschapv2" and type_ == TYPE_MSCHAPV2:
            return self._mschapv2(data)
        if self._state == "mschapv2-success" and type_ == TYPE_MSCHAPV2 and data == b"\x03":
            return self._success()
        if self._state == "tls" and type_ == TYPE_TLS:
            return self._tls_step(data)
        return self._fail()

    def _mschapv2(self, data: bytes) -> bytes:
        if data[0] != 2 or data[4] != 49:
            return self._fail()
        peer_challenge, nt, name = data[5:21], data[29:53], data[54:]
        password = self.users.get(name, self.users.get(self.identity or b"", ""))
        expected, authenticator, msk = mschapv2_server_values(
            password, self._challenge, peer_challenge, name
        )
        if nt != expected:
            message = b"E=691 R=1 C=" + self._challenge.hex().upper().encode() + b" V=3 M=bad"
            ms_len = (4 + len(message)).to_bytes(2, "big")
            self._state = "done"
            self.succeeded = False
            return self._request(TYPE_MSCHAPV2, b"\x04" + bytes((data[1],)) + ms_len + message)
        self.msk = msk
        self.mutual = True
        self._state = "mschapv2-success"
        message = b"S=" + authenticator.hex().upper().encode() + b" M=welcome"
        ms_len = (4 + len(message)).to_bytes(2, "big")
        return self._request(TYPE_MSCHAPV2, b"\x03" + bytes((data[1],)) + ms_len + message)

    # -- EAP-TLS (RFC 5216 §3.1) ---------------------------------------------------------

    def _tls_step(self, data: bytes) -> bytes:
        flags, body = data[0], data[1:]
        if flags & 0x80:
            body = body[4:]
        if self._pending and not body:
            return self._tls_fragment()
        self._reassembly += body
        if flags & 0x40:
            return self._request(TYPE_TLS, b"\x00")  # ack
        records, self._reassembly = self._reassembly, b""
        if not self._client_random and records[:1] == b"\x16" and records[5:6] == b"\x01":
            self._client_random = records[11:43]
        if (
            self.succeeded is None
            and self._tls is not None
            and self.msk is not None
            and not records
        ):
            return self._success()  # the peer acknowledged our last flight
        self._in.write(records)
        assert self._tls is not None
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError:
            return self._fail()
        else:
            if self.msk is None:
                self._finish_tls()
        out = self._out.read()
        if not self._server_random and out[:1] == b"\x16" and out[5:6] == b"\x02":
            self._server_random = out[11:43]
        self._pending = out
        if not out:
            return self._success() if self.msk is not None else self._fail()
        return self._tls_fragment()

    def _finish_tls(self) -> None:
        assert self._tls is not None and self._log is not None
        self.tls_version = self._tls.version()
        self.client_tls_cert = self._tls.getpeercert(binary_form=True)
        cipher = self._tls.cipher()
        digest = "sha384" if cipher and cipher[0].endswith("SHA384") else "sha256"
        secrets = parse_key_log(self._log.read())
        if self.tls_version == "TLSv1.3":
            self._tls.write(b"\x00")  # RFC 9190 §2.5 commitment message
            self.msk = msk_tls13(secrets[("EXPORTER_SECRET", self._client_random)], digest)
        else:
            master = secrets[("CLIENT_RANDOM", self._client_random)]
            self.msk = msk_tls12(master, self._client_random, self._server_random, digest)
        self.mutual = True

    def _tls_fragment(self) -> bytes:
        size = self.tls_fragment
        total = len(self._pending)
        chunk, rest = self._pending[:size], self._pending[size:]
        first = not self._sent_first
        self._pending = rest
        flags = 0x40 if rest else 0
        if rest and first:
            self._sent_first = True
            return self._request(
                TYPE_TLS, bytes((flags | 0x80,)) + total.to_bytes(4, "big") + chunk
            )
        if not rest:
            self._sent_first = False
        return self._request(TYPE_TLS, bytes((flags,)) + chunk)
