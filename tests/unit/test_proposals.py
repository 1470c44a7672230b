"""strongSwan-style proposal keywords → typed proposals (ikeclient.config.proposals)."""

from __future__ import annotations

import pytest

from ikeclient.config.proposals import parse_proposal, parse_proposals
from ikeclient.crypto.transforms import EncrId, EsnId, IntegId, KeGroup, PrfId
from ikeclient.errors import ConfigError
from ikeclient.ike.proposals import EncrSpec


def test_aead_ike_proposal() -> None:
    (p,) = parse_proposal("aes256gcm16-prfsha256-ecp256", ike=True)
    assert p.encr == (EncrSpec(EncrId.AES_GCM_16, 256),)
    assert p.prf == (PrfId.HMAC_SHA2_256,)
    assert p.integ == ()
    assert p.ke == (KeGroup.ECP256,)


def test_cbc_ike_proposal_derives_prf_from_integrity() -> None:
    (p,) = parse_proposal("aes128-sha256-modp2048", ike=True)
    assert p.encr == (EncrSpec(EncrId.AES_CBC, 128),)
    assert p.integ == (IntegId.HMAC_SHA2_256_128,)
    assert p.prf == (PrfId.HMAC_SHA2_256,)
    assert p.ke == (KeGroup.MODP2048,)


def test_chacha_and_x25519() -> None:
    (p,) = parse_proposal("chacha20poly1305-prfsha256-x25519", ike=True)
    assert p.encr == (EncrSpec(EncrId.CHACHA20_POLY1305, None),)
    assert p.ke == (KeGroup.CURVE25519,)


def test_aead_integrity_keyword_names_the_prf_as_in_strongswan() -> None:
    (p,) = parse_proposal("aes128gcm16-sha384-ecp384", ike=True)
    assert p.prf == (PrfId.HMAC_SHA2_384,)
    assert p.integ == ()


def test_mixed_aead_and_cbc_split_into_two_proposals() -> None:
    props = parse_proposal("aes256gcm16-aes256-sha256-ecp256", ike=True)
    assert [p.encr[0].id for p in props] == [EncrId.AES_GCM_16, EncrId.AES_CBC]
    assert props[0].integ == () and props[1].integ == (IntegId.HMAC_SHA2_256_128,)


def test_esp_proposals_default_to_no_esn() -> None:
    (gcm,) = parse_proposal("aes256gcm16", ike=False)
    assert gcm.esn == (EsnId.NO_ESN,) and gcm.prf == ()
    (cbc,) = parse_proposal("aes128-sha256-esn", ike=False)
    assert cbc.integ == (IntegId.HMAC_SHA2_256_128,) and cbc.esn == (EsnId.ESN,)


@pytest.mark.parametrize(
    ("text", "ike", "message"),
    [
        ("aes999-sha256-ecp256", True, "unknown algorithm keyword 'aes999'"),
        ("aes256gcm16-ecp256", True, "needs a PRF keyword"),
        ("aes256-ecp256", True, "needs an integrity algorithm"),
        ("aes256-sha256", True, "no key exchange group"),
        ("sha256-ecp256", True, "no encryption algorithm"),
        ("aes256gcm16-prfsha256", False, "ESP has none"),
        ("aes128--sha256", False, "empty keyword"),
        ("3des-sha1-modp1024", True, "legacy algorithm"),
    ],
)
def test_bad_proposals_name_the_problem(text: str, ike: bool, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_proposal(text, ike=ike)


def test_legacy_allowed_when_asked() -> None:
    (p,) = parse_proposal("3des-sha1-modp1024", ike=True, allow_legacy=True)
    assert p.encr == (EncrSpec(EncrId.DES3, None),)


def test_parse_proposals_keeps_order() -> None:
    props = parse_proposals(["aes128-sha256-modp2048", "aes256gcm16-prfsha256-ecp256"], ike=True)
    assert [p.encr[0].id for p in props] == [EncrId.AES_CBC, EncrId.AES_GCM_16]
