"""Gateway-supplied settings checked before they touch the host (issue 11), without root.

A hostile or misconfigured gateway hands out a virtual IP, split subnets or traffic
selectors that would take the host's own path (its local network, its router, the gateway
itself) into the tunnel, or turn a full tunnel into a split one. The plan refuses or
narrows them; these tests feed it such values with a made-up uplink: ``eth0`` with
198.18.1.2/24 and 2001:2:1::2/64, router 198.18.1.1 (and 2001:2:1::1), gateway 198.18.2.2.
"""

from __future__ import annotations

import ipaddress
import logging

import pytest

from ikeclient.errors import SettingRefused
from ikeclient.exitcodes import ExitCode, exit_code_for
from ikeclient.ike.events import (
    ChildSaEstablished,
    ChildSaKeys,
    ConfigReceived,
    Endpoint,
    IPNetwork,
    TrafficSelectorRange,
)
from ikeclient.net import NetworkPlan, plan_network, render_resolv_conf
from ikeclient.net.dns import resolvectl_commands
from ikeclient.net.undo import route_delete_argv
from ikeclient.net.uplink import Uplink, narrow_to, route_conflict
from ikeclient.runtime.tunnel import routed_subnets

ip = ipaddress.ip_address
net = ipaddress.ip_network

GATEWAY = "198.18.2.2"
UPLINK = Uplink(
    "eth0",
    (net("198.18.1.0/24"), net("2001:2:1::/64"), net("fe80::/64")),
    (ip("198.18.1.1"), ip("2001:2:1::1")),
)
VIP = "198.18.200.7"
SERVERS = "198.18.3.0/24"


def _plan(
    addresses: list[str],
    subnets: list[str],
    *,
    trusted: list[str] | None = None,
    full: bool = False,
    gateway: str = GATEWAY,
    block_ipv6: bool = True,
) -> NetworkPlan:
    return plan_network(
        addresses,
        subnets,
        gateway,
        full,
        uplink=UPLINK,
        trusted=[net(t) for t in (trusted if trusted is not None else [SERVERS])],
        block_ipv6=block_ipv6,
    )


# --- the virtual IP -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vip", "why"),
    [
        ("198.18.1.1", "router 198.18.1.1"),  # the LAN router
        (GATEWAY, "gateway's own address"),
        ("198.18.1.77", "local network 198.18.1.0/24 of eth0"),  # inside the uplink prefix
        ("198.18.1.2", "local network 198.18.1.0/24"),  # our own uplink address
        ("2001:2:1::99/64", "local network 2001:2:1::/64"),
        ("2001:2:1::1", "router 2001:2:1::1"),
        ("127.0.0.1", "not a unicast address"),
        ("224.0.0.1", "not a unicast address"),
        ("0.0.0.0", "not a unicast address"),
    ],
)
def test_a_virtual_ip_on_our_own_path_is_refused(vip: str, why: str) -> None:
    with pytest.raises(SettingRefused, match=f"refusing the virtual IP .*{why}") as info:
        _plan([vip], [SERVERS])
    assert "\n" not in str(info.value)  # one line for the person
    assert exit_code_for(info.value) == ExitCode.SETTING_REFUSED
    assert int(ExitCode.SETTING_REFUSED) == 18


def test_an_ordinary_virtual_ip_passes() -> None:
    plan = _plan([VIP, "2001:2:ff::7/64"], [SERVERS])
    assert [str(r.network) for r in plan.routes] == [SERVERS]


# --- routes ---------------------------------------------------------------------------------


def test_gateway_routes_on_our_own_path_are_skipped_with_a_reason() -> None:
    plan = _plan(
        [VIP],
        [
            SERVERS,  # the profile's own: kept
            "198.18.1.128/25",  # inside the LAN
            "198.18.1.1/32",  # the LAN router itself
            "198.18.0.0/16",  # around the LAN, the router and the gateway
            "198.18.2.0/24",  # covers the gateway
            "2001:2:1::/48",  # around the IPv6 LAN
            "198.18.50.0/24",  # harmless
        ],
    )
    routes = [str(r.network) for r in plan.routes]
    assert routes == [SERVERS, "198.18.50.0/24"]
    refused = plan.refused
    assert len(refused) == 5
    assert refused[0] == "198.18.1.128/25: it overlaps the local network 198.18.1.0/24 of eth0"
    assert "router 198.18.1.1" in refused[1]
    assert "gateway's own address 198.18.2.2" in refused[2]
    assert "gateway's own address" in refused[3]
    assert refused[4].startswith("2001:2:1::/48: it covers the router 2001:2:1::1")
    assert not plan.gateway_host_route


