"""NAT detection (RFC 7296 §2.23).

    NAT_DETECTION_*_IP data = SHA-1(SPIi | SPIr | IP address | port)

with SPIr zero in the IKE_SA_INIT request. A mismatch between what a peer
saw and what we know tells that a NAT sits in between.
"""

from __future__ import annotations

import ipaddress

from cryptography.hazmat.primitives import hashes

from ikeclient.ike.events import Endpoint

NATD_HASH_SIZE = 20


def natd_hash(spi_i: bytes, spi_r: bytes, endpoint: Endpoint) -> bytes:
    """The NAT detection hash of one endpoint."""
    digest = hashes.Hash(hashes.SHA1())  # noqa: S303 - mandated by RFC 7296 §2.23
    digest.update(spi_i)
    digest.update(spi_r)
    digest.update(ipaddress.ip_address(endpoint.host).packed)
    digest.update(endpoint.port.to_bytes(2, "big"))
    return digest.finalize()
