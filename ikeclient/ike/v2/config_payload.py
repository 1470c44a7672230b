"""The configuration payload: what we ask for and what the gateway hands out (RFC 7296 §3.15).

Attributes are kept in order and repeated ones are all kept, so a second DNS
server is never lost. Attributes whose length does not fit their type are
skipped, since one odd attribute must not cost the whole connection.
"""

from __future__ import annotations

import ipaddress

from ikeclient.ike.events import ConfigReceived, IPAddress, IPNetwork
from ikeclient.ike.v2.enums import CfgType, ConfigAttributeType
from ikeclient.ike.v2.payloads import ConfigAttribute, CpPayload


def build_cfg_request(*, ipv4: bool, ipv6: bool) -> CpPayload:
    """CP(CFG_REQUEST) with empty attributes for what a road warrior needs."""
    kinds: list[int] = []
    if ipv4:
        kinds += [
            ConfigAttributeType.INTERNAL_IP4_ADDRESS,
            ConfigAttributeType.INTERNAL_IP4_DNS,
            ConfigAttributeType.INTERNAL_IP4_SUBNET,
        ]
    if ipv6:
        kinds += [
            ConfigAttributeType.INTERNAL_IP6_ADDRESS,
            ConfigAttributeType.INTERNAL_IP6_DNS,
            ConfigAttributeType.INTERNAL_IP6_SUBNET,
        ]
    kinds.append(ConfigAttributeType.INTERNAL_DNS_DOMAIN)
    return CpPayload(CfgType.CFG_REQUEST, tuple(ConfigAttribute(k, b"") for k in kinds))


def parse_cfg_reply(cp: CpPayload) -> ConfigReceived:
    """Collect the attributes of a CP(CFG_REPLY) into a ``ConfigReceived`` event."""
    addresses: list[IPAddress] = []
    prefixes: list[int] = []
    dns: list[IPAddress] = []
    subnets: list[IPNetwork] = []
    domains: list[str] = []
    netmask: ipaddress.IPv4Address | None = None
    for attr in cp.attributes:
        value = attr.value
        kind = attr.type
        if kind == ConfigAttributeType.INTERNAL_IP4_ADDRESS and len(value) == 4:
            addresses.append(ipaddress.IPv4Address(value))
        elif kind == ConfigAttributeType.INTERNAL_IP4_NETMASK and len(value) == 4:
            netmask = ipaddress.IPv4Address(value)
        elif kind == ConfigAttributeType.INTERNAL_IP4_DNS and len(value) == 4:
            dns.append(ipaddress.IPv4Address(value))
        elif kind == ConfigAttributeType.INTERNAL_IP6_ADDRESS and len(value) == 17:
            addresses.append(ipaddress.IPv6Address(value[:16]))
            prefixes.append(value[16])
        elif kind == ConfigAttributeType.INTERNAL_IP6_DNS and len(value) == 16:
            dns.append(ipaddress.IPv6Address(value))
        elif kind == ConfigAttributeType.INTERNAL_IP4_SUBNET and len(value) == 8:
            net = _network(f"{ipaddress.IPv4Address(value[:4])}/{ipaddress.IPv4Address(value[4:])}")
            if net is not None:
                subnets.append(net)
        elif kind == ConfigAttributeType.INTERNAL_IP6_SUBNET and len(value) == 17:
            net = _network(f"{ipaddress.IPv6Address(value[:16])}/{value[16]}")
            if net is not None:
                subnets.append(net)
        elif kind == ConfigAttributeType.INTERNAL_DNS_DOMAIN and value:
            name = value.decode("ascii", errors="replace").rstrip(".")
            if name:
                domains.append(name)
    return ConfigReceived(
        addresses=tuple(addresses),
        ipv4_netmask=netmask,
        ipv6_prefix_lengths=tuple(prefixes),
        dns_servers=tuple(dns),
        subnets=tuple(subnets),
        dns_domains=tuple(domains),
    )


def _network(text: str) -> IPNetwork | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
