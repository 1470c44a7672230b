"""Leak protection: ikeclient's own nftables table that lets nothing out beside the tunnel.

A full tunnel routes everything through the TUN, but routes alone leak: before the tunnel
is up, while it reconnects, over a family the tunnel does not carry, or when a program binds
to the uplink. With leak protection on, one ``inet`` table of ours (:data:`TABLE`) hooks
output and input with policy *drop* and accepts only:

- loopback, and our TUN devices (``ikc*``);
- IKE and ESP-in-UDP to and from the gateway (its IKE port and 4500, RFC 3948), the only
  traffic that may use the uplink;
- what the uplink itself needs: DHCP, DHCPv6, IPv6 neighbour discovery and router
  advertisements (RFC 4861);
- with ``allow_lan``, the uplink's own subnets (and IPv6 link-local addresses);
- replies to what was allowed out (``ct state established,related``).

The table is installed before the first IKE packet, journaled like every host change (undo:
``nft_delete_table``, which deletes only this table by its fixed name), replaced atomically
when the gateway's address or port changes (one ``nft -f`` transaction: no instant without
rules), and removed when the connection ends on request. Created and replaced by one
transaction that first declares and deletes the table, so a table left by a crash is
replaced too.
"""

from __future__ import annotations

import ipaddress
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass

from ikeclient.errors import NetError
from ikeclient.net._command import raise_for, run_command
from ikeclient.net.journal import UndoJournal
from ikeclient.net.undo import NFT_TABLE as TABLE

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

NAT_T_PORT = 4500
UNDO_OP = "nft_delete_table"  # the journal's record of our table
_ND_OUT = "nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert"
_ND_IN = "nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect"


@dataclass(frozen=True, slots=True)
class LeakPolicy:
    """What the table lets through besides loopback, the TUN and the uplink's own needs."""

    gateway: IPAddress
    ike_port: int = 500
    lan: tuple[IPNetwork, ...] = ()  # the uplink's subnets, when the LAN is allowed

    @property
    def ports(self) -> tuple[int, ...]:
        return tuple(sorted({self.ike_port, NAT_T_PORT}))


def ruleset(policy: LeakPolicy) -> str:
    """The ``nft -f`` script that (re)creates our table for ``policy`` in one transaction."""
    family = "ip" if policy.gateway.version == 4 else "ip6"
    ports = ", ".join(str(p) for p in policy.ports)
    lan_out = [f"{_family(net)} daddr {net} accept" for net in policy.lan]
    lan_in = [f"{_family(net)} saddr {net} accept" for net in policy.lan]
    if policy.lan:
        lan_out.append("ip6 daddr fe80::/10 accept")
        lan_in.append("ip6 saddr fe80::/10 accept")
    output = [
        'oif "lo" accept',
        'oifname "ikc*" accept',
        f"{family} daddr {policy.gateway} udp dport {{ {ports} }} accept",
        "udp sport 68 udp dport 67 accept",
        "udp sport 546 udp dport 547 accept",
        f"icmpv6 type {{ {_ND_OUT} }} accept",
        *lan_out,
    ]
    inputs = [
        'iif "lo" accept',
        'iifname "ikc*" accept',
        f"{family} saddr {policy.gateway} udp sport {{ {ports} }} accept",
        "ct state established,related accept",
        "udp sport 67 udp dport 68 accept",
        "udp sport 547 udp dport 546 accept",
        f"icmpv6 type {{ {_ND_IN} }} accept",
        *lan_in,
    ]
    lines = [
        f"table inet {TABLE} {{}}",
        f"delete table inet {TABLE}",
        f"table inet {TABLE} {{",
        "  chain output {",
        "    type filter hook output priority 0; policy drop;",
        *(f"    {rule}" for rule in output),
        "  }",
        "  chain input {",
        "    type filter hook input priority 0; policy drop;",
        *(f"    {rule}" for rule in inputs),
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _family(net: IPNetwork) -> str:
    return "ip" if net.version == 4 else "ip6"


def nft_available() -> str | None:
    """The path of the ``nft`` command, or None."""
    return shutil.which("nft") or shutil.which("nft", path="/usr/sbin:/sbin")


def _load(policy: LeakPolicy) -> None:
    if nft_available() is None:
        raise NetError(
            "leak protection needs nftables: install it (apt-get install nftables), "
            'or set leak_protection = "off" in the profile'
        )
    argv = ["nft", "-f", "-"]
    result = run_command(argv, input=ruleset(policy))
    if result.returncode != 0:
        raise_for(argv, result, NetError)


def install(journal: UndoJournal, policy: LeakPolicy) -> None:
    """Install (or atomically replace) our table; journaled before it is made."""
    with journal.change(UNDO_OP, table=TABLE):
        _load(policy)
    logger.info(
        "leak protection on: only IKE/ESP to %s (ports %s), the TUN%s",
        policy.gateway,
        "/".join(str(p) for p in policy.ports),
        f" and the LAN ({', '.join(str(n) for n in policy.lan)})" if policy.lan else "",
    )


def adopt(journal: UndoJournal) -> None:
    """Take over the table a dead run left (``recover_stale(leave=...)``), without touching
    it: journaled as ours, so our undo removes it, and our :func:`install` replaces it in one
    transaction. Between the two nothing leaves outside the tunnel."""
    journal.record(UNDO_OP, table=TABLE)


def update(policy: LeakPolicy) -> None:
    """Replace the rules of the installed table in one transaction (already journaled)."""
    _load(policy)
    logger.info("leak protection follows the gateway to %s", policy.gateway)


def uplink_subnets(gateway: IPAddress | str) -> tuple[IPNetwork, ...]:
    """The subnets of the interface that reaches ``gateway`` now (for ``allow_lan``)."""
    from ikeclient.net._command import ip_json  # noqa: PLC0415

    routes = ip_json(["route", "get", str(gateway)])
    dev = routes[0].get("dev") if routes else None
    if not dev:
        return ()
    subnets: list[IPNetwork] = []
    for link in ip_json(["addr", "show", "dev", str(dev)]):
        for info in link.get("addr_info", []):
            if info.get("scope") != "global":
                continue
            iface = ipaddress.ip_interface(f"{info['local']}/{info['prefixlen']}")
            subnets.append(iface.network)
    return tuple(subnets)


def policy_for(
    gateway: IPAddress | str, ike_port: int, *, allow_lan: bool, lan: Sequence[IPNetwork] = ()
) -> LeakPolicy:
    """The policy for a gateway; with ``allow_lan`` and no ``lan`` given, the uplink's subnets."""
    address = ipaddress.ip_address(str(gateway))
    subnets = tuple(lan) if lan or not allow_lan else uplink_subnets(address)
    return LeakPolicy(address, ike_port, subnets if allow_lan else ())
