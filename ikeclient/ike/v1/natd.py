"""NAT detection for IKEv1 (RFC 3947 §3.2): HASH = hash(CKY-I | CKY-R | IP | Port).

The hash is the negotiated phase 1 hash algorithm. The first NAT-D payload of a message
carries the destination's address, the others the sender's.
"""

from __future__ import annotations

import ipaddress

from ikeclient.ike.events import Endpoint
from ikeclient.ike.v1.keys import hash_for


def natd_hash(hash_alg: int, cky_i: bytes, cky_r: bytes, endpoint: Endpoint) -> bytes:
    """The NAT-D hash of one endpoint (RFC 3947 §3.2)."""
    ip = ipaddress.ip_address(endpoint.host).packed
    return hash_for(hash_alg, cky_i + cky_r + ip + endpoint.port.to_bytes(2, "big"))
