"""EAP-TLS, peer side (RFC 5216 for TLS 1.2, RFC 9190 for TLS 1.3).

The TLS state machine is Python's ``ssl`` driven through memory BIOs
(``ssl.MemoryBIO`` / ``SSLObject``): no socket, bytes in and bytes out, so this
module stays sans-I/O. EAP-TLS only frames the TLS records (RFC 5216 §3.1):

    Flags (L: length included, M: more fragments, S: start) | [TLS Message Length] | TLS data

    <-- Request  S                             (start)
    --> Response ClientHello
    <-- Request  ServerHello ... [fragments, each acknowledged by an empty Response]
    --> Response Certificate, CertificateVerify, Finished [fragmented, each acked]
    <-- Request  ChangeCipherSpec, Finished    (TLS 1.2) / commitment 0x00 (TLS 1.3, §2.5)
    --> Response (empty)
    <-- EAP-Success

The gateway's TLS certificate is checked by ``ssl`` against the profile's trust
anchors, then by ``check_server`` (its identity, revocation). The MSK comes from
:mod:`ikeclient.ike.v2.eap.tls_keys` with secrets from the TLS key log, which
the context's builder taps (``key_log``).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Protocol

from ikeclient.errors import (
    CertificateError,
    CertificateExpired,
    CertificateRevoked,
    CertificateUntrusted,
    EapFailure,
    InvalidSyntax,
)
from ikeclient.ike.v2.eap.packet import EapType
from ikeclient.ike.v2.eap.tls_keys import (
    CLIENT_HELLO,
    SERVER_HELLO,
    hello_random,
    msk_tls12,
    msk_tls13,
    parse_key_log,
    suite_digest,
)

__all__ = ["DEFAULT_FRAGMENT_SIZE", "EapTlsPeer", "KeyLogSource"]

FLAG_LENGTH, FLAG_MORE, FLAG_START = 0x80, 0x40, 0x20
DEFAULT_FRAGMENT_SIZE = 1024  # strongSwan's eap-tls fragment_size
MAX_MESSAGE = 64 * 1024  # RFC 5216 §2.1.5: bound what a peer reassembles
_READ_CHUNK = 16384

# X509_V_ERR_* numbers OpenSSL reports in SSLCertVerificationError.verify_code.
_EXPIRED_CODES = {9, 10}  # CERT_NOT_YET_VALID, CERT_HAS_EXPIRED
_REVOKED_CODE = 23


class KeyLogSource(Protocol):
    """Where the TLS context's key log lines can be read back (NSS key log format)."""

    def read(self) -> str:
        """Everything logged so far."""
        ...


