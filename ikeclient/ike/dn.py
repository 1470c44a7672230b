"""Distinguished Names as IKE identities (ID_DER_ASN1_DN, RFC 7296 §3.5; RFC 4945 §3.1.5).

A profile writes a DN as text (``dn:CN=vpn.example.org, O=Example``, attributes
in either order, strongSwan's or RFC 4514's); on the wire it is the DER of an
X.501 Name. Two DNs match when they hold the same attributes with the same
values (case-insensitive, surrounding spaces ignored), whatever their order and
whatever ASN.1 string types encode them, since gateways and CAs disagree on
both.
"""

from __future__ import annotations

import re

from cryptography import x509

from ikeclient.crypto.der import SEQUENCE, DerReader
from ikeclient.errors import ConfigError, CryptoError

__all__ = ["dn_attributes", "encode_dn", "format_dn", "name_attributes", "normalized"]

_SET = 0x31
_COMMA = re.compile(r"(?<!\\),")
_SHORT = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.5": "serialNumber",
    "1.2.840.113549.1.9.1": "emailAddress",
    "0.9.2342.19200300.100.1.25": "DC",
    "0.9.2342.19200300.100.1.1": "UID",
}


def encode_dn(text: str) -> bytes:
    """The DER Name for a DN in text; ``ConfigError`` if it does not parse."""
    parts = [p.strip() for p in _COMMA.split(text.strip()) if p.strip()]
    if not parts:
        raise ConfigError("empty distinguished name")
    try:
        name = x509.Name.from_rfc4514_string(",".join(parts))
    except ValueError:
        raise ConfigError(f"{text!r} is not a distinguished name (e.g. CN=vpn, O=Org)") from None
    return name.public_bytes()


def _decode(tag: int, value: bytes) -> str:
    if tag == 0x1E:  # BMPString
        return value.decode("utf-16-be", errors="replace")
    if tag == 0x1C:  # UniversalString
        return value.decode("utf-32-be", errors="replace")
    return value.decode("utf-8", errors="replace")


def dn_attributes(der: bytes) -> list[tuple[str, str]]:
    """The (OID, value) pairs of a DER Name, in encoding order; ``CryptoError`` if malformed."""
    outer = DerReader(der)
    rdns = DerReader(outer.read(SEQUENCE))
    outer.finish()
    out: list[tuple[str, str]] = []
    while not rdns.at_end():
        rdn = DerReader(rdns.read(_SET))
        while not rdn.at_end():
            atv = DerReader(rdn.read(SEQUENCE))
            oid = atv.read_oid()
            tag = atv.peek_tag()
            if tag is None:
                raise CryptoError("attribute without a value")
            out.append((oid, _decode(tag, atv.read(tag))))
            atv.finish()
    return out


def name_attributes(name: x509.Name) -> list[tuple[str, str]]:
    """The (OID, value) pairs of a parsed Name."""
    return [(a.oid.dotted_string, str(a.value)) for a in name]


def normalized(attributes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """What two DNs must share to match: sorted, values case-folded and stripped."""
    return sorted((oid, value.strip().casefold()) for oid, value in attributes)


def format_dn(der: bytes) -> str:
    """``CN=vpn, O=Org`` as strongSwan prints it, or the hex when it does not parse."""
    try:
        attributes = dn_attributes(der)
    except CryptoError:
        return f"ID_DER_ASN1_DN:{der.hex()}"
    return ", ".join(f"{_SHORT.get(oid, oid)}={value}" for oid, value in attributes)
