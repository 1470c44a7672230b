"""INFORMATIONAL exchanges (RFC 7296 §1.4): Delete, liveness checks, and the gateway's requests.

HDR, SK {D(IKE)}  -->                      (closing the IKE SA, §1.4.1)
                  <--  HDR, SK {}
                  <--  HDR, SK {}          (gateway's liveness check, §2.4)
HDR, SK {}        -->
                  <--  HDR, SK {D(ESP, SPIs)}
HDR, SK {D(ESP, our SPIs)}  -->            (child SAs deleted by the gateway)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ikeclient.ike.v2.enums import ProtocolId
from ikeclient.ike.v2.payloads import DeletePayload, Payload


def delete_ike_sa() -> list[Payload]:
    """The payloads of our Delete request for the IKE SA itself (no SPI: §3.11)."""
    return [DeletePayload(ProtocolId.IKE, ())]


@dataclass(slots=True)
class PeerInformational:
    """What to do about an INFORMATIONAL request from the gateway."""

    response: list[Payload] = field(default_factory=list)
    delete_ike_sa: bool = False
    deleted_child_spis_out: list[int] = field(default_factory=list)


def process_peer_informational(
    payloads: Sequence[Payload], child_spis: Iterable[tuple[int, int]]
) -> PeerInformational:
    """Answer the gateway's INFORMATIONAL request.

    ``child_spis`` lists our child SAs as (spi_in, spi_out). A Delete for ESP
    names the gateway's inbound SPIs, which are our outbound ones; we answer
    with our inbound SPIs of the same SAs (§1.4.1).
    """
    result = PeerInformational()
    by_out = {spi_out: spi_in for spi_in, spi_out in child_spis}
    answered: list[bytes] = []
    for p in payloads:
        if not isinstance(p, DeletePayload):
            continue
        if p.protocol == ProtocolId.IKE:
            result.delete_ike_sa = True
        elif p.protocol == ProtocolId.ESP:
            for spi in p.spis:
                spi_out = int.from_bytes(spi, "big")
                if spi_out in by_out and spi_out not in result.deleted_child_spis_out:
                    result.deleted_child_spis_out.append(spi_out)
                    answered.append(by_out[spi_out].to_bytes(4, "big"))
    if result.delete_ike_sa:
        return result  # §1.4.1: the response to a Delete of the IKE SA is empty
    if answered:
        result.response.append(DeletePayload(ProtocolId.ESP, tuple(answered)))
    return result
