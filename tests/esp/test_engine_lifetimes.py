"""The ESP engine across a rekey and at its lifetimes (RFC 7296 §2.8, RFC 4301 §4.4.2.1).

Two engines back to back, as in ``test_engine``: a rekey the gateway starts (our
outbound half deferred until the gateway proves it has the SA), the old inbound
half lingering after removal, and the soft and hard byte/packet limits.
"""

from __future__ import annotations

import pytest

from ikeclient.crypto.random import DeterministicRandomSource
from ikeclient.crypto.transforms import EncrId
from ikeclient.esp import DropReason, EspEngine, HardExpired, SoftExpired
from ikeclient.esp.sa import EspSaConfig, SaLimits
from tests.esp.helpers import CLIENT_VIP, SPI_CLIENT, SPI_GATEWAY, ipv4, sa_pair

GCM = (EncrId.AES_GCM_16, 128, None)
NEW_CLIENT, NEW_GATEWAY = 0xD0000001, 0xD0000002
TO_GW = ipv4(CLIENT_VIP, "192.0.2.1", b"up")
FROM_GW = ipv4("192.0.2.1", CLIENT_VIP, b"down")


def engines() -> tuple[EspEngine, EspEngine, EspSaConfig, EspSaConfig]:
    """A client and a gateway with the old SA, and the new SA's two configs."""
    old_c, old_g = sa_pair(*GCM, seed=b"old")
    new_c, new_g = sa_pair(*GCM, seed=b"new", spi_client=NEW_CLIENT, spi_gateway=NEW_GATEWAY)
    client = EspEngine(DeterministicRandomSource(b"c"))
    gateway = EspEngine(DeterministicRandomSource(b"g"))
    client.install_sa(old_c)
    gateway.install_sa(old_g)
    return client, gateway, new_c, new_g


def spi_of(esp: bytes | None) -> int:
    assert esp is not None
    return int.from_bytes(esp[:4], "big")


def test_deferred_outbound_waits_for_the_first_inbound_packet() -> None:
    client, gateway, new_c, new_g = engines()
    # The gateway rekeys: we answer, installing the new SA with its outbound deferred.
    client.install_sa(new_c, outbound_active=False)
    assert spi_of(client.encapsulate(TO_GW, 1.0)) == SPI_GATEWAY  # still the old SA
    # Our answer reaches the gateway; it installs the SA and sends on it.
    gateway.install_sa(new_g)
    down = gateway.encapsulate(FROM_GW, 1.1)
    assert spi_of(down) == NEW_CLIENT
    assert client.decapsulate(down or b"", 1.1) == FROM_GW
    # Proven: our traffic moves to the new SA too.
    up = client.encapsulate(TO_GW, 1.2)
    assert spi_of(up) == NEW_GATEWAY and gateway.decapsulate(up or b"", 1.2) == TO_GW


def test_deferred_outbound_takes_over_when_the_old_sa_goes() -> None:
    client, _, new_c, _ = engines()
    client.install_sa(new_c, outbound_active=False)
    client.remove_sa(SPI_CLIENT)  # the gateway deleted the old SA
    assert spi_of(client.encapsulate(TO_GW, 2.0)) == NEW_GATEWAY


def test_explicit_activation() -> None:
    client, _, new_c, _ = engines()
    client.install_sa(new_c, outbound_active=False)
    client.activate_outbound(NEW_CLIENT)
    assert spi_of(client.encapsulate(TO_GW, 2.0)) == NEW_GATEWAY
    client.activate_outbound(0x12345678)  # unknown: nothing happens


def test_old_inbound_half_lingers_for_packets_in_flight() -> None:
    client, gateway, new_c, new_g = engines()
    late = gateway.encapsulate(FROM_GW, 1.0)  # sent on the old SA just before the switch
    client.install_sa(new_c)
    gateway.install_sa(new_g)
    client.remove_sa(SPI_CLIENT, linger_until=3.0)
    assert spi_of(client.encapsulate(TO_GW, 1.5)) == NEW_GATEWAY  # outbound half gone at once
    assert client.decapsulate(late or b"", 1.5) == FROM_GW  # inbound half still there
    assert sorted(client.installed()) == sorted([SPI_CLIENT, NEW_CLIENT])
    client.purge(2.9)
    assert SPI_CLIENT in client.installed()
    client.purge(3.0)
    assert client.installed() == [NEW_CLIENT]
    assert client.decapsulate(gateway.encapsulate(FROM_GW, 3.1) or b"", 3.1) == FROM_GW
    assert client.decapsulate(late or b"", 3.1) is None
    assert client.drops[DropReason.UNKNOWN_SPI] == 1


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        (SaLimits(soft_packets=5, hard_packets=8), "packets"),
        (SaLimits(soft_bytes=5 * len(TO_GW), hard_bytes=8 * len(TO_GW)), "bytes"),
    ],
    ids=["packets", "bytes"],
)
def test_soft_then_hard_limit(limits: SaLimits, reason: str) -> None:
    c, g = sa_pair(*GCM)
    client = EspEngine(DeterministicRandomSource(b"c"))
    client.install_sa(EspSaConfig(**{**_fields(c), "limits": limits}))
    sent = [client.encapsulate(TO_GW, float(i)) for i in range(10)]
    assert [e is not None for e in sent] == [True] * 8 + [False] * 2
    assert client.next_event() == SoftExpired(SPI_CLIENT, SPI_GATEWAY, reason)
    assert client.next_event() == HardExpired(SPI_CLIENT, SPI_GATEWAY, reason)
    assert client.next_event() is None
    assert client.installed() == []
    assert client.drops[DropReason.NO_SA] == 2
    del g


def test_inbound_traffic_counts_towards_the_limits() -> None:
    c, g = sa_pair(*GCM)
    client = EspEngine(DeterministicRandomSource(b"c"))
    gateway = EspEngine(DeterministicRandomSource(b"g"))
    client.install_sa(EspSaConfig(**{**_fields(c), "limits": SaLimits(soft_packets=3)}))
    gateway.install_sa(g)
    for i in range(4):
        assert client.decapsulate(gateway.encapsulate(FROM_GW, i) or b"", i) == FROM_GW
    assert client.next_event() == SoftExpired(SPI_CLIENT, SPI_GATEWAY, "packets")
    assert client.next_event() is None  # once per SA


def _fields(config: EspSaConfig) -> dict[str, object]:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}
