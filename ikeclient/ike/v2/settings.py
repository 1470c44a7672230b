"""What an IKEv2 connection is asked to negotiate: the profile, reduced to typed values."""

from __future__ import annotations

import ipaddress
import itertools
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
class Lifetimes:
    """When IKE and child SAs are renewed (soft limits) and when they die (hard limits).

    strongSwan's model (``rekey_time``, ``life_time``, ``rand_time``): an SA is
    rekeyed ``rekey_time`` seconds after it was made, minus a random share of up
    to ``jitter`` of that time, so both ends do not rekey at once (RFC 7296
    §2.8.1 asks for exactly that); it is gone at ``life_time`` (the hard limit,
    by default 110 % of the soft one) if the rekey did not succeed. Child SAs
    also have soft and hard limits in bytes and packets of either direction,
    counted by the ESP engine. ``reauth_time`` > 0 makes a fresh IKE SA
    (IKE_SA_INIT and IKE_AUTH again, make-before-break) that often; the
    gateway can ask for the same with AUTH_LIFETIME (RFC 4478). Zero means no
    limit everywhere.
    """

    ike_rekey_time: float = 14400.0
    ike_life_time: float | None = None
    reauth_time: float = 0.0
    child_rekey_time: float = 3600.0
    child_life_time: float | None = None
    child_rekey_bytes: int = 0
    child_life_bytes: int = 0
    child_rekey_packets: int = 0
    child_life_packets: int = 0
    jitter: float = 0.1

    @property
    def ike_hard(self) -> float:
        """The IKE SA's hard lifetime in seconds (0: none)."""
        if self.ike_life_time is not None:
            return self.ike_life_time
        return self.ike_rekey_time * 1.1

    @property
    def child_hard(self) -> float:
        """The child SA's hard lifetime in seconds (0: none)."""
        if self.child_life_time is not None:
            return self.child_life_time
        return self.child_rekey_time * 1.1


def dead_peer_schedule(timeout: float) -> tuple[float, ...]:
    """The waits of a liveness check under traffic: tries at 0, 2, 4, 8, 16, ... seconds
    while before ``timeout``, then the wait until ``timeout`` (10 s: 2, 2, 4, 2)."""
    times = [0.0]
    at = 2.0
    while at < timeout:
        times.append(at)
        at *= 2.0
    waits = [b - a for a, b in itertools.pairwise(times)]
    return (*waits, max(timeout - times[-1], 0.0))


NO_LIFETIMES = Lifetimes(ike_rekey_time=0.0, child_rekey_time=0.0, jitter=0.0)
"""Never rekey, never expire (tests, and gateways that rekey on their own)."""


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
    # Staying connected (issue 5): lifetimes, liveness, roaming.
    lifetimes: Lifetimes = field(default_factory=Lifetimes)
    dpd_delay: float = 30.0
    """Seconds without anything from the gateway before a liveness check (RFC 7296 §2.4); 0: off."""
    dpd_timeout: float = 0.0
    """Give up on an unanswered request of an established IKE SA after this many seconds
    (0: when the retransmission schedule runs out)."""
    dead_peer_after: float = 10.0
    """Seconds after ESP went out with nothing from the gateway since, before a liveness check
    with the short schedule of ``dead_peer_schedule`` (0: only ``dpd_delay``'s checks)."""
    dead_peer_timeout: float = 10.0
    """That check's tries go out at 0, 2, 4, 8, ... s; no answer after this many seconds: the
    gateway is lost."""
    mobike: bool = True
    """Offer MOBIKE (RFC 4555): move the IKE and child SAs when our address changes."""
    rekey_retry: float = 10.0
    """Seconds before a rekey that failed (TEMPORARY_FAILURE, no answer) is tried again."""
