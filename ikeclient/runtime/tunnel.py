"""The data plane of one connection: TUN ↔ ESP engine ↔ UDP 4500, and the host changes.

``Tunnel`` owns the TUN device, the ``EspEngine`` and the ``HostNetwork`` (addresses,
routes and DNS, all through the undo journal). It is driven by the IKE events the
session hands it and by two readers on the session's event loop:

- the TUN is readable → read a batch of inner packets, clamp the MSS of TCP SYNs,
  encapsulate each, send the ESP packets to the gateway's NAT-T port;
- an ESP datagram arrived on the UDP socket (the session demultiplexes IKE from ESP
  by the non-ESP marker, RFC 3948 §2.2) → decapsulate, write the inner packet to the TUN.

TUN offloads, the wireguard-go way. ``TunnelOptions.tun_offload`` opens the TUN with
``IFF_VNET_HDR``: the decapsulated packets of one socket wake-up are queued by
:meth:`Tunnel.receive_esp` and written by :meth:`Tunnel.flush_tun`, consecutive segments
of a TCP flow coalesced into one GSO write (GRO): one write system call and one pass
through the kernel's TCP receive path (and fewer ACKs) for up to 64 KB.
``TunnelOptions.tun_tso`` also turns on TSO: a read may then be a TCP super-packet of up
to 64 KB, which ``ikeclient.esp.offload.from_tun`` cuts into MSS-size segments. That saves
read system calls but costs a checksum over every byte in Python, which costs more than it
saves here (bench/throughput.py): off by default. A kernel that refuses the offloads gets
plain reads and writes.

Why one thread and one event loop: the per-packet cost is a read system call, one AEAD
call and a send system call; batching the readers (drain up to ``BATCH`` packets per
wake-up) keeps the loop's own overhead per packet small, and a single thread needs no
locks around the engine's SA database, which the IKE side changes (bench/ measures it).
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ikeclient.crypto.random import RandomSource
from ikeclient.errors import NetError
from ikeclient.esp.engine import DropReason, EspEngine
from ikeclient.esp.mss import clamp_mss
from ikeclient.esp.offload import VNET_HDR_LEN, ZERO_VNET_HDR, coalesce, from_tun
from ikeclient.esp.sa import EspSaConfig, SaLimits
from ikeclient.esp.selectors import Selector
from ikeclient.ike.events import (
    ChildSaEstablished,
    ConfigReceived,
    Endpoint,
    IPNetwork,
    TrafficSelectorRange,
)
from ikeclient.net.dns import DnsBackend
from ikeclient.net.firewall import policy_for
from ikeclient.net.host import HostNetwork
from ikeclient.net.journal import DEFAULT_JOURNAL_DIR
from ikeclient.net.routes import FULL_V4, FULL_V6
from ikeclient.net.tun import READ_SIZE, TunDevice
from ikeclient.net.uplink import narrow_to

logger = logging.getLogger(__name__)

BATCH = 64
MAX_READ_PACKETS = 4 * BATCH  # stop reading the TUN after this many packets (TSO splits)
UDP_SEGMENT = 103  # linux/udp.h: the segment size of a UDP GSO send
GSO_MAX_SEGMENTS = 64
GSO_MAX_BYTES = 65000
KEEPALIVE = b"\xff"
IPV4_HEADER = 20
IPV6_HEADER = 40
UDP_HEADER = 8
TCP_HEADER = 20
_TCP = 6


@dataclass(frozen=True, slots=True)
class TunnelOptions:
    """How the data plane is set up on this host."""

    name: str
    state_dir: Path = DEFAULT_JOURNAL_DIR
    resolv_conf: Path = Path("/etc/resolv.conf")
    dns_backend: DnsBackend = "auto"
    path_mtu: int = 1500
    keepalive_interval: float = 20.0
    tun_name: str | None = None
    replay_window: int = 1024
    udp_gso: bool = True
    tun_offload: bool = True  # IFF_VNET_HDR: coalesced (GRO) writes to the TUN
    tun_tso: bool = False  # TSO reads from the TUN, split here (slower in Python so far)
    rekey_grace: float = 2.0  # seconds a replaced SA's inbound half still takes packets
    limits: SaLimits | None = None  # byte/packet lifetimes of each child SA (soft, hard)
    limit_jitter: float = 0.1  # soft byte/packet limits come up to this share early
    # The profile's remote_ts as networks: what the gateway may have routed at most.
    remote_networks: tuple[IPNetwork, ...] = (FULL_V4,)
    accept_split: bool = False  # a full-tunnel profile follows the gateway's split subnets
    block_ipv6: bool = True  # unreachable IPv6 beside a full IPv4 tunnel without IPv6 address
    leak_protection: bool = False  # net/firewall.py: nothing but IKE/ESP leaves the uplink
    allow_lan: bool = False  # with leak protection: the uplink's own subnets stay reachable
    ike_port: int = 500  # the gateway's IKE port (leak protection lets it through)


@dataclass(slots=True)
class TunnelCounters:
    """What the runtime adds to the engine's own counters."""

    tun_packets_read: int = 0
    tun_write_drops: int = 0
    tun_read_drops: int = 0
    tso_reads: int = 0  # TSO super-packets read (and split)
    tun_batches: int = 0  # flushes of queued packets to the TUN
    tun_packets_written: int = 0
    gro_writes: int = 0  # coalesced (GSO) writes
    udp_send_drops: int = 0
    keepalives_sent: int = 0


