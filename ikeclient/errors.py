"""The typed exception hierarchy of ikeclient.

Every error a caller may need to tell apart has a class here. Protocol errors
carry the IKEv2 Notify Message Type (RFC 7296 §3.10.1) that reports them to the
peer, as a plain int so this module depends on nothing else in the package.

    IkeClientError
    ├── ConfigError ── UnsafeFileError   a file or directory another user could control
    ├── SecretStoreError, PrivilegeError
    ├── NetError ── TunError, RouteError, DnsError, SettingRefused
    ├── CryptoError ── IntegrityError, InvalidPublicValue, UnsupportedAlgorithm
    └── IkeError
        ├── GatewayUnreachable ── PeerLost
        ├── ConnectionClosed
        └── ProtocolError(notify)
            ├── LocalProtocolError          misuse of our own API
            └── RemoteProtocolError         the peer misbehaved
                ├── InvalidSyntax
                ├── UnsupportedCriticalPayload
                ├── NoProposalChosen
                ├── InvalidKePayload
                ├── AuthenticationFailed
                │   ├── IdentityMismatch
                │   ├── EapFailure              the EAP exchange failed (RFC 7296 §2.16)
                │   └── CertificateError        the gateway's certificate is not acceptable
                │       ├── CertificateExpired      (or not yet valid)
                │       ├── CertificateUntrusted    no path to a trust anchor
                │       ├── CertificateNameMismatch not issued to the gateway's identity
                │       ├── CertificateRevoked      listed in a CRL
                │       ├── CertificateUsage        key usage / extended key usage forbid IKE
                │       └── CertificateUnsupported  hash-and-URL forms, unknown encodings
                ├── TsUnacceptable
                └── PeerNotify                an error notify we did not expect
"""

from __future__ import annotations

# IKEv2 Notify error numbers used as defaults below (RFC 7296 §3.10.1).
_UNSUPPORTED_CRITICAL_PAYLOAD = 1
_INVALID_SYNTAX = 7
_NO_PROPOSAL_CHOSEN = 14
_INVALID_KE_PAYLOAD = 17
_AUTHENTICATION_FAILED = 24
_TS_UNACCEPTABLE = 38


class IkeClientError(Exception):
    """Base class of every error ikeclient raises on purpose."""


class ConfigError(IkeClientError):
    """A profile or option is invalid; the message names where and why."""


class UnsafeFileError(ConfigError):
    """A file or directory we would use is not safe: another user could read or change it,
    it is a symlink or not a regular file, or it is too large. The message says the fix."""


class SecretStoreError(IkeClientError):
    """The keyring (or the chosen secret store) cannot give or keep a secret."""


class PrivilegeError(IkeClientError):
    """The process lacks a privilege it needs (CAP_NET_ADMIN, root)."""


class NetError(IkeClientError):
    """A change to the host's network state failed."""


class TunError(NetError):
    """The TUN device could not be created or configured."""


class RouteError(NetError):
    """A route or address could not be added or removed."""


class DnsError(NetError):
    """DNS settings could not be applied or restored."""


class SettingRefused(NetError):
    """A setting the gateway sent (a virtual IP) would take over the host's own path to the
    gateway or its local network; the connection is not set up. The message says why."""


class CryptoError(IkeClientError):
    """A cryptographic operation failed."""


class IntegrityError(CryptoError):
    """An ICV or MAC did not verify."""


class InvalidPublicValue(CryptoError):
    """A peer's key exchange value is out of range, off the curve, or gives a zero secret."""


class UnsupportedAlgorithm(CryptoError):
    """A transform ID or key length this build does not implement."""


class IkeError(IkeClientError):
    """Base class of IKE control-plane errors."""


class GatewayUnreachable(IkeError):
    """No valid answer arrived from the gateway before the retransmission schedule ran out."""


