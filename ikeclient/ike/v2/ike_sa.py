"""The keys and negotiated parameters of one IKE SA (RFC 7296 §2.14, §2.18).

Built once IKE_SA_INIT has completed (``IkeSa.derive``), or when a
CREATE_CHILD_SA exchange rekeyed an IKE SA (``IkeSa.derive_rekeyed``): SKEYSEED
and the SK_* keys are derived, and the SK payload ciphers are made once per
direction.

Roles. The "original initiator" of an IKE SA (the I flag of RFC 7296 §3.1) is
whoever started the exchange that created it. For the first IKE SA that is
us; for an IKE SA created by a rekey the gateway started (§2.18: "the new
initiator is the one who sent the rekey request"), it is the gateway. ``we_initiated``
records which; SK_ei/SK_ai protect the initiator's messages, so our outbound
cipher is SK_ei when we initiated and SK_er otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ikeclient.crypto.encr import SkCipher, get_encr, make_sk_cipher
from ikeclient.crypto.integ import get_integ
from ikeclient.crypto.kdf import IkeSaKeys, derive_ike_sa_keys, derive_rekeyed_ike_sa_keys
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
    we_initiated: bool = True

    @property
    def our_spi(self) -> bytes:
        """The SPI we chose for this IKE SA."""
        return self.spi_i if self.we_initiated else self.spi_r

    @property
    def peer_spi(self) -> bytes:
        """The SPI the gateway chose for this IKE SA."""
        return self.spi_r if self.we_initiated else self.spi_i

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
        """Derive SKEYSEED and SK_* (RFC 7296 §2.14) and build the initiator's two SK ciphers."""
        prf, encr_size, integ_size = _sizes(chosen)
        keys = derive_ike_sa_keys(
            prf, nonce_i, nonce_r, shared_secret, spi_i, spi_r, encr_size, integ_size
        )
        return cls._build(
            spi_i, spi_r, chosen, prf, nonce_i, nonce_r, init_request, init_response, keys, True
        )

    @classmethod
    def derive_rekeyed(
        cls,
        *,
        old_sk_d: bytes,
        old_prf: Prf,
        spi_i: bytes,
        spi_r: bytes,
        chosen: ChosenAlgorithms,
        nonce_i: bytes,
        nonce_r: bytes,
        shared_secret: bytes,
        we_initiated: bool,
    ) -> IkeSa:
        """The IKE SA a CREATE_CHILD_SA rekey created (RFC 7296 §2.18).

        SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), computed with the PRF
        of the old IKE SA (§2.18: "prf" there is the old SA's); the SK_* then
        come from the new SA's PRF as in §2.14. ``spi_i``, ``nonce_i`` are the
        rekey initiator's; ``we_initiated`` says whether that was us.
        """
        prf, encr_size, integ_size = _sizes(chosen)
        keys = derive_rekeyed_ike_sa_keys(
            old_prf,
            old_sk_d,
            shared_secret,
            nonce_i,
            nonce_r,
            spi_i,
            spi_r,
            encr_size,
            integ_size,
            split_prf=prf,
        )
        return cls._build(spi_i, spi_r, chosen, prf, nonce_i, nonce_r, b"", b"", keys, we_initiated)

    @classmethod
    def _build(
        cls,
        spi_i: bytes,
        spi_r: bytes,
        chosen: ChosenAlgorithms,
        prf: Prf,
        nonce_i: bytes,
        nonce_r: bytes,
        init_request: bytes,
        init_response: bytes,
        keys: IkeSaKeys,
        we_initiated: bool,
    ) -> IkeSa:
        initiator_cipher = make_sk_cipher(
            chosen.encr.id, chosen.encr.key_bits, keys.sk_ei, chosen.integ, keys.sk_ai
        )
        responder_cipher = make_sk_cipher(
            chosen.encr.id, chosen.encr.key_bits, keys.sk_er, chosen.integ, keys.sk_ar
        )
        outbound, inbound = (
            (initiator_cipher, responder_cipher)
            if we_initiated
            else (responder_cipher, initiator_cipher)
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
            we_initiated,
        )


def _sizes(chosen: ChosenAlgorithms) -> tuple[Prf, int, int]:
    if chosen.prf is None:
        raise InvalidSyntax("the gateway's IKE proposal has no PRF")
    prf = get_prf(chosen.prf)
    encr = get_encr(chosen.encr.id)
    integ = get_integ(chosen.integ) if chosen.integ is not None else None
    return prf, encr.key_size(chosen.encr.key_bits), integ.key_size if integ is not None else 0
