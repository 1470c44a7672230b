"""Pre-shared key authentication (RFC 7296 §2.15).

    AUTH = prf( prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets> )
    InitiatorSignedOctets = RealMessage1 | NonceRData | prf(SK_pi, RestOfInitIDPayload)
    ResponderSignedOctets = RealMessage2 | NonceIData | prf(SK_pr, RestOfRespIDPayload)

RestOfXIDPayload is the ID payload body after its generic header: ID Type,
three reserved octets, and the identification data.
"""

from __future__ import annotations

import hmac

from ikeclient.crypto.prf import Prf
from ikeclient.errors import AuthenticationFailed

KEY_PAD = b"Key Pad for IKEv2"


def id_payload_body(id_type: int, data: bytes) -> bytes:
    """RestOfInitIDPayload / RestOfRespIDPayload (RFC 7296 §2.15, §3.5)."""
    return bytes((id_type, 0, 0, 0)) + data


def signed_octets(
    prf: Prf, real_message: bytes, peer_nonce: bytes, sk_p: bytes, id_type: int, id_data: bytes
) -> bytes:
    """The octets one side signs: its own first message, the other's nonce, its MACed ID."""
    return real_message + peer_nonce + prf.compute(sk_p, id_payload_body(id_type, id_data))


def psk_auth(prf: Prf, psk: bytes, octets: bytes) -> bytes:
    """The AUTH payload data for the SHARED_KEY_MIC method."""
    return prf.compute(prf.compute(psk, KEY_PAD), octets)


def verify_psk_auth(prf: Prf, psk: bytes, octets: bytes, received: bytes) -> None:
    """Compare a peer's AUTH in constant time; raise ``AuthenticationFailed`` if it differs."""
    expected = psk_auth(prf, psk, octets)
    if not hmac.compare_digest(expected, received):
        raise AuthenticationFailed(
            "the gateway's AUTH payload does not verify: the pre-shared key differs"
        )
