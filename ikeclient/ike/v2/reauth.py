"""Reauthentication, make-before-break (RFC 7296 §2.8.3, RFC 4478).

Rekeying keeps the authentication of the first IKE_AUTH forever; a gateway
that wants its users to prove themselves again sends AUTH_LIFETIME (RFC 4478
§3) in its IKE_AUTH response, with the seconds until then::

                         <--  HDR, SK {IDr, AUTH, ..., N(AUTH_LIFETIME, 32-bit seconds)}

We then build a complete new IKE SA (IKE_SA_INIT, IKE_AUTH and its child SA)
while the old one still carries the traffic, move the traffic to the new child
SA, and only then delete the old IKE SA. The new IKE_AUTH leaves out
INITIAL_CONTACT (which would tell the gateway to drop every other SA of ours,
RFC 7296 §2.4) and asks for the virtual IP we already have (§3.15.3), so
applications keep their address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from ikeclient.ike.events import IPAddress
from ikeclient.ike.v2.enums import CfgType, ConfigAttributeType, NotifyType
from ikeclient.ike.v2.message import find_notify
from ikeclient.ike.v2.payloads import ConfigAttribute, CpPayload, NotifyPayload, Payload

MAX_AUTH_LIFETIME = 0xFFFFFFFF


def auth_lifetime(payloads: Sequence[Payload]) -> int | None:
    """Seconds the gateway grants until reauthentication (RFC 4478 §3), or None."""
    notify = find_notify(payloads, NotifyType.AUTH_LIFETIME)
    if notify is None or len(notify.data) != 4:
        return None
    return int.from_bytes(notify.data, "big")


def for_reauthentication(
    payloads: Sequence[Payload], addresses: Sequence[IPAddress]
) -> list[Payload]:
    """An IKE_AUTH request turned into a reauthentication's: no INITIAL_CONTACT, same VIP."""
    kept = [
        p
        for p in payloads
        if not (isinstance(p, NotifyPayload) and p.notify_type == NotifyType.INITIAL_CONTACT)
    ]
    return ask_for_addresses(kept, addresses)


def ask_for_addresses(payloads: Sequence[Payload], addresses: Sequence[IPAddress]) -> list[Payload]:
    """Ask for these virtual IPs in CP(CFG_REQUEST) (RFC 7296 §3.15.3): after a reconnect the
    gateway usually hands the same one out again, and applications keep their address."""
    out: list[Payload] = []
    for p in payloads:
        if addresses and isinstance(p, CpPayload) and p.cfg_type == CfgType.CFG_REQUEST:
            out.append(_ask_same_addresses(p, addresses))
        else:
            out.append(p)
    return out


def _ask_same_addresses(cp: CpPayload, addresses: Sequence[IPAddress]) -> CpPayload:
    v4 = [a for a in addresses if isinstance(a, ipaddress.IPv4Address)]
    v6 = [a for a in addresses if isinstance(a, ipaddress.IPv6Address)]
    attrs: list[ConfigAttribute] = []
    for attr in cp.attributes:
        if attr.type == ConfigAttributeType.INTERNAL_IP4_ADDRESS and v4 and not attr.value:
            attrs.append(ConfigAttribute(attr.type, v4.pop(0).packed))
        elif attr.type == ConfigAttributeType.INTERNAL_IP6_ADDRESS and v6 and not attr.value:
            attrs.append(ConfigAttribute(attr.type, v6.pop(0).packed + bytes((128,))))
        else:
            attrs.append(attr)
    return CpPayload(cp.cfg_type, tuple(attrs))
