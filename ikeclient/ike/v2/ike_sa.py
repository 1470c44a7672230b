"""The keys and negotiated parameters of one IKE SA (RFC 7296 §2.14).

Built once IKE_SA_INIT has completed: SKEYSEED and the SK_* keys are derived,
and the SK payload ciphers are made once per direction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ikeclient.crypto.encr import SkCipher, get_encr, make_sk_cipher
from ikeclient.crypto.integ import get_integ
from ikeclient.crypto.kdf import IkeSaKeys, derive_ike_sa_keys
from ikeclient.crypto.prf import Prf, get_prf
from ikeclient.errors import InvalidSyntax
from ikeclient.ike.proposals import ChosenAlgorithms


@dataclass(slots=True)
class IkeSa:
    """SPIs, nonces, the first two messages (for AUTH), keys and SK ciphers of an IKE SA."""

    spi_i: bytes
    spi_r: bytes
    chosen: ChosenAlgorithms
    prf: Prf
    nonce_i: bytes = field(repr=False)
    nonce_r: bytes = field(repr=False)
    init_request: bytes = field(repr=False)
    init_response: bytes = field(repr=False)
    keys: IkeSaKeys = field(repr=False)
    outbound: SkCipher = field(repr=False)
    inbound: SkCipher = field(repr=False)

    @classmethod
    def derive(
        cls,
        *,
        spi_i: bytes,
        spi_r: bytes,
        chosen: ChosenAlgorithms,
        nonce_i: bytes,
        nonce_r: bytes,
        shared_secret: bytes,
        init_request: bytes,
        init_response: bytes,
    ) -> IkeSa:
        """Derive SKEYSEED and SK_* and build the initiator's two SK ciphers."""
        if chosen.prf is None:
            raise InvalidSyntax("the gateway's IKE proposal has no PRF")
        prf = get_prf(chosen.prf)
        encr = get_encr(chosen.encr.id)
        integ = get_integ(chosen.integ) if chosen.integ is not None else None
        keys = derive_ike_sa_keys(
            prf,
            nonce_i,
            nonce_r,
            shared_secret,
            spi_i,
            spi_r,
            encr.key_size(chosen.encr.key_bits),
            integ.key_size if integ is not None else 0,
        )
        outbound = make_sk_cipher(
            chosen.encr.id, chosen.encr.key_bits, keys.sk_ei, chosen.integ, keys.sk_ai
        )
        inbound = make_sk_cipher(
            chosen.encr.id, chosen.encr.key_bits, keys.sk_er, chosen.integ, keys.sk_ar
        )
        return cls(
            spi_i,
            spi_r,
            chosen,
            prf,
            nonce_i,
            nonce_r,
            init_request,
            init_response,
            keys,
            outbound,
            inbound,
        )
