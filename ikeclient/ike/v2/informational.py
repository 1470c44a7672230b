"""INFORMATIONAL exchanges (RFC 7296 §1.4): Delete, liveness checks, and the gateway's requests.

HDR, SK {D(IKE)}  -->                      (closing the IKE SA, §1.4.1)
                  <--  HDR, SK {}
                  <--  HDR, SK {}          (gateway's liveness check, §2.4)
HDR, SK {}        -->
                  <--  HDR, SK {D(ESP, SPIs)}
HDR, SK {D(ESP, our SPIs)}  -->            (child SAs deleted by the gateway)
                  <--  HDR, SK {N(INVALID_SPI, SPI)}   (ESP to an SPI it does not know, §3.10.1)
HDR, SK {D(ESP, our inbound SPIs)}  -->   (we delete a child SA: rekeyed, expired)
                  <--  HDR, SK {D(ESP, its inbound SPIs)}
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ikeclient.ike.v2.enums import NotifyType, ProtocolId
from ikeclient.ike.v2.payloads import DeletePayload, NotifyPayload, Payload


def delete_ike_sa() -> list[Payload]:
    """The payloads of our Delete request for the IKE SA itself (no SPI: §3.11)."""
    return [DeletePayload(ProtocolId.IKE, ())]


def delete_child_sas(spis_in: Iterable[int]) -> list[Payload]:
    """D(ESP, SPIs we receive on): our request to delete those child SAs (§1.4.1, §3.11)."""
    return [DeletePayload(ProtocolId.ESP, tuple(spi.to_bytes(4, "big") for spi in spis_in))]


@dataclass(slots=True)
class PeerInformational:
    """What to do about an INFORMATIONAL request from the gateway."""

    response: list[Payload] = field(default_factory=list)
    delete_ike_sa: bool = False
    deleted_child_spis_out: list[int] = field(default_factory=list)
    invalid_spis: list[int] = field(default_factory=list)
    """SPIs named by N(INVALID_SPI): the gateway got ESP on them and knows no such SA."""


def process_peer_informational(
    payloads: Sequence[Payload],
    child_spis: Iterable[tuple[int, int]],
    crossing_spis_out: Iterable[int] = (),
) -> PeerInformational:
    """Answer the gateway's INFORMATIONAL request.

    ``child_spis`` lists our child SAs as (spi_in, spi_out). A Delete for ESP
    names the gateway's inbound SPIs, which are our outbound ones; we answer
    with our inbound SPIs of the same SAs (§1.4.1). ``crossing_spis_out`` are
    SAs whose Delete we sent ourselves already: they count as deleted, but the
    answer leaves them out ("the responses MUST NOT include delete payloads
    for the deleted SAs", §1.4.1).
    """
    result = PeerInformational()
    by_out = {spi_out: spi_in for spi_in, spi_out in child_spis}
    crossing = set(crossing_spis_out)
    answered: list[bytes] = []
    for p in payloads:
        if isinstance(p, NotifyPayload) and p.notify_type == NotifyType.INVALID_SPI:
            spi = p.data if len(p.data) == 4 else p.spi
            if len(spi) == 4:
                result.invalid_spis.append(int.from_bytes(spi, "big"))
            continue
        if not isinstance(p, DeletePayload):
            continue
        if p.protocol == ProtocolId.IKE:
            result.delete_ike_sa = True
        elif p.protocol == ProtocolId.ESP:
            for spi in p.spis:
                spi_out = int.from_bytes(spi, "big")
                if spi_out in crossing and spi_out not in result.deleted_child_spis_out:
                    result.deleted_child_spis_out.append(spi_out)
                elif spi_out in by_out and spi_out not in result.deleted_child_spis_out:
                    result.deleted_child_spis_out.append(spi_out)
                    answered.append(by_out[spi_out].to_bytes(4, "big"))
    if result.delete_ike_sa:
        return result  # §1.4.1: the response to a Delete of the IKE SA is empty
    if answered:
        result.response.append(DeletePayload(ProtocolId.ESP, tuple(answered)))
    return result
