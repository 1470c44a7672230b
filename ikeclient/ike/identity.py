"""IKE identities (RFC 7296 §3.5; the same ID type numbers as IKEv1, RFC 2407 §4.6.2.1).

Text forms follow strongSwan so that gateway-side settings can be copied:
an IP address → ID_IPV4_ADDR / ID_IPV6_ADDR; ``user@domain`` → ID_RFC822_ADDR;
``@fqdn`` or a plain name → ID_FQDN; ``@#hex`` or ``keyid:hex`` → ID_KEY_ID;
``dn:CN=vpn, O=Org`` → ID_DER_ASN1_DN (:mod:`ikeclient.ike.dn`).
An explicit ``fqdn:``, ``email:``, ``ipv4:``, ``ipv6:`` prefix forces the type.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import IntEnum

from ikeclient.errors import ConfigError


class IdentityType(IntEnum):
    """Identification types shared by IKEv2 (RFC 7296 §3.5) and IKEv1 (RFC 2407 §4.6.2.1)."""

    ID_IPV4_ADDR = 1
    ID_FQDN = 2
    ID_RFC822_ADDR = 3
    ID_IPV6_ADDR = 5
    ID_DER_ASN1_DN = 9
    ID_DER_ASN1_GN = 10
    ID_KEY_ID = 11
    ID_NULL = 13


@dataclass(frozen=True, slots=True)
class Identity:
    """An identity as it goes on the wire: its type and its data."""

    id_type: int
    data: bytes

    @classmethod
    def parse(cls, text: str) -> Identity:
        """Build an identity from its text form; raises ``ConfigError`` when it is not valid."""
        text = text.strip()
        if not text:
            raise ConfigError("identity is empty")
        prefix, sep, rest = text.partition(":")
        forced = {
            "fqdn": IdentityType.ID_FQDN,
            "email": IdentityType.ID_RFC822_ADDR,
            "ipv4": IdentityType.ID_IPV4_ADDR,
            "ipv6": IdentityType.ID_IPV6_ADDR,
            "keyid": IdentityType.ID_KEY_ID,
        }
        if sep and prefix.lower() in forced:
            return cls._typed(forced[prefix.lower()], rest, text)
        if sep and prefix.lower() == "dn":
            from ikeclient.ike.dn import encode_dn  # noqa: PLC0415 - cryptography: only if used

            return cls(IdentityType.ID_DER_ASN1_DN, encode_dn(rest))
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            pass
        else:
            kind = IdentityType.ID_IPV4_ADDR if addr.version == 4 else IdentityType.ID_IPV6_ADDR
            return cls(kind, addr.packed)
        if text.startswith("@#"):
            return cls._typed(IdentityType.ID_KEY_ID, text[2:], text)
        if text.startswith("@"):
            return cls._typed(IdentityType.ID_FQDN, text[1:], text)
        if "@" in text:
            return cls._typed(IdentityType.ID_RFC822_ADDR, text, text)
        return cls._typed(IdentityType.ID_FQDN, text, text)

    @classmethod
    def _typed(cls, kind: IdentityType, value: str, original: str) -> Identity:
        if not value:
            raise ConfigError(f"identity {original!r} has no value")
        if kind in (IdentityType.ID_IPV4_ADDR, IdentityType.ID_IPV6_ADDR):
            try:
                addr = ipaddress.ip_address(value)
            except ValueError as exc:
                raise ConfigError(f"identity {original!r}: not an IP address") from exc
            want = 4 if kind == IdentityType.ID_IPV4_ADDR else 6
            if addr.version != want:
                raise ConfigError(f"identity {original!r}: not an IPv{want} address")
            return cls(kind, addr.packed)
        if kind == IdentityType.ID_KEY_ID:
            try:
                return cls(kind, bytes.fromhex(value))
            except ValueError as exc:
                raise ConfigError(f"identity {original!r}: key id is not hex") from exc
        try:
            return cls(kind, value.encode("ascii"))
        except UnicodeEncodeError as exc:
            raise ConfigError(f"identity {original!r}: must be ASCII") from exc

    def __str__(self) -> str:
        kind = self.id_type
        if kind == IdentityType.ID_IPV4_ADDR and len(self.data) == 4:
            return str(ipaddress.IPv4Address(self.data))
        if kind == IdentityType.ID_IPV6_ADDR and len(self.data) == 16:
            return str(ipaddress.IPv6Address(self.data))
        if kind in (IdentityType.ID_FQDN, IdentityType.ID_RFC822_ADDR):
            return self.data.decode("ascii", errors="replace")
        if kind == IdentityType.ID_DER_ASN1_DN:
            from ikeclient.ike.dn import format_dn  # noqa: PLC0415

            return format_dn(self.data)
        try:
            name = IdentityType(kind).name
        except ValueError:
            name = f"ID({kind})"
        return f"{name}:{self.data.hex()}"