class EapTlsPeer:
    """One EAP-TLS conversation as the peer (TLS client)."""

    eap_type = EapType.TLS

    def __init__(
        self,
        context: ssl.SSLContext,
        key_log: KeyLogSource,
        check_server: Callable[[bytes], None],
        fragment_size: int = DEFAULT_FRAGMENT_SIZE,
    ) -> None:
        self._context = context
        self._key_log = key_log
        self._check_server = check_server
        self._fragment_size = fragment_size
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls: ssl.SSLObject | None = None
        self._reassembly = bytearray()
        self._expected_length: int | None = None
        self._pending = b""  # TLS data still to send, in fragments
        self._client_random: bytes | None = None
        self._server_random: bytes | None = None
        self._handshake_done = False
        self.finished = False
        self.mutual = False
        self.msk: bytes | None = None
        self.version: str | None = None

    def __repr__(self) -> str:
        return f"EapTlsPeer(version={self.version}, finished={self.finished})"

    # -- EAP-TLS framing (RFC 5216 §3.1) ---------------------------------------------

    def process(self, identifier: int, data: bytes) -> bytes:
        """The Type-Data of our Response to one EAP-TLS Request."""
        if not data:
            raise InvalidSyntax("EAP-TLS request without flags")
        flags, body = data[0], data[1:]
        if flags & FLAG_START:
            if self._tls is not None:
                raise InvalidSyntax("EAP-TLS start in the middle of a conversation")
            self._tls = self._context.wrap_bio(self._incoming, self._outgoing)
            self._drive()
            return self._next_fragment()
        if self._tls is None:
            raise InvalidSyntax("EAP-TLS request before the start")
        if flags & FLAG_LENGTH:
            if len(body) < 4:
                raise InvalidSyntax("EAP-TLS length flag without a length")
            total = int.from_bytes(body[:4], "big")
            body = body[4:]
            if total > MAX_MESSAGE:
                raise InvalidSyntax(f"EAP-TLS message of {total} bytes announced")
            if not self._reassembly:
                self._expected_length = total
        if self._pending and not body:
            return self._next_fragment()  # the gateway acknowledged a fragment of ours
        self._reassembly += body
        if len(self._reassembly) > MAX_MESSAGE:
            raise InvalidSyntax("EAP-TLS message larger than the reassembly limit")
        if flags & FLAG_MORE:
            return b"\x00"  # acknowledge: an empty Response (RFC 5216 §3.1)
        if self._expected_length is not None and len(self._reassembly) != self._expected_length:
            raise InvalidSyntax(
                f"EAP-TLS message of {len(self._reassembly)} bytes, "
                f"{self._expected_length} announced"
            )
        records = bytes(self._reassembly)
        self._reassembly.clear()
        self._expected_length = None
        if self._server_random is None:
            self._server_random = hello_random(records, SERVER_HELLO)
        self._incoming.write(records)
        self._drive()
        return self._next_fragment()

    def _next_fragment(self) -> bytes:
        """The next piece of our TLS data, or an empty acknowledgement (RFC 5216 §3.1)."""
        first = not self._pending
        if first:
            self._pending = self._outgoing.read()
            if self._client_random is None and self._pending:
                self._client_random = hello_random(self._pending, CLIENT_HELLO)
            if not self._pending:
                return b"\x00"
            if len(self._pending) <= self._fragment_size:
                data, self._pending = self._pending, b""
                return b"\x00" + data
        total = len(self._pending)
        chunk, self._pending = (
            self._pending[: self._fragment_size],
            self._pending[self._fragment_size :],
        )
        flags = FLAG_MORE if self._pending else 0
        if first:  # the first fragment carries the total length (L)
            return bytes((flags | FLAG_LENGTH,)) + total.to_bytes(4, "big") + chunk
        return bytes((flags,)) + chunk

    # -- TLS ----------------------------------------------------------------------------

    def _drive(self) -> None:
        tls = self._tls
        assert tls is not None
        if not self._handshake_done:
            try:
                tls.do_handshake()
            except ssl.SSLWantReadError:
                return
            except ssl.SSLCertVerificationError as exc:
                raise _certificate_error(exc) from None
            except ssl.SSLError as exc:
                raise EapFailure(f"EAP-TLS handshake failed: {exc.reason or exc}") from None
            self._handshake_done = True
            self._on_handshake_done(tls)
        self._read_application_data(tls)

    def _on_handshake_done(self, tls: ssl.SSLObject) -> None:
        der = tls.getpeercert(binary_form=True)
        if der is None:
            raise EapFailure("EAP-TLS: the gateway sent no certificate")
        self._check_server(der)
        self.version = tls.version()
        self.msk = self._derive_msk(tls)
        self.mutual = True
        if self.version != "TLSv1.3":
            self.finished = True  # TLS 1.2: the handshake is the whole method

    def _read_application_data(self, tls: ssl.SSLObject) -> None:
        """TLS 1.3: the server's commitment message, one 0x00 octet (RFC 9190 §2.5)."""
        while True:
            try:
                data = tls.read(_READ_CHUNK)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                return
            except ssl.SSLError as exc:
                raise EapFailure(f"EAP-TLS failed after the handshake: {exc.reason}") from None
            if not data:
                return
            if data != b"\x00":
                raise InvalidSyntax("EAP-TLS: application data other than the commitment message")
            self.finished = True

    def _derive_msk(self, tls: ssl.SSLObject) -> bytes:
        cipher = tls.cipher()
        digest = suite_digest(cipher[0] if cipher else "")
        client_random = self._client_random
        if client_random is None:
            raise EapFailure("EAP-TLS: cannot find the client random for the MSK")
        secrets = parse_key_log(self._key_log.read())
        if self.version == "TLSv1.3":
            exporter = secrets.get(("EXPORTER_SECRET", client_random))
            if exporter is None:
                raise EapFailure("EAP-TLS: the TLS 1.3 exporter secret is not available")
            return msk_tls13(exporter, digest)
        master = secrets.get(("CLIENT_RANDOM", client_random))
        if master is None or self._server_random is None:
            raise EapFailure("EAP-TLS: the TLS master secret is not available")
        return msk_tls12(master, client_random, self._server_random, digest)


def _certificate_error(exc: ssl.SSLCertVerificationError) -> CertificateError:
    """The typed error for OpenSSL's verdict on the gateway's TLS certificate."""
    message = f"EAP-TLS server certificate: {exc.verify_message}"
    if exc.verify_code in _EXPIRED_CODES:
        return CertificateExpired(message)
    if exc.verify_code == _REVOKED_CODE:
        return CertificateRevoked(message)
    return CertificateUntrusted(message)
