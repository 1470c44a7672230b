"""MOBIKE (RFC 4555): moving the IKE SA and its child SAs to a new address, and liveness checks.

Negotiated in IKE_AUTH::

    HDR, SK {IDi, ..., N(MOBIKE_SUPPORTED)}  -->
                         <--  HDR, SK {IDr, ..., N(MOBIKE_SUPPORTED)}

When our address changes (or the NAT in front of us maps us anew), the
initiator, from its new address (§3.5)::

    HDR, SK {N(UPDATE_SA_ADDRESSES), N(NAT_DETECTION_SOURCE_IP),
             N(NAT_DETECTION_DESTINATION_IP), [N(COOKIE2)]}  -->
                         <--  HDR, SK {[N(NAT_DETECTION_*)], [N(COOKIE2)]}

The gateway then sends IKE and ESP to where the request came from; no rekey,
the same SPIs. A liveness check (RFC 7296 §2.4, an empty INFORMATIONAL) may
carry the NAT detection notifies too (§3.8): when the gateway's
NAT_DETECTION_DESTINATION_IP hash changes between two checks, the NAT has
mapped us to another address or port, and the initiator updates the SA.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ikeclient.crypto.random import RandomSource
from ikeclient.errors import PeerNotify
from ikeclient.ike.events import Endpoint
from ikeclient.ike.v2.enums import NotifyType, is_error
from ikeclient.ike.v2.ike_init import notify_name
from ikeclient.ike.v2.message import find_all, find_notify
from ikeclient.ike.v2.natd import natd_hash
from ikeclient.ike.v2.payloads import NotifyPayload, Payload

COOKIE2_SIZE = 16


def mobike_supported() -> NotifyPayload:
    """N(MOBIKE_SUPPORTED) for the IKE_AUTH request (RFC 4555 §3.1)."""
    return NotifyPayload(0, b"", NotifyType.MOBIKE_SUPPORTED, b"")


def peer_supports_mobike(payloads: Sequence[Payload]) -> bool:
    """True when the IKE_AUTH response carries N(MOBIKE_SUPPORTED) (RFC 4555 §3.1)."""
    return find_notify(payloads, NotifyType.MOBIKE_SUPPORTED) is not None


def natd_notifies(
    spi_i: bytes, spi_r: bytes, local: Endpoint, remote: Endpoint, fake_source: bytes | None
) -> list[Payload]:
    """N(NAT_DETECTION_SOURCE_IP), N(NAT_DETECTION_DESTINATION_IP) for the current IKE SA.

    ``fake_source`` replaces the source hash when encapsulation is forced, so the
    gateway keeps seeing a NAT and keeps ESP in UDP (as in IKE_SA_INIT).
    """
    source = fake_source if fake_source is not None else natd_hash(spi_i, spi_r, local)
    return [
        NotifyPayload(0, b"", NotifyType.NAT_DETECTION_SOURCE_IP, source),
        NotifyPayload(
            0, b"", NotifyType.NAT_DETECTION_DESTINATION_IP, natd_hash(spi_i, spi_r, remote)
        ),
    ]


def build_update_sa_addresses(
    spi_i: bytes,
    spi_r: bytes,
    local: Endpoint,
    remote: Endpoint,
    fake_source: bytes | None,
    rng: RandomSource,
) -> tuple[list[Payload], bytes]:
    """The UPDATE_SA_ADDRESSES request (RFC 4555 §3.5) and the COOKIE2 it carries (§3.6)."""
    cookie2 = rng.random_bytes(COOKIE2_SIZE)
    payloads: list[Payload] = [NotifyPayload(0, b"", NotifyType.UPDATE_SA_ADDRESSES, b"")]
    payloads += natd_notifies(spi_i, spi_r, local, remote, fake_source)
    payloads.append(NotifyPayload(0, b"", NotifyType.COOKIE2, cookie2))
    return payloads, cookie2


@dataclass(frozen=True, slots=True)
class NatView:
    """What the gateway's NAT detection notifies in a response say (RFC 7296 §2.23)."""

    local_behind_nat: bool | None
    """None when the response had no NAT_DETECTION_DESTINATION_IP."""
    mapping: bytes | None
    """The gateway's NAT_DETECTION_DESTINATION_IP hash: our address as it sees it."""


def nat_view(payloads: Sequence[Payload], spi_i: bytes, spi_r: bytes, local: Endpoint) -> NatView:
    """Read the NAT detection notifies of a MOBIKE or liveness response."""
    dests = [
        n.data
        for n in find_all(payloads, NotifyPayload)
        if n.notify_type == NotifyType.NAT_DETECTION_DESTINATION_IP
    ]
    if not dests:
        return NatView(None, None)
    behind = natd_hash(spi_i, spi_r, local) not in dests
    return NatView(behind, dests[0])


def check_update_response(payloads: Sequence[Payload], cookie2: bytes) -> None:
    """Raise ``PeerNotify`` for an error answer or a COOKIE2 that does not echo ours (§3.6)."""
    for n in find_all(payloads, NotifyPayload):
        if is_error(n.notify_type):
            raise PeerNotify(
                f"the gateway refused UPDATE_SA_ADDRESSES with {notify_name(n.notify_type)}",
                n.notify_type,
            )
    echoed = find_notify(payloads, NotifyType.COOKIE2)
    if echoed is not None and echoed.data != cookie2:
        raise PeerNotify("the gateway's COOKIE2 does not echo ours (RFC 4555 §3.6)")
