"""What an IKEv2 connection is asked to negotiate: the profile, reduced to typed values."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ikeclient.ike.events import TrafficSelectorRange
from ikeclient.ike.identity import Identity
from ikeclient.ike.proposals import ProposalSpec
from ikeclient.ike.v2.auth_settings import AuthSettings

ANY_IPV4 = TrafficSelectorRange(
    ipaddress.IPv4Address("0.0.0.0"),  # noqa: S104 - a selector, not a bind
    ipaddress.IPv4Address("255.255.255.255"),
)
ANY_IPV6 = TrafficSelectorRange(
    ipaddress.IPv6Address("::"), ipaddress.IPv6Address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
)


@dataclass(frozen=True, slots=True)
class RetransmitPolicy:
    """RFC 7296 §2.1 retransmission: timeout * base**n for n = 0..tries, then give up.

    The defaults are strongSwan's (4 s, 1.8, 5 tries: about 165 s in all).
    """

    timeout: float = 4.0
    base: float = 1.8
    tries: int = 5
    max_interval: float = 60.0

    def intervals(self) -> list[float]:
        """Wait before each retransmission, and the final wait before giving up."""
        return [min(self.timeout * self.base**n, self.max_interval) for n in range(self.tries + 1)]


@dataclass(frozen=True, slots=True)
class Ikev2Settings:
    """Everything an ``Ikev2Connection`` needs to know from the profile.

    ``remote_ts`` are the selectors asked for the first child SA (TSr); TSi
    is "any" of each address family, narrowed by the gateway to the virtual IP.
    ``auth`` says how each side authenticates (a pre-shared key by default);
    ``fragment_size`` is the largest IP datagram an IKE message may fill before
    it goes out in RFC 7383 fragments (when both sides support them).
    """

    local_id: Identity
    psk: bytes = field(repr=False)
    ike_proposals: tuple[ProposalSpec, ...]
    esp_proposals: tuple[ProposalSpec, ...]
    remote_id: Identity | None = None
    send_remote_id: bool = True
    remote_ts: tuple[TrafficSelectorRange, ...] = (ANY_IPV4,)
    request_virtual_ip: bool = True
    request_ipv6: bool = False
    force_encapsulation: bool = True
    retry_other_ke_group: bool = True
    retransmit: RetransmitPolicy = field(default_factory=RetransmitPolicy)
    child_name: str = "child"
    nat_t_port: int = 4500
    auth: AuthSettings = field(default_factory=AuthSettings)
    fragmentation: bool = True
    fragment_size: int = 1280