def selectors_of(ranges: tuple[TrafficSelectorRange, ...]) -> tuple[Selector, ...]:
    """IKE traffic selectors as the ESP engine's integer selectors."""
    return tuple(
        Selector(r.start.version, int(r.start), int(r.end), r.ip_protocol, r.start_port, r.end_port)
        for r in ranges
    )


def esp_config(
    child: ChildSaEstablished, replay_window: int, limits: SaLimits | None = None
) -> EspSaConfig:
    """The ESP engine's view of a child SA the IKE side negotiated."""
    keys = child.keys
    return EspSaConfig(
        spi_in=child.spi_in,
        spi_out=child.spi_out,
        encr_id=child.encr_id,
        encr_key_bits=child.encr_key_bits,
        integ_id=child.integ_id,
        esn=child.esn,
        encr_key_in=keys.encr_in,
        integ_key_in=keys.integ_in,
        encr_key_out=keys.encr_out,
        integ_key_out=keys.integ_out,
        local_ts=selectors_of(child.local_ts),
        remote_ts=selectors_of(child.remote_ts),
        replay_window=replay_window,
        limits=limits,
    )


def _log_narrowed(what: str, changes: list[tuple[IPNetwork, IPNetwork | None]]) -> None:
    for network, piece in changes:
        if piece is None:
            logger.warning("refusing %s %s: outside the profile's remote_ts", what, network)
        else:
            logger.warning("narrowing %s %s to %s (the profile's remote_ts)", what, network, piece)


def routed_subnets(
    child: ChildSaEstablished,
    config: ConfigReceived | None,
    remote_networks: tuple[IPNetwork, ...] = (FULL_V4, FULL_V6),
    accept_split: bool = True,
) -> list[IPNetwork]:
    """What to route into the tunnel: the remote selectors, or the gateway's split subnets,
    never beyond the profile's ``remote_networks`` (its ``remote_ts``).

    A gateway that narrows TSr to its subnets gets exactly those routed. One that
    allows everything (TSr 0.0.0.0/0) but hands out INTERNAL_IP4/6_SUBNET attributes (or
    Unity split-include, IKEv1) asks for a split tunnel over them (RFC 7296 §3.15.2).
    A profile that is a full tunnel for a family (``0.0.0.0/0`` or ``::/0`` in its
    ``remote_ts``) stays one — the gateway's narrower TSr or split subnets are ignored,
    and packets outside the child SA's selectors are dropped by the ESP engine — unless
    ``accept_split``. Whatever is routed lies inside ``remote_networks`` (narrowed to the
    intersection; what lies wholly outside is refused and logged).
    """
    nets: list[IPNetwork] = []
    for ts in child.remote_ts:
        nets.extend(n for n in ts.networks() if n not in nets)
    nets, changes = narrow_to(nets, remote_networks)
    _log_narrowed("the traffic selector", changes)
    split = list(config.subnets) if config is not None else []
    out: list[IPNetwork] = []
    for version in (4, 6):
        family = [n for n in nets if n.version == version]
        if not family:
            continue
        profile_full = any(n.prefixlen == 0 and n.version == version for n in remote_networks)
        if profile_full and not accept_split:
            narrower = [n for n in family if n.prefixlen != 0] + [
                n for n in split if n.version == version
            ]
            if narrower:
                logger.warning(
                    "the profile is a full tunnel (accept_split = false): not routing only "
                    "the gateway's %s",
                    ", ".join(str(n) for n in narrower),
                )
            out.append(FULL_V4 if version == 4 else FULL_V6)
            continue
        wanted = [n for n in split if n.version == version]
        if wanted and any(n.prefixlen == 0 for n in family):
            kept, changes = narrow_to(wanted, remote_networks)
            _log_narrowed("the split subnet", changes)
            if kept:
                out += kept
                continue
        out += family
    return out