class PeerLost(GatewayUnreachable):
    """An established IKE SA stopped working (RFC 7296 §2.4, §2.21.4).

    The gateway no longer answers (dead peer detection), or it answered
    INVALID_IKE_SPI (it restarted and forgot the SA: ``restarted`` is True), or
    the SA outlived its hard lifetime. The runtime reconnects when the
    profile lets it.
    """

    def __init__(self, message: str, *, restarted: bool = False) -> None:
        super().__init__(message)
        self.restarted = restarted


class ConnectionClosed(IkeError):
    """A command was given to a connection that is already closed."""


class ProtocolError(IkeError):
    """An IKE protocol error; ``notify`` is the RFC 7296 §3.10.1 error type that reports it."""

    default_notify: int = _INVALID_SYNTAX

    def __init__(self, message: str, notify: int | None = None) -> None:
        super().__init__(message)
        self.notify: int = self.default_notify if notify is None else notify


class LocalProtocolError(ProtocolError):
    """Our own API was used in a way the protocol does not allow."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow."""


class InvalidSyntax(RemoteProtocolError):
    """A message or payload is malformed (codec error)."""


class UnsupportedCriticalPayload(RemoteProtocolError):
    """A payload we do not understand has the critical bit set (RFC 7296 §2.5)."""

    default_notify = _UNSUPPORTED_CRITICAL_PAYLOAD

    def __init__(self, payload_type: int) -> None:
        super().__init__(f"unsupported critical payload type {payload_type}")
        self.payload_type = payload_type


class NoProposalChosen(RemoteProtocolError):
    """No proposal was acceptable to one side."""

    default_notify = _NO_PROPOSAL_CHOSEN


class InvalidKePayload(RemoteProtocolError):
    """The responder wants another key exchange group (RFC 7296 §1.2)."""

    default_notify = _INVALID_KE_PAYLOAD

    def __init__(self, message: str, group: int) -> None:
        super().__init__(message)
        self.group = group


class AuthenticationFailed(RemoteProtocolError):
    """The peer's AUTH did not verify, or the peer rejected ours."""

    default_notify = _AUTHENTICATION_FAILED


class IdentityMismatch(AuthenticationFailed):
    """The gateway authenticated as an identity the profile does not accept."""


class EapFailure(AuthenticationFailed):
    """The EAP exchange inside IKE_AUTH failed (EAP-Failure, a method's failure, RFC 7296 §2.16)."""


class CertificateError(AuthenticationFailed):
    """The gateway's certificate cannot be accepted; ``reason`` is a short keyword.

    The message names the certificate (subject) and why: expired, untrusted,
    name mismatch, revoked, key usage, unsupported encoding.
    """

    reason: str = "invalid"

    def __init__(self, message: str) -> None:
        super().__init__(f"gateway certificate {self.reason}: {message}")


class CertificateExpired(CertificateError):
    """A certificate of the chain is outside its validity period (RFC 5280 §6.1.3 (a)(2))."""

    reason = "expired"


class CertificateUntrusted(CertificateError):
    """No valid path from the certificate to a configured trust anchor (RFC 5280 §6)."""

    reason = "untrusted"


class CertificateNameMismatch(CertificateError):
    """The certificate is not issued to the gateway's identity (RFC 4945 §3.1)."""

    reason = "name mismatch"


class CertificateRevoked(CertificateError):
    """A certificate of the chain is listed in a CRL (RFC 5280 §6.3)."""

    reason = "revoked"


class CertificateUsage(CertificateError):
    """Key usage or extended key usage forbid IKE (RFC 4945 §5.1.3.2, §5.1.3.12)."""

    reason = "not usable for IKE"


class CertificateUnsupported(CertificateError):
    """The gateway sent certificates only in a form this client does not take (hash and URL)."""

    reason = "not usable"


class TsUnacceptable(RemoteProtocolError):
    """The traffic selectors could not be agreed."""

    default_notify = _TS_UNACCEPTABLE


class PeerNotify(RemoteProtocolError):
    """The peer answered with an error notify that has no class of its own."""
