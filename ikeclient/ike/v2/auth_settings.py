"""How each side authenticates in IKE_AUTH: the typed part of a profile the authenticator uses.

``local`` is how we prove who we are: ``psk`` (RFC 7296 §2.15), ``pubkey``
(a certificate and a signature, §3.8 and RFC 7427) or ``eap`` (§2.16).
``remote`` is what the gateway must prove with: ``psk``, ``pubkey`` (a
certificate validated against ``trust``), or ``eap`` (EAP-only authentication,
RFC 5998: only the EAP method's MSK authenticates the gateway).
"""

from __future__ import annotations

from dataclasses import dataclass

from ikeclient.ike.pki import LocalCredential, TrustStore
from ikeclient.ike.v2.eap import EapSettings

__all__ = ["LOCAL_AUTH", "REMOTE_AUTH", "SIGNATURE_MODES", "AuthSettings"]

LOCAL_AUTH = ("psk", "pubkey", "eap")
REMOTE_AUTH = ("psk", "pubkey", "eap")
SIGNATURE_MODES = ("auto", "rfc7427", "classic")


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """Authentication of both sides; the defaults are a pre-shared key both ways."""

    local: str = "psk"
    remote: str = "psk"
    credential: LocalCredential | None = None
    trust: TrustStore | None = None
    eap: EapSettings | None = None
    signature: str = "auto"
    rsa_pss: bool = False

    def __post_init__(self) -> None:
        if self.local not in LOCAL_AUTH or self.remote not in REMOTE_AUTH:
            raise ValueError(f"authentication {self.local}/{self.remote}")
        if self.local == "pubkey" and self.credential is None:
            raise ValueError("certificate authentication needs a credential")
        if self.remote == "pubkey" and self.trust is None:
            raise ValueError("checking the gateway's certificate needs trust anchors")
        if self.local == "eap" and self.eap is None:
            raise ValueError("EAP needs its settings")
        if self.remote == "eap" and self.local != "eap":
            raise ValueError("EAP-only authentication of the gateway needs EAP for us too")
        if self.signature not in SIGNATURE_MODES:
            raise ValueError(f"signature mode {self.signature}")

    @property
    def needs_wall_clock(self) -> bool:
        """Certificates are checked against the time of day."""
        return self.remote == "pubkey" or (
            self.local == "eap" and self.eap is not None and self.eap.method == "tls"
        )