def _syn_mss(packet: bytes, mss4: int, mss6: int) -> bytes:
    """Clamp the MSS of a TCP SYN; everything else passes untouched, cheaply."""
    version = packet[0] >> 4
    if version == 4:
        if packet[9] != _TCP:
            return packet
        tcp = (packet[0] & 0x0F) * 4
        if len(packet) > tcp + 13 and packet[tcp + 13] & 0x02:
            return clamp_mss(packet, mss4)
        return packet
    if version == 6 and len(packet) > 53 and packet[6] == _TCP and packet[53] & 0x02:
        return clamp_mss(packet, mss6)
    return packet


class Tunnel:
    """TUN, ESP engine and host network changes of one connection."""

    def __init__(
        self,
        options: TunnelOptions,
        sock: socket.socket,
        rng: RandomSource,
        *,
        clock: Callable[[], float],
        add_reader: Callable[[int, Callable[[], None]], None],
        remove_reader: Callable[[int], object],
        on_engine_event: Callable[[], None] | None = None,
    ) -> None:
        self.options = options
        self._sock = sock
        self._rng = rng
        self._on_engine_event = on_engine_event
        self._clock = clock
        self._add_reader = add_reader
        self._remove_reader = remove_reader
        self.engine = EspEngine(rng)
        self.counters = TunnelCounters()
        self.host = HostNetwork.for_connection(
            options.name,
            journal_dir=options.state_dir,
            resolv_conf=options.resolv_conf,
            dns_backend=options.dns_backend,
        )
        self._config: ConfigReceived | None = None
        self._tun: TunDevice | None = None
        self._tun_fd = -1
        self._dest: tuple[str, int] | None = None
        self._mss4 = 0
        self._mss6 = 0
        self._gso = options.udp_gso
        self._vnet = False  # TUN reads and writes carry a virtio_net_hdr
        self._gro = False  # coalesce TCP segments written to the TUN
        self._pending: list[bytes] = []
        self.last_sent = 0.0
        self.mtu = 0
        self.routes: list[IPNetwork] = []
        self._full_tunnel = False  # the routes carry a default route (their halves on the host)
        self.blocked: list[IPNetwork] = []  # unreachable routes (IPv6 beside a full tunnel)
        self.dns_backend = "none"
        self.children: list[ChildSaEstablished] = []
        self.closed = False
        self.ever_up = False
        self._retired = (0, 0, 0, 0)

    @property
    def tun_name(self) -> str | None:
        return self._tun.name if self._tun is not None else None

    def on_config(self, config: ConfigReceived) -> None:
        self._config = config

    @property
    def config(self) -> ConfigReceived | None:
        """What the gateway handed out last (virtual IP, DNS)."""
        return self._config

    def _limits(self) -> SaLimits | None:
        limits = self.options.limits
        jitter = self.options.limit_jitter
        if limits is None or jitter <= 0:
            return limits
        fraction = 1.0 - jitter * int.from_bytes(self._rng.random_bytes(2), "big") / 65536
        return SaLimits(
            soft_bytes=int(limits.soft_bytes * fraction),
            hard_bytes=limits.hard_bytes,
            soft_packets=int(limits.soft_packets * fraction),
            hard_packets=limits.hard_packets,
        )

    def on_child(self, child: ChildSaEstablished, gateway: Endpoint) -> None:
        """Install the child SA; the first one also brings up the TUN, addresses, routes, DNS.

        A rekeyed SA the gateway started has its outbound half deferred until the
        gateway proves it installed the SA (``ChildSaEstablished.outbound_deferred``).
        """
        config = esp_config(child, self.options.replay_window, self._limits())
        self.engine.install_sa(config, outbound_active=not child.outbound_deferred)
        self.children.append(child)
        self.ever_up = True
        self._dest = (gateway.host, gateway.port)
        if self._tun is not None:
            return
        outer = IPV4_HEADER if ipaddress.ip_address(gateway.host).version == 4 else IPV6_HEADER
        self.mtu = self.options.path_mtu - outer - UDP_HEADER - EspEngine.overhead(config)
        self._mss4 = self.mtu - IPV4_HEADER - TCP_HEADER
        self._mss6 = self.mtu - IPV6_HEADER - TCP_HEADER
        # Opened here rather than by host.open_tun, which knows no offloads: the journal
        # records it all the same, and close() closes it.
        tun = TunDevice(
            self.host.journal,
            self.options.tun_name,
            self.mtu,
            offload=self.options.tun_offload,
            tso=self.options.tun_tso,
        )
        self._tun = tun
        self._tun_fd = tun.fileno()
        self._vnet = self._gro = tun.vnet_hdr
        addresses = list(self._config.addresses) if self._config is not None else []
        options = self.options
        self.routes = routed_subnets(
            child, self._config, options.remote_networks, options.accept_split
        )
        applied = self.host.apply(
            tun.name,
            addresses,
            self.routes,
            self._config.dns_servers if self._config is not None else (),
            self._config.dns_domains if self._config is not None else (),
            gateway.host,
            full_tunnel=any(n.prefixlen == 0 for n in self.routes),
            trusted=options.remote_networks,
            block_ipv6=options.block_ipv6,
        )
        # The routes the host got: a full tunnel's default route as its two halves.
        self.routes = [r.network for r in applied.plan.routes]
        self._full_tunnel = applied.plan.full_tunnel
        self.blocked = list(applied.plan.blocked)
        self.dns_backend = applied.dns_backend
        self._add_reader(self._tun_fd, self._on_tun_readable)
        logger.info(
            "tunnel up: %s mtu %d, routes %s%s, DNS via %s, TUN offloads: %s",
            tun.name,
            self.mtu,
            ", ".join(str(r) for r in self.routes),
            "; unreachable " + ", ".join(map(str, self.blocked)) if self.blocked else "",
            self.dns_backend,
            ("GRO+TSO" if tun.tso else "GRO") if self._gro else "off",
        )

    def on_child_deleted(self, spi_in: int, *, rekeyed: bool = False, now: float = 0.0) -> None:
        """Remove a child SA; a rekeyed one keeps its inbound half for ``rekey_grace`` seconds."""
        if any(c.spi_in == spi_in for c in self.children):
            try:
                s = self.engine.stats(spi_in)
            except KeyError:
                pass
            else:
                done = self._retired
                self._retired = (
                    done[0] + s.packets_in,
                    done[1] + s.bytes_in,
                    done[2] + s.packets_out,
                    done[3] + s.bytes_out,
                )
        grace = self.options.rekey_grace
        self.engine.remove_sa(spi_in, linger_until=now + grace if rekeyed and grace > 0 else None)
        self.children = [c for c in self.children if c.spi_in != spi_in]

    def release_sas(self) -> None:
        """Forget every SA (the IKE SA is gone) but keep TUN, routes and DNS: a reconnect comes."""
        for child in list(self.children):
            self.on_child_deleted(child.spi_in)
        for spi_in in self.engine.installed():
            self.engine.remove_sa(spi_in)

    @property
    def full_tunnel(self) -> bool:
        """True when everything goes into the tunnel (the host's routes are the two halves
        ``0.0.0.0/1`` and ``128.0.0.0/1``, or ``::/1`` and ``8000::/1``)."""
        return self._full_tunnel

    def virtual_ips(self) -> frozenset[str]:
        """Our addresses inside the tunnel: never a source for IKE or ESP."""
        config = self._config
        return frozenset(str(a) for a in config.addresses) if config is not None else frozenset()

    def repin_gateway(self, gateway: str) -> bool:
        """A full tunnel lost its host route to the gateway (its link went away): pin it
        again through the uplink that is left (``HostNetwork.repin_gateway``)."""
        if self._tun is None or self.closed or not self.full_tunnel:
            return False
        try:
            return self.host.repin_gateway(self._tun.name, gateway)
        except NetError as exc:
            logger.warning("cannot pin the host route to the gateway again: %s", exc)
            return False

    def set_socket(self, sock: socket.socket) -> None:
        """ESP goes out through ``sock`` from now on (roaming, reconnecting)."""
        self._sock = sock

    def set_destination(self, gateway: Endpoint) -> None:
        """Where ESP goes (the gateway's NAT-T endpoint); leak protection follows it."""
        self._dest = (gateway.host, gateway.port)
        self.protect(gateway)

    def protect(self, gateway: Endpoint) -> None:
        """Leak protection for this gateway, when the options ask for it (before any IKE
        packet is sent; again whenever the gateway's address changes)."""
        options = self.options
        if options.leak_protection:
            self.host.protect(
                policy_for(gateway.host, options.ike_port, allow_lan=options.allow_lan)
            )

    def receive_esp(self, data: bytes, now: float) -> bool:
        """One ESP datagram from the socket: decapsulate; write the inner packet to the TUN.

        With TUN offloads the packet is queued: the caller ends its batch with
        :meth:`flush_tun`, which coalesces and writes the queue. Returns True when
        the packet was valid (the gateway is alive).
        """
        inner = self.engine.decapsulate(data, now)
        if inner is None or self._tun_fd < 0:
            return inner is not None
        if self._mss4:
            inner = _syn_mss(inner, self._mss4, self._mss6)
        if self._vnet:
            self._pending.append(inner)
            return True
        try:
            os.write(self._tun_fd, inner)
        except OSError:
            self.counters.tun_write_drops += 1
        return True

    def flush_tun(self) -> None:
        """Write the packets :meth:`receive_esp` queued, TCP segments coalesced (GRO)."""
        pending = self._pending
        if not pending:
            return
        self._pending = []
        fd = self._tun_fd
        if fd < 0:
            return
        counters = self.counters
        counters.tun_batches += 1
        counters.tun_packets_written += len(pending)
        if len(pending) == 1:  # nothing to merge with: skip the parsing coalesce() does
            buffers = [ZERO_VNET_HDR + pending[0]]
        elif self._gro:
            buffers = coalesce(pending)
        else:
            buffers = [ZERO_VNET_HDR + p for p in pending]
        write = os.write
        for buf in buffers:
            try:
                write(fd, buf)
            except OSError as exc:
                counters.tun_write_drops += 1
                if exc.errno == errno.EINVAL and buf[1] and self._gro:
                    logger.info("the TUN refused a coalesced write (%s): no more GRO", exc)
                    self._gro = False
            else:
                if buf[1]:
                    counters.gro_writes += 1

    def _on_tun_readable(self) -> None:
        fd, dest = self._tun_fd, self._dest
        if fd < 0 or dest is None:
            return
        encapsulate = self.engine.encapsulate
        read = os.read
        mss4, mss6 = self._mss4, self._mss6
        vnet = self._vnet
        now = self._clock()
        out: list[bytes] = []
        for _ in range(BATCH):
            try:
                packet = read(fd, READ_SIZE)
            except BlockingIOError:
                break
            except OSError as exc:
                logger.warning("reading the TUN failed: %s", exc)
                break
            if vnet:
                if packet[:2] != b"\0\0":  # NEEDS_CSUM or GSO: finish or split
                    segments = from_tun(packet)
                    if segments is None:
                        self.counters.tun_read_drops += 1
                        continue
                    if len(segments) > 1:
                        self.counters.tso_reads += 1
                    for segment in segments:
                        esp = encapsulate(_syn_mss(segment, mss4, mss6), now)
                        if esp is not None:
                            out.append(esp)
                    if len(out) >= MAX_READ_PACKETS:
                        break
                    continue
                packet = packet[VNET_HDR_LEN:]
            esp = encapsulate(_syn_mss(packet, mss4, mss6), now)
            if esp is not None:
                out.append(esp)
        if out:
            self.counters.tun_packets_read += len(out)
            self.last_sent = now
            self._send(out, dest)
        if self.engine.has_events and self._on_engine_event is not None:
            self._on_engine_event()

    def _send(self, packets: list[bytes], dest: tuple[str, int]) -> None:
        """Send ESP packets; runs of equal size go out as one UDP GSO send (UDP_SEGMENT).

        One system call then carries up to ``GSO_MAX_SEGMENTS`` datagrams, and the kernel
        cuts them apart as late as it can; a bulk TCP flow gives long runs of equal size.
        """
        sock = self._sock
        i, n = 0, len(packets)
        while i < n:
            size = len(packets[i])
            j = i + 1
            if self._gso:
                limit = min(GSO_MAX_SEGMENTS, GSO_MAX_BYTES // size)
                while j < n and j - i < limit and len(packets[j]) == size:
                    j += 1
                if j < n and j - i < limit and len(packets[j]) < size:
                    j += 1  # the last segment of a GSO send may be shorter
            try:
                if j - i == 1:
                    sock.sendto(packets[i], dest)
                else:
                    cmsg = [(socket.SOL_UDP, UDP_SEGMENT, size.to_bytes(2, sys.byteorder))]
                    sock.sendmsg([b"".join(packets[i:j])], cmsg, 0, dest)
            except BlockingIOError:
                self.counters.udp_send_drops += j - i
            except OSError as exc:
                if j - i > 1 and exc.errno in (errno.EINVAL, errno.EIO, errno.ENOPROTOOPT):
                    logger.info("UDP GSO is not available here (%s); sending one by one", exc)
                    self._gso = False
                    continue  # retry this run without GSO
                self.counters.udp_send_drops += j - i
            i = j

    def send_keepalive(self, now: float) -> bool:
        """RFC 3948 §2.3: a one-byte 0xFF datagram when nothing else was sent for a while."""
        if self._dest is None or now - self.last_sent < self.options.keepalive_interval:
            return False
        try:
            self._sock.sendto(KEEPALIVE, self._dest)
        except OSError:
            return False
        self.last_sent = now
        self.counters.keepalives_sent += 1
        return True

    def drops(self) -> dict[str, int]:
        """Packets dropped, by reason (engine and runtime), only the non-zero ones."""
        out = {r.value: n for r, n in self.engine.drops.items() if n}
        if self.counters.tun_write_drops:
            out["tun_write"] = self.counters.tun_write_drops
        if self.counters.udp_send_drops:
            out["udp_send"] = self.counters.udp_send_drops
        if self.counters.tun_read_drops:
            out["tun_read"] = self.counters.tun_read_drops
        return out

    def traffic(self) -> tuple[int, int, int, int]:
        """(packets in, bytes in, packets out, bytes out) over every child SA of the session."""
        pin, bin_, pout, bout = self._retired
        for child in self.children:
            try:
                s = self.engine.stats(child.spi_in)
            except KeyError:
                continue
            pin += s.packets_in
            bin_ += s.bytes_in
            pout += s.packets_out
            bout += s.bytes_out
        return pin, bin_, pout, bout

    def close(self, *, keep_leak_protection: bool = False) -> list[str]:
        """Stop the data plane and undo every host change; returns undo failures (idempotent).

        ``keep_leak_protection``: leave the leak-protection table (fail-closed) in place."""
        if self.closed:
            return []
        self.closed = True
        c = self.counters
        if self._vnet:
            logger.info(
                "TUN offloads: %d packets read, %d TSO super-packets; %d written in %d batches,"
                " %d GRO writes",
                c.tun_packets_read,
                c.tso_reads,
                c.tun_packets_written,
                c.tun_batches,
                c.gro_writes,
            )
        if self._tun_fd >= 0:
            self._remove_reader(self._tun_fd)
            self._tun_fd = -1
        self._pending = []
        if self._tun is not None:
            self._tun.close()
        self._tun = None
        failures = self.host.restore(keep_leak_protection=keep_leak_protection)
        for failure in failures:
            logger.warning("could not undo: %s", failure)
        return failures


__all__ = ["DropReason", "Tunnel", "TunnelCounters", "TunnelOptions"]
