"""The codec on real bytes: messages strongSwan 5.9.8 sent to ikeclient in the lab.

Captured from the lab (tests/vectors/strongswan_ikev2_*.json): the IKE_SA_INIT exchange and the
encrypted IKE_AUTH response, with the responder's SK_er/SK_ar so the SK payload can be opened.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest

from ikeclient.crypto.encr import make_sk_cipher
from ikeclient.ike.v2.enums import (
    AuthMethod,
    CfgType,
    ConfigAttributeType,
    ExchangeType,
    HeaderFlag,
    IdType,
    NotifyType,
)
from ikeclient.ike.v2.message import find_all, find_payload, pull_message
from ikeclient.ike.v2.payloads import (
    AuthPayload,
    CpPayload,
    IdrPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    SaPayload,
    SkPayload,
    TsiPayload,
    TsrPayload,
    push_payload_chain,
)
from ikeclient.ike.v2.protection import decrypt_message
from ikeclient.ike.v2.rules import check_message_rules

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / f"strongswan_ikev2_{name}.json").read_text())
    assert "strongSwan" in data["source"]
    return data


@pytest.mark.parametrize("name", ["gcm", "cbc"])
def test_ike_sa_init_response_from_strongswan(name: str) -> None:
    data = load(name)
    request = pull_message(bytes.fromhex(data["ike_sa_init_request"]))
    response = pull_message(bytes.fromhex(data["ike_sa_init_response"]))
    h = response.header
    assert h.exchange_type == ExchangeType.IKE_SA_INIT
    assert h.flags & HeaderFlag.RESPONSE and not h.flags & HeaderFlag.INITIATOR
    assert h.spi_i == request.header.spi_i and h.spi_r != bytes(8)
    assert h.message_id == 0
    check_message_rules(h.exchange_type, True, response.payloads, None)
    sa = find_payload(response.payloads, SaPayload)
    assert sa is not None and len(sa.proposals) == 1
    (prop,) = sa.proposals
    encr = next(t for t in prop.transforms if t.type == 1)
    assert [encr.id, encr.key_length] == data["encr"]
    ke = find_payload(response.payloads, KePayload)
    req_ke = find_payload(request.payloads, KePayload)
    assert ke is not None and req_ke is not None and ke.group == req_ke.group
    assert len(ke.data) == len(req_ke.data)
    nonce = find_payload(response.payloads, NoncePayload)
    assert nonce is not None and 16 <= len(nonce.data) <= 256
    kinds = {n.notify_type for n in find_all(response.payloads, NotifyPayload)}
    assert NotifyType.NAT_DETECTION_SOURCE_IP in kinds
    assert NotifyType.NAT_DETECTION_DESTINATION_IP in kinds
    assert NotifyType.IKEV2_FRAGMENTATION_SUPPORTED in kinds


@pytest.mark.parametrize("name", ["gcm", "cbc"])
def test_ike_auth_response_from_strongswan(name: str) -> None:
    data = load(name)
    wire = bytes.fromhex(data["ike_auth_response"])
    message = pull_message(wire)
    assert message.header.exchange_type == ExchangeType.IKE_AUTH
    encr_id, key_bits = data["encr"]
    cipher = make_sk_cipher(
        encr_id,
        key_bits,
        bytes.fromhex(data["sk_er"]),
        data["integ"],
        bytes.fromhex(data["sk_ar"]) if data["integ"] else None,
    )
    inner = decrypt_message(wire, message, cipher)
    check_message_rules(ExchangeType.IKE_AUTH, True, message.payloads, inner)
    idr = find_payload(inner, IdrPayload)
    assert idr is not None and (idr.id_type, idr.data) == (IdType.ID_FQDN, b"gw.ike.lab")
    auth = find_payload(inner, AuthPayload)
    assert auth is not None and auth.method == AuthMethod.SHARED_KEY_MIC
    cp = find_payload(inner, CpPayload)
    assert cp is not None and cp.cfg_type == CfgType.CFG_REPLY
    values = {(a.type, a.value) for a in cp.attributes}
    dns = [a.value for a in cp.attributes if a.type == ConfigAttributeType.INTERNAL_IP4_DNS]
    assert [str(ipaddress.IPv4Address(v)) for v in dns] == ["198.18.3.53", "198.18.3.54"]
    (vip,) = [v for t, v in values if t == ConfigAttributeType.INTERNAL_IP4_ADDRESS]
    assert ipaddress.IPv4Address(vip) in ipaddress.ip_network("198.18.200.0/24")
    tsi = find_payload(inner, TsiPayload)
    tsr = find_payload(inner, TsrPayload)
    assert tsi is not None and tsi.selectors[0].start_address == vip
    assert tsr is not None and tsr.selectors[0].start_address == bytes([198, 18, 3, 0])
    sa = find_payload(inner, SaPayload)
    assert sa is not None and len(sa.proposals[0].spi) == 4
    # Our encoder writes back exactly the bytes strongSwan's payloads were made of.
    sk = message.payloads[-1]
    assert isinstance(sk, SkPayload)
    plaintext = cipher.open(wire[: len(wire) - len(sk.body)], sk.body)
    first, encoded = push_payload_chain(inner)
    assert first == sk.first_inner
    assert encoded == plaintext