def test_the_profiles_own_networks_and_full_tunnels_are_the_persons_choice() -> None:
    # remote_ts = 198.18.0.0/16 in the profile: routed, with a host route to the gateway.
    plan = _plan([VIP], ["198.18.0.0/16"], trusted=["198.18.0.0/16"])
    assert [str(r.network) for r in plan.routes] == ["198.18.0.0/16"]
    assert plan.gateway_host_route
    full = _plan([VIP], ["0.0.0.0/0"], trusted=["0.0.0.0/0"])
    assert [str(r.network) for r in full.routes] == ["0.0.0.0/1", "128.0.0.0/1"]
    assert full.gateway_host_route and not full.refused


def test_route_conflict_without_an_uplink_still_guards_the_gateway() -> None:
    assert route_conflict(net("198.18.2.0/24"), ip(GATEWAY), None)
    assert route_conflict(net("198.18.3.0/24"), ip(GATEWAY), None) is None


# --- IPv6 beside a full IPv4 tunnel ----------------------------------------------------------


def test_full_ipv4_tunnel_without_ipv6_address_blocks_ipv6() -> None:
    plan = _plan([VIP], ["0.0.0.0/0", "::/0"], trusted=["0.0.0.0/0"])
    assert [str(n) for n in plan.blocked] == ["::/1", "8000::/1"]
    # No IPv6 route into the TUN (there is no IPv6 address to send from).
    assert [str(r.network) for r in plan.routes] == ["0.0.0.0/1", "128.0.0.0/1"]
    assert not _plan([VIP], ["0.0.0.0/0"], trusted=["0.0.0.0/0"], block_ipv6=False).blocked
    # A split tunnel leaves IPv6 alone.
    assert not _plan([VIP], [SERVERS]).blocked


def test_full_tunnel_with_an_ipv6_address_routes_ipv6_through_it() -> None:
    plan = _plan([VIP, "2001:2:ff::7/64"], ["0.0.0.0/0"], trusted=["0.0.0.0/0"], full=True)
    assert not plan.blocked
    assert {str(r.network) for r in plan.routes} == {
        "0.0.0.0/1",
        "128.0.0.0/1",
        "::/1",
        "8000::/1",
    }


def test_the_block_keeps_an_ipv6_gateway_reachable() -> None:
    plan = _plan([VIP], ["0.0.0.0/0"], trusted=["0.0.0.0/0"], gateway="2001:2:2::2")
    assert plan.blocked and plan.gateway_host_route


def test_unreachable_routes_are_undone_as_such() -> None:
    argv = route_delete_argv({"dst": "::/1", "type": "unreachable", "proto": 1})
    assert argv == ["ip", "-6", "route", "del", "unreachable", "::/1", "proto", "157"]
    # Any other type in a journal is ignored: the delete is then of our unicast route.
    argv = route_delete_argv({"dst": "::/1", "type": "blackhole; rm", "dev": "ikc0"})
    assert argv == ["ip", "-6", "route", "del", "::/1", "dev", "ikc0", "proto", "157"]


# --- which subnets are routed: remote_ts, split subnets, accept_split ------------------------


def _ts(text: str) -> TrafficSelectorRange:
    n = net(text)
    return TrafficSelectorRange(n.network_address, n.broadcast_address)


def _child(*tsr: str) -> ChildSaEstablished:
    keys = ChildSaKeys(b"", b"", b"", b"")
    end = Endpoint("198.18.2.2", 4500)
    return ChildSaEstablished(
        "lab", 1, 2, 20, 256, None, False, keys, (_ts(f"{VIP}/32"),),
        tuple(_ts(t) for t in tsr), end, end, True, "aes256gcm16",
    )  # fmt: skip


