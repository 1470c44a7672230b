"""EAP-MD5-Challenge, peer side (RFC 3748 §5.4; the CHAP computation of RFC 1994 §4.1).

    Request:  Value-Size | Challenge | Name
    Response: Value-Size (16) | MD5(Identifier | password | Challenge)

It authenticates only the peer and derives no key, so IKEv2 computes the
final AUTH with SK_pi/SK_pr (RFC 7296 §2.16); kept for tests and old gateways.
"""

from __future__ import annotations

import hashlib

from ikeclient.errors import InvalidSyntax
from ikeclient.ike.v2.eap.packet import EapType

__all__ = ["EapMd5Peer", "md5_challenge_response"]


def md5_challenge_response(identifier: int, password: bytes, challenge: bytes) -> bytes:
    """RFC 1994 §4.1: MD5 over the Identifier, the secret, then the Challenge Value."""
    return hashlib.md5(bytes((identifier,)) + password + challenge, usedforsecurity=False).digest()


class EapMd5Peer:
    """Answers one MD5-Challenge; then Success may come."""

    eap_type = EapType.MD5_CHALLENGE
    mutual = False
    msk: bytes | None = None

    def __init__(self, password: bytes) -> None:
        self._password = password
        self.finished = False

    def __repr__(self) -> str:
        return f"EapMd5Peer(finished={self.finished})"

    def process(self, identifier: int, data: bytes) -> bytes:
        """The Type-Data of the Response to a Request's Type-Data."""
        if not data or data[0] == 0 or 1 + data[0] > len(data):
            raise InvalidSyntax("malformed EAP-MD5 challenge from the gateway")
        challenge = data[1 : 1 + data[0]]
        self.finished = True
        return bytes((16,)) + md5_challenge_response(identifier, self._password, challenge)
