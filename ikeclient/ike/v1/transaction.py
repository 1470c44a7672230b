"""Transaction exchanges: XAUTH (draft-beaulieu-ike-xauth-02) and Mode Config
(draft-dukes-ike-mode-cfg-02), with the Cisco Unity attributes.

    XAUTH (the gateway asks):
                          <--  HDR*, HASH, ATTR(REQUEST, XAUTH_USER_NAME, XAUTH_USER_PASSWORD)
    HDR*, HASH, ATTR(REPLY, name, password)  -->
                          <--  HDR*, HASH, ATTR(SET, XAUTH_STATUS)
    HDR*, HASH, ATTR(ACK, XAUTH_STATUS)  -->

    Mode Config, pull:  HDR*, HASH, ATTR(REQUEST, ...) -->  <-- HDR*, HASH, ATTR(REPLY, ...)
    Mode Config, push:  <-- HDR*, HASH, ATTR(SET, ...)      HDR*, HASH, ATTR(ACK, ...) -->

Attributes become the same :class:`~ikeclient.ike.events.ConfigReceived` event IKEv2 emits:
INTERNAL_IP4_ADDRESS/NETMASK/DNS, INTERNAL_IP4_SUBNET and UNITY_SPLIT_INCLUDE (split
subnets), UNITY_DEF_DOMAIN and UNITY_SPLITDNS_NAME (DNS domains). Repeated attributes are all
kept; attributes of the wrong size are skipped.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from ikeclient.ike.events import ConfigReceived, IPAddress, IPNetwork
from ikeclient.ike.v1.enums import CfgType, ConfigAttribute, XauthStatus
from ikeclient.ike.v1.payloads import Attribute, AttributePayload, attribute_int

_REQUESTED = (
    ConfigAttribute.INTERNAL_IP4_ADDRESS,
    ConfigAttribute.INTERNAL_IP4_NETMASK,
    ConfigAttribute.INTERNAL_IP4_DNS,
    ConfigAttribute.INTERNAL_IP4_SUBNET,
    ConfigAttribute.UNITY_SPLIT_INCLUDE,
    ConfigAttribute.UNITY_DEF_DOMAIN,
    ConfigAttribute.UNITY_SPLITDNS_NAME,
)
_XAUTH_CREDENTIALS = (ConfigAttribute.XAUTH_USER_NAME, ConfigAttribute.XAUTH_USER_PASSWORD)


def modecfg_request(
    identifier: int, address: ipaddress.IPv4Address | None = None
) -> AttributePayload:
    """ATTR(REQUEST) with empty attributes for a road warrior's needs (mode-cfg §3.2).

    ``address`` asks for that INTERNAL_IP4_ADDRESS (a renewed ISAKMP SA asks for the
    virtual IP it already uses: strongSwan then hands out the same lease again).
    """
    attrs = [Attribute(k, b"") for k in _REQUESTED]
    if address is not None:
        attrs[0] = Attribute(ConfigAttribute.INTERNAL_IP4_ADDRESS, address.packed)
    return AttributePayload(CfgType.REQUEST, identifier, tuple(attrs))


def acknowledge(request: AttributePayload) -> AttributePayload:
    """ATTR(ACK) for a gateway's SET: the attribute types without values (mode-cfg §3.2)."""
    seen: list[int] = []
    for a in request.attributes:
        if a.type not in seen:
            seen.append(a.type)
    attrs = []
    for kind in seen:
        if kind == ConfigAttribute.XAUTH_STATUS:
            value = next(a.value for a in request.attributes if a.type == kind)
            attrs.append(Attribute(kind, value))
        else:
            attrs.append(Attribute(kind, b""))
    return AttributePayload(CfgType.ACK, request.identifier, tuple(attrs))


def is_xauth_request(payload: AttributePayload) -> bool:
    """A REQUEST that asks for XAUTH credentials (draft-beaulieu §4.1)."""
    return payload.cfg_type == CfgType.REQUEST and any(
        a.type in _XAUTH_CREDENTIALS for a in payload.attributes
    )