def _routed(
    tsr: list[str], split: list[str], profile: list[str], *, accept_split: bool = False
) -> list[str]:
    config = ConfigReceived(addresses=(ip(VIP),), subnets=tuple(net(s) for s in split))
    nets: tuple[IPNetwork, ...] = tuple(net(p) for p in profile)
    return [str(n) for n in routed_subnets(_child(*tsr), config, nets, accept_split)]


def test_split_subnets_do_not_turn_a_full_tunnel_profile_into_a_split_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        routes = _routed(["0.0.0.0/0"], ["198.18.3.0/24", "10.0.0.0/8"], ["0.0.0.0/0"])
    assert routes == ["0.0.0.0/0"]
    assert "accept_split = false" in caplog.text and "198.18.3.0/24" in caplog.text
    # Nor does a gateway that narrows TSr: the tunnel stays full (the ESP engine drops
    # what the child SA does not carry).
    assert _routed(["198.18.3.0/24"], [], ["0.0.0.0/0"]) == ["0.0.0.0/0"]


def test_accept_split_follows_the_gateway() -> None:
    split = ["198.18.3.0/24", "10.0.0.0/8"]
    assert _routed(["0.0.0.0/0"], split, ["0.0.0.0/0"], accept_split=True) == split
    assert _routed(["198.18.3.0/24"], [], ["0.0.0.0/0"], accept_split=True) == ["198.18.3.0/24"]


def test_a_split_profile_keeps_its_selectors_and_never_more() -> None:
    # A gateway that answers wider than the profile asked (the core refuses this for IKEv2;
    # here the runtime narrows it again): only the profile's networks are routed.
    assert _routed(["0.0.0.0/0"], ["192.168.0.0/16"], [SERVERS]) == [SERVERS]
    assert _routed(["198.18.0.0/16"], [], [SERVERS, "10.1.0.0/16"]) == [SERVERS]
    assert _routed([SERVERS], ["10.0.0.0/8"], [SERVERS]) == [SERVERS]


def test_narrowing_is_the_intersection_or_nothing() -> None:
    kept, changes = narrow_to(
        [net("10.1.0.0/16"), net("192.168.0.0/16"), net("0.0.0.0/0"), net("::/0")],
        [net("10.0.0.0/8"), net("198.18.3.0/24")],
    )
    assert [str(n) for n in kept] == ["10.1.0.0/16", "10.0.0.0/8", "198.18.3.0/24"]
    assert (net("192.168.0.0/16"), None) in changes and (net("::/0"), None) in changes
    assert (net("0.0.0.0/0"), net("10.0.0.0/8")) in changes


# --- DNS in a full tunnel ------------------------------------------------------------------------

ORIGINAL = "nameserver 198.18.1.1\nnameserver 2001:2:1::1\nsearch home.example\noptions edns0\n"


def test_full_tunnel_resolv_conf_uses_only_the_tunnels_servers() -> None:
    servers = [ip("198.18.3.53")]
    text = render_resolv_conf(ORIGINAL, servers, ["corp.example"], name="lab", full_tunnel=True)
    active = [line for line in text.splitlines() if line.startswith("nameserver")]
    assert active == ["nameserver 198.18.3.53"]
    assert "# nameserver 198.18.1.1  (not used while the full tunnel is up)" in text
    assert "search corp.example home.example" in text and "options edns0" in text
    # A split tunnel keeps the original servers after ours.
    split = render_resolv_conf(ORIGINAL, servers, [], name="lab")
    active = [line for line in split.splitlines() if line.startswith("nameserver")]
    assert active == ["nameserver 198.18.3.53", "nameserver 198.18.1.1", "nameserver 2001:2:1::1"]


def test_full_tunnel_resolved_link_is_the_default_dns_route() -> None:
    cmds = resolvectl_commands("ikc0", [ip("198.18.3.53")], ["corp.example"], full_tunnel=True)
    assert ["resolvectl", "domain", "ikc0", "~corp.example", "~."] in cmds
    assert ["resolvectl", "default-route", "ikc0", "yes"] in cmds
    split = resolvectl_commands("ikc0", [ip("198.18.3.53")], ["corp.example"], full_tunnel=False)
    assert ["resolvectl", "default-route", "ikc0", "no"] in split
    assert not any("~." in c for c in split)
