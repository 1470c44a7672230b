"""The EAP peer inside IKE_AUTH (RFC 7296 §2.16; RFC 3748 §2, §4, §5).

:class:`EapPeer` takes each EAP packet the gateway sends and gives the next
step: a Response to send, success (with the method's MSK, if any) or a
failure (an exception). It answers Identity (§5.1) and Notification (§5.2)
requests itself, refuses methods other than the configured one with a Legacy
Nak naming ours (§5.3.1), and hands the configured method's requests to one
method object (``md5``, ``mschapv2`` or ``tls``), each a sans-I/O module.

Success is accepted only when the method has finished; with ``require_mutual``
(EAP-only, RFC 5998 §4) also only when the method authenticated the gateway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ikeclient.crypto.random import RandomSource
from ikeclient.errors import EapFailure, InvalidSyntax
from ikeclient.ike.v2.eap.packet import (
    EapCode,
    EapPacket,
    EapType,
    pull_eap_packet,
    push_eap_packet,
)

if TYPE_CHECKING:
    import ssl

    from ikeclient.ike.v2.eap.tls import KeyLogSource

__all__ = ["EAP_METHODS", "EapMethod", "EapPeer", "EapResult", "EapSettings", "TlsClient"]

EAP_METHODS = {"md5": EapType.MD5_CHALLENGE, "mschapv2": EapType.MSCHAPV2, "tls": EapType.TLS}


@dataclass(frozen=True, slots=True)
class TlsClient:
    """What EAP-TLS needs: a client ``ssl.SSLContext`` (trust anchors, our certificate and
    key loaded, peer verification on) and where its key log can be read back."""

    context: ssl.SSLContext = field(repr=False)
    key_log: KeyLogSource = field(repr=False)


@dataclass(frozen=True, slots=True)
class EapSettings:
    """The client side of EAP: which method, as whom, with which secret."""

    method: str
    identity: bytes
    password: str = field(default="", repr=False)
    tls: TlsClient | None = None
    eap_only: bool = False

    @property
    def eap_type(self) -> int:
        return EAP_METHODS[self.method]


class EapMethod(Protocol):
    """One EAP method, peer side: Request Type-Data in, Response Type-Data out."""

    @property
    def finished(self) -> bool:
        """Success may come now."""
        ...

    @property
    def mutual(self) -> bool:
        """The method authenticated the gateway too."""
        ...

    @property
    def msk(self) -> bytes | None:
        """The Master Session Key, for methods that make one."""
        ...

    def process(self, identifier: int, data: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class EapResult:
    """EAP-Success arrived after the method finished; ``msk`` is None for methods without keys."""

    msk: bytes | None = field(repr=False)
    mutual: bool


class EapPeer:
    """Runs the EAP conversation for one IKE_AUTH exchange."""

    def __init__(
        self,
        settings: EapSettings,
        rng: RandomSource,
        *,
        check_tls_server: Callable[[bytes], None] | None = None,
        require_mutual: bool = False,
    ) -> None:
        self._settings = settings
        self._rng = rng
        self._check_tls_server = check_tls_server
        self._require_mutual = require_mutual
        self._method: EapMethod | None = None
        self.notifications: list[str] = []
        self.rounds = 0

    def __repr__(self) -> str:
        return f"EapPeer(method={self._settings.method}, rounds={self.rounds})"

    @property
    def method(self) -> EapMethod | None:
        return self._method

    def receive(self, data: bytes) -> bytes | EapResult:
        """The EAP packet to answer with, or the result once EAP-Success came.

        Raises ``EapFailure`` on EAP-Failure or when the method fails, and
        ``InvalidSyntax`` for packets that make no sense here.
        """
        self.rounds += 1
        packet = pull_eap_packet(data)
        if packet.code == EapCode.SUCCESS:
            return self._success()
        if packet.code == EapCode.FAILURE:
            reason = getattr(self._method, "failure", None)
            raise EapFailure(
                reason
                or f"the gateway rejected the EAP authentication ({self._settings.method}): "
                "wrong user name or password, or the account is not allowed"
            )
        if packet.code != EapCode.REQUEST or packet.type is None:
            raise InvalidSyntax(f"EAP code {packet.code} from the gateway")
        return push_eap_packet(
            EapPacket(EapCode.RESPONSE, packet.identifier, *self._answer(packet))
        )

    def _answer(self, packet: EapPacket) -> tuple[int, bytes]:
        kind = packet.type
        if kind == EapType.IDENTITY:
            return EapType.IDENTITY, self._settings.identity
        if kind == EapType.NOTIFICATION:
            # RFC 3748 §5.2: displayable text; acknowledge with an empty Response.
            self.notifications.append(packet.data.decode("utf-8", errors="replace")[:200])
            return EapType.NOTIFICATION, b""
        wanted = self._settings.eap_type
        if kind != wanted:
            if self._method is not None or kind == EapType.NAK:
                raise InvalidSyntax(f"EAP type {kind} in the middle of {self._settings.method}")
            # RFC 3748 §5.3.1: Legacy Nak with the method we want.
            return EapType.NAK, bytes((wanted,))
        method = self._method or self._create_method()
        self._method = method
        return kind, method.process(packet.identifier, packet.data)

    def _create_method(self) -> EapMethod:
        s = self._settings
        if s.method == "md5":
            from ikeclient.ike.v2.eap.md5 import EapMd5Peer  # noqa: PLC0415

            return EapMd5Peer(s.password.encode("utf-8"))
        if s.method == "mschapv2":
            from ikeclient.ike.v2.eap.mschapv2 import EapMschapv2Peer  # noqa: PLC0415

            return EapMschapv2Peer(s.identity, s.password, self._rng)
        from ikeclient.ike.v2.eap.tls import EapTlsPeer  # noqa: PLC0415

        if s.tls is None or self._check_tls_server is None:
            raise EapFailure("EAP-TLS needs a client certificate and trust anchors")
        return EapTlsPeer(s.tls.context, s.tls.key_log, self._check_tls_server)

    def _success(self) -> EapResult:
        method = self._method
        if method is None or not method.finished:
            raise EapFailure("EAP-Success before the EAP method finished: refused")
        if self._require_mutual and not method.mutual:
            raise EapFailure(
                f"EAP-only authentication needs a method that authenticates the gateway; "
                f"{self._settings.method} does not"
            )
        return EapResult(method.msk, method.mutual)
