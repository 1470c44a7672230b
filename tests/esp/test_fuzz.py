"""Any bytes into the engine: it drops and counts, it never raises (h11 ``fuzz/`` spirit)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ikeclient.crypto.transforms import EncrId, IntegId
from ikeclient.esp import EspEngine
from tests.esp.helpers import CLIENT_VIP, SPI_CLIENT, engine_pair, ipv4

SUITES = {
    "gcm": (EncrId.AES_GCM_16, 128, None),
    "chacha": (EncrId.CHACHA20_POLY1305, None, None),
    "cbc": (EncrId.AES_CBC, 128, IntegId.HMAC_SHA1_96),
    "ctr": (EncrId.AES_CTR, 128, IntegId.HMAC_SHA2_256_128),
}
ENGINES = {name: engine_pair(*suite, esn=True) for name, suite in SUITES.items()}
SPI = SPI_CLIENT.to_bytes(4, "big")
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def total(engine: EspEngine) -> int:
    return sum(engine.drops.values())


@pytest.mark.parametrize("suite", SUITES)
@FUZZ
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes(suite: str, data: bytes) -> None:
    client, _ = ENGINES[suite]
    before = total(client)
    assert client.decapsulate(data, 0.0) is None
    assert total(client) == before + 1


@pytest.mark.parametrize("suite", SUITES)
@FUZZ
@given(body=st.binary(max_size=300), seq=st.integers(min_value=0, max_value=2**32 - 1))
def test_arbitrary_bytes_behind_a_known_spi(suite: str, body: bytes, seq: int) -> None:
    client, _ = ENGINES[suite]
    before = total(client)
    assert client.decapsulate(SPI + seq.to_bytes(4, "big") + body, 0.0) is None
    assert total(client) == before + 1


@pytest.mark.parametrize("suite", SUITES)
@FUZZ
@given(data=st.data())
def test_mutated_genuine_packets(suite: str, data: st.DataObject) -> None:
    client, gateway = ENGINES[suite]
    payload = data.draw(st.binary(max_size=64))
    genuine = gateway.encapsulate(ipv4("192.0.2.1", CLIENT_VIP, payload), 0.0) or b""
    esp = bytearray(genuine)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        i = data.draw(st.integers(min_value=0, max_value=len(esp) - 1))
        esp[i] ^= data.draw(st.integers(min_value=1, max_value=255))
    cut = data.draw(st.integers(min_value=0, max_value=len(esp)))
    mutated = bytes(esp[:cut])
    result = client.decapsulate(mutated, 0.0)
    assert result is None or mutated == genuine  # flips may cancel out


@pytest.mark.parametrize("suite", SUITES)
@FUZZ
@given(data=st.binary(max_size=200))
def test_arbitrary_inner_packets(suite: str, data: bytes) -> None:
    client, gateway = ENGINES[suite]
    esp = client.encapsulate(data, 0.0)
    if esp is not None:  # whatever the engine sends, the peer can take apart without raising
        gateway.decapsulate(esp, 0.0)