def xauth_reply(request: AttributePayload, user: str, password: bytes) -> AttributePayload:
    """ATTR(REPLY) with the user name and password asked for (draft-beaulieu §4.1, §6)."""
    asked = {a.type for a in request.attributes}
    attrs = []
    if ConfigAttribute.XAUTH_TYPE in asked:
        value = next(a.value for a in request.attributes if a.type == ConfigAttribute.XAUTH_TYPE)
        attrs.append(Attribute(ConfigAttribute.XAUTH_TYPE, value if isinstance(value, int) else 0))
    attrs.append(Attribute(ConfigAttribute.XAUTH_USER_NAME, user.encode("utf-8")))
    attrs.append(Attribute(ConfigAttribute.XAUTH_USER_PASSWORD, password))
    return AttributePayload(CfgType.REPLY, request.identifier, tuple(attrs))


def xauth_status(payload: AttributePayload) -> int | None:
    """XAUTH_STATUS of a SET (draft-beaulieu §6.2), or None when it carries none."""
    for a in payload.attributes:
        if a.type == ConfigAttribute.XAUTH_STATUS:
            try:
                return attribute_int(a.value)
            except ValueError:
                return XauthStatus.FAIL
    return None


def xauth_message(payload: AttributePayload) -> str:
    """The gateway's XAUTH_MESSAGE, printable, or an empty string."""
    for a in payload.attributes:
        if a.type == ConfigAttribute.XAUTH_MESSAGE and isinstance(a.value, bytes):
            return a.value.decode("utf-8", errors="replace").strip()[:200]
    return ""


def _v4(value: int | bytes) -> ipaddress.IPv4Address | None:
    if isinstance(value, bytes) and len(value) == 4:
        return ipaddress.IPv4Address(value)
    return None


def _network(address: bytes, mask: bytes) -> IPNetwork | None:
    try:
        net = f"{ipaddress.IPv4Address(address)}/{ipaddress.IPv4Address(mask)}"
        return ipaddress.ip_network(net, strict=False)
    except ValueError:
        return None


def _names(value: bytes) -> list[str]:
    text = value.rstrip(b"\x00").decode("ascii", errors="replace")
    return [n.strip().rstrip(".") for n in text.replace(",", " ").split() if n.strip(". ")]


def parse_config(attributes: Sequence[Attribute]) -> ConfigReceived:
    """Mode Config attributes (REPLY or SET) as a ``ConfigReceived`` event."""
    addresses: list[IPAddress] = []
    dns: list[IPAddress] = []
    subnets: list[IPNetwork] = []
    domains: list[str] = []
    netmask: ipaddress.IPv4Address | None = None
    for a in attributes:
        value = a.value
        if a.type == ConfigAttribute.INTERNAL_IP4_ADDRESS and (ip := _v4(value)) is not None:
            addresses.append(ip)
        elif a.type == ConfigAttribute.INTERNAL_IP4_NETMASK and (ip := _v4(value)) is not None:
            netmask = ip
        elif a.type == ConfigAttribute.INTERNAL_IP4_DNS and (ip := _v4(value)) is not None:
            dns.append(ip)
        elif a.type == ConfigAttribute.INTERNAL_IP4_SUBNET and isinstance(value, bytes):
            if len(value) == 8 and (net := _network(value[:4], value[4:])) is not None:
                subnets.append(net)
        elif a.type == ConfigAttribute.UNITY_SPLIT_INCLUDE and isinstance(value, bytes):
            # Cisco Unity: a list of 14-byte entries: address, mask, protocol, sport, dport.
            for i in range(0, len(value) - len(value) % 14, 14):
                net = _network(value[i : i + 4], value[i + 4 : i + 8])
                if net is not None:
                    subnets.append(net)
        elif a.type in (
            ConfigAttribute.UNITY_DEF_DOMAIN,
            ConfigAttribute.UNITY_SPLITDNS_NAME,
        ) and isinstance(value, bytes):
            domains += [n for n in _names(value) if n not in domains]
    return ConfigReceived(
        addresses=tuple(addresses),
        ipv4_netmask=netmask,
        dns_servers=tuple(dns),
        subnets=tuple(dict.fromkeys(subnets)),
        dns_domains=tuple(domains),
    )
