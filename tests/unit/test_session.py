"""The runtime's glue (``IkeSession``) with a real IKEv2 core and fake socket and tunnel.

No privileges, no network: the session's socket and tunnel are stand-ins that record
what the session does to them and in which order.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from ikeclient.errors import GatewayUnreachable
from ikeclient.ike.events import ChildSaEstablished, ConfigReceived, Endpoint
from ikeclient.ike.v2.state import IkeSaState
from ikeclient.runtime import session as session_module
from ikeclient.runtime.session import IkeSession, ReconnectPolicy
from ikeclient.runtime.tunnel import TunnelOptions
from tests.ike.netsim import Network, connection, gateway, settings
from tests.ikev2_responder import GATEWAY


class FakeSocket:
    """Records datagrams, and what the tunnel had installed when each one left."""

    def __init__(self, tunnel: FakeTunnel, address: str = "192.0.2.10") -> None:
        self.tunnel = tunnel
        self.address = address
        self.sent: list[tuple[bytes, tuple[str, int], frozenset[int]]] = []
        self.closed = False
        self._real = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # for its descriptor

    def sendto(self, data: bytes, dest: tuple[str, int]) -> int:
        self.sent.append((data, dest, frozenset(self.tunnel.installed)))
        return len(data)

    def getsockname(self) -> tuple[str, int]:
        return (self.address, 4500)

    def fileno(self) -> int:
        return self._real.fileno()

    def close(self) -> None:
        self.closed = True
        self._real.close()


class FakeOptions:
    keepalive_interval = 0.0


class FakeCounters:
    tun_packets_read = 0


class FakeEngine:
    def purge(self, now: float) -> None:
        pass


class FakeTunnel:
    """The parts of ``Tunnel`` the session calls when it applies events."""

    def __init__(self) -> None:
        self.installed: set[int] = set()
        self.closed = False
        self.options = FakeOptions()
        self.config: ConfigReceived | None = None
        self.tun_name: str | None = "ikc0"
        self.repinned: list[str] = []
        self.released = False
        self.counters = FakeCounters()
        self.engine = FakeEngine()
        self.uplink_left = False
        self.kept_leak_protection = False
        self.protected: list[Endpoint] = []

    def on_child(self, child: ChildSaEstablished, gateway: Endpoint) -> None:
        self.installed.add(child.spi_in)

    def on_child_deleted(self, spi_in: int, *, rekeyed: bool = False, now: float = 0.0) -> None:
        self.installed.discard(spi_in)

    def on_config(self, config: ConfigReceived) -> None:
        self.config = config

    def set_socket(self, sock: Any) -> None:
        pass

    def virtual_ips(self) -> frozenset[str]:
        return frozenset(str(a) for a in self.config.addresses) if self.config else frozenset()

    def release_sas(self) -> None:
        self.installed.clear()
        self.released = True

    def close(self, *, keep_leak_protection: bool = False) -> list[str]:
        self.closed = True
        self.kept_leak_protection = keep_leak_protection
        return []

    def protect(self, gateway: Endpoint) -> None:
        self.protected.append(gateway)

    def repin_gateway(self, gateway: str) -> bool:
        self.repinned.append(gateway)
        return self.uplink_left


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    the_loop = asyncio.new_event_loop()
    yield the_loop
    the_loop.close()


def session_with(
    loop: asyncio.AbstractEventLoop, policy: ReconnectPolicy | None = None, **kw: object
) -> tuple[IkeSession, Network, FakeTunnel, FakeSocket]:
    """An IkeSession around an established connection (to the responder double)."""
    conn = connection(settings(**kw))  # type: ignore[arg-type]
    net = Network(conn, gateway())
    conn.connect(0.0)
    net.pump(0.0)
    assert conn.state == IkeSaState.ESTABLISHED
    session = IkeSession(settings(), GATEWAY, reconnect=policy or ReconnectPolicy(enabled=True))
    tunnel = FakeTunnel()
    sock = FakeSocket(tunnel)
    session._loop = loop
    session._sock = sock  # type: ignore[assignment]
    session.tunnel = tunnel  # type: ignore[assignment]
    session._conn = conn
    session._remote = Endpoint(GATEWAY, 500)
    session._pump()  # the events of the first exchanges: the first child SA is installed
    return session, net, tunnel, sock


def test_an_sa_from_the_gateways_rekey_is_installed_before_our_answer_leaves(
    loop: asyncio.AbstractEventLoop,
) -> None:
    session, net, tunnel, sock = session_with(loop)
    conn = net.conn
    (first,) = tunnel.installed
    sock.sent.clear()
    # <-- HDR, SK {N(REKEY_SA), SA, Ni, TSi, TSr}   (the gateway rekeys our child SA)
    (request,) = net.gw.start_child_rekey()
    conn.receive_datagram(request, Endpoint(GATEWAY, 4500), 50.0)
    session._pump()
    # HDR, SK {SA, Nr, TSi, TSr} -->   only once the new SA is in the ESP engine
    (answer,) = sock.sent
    new = {c.spi_in for c in conn.children} - {first}
    assert len(new) == 1
    assert new <= answer[2], "the answer left before the new child SA was installed"


# --------------------------------------------------------------------- following addresses


def test_our_own_virtual_ip_is_never_a_local_address_for_ike(
    loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, net, tunnel, _sock = session_with(loop, mobike=True)
    tunnel.config = ConfigReceived(addresses=(ipaddress.ip_address("198.18.200.1"),))
    # A full tunnel's host route to the gateway went away with its link: the kernel now
    # routes the gateway into the TUN, from the virtual IP.
    monkeypatch.setattr(session_module, "source_address_for", lambda *a: "198.18.200.1")
    opened: list[object] = []
    monkeypatch.setattr(session_module, "open_socket", lambda *a, **k: opened.append(a))
    session._check_addresses(60.0)
    assert tunnel.repinned == [GATEWAY]  # no uplink left to pin it to: wait for one
    assert opened == [] and session.roams == 0
    assert net.conn.rekeys.address_updates == 0
    assert net.conn.state == IkeSaState.ESTABLISHED


def test_open_socket_refuses_an_excluded_source(monkeypatch: pytest.MonkeyPatch) -> None:
    from ikeclient.errors import GatewayUnreachable  # noqa: PLC0415

    with pytest.raises(GatewayUnreachable, match="virtual IP"):
        session_module.open_socket(
            socket.AF_INET, Endpoint("127.0.0.1", 4500), exclude=frozenset({"127.0.0.1"})
        )


def test_the_host_route_is_pinned_again_and_ike_follows_the_new_uplink(
    loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, net, tunnel, _sock = session_with(loop, mobike=True)
    tunnel.config = ConfigReceived(addresses=(ipaddress.ip_address("198.18.200.1"),))
    tunnel.uplink_left = True
    # Into the tunnel until the host route is pinned again; then through the second uplink.
    answers = iter(["198.18.200.1", "192.0.2.30"])
    monkeypatch.setattr(session_module, "source_address_for", lambda *a: next(answers))
    new_sock = FakeSocket(tunnel, "192.0.2.30")
    monkeypatch.setattr(
        session_module,
        "open_socket",
        lambda family, remote, exclude=frozenset(): (new_sock, Endpoint("192.0.2.30", 4500)),
    )
    monkeypatch.setattr(session, "_use_socket", lambda s: setattr(session, "_sock", s))
    session._check_addresses(60.0)
    session._pump()
    assert tunnel.repinned == [GATEWAY] and session.roams == 1
    assert net.conn.local == Endpoint("192.0.2.30", 4500)  # MOBIKE from the new address
    assert new_sock.sent  # UPDATE_SA_ADDRESSES


# --------------------------------------------------------------------- the gateway deletes our SA


def test_a_delete_from_the_gateway_reconnects_keeping_the_tunnel(
    loop: asyncio.AbstractEventLoop,
) -> None:
    session, net, tunnel, _sock = session_with(loop)
    # <-- HDR, SK {D(IKE)}   (the gateway's charon stops with SIGTERM)
    net.conn.receive_datagram(net.gw.delete_ike_sa(), Endpoint(GATEWAY, 4500), 9.0)
    session._pump()
    assert session.result is None and session.reconnecting
    assert session._retry is not None  # the next attempt, after the backoff
    assert tunnel.released and not tunnel.closed  # TUN, routes and DNS stay
    assert session.reconnects == 1
    session.shutdown()


@pytest.mark.parametrize("leak_protection", [False, True])
def test_a_reconnect_under_leak_protection_needs_no_dns(
    loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch, leak_protection: bool
) -> None:
    """With leak protection a gateway given by name is not looked up again on reconnect: the
    lookup could only go through the tunnel, which is down; the address it had is used."""
    session, _net, _tunnel, _sock = session_with(loop)
    session._gateway = "vpn.example.org"
    session._tunnel_options = TunnelOptions(name="t", leak_protection=leak_protection)
    lookups: list[str] = []

    def resolve(host: str, port: int) -> tuple[int, Endpoint]:
        lookups.append(host)
        raise GatewayUnreachable(f"cannot resolve {host}")

    monkeypatch.setattr(session_module, "resolve_gateway", resolve)
    if leak_protection:
        assert session._gateway_for_reconnect() == (socket.AF_INET, Endpoint(GATEWAY, 500))
        assert lookups == []
    else:
        with pytest.raises(GatewayUnreachable):
            session._gateway_for_reconnect()
        assert lookups == ["vpn.example.org"]
    session.shutdown(keep_leak_protection=False)


def test_a_delete_from_the_gateway_ends_the_session_with_on_gateway_delete_exit(
    loop: asyncio.AbstractEventLoop,
) -> None:
    policy = ReconnectPolicy(enabled=True, on_gateway_delete="exit")
    session, net, tunnel, _sock = session_with(loop, policy)
    net.conn.receive_datagram(net.gw.delete_ike_sa(), Endpoint(GATEWAY, 4500), 9.0)
    session._pump()
    assert session.result is not None and session.result.error is None
    assert session.result.reason == "deleted by the gateway"
    assert not session.reconnecting and session._retry is None
    assert tunnel.closed


def test_esp_sent_is_told_to_the_core_once_a_tick(
    loop: asyncio.AbstractEventLoop,
) -> None:
    policy = ReconnectPolicy(enabled=True, follow_addresses=False)
    session, net, tunnel, _sock = session_with(loop, policy, dpd_delay=30.0, dead_peer_after=10.0)
    session._start_watching = lambda: None  # type: ignore[method-assign]
    base = loop.time()
    net.conn.inbound_activity(base)
    tunnel.counters.tun_packets_read = 5  # ESP went out since the last tick
    session._on_tick()
    deadline = net.conn.get_timer()
    assert deadline is not None and deadline <= loop.time() + 10.0  # not base + 30
    session._on_tick()  # nothing more went out: the deadline stays
    assert net.conn.get_timer() == deadline
    session.shutdown()
