"""What an IKEv1 connection is asked to negotiate: the profile, reduced to typed values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ikeclient.ike.events import TrafficSelectorRange
from ikeclient.ike.identity import Identity
from ikeclient.ike.proposals import ProposalSpec
from ikeclient.ike.v2.settings import ANY_IPV4, RetransmitPolicy

Phase1Mode = Literal["main", "aggressive"]
ModeCfg = Literal["pull", "push"]


@dataclass(frozen=True, slots=True)
class Ikev1Settings:
    """Everything an ``Ikev1Connection`` needs to know from the profile.

    ``xauth_user`` turns on XAUTH (draft-beaulieu-ike-xauth-02); its password is
    ``xauth_password``. ``ike_lifetime`` and ``child_lifetime`` are proposed in seconds;
    the gateway may answer shorter ones (RESPONDER-LIFETIME). ``dpd_delay`` is the idle
    time before an RFC 3706 R-U-THERE (0: never).
    """

    local_id: Identity
    psk: bytes = field(repr=False)
    ike_proposals: tuple[ProposalSpec, ...]
    esp_proposals: tuple[ProposalSpec, ...]
    mode: Phase1Mode = "main"
    remote_id: Identity | None = None
    xauth_user: str | None = None
    xauth_password: bytes | None = field(default=None, repr=False)
    modecfg: ModeCfg = "pull"
    remote_ts: tuple[TrafficSelectorRange, ...] = (ANY_IPV4,)
    request_virtual_ip: bool = True
    force_encapsulation: bool = True
    retransmit: RetransmitPolicy = field(default_factory=RetransmitPolicy)
    ike_lifetime: int = 10800
    child_lifetime: int = 3600
    rekey_margin: float = 0.1
    dpd_delay: float = 30.0
    child_name: str = "child"
    nat_t_port: int = 4500
    config_timeout: float = 20.0
    delete_grace: float = 2.0
