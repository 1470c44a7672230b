"""What leaves the client namespace outside the tunnel: a capture and an application to watch.

- :class:`Capture`: ``dumpcap -i any`` in the client namespace (LINUX_SLL2 frames, which
  carry the interface index and the direction), written to a pcapng file in the lab's work
  directory, read back with ``tshark -T fields`` as :class:`Frame` rows.
- :class:`LeakyApp`: an application in the client namespace that every ``interval`` s (for
  at most ``seconds``) sends one UDP datagram of each :data:`KINDS`: through where a full tunnel
  goes (the server, another address beyond the default route), to the LAN (IPv4 and IPv6),
  to IPv6 beyond the LAN, from a socket bound to the uplink, and a DNS query to the first
  ``nameserver`` of ``/etc/resolv.conf`` as the namespace sees it at that moment. Every
  payload (and the DNS query's name) carries :data:`MARKER`, which never appears in the
  clear inside IKE or ESP; it counts what each send returned.
- :func:`outside_the_tunnel`: the outbound frames on the uplinks that are neither IKE/ESP
  to the gateway nor what the link itself needs (ARP, IPv6 neighbour discovery, DHCP).

Everything is bounded: dumpcap stops with the test (and has ``-a duration``), the
application after ``seconds`` or at SIGTERM.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.lab.strongswan import LabError
from tests.lab.topology import Lab

__all__ = ["KINDS", "MARKER", "Capture", "Frame", "LeakyApp", "outside_the_tunnel"]

MARKER = b"LEAKTEST"

#: The IPv6 addresses of the client's uplink, its router, and one beyond the LAN.
CLIENT6 = "2001:2:0:1::2"
ROUTER6 = "2001:2:0:1::1"
OUTSIDE6 = "2001:2:0:99::1"
#: An IPv4 address beyond the LAN that only the default route reaches.
OUTSIDE4 = "198.18.77.7"

KINDS = ("server4", "other4", "lan4", "bound4", "v6", "lan6", "dns")

_PKTTYPE_OUTGOING = 4  # sll.pkttype: sent by this host


def enable_ipv6_uplink(lab: Lab) -> None:
    """The lab runs without IPv6; give the client's uplink an IPv6 address and a default
    route, and its router a fixed neighbour entry (the NAT namespace has no IPv6), so an
    IPv6 datagram leaves by the uplink unless something stops it."""
    conf = f"/proc/sys/net/ipv6/conf/{lab.client_if}"
    script = f"echo 0 > {conf}/accept_dad && echo 0 > {conf}/disable_ipv6"
    lab.run(lab.client_ns, ["sh", "-c", script], check=True)
    mac = lab.run(lab.nat_ns, ["cat", f"/sys/class/net/{lab.nat_inside_if}/address"], check=True)
    neigh = ["ip", "-6", "neigh", "replace", ROUTER6, "lladdr", mac.stdout.strip()]
    for argv in (
        ["ip", "-6", "addr", "add", f"{CLIENT6}/64", "dev", lab.client_if, "nodad"],
        [*neigh, "dev", lab.client_if, "nud", "permanent"],
        ["ip", "-6", "route", "add", "default", "via", ROUTER6, "dev", lab.client_if],
    ):
        lab.run(lab.client_ns, argv, check=True)


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured frame, as tshark decoded it (first occurrence of each field)."""

    number: int
    time: float  # seconds since the epoch (time.time())
    ifindex: int
    outgoing: bool
    protocols: str  # e.g. "sll:ethertype:ip:udp:esp"
    src: str  # IPv4 or IPv6 source ("" for ARP)
    dst: str
    sport: int | None  # UDP ports
    dport: int | None
    icmpv6_type: int | None
    marked: bool  # the payload carries MARKER (an application datagram in the clear)

    def __str__(self) -> str:
        ports = f" {self.sport}->{self.dport}" if self.sport is not None else ""
        way = "out" if self.outgoing else "in"
        return f"#{self.number} t={self.time:.3f} if={self.ifindex} {way} {self.protocols} " + (
            f"{self.src}->{self.dst}{ports}" + (" MARKED" if self.marked else "")
        )


_FIELDS = (
    "frame.number", "frame.time_epoch", "sll.ifindex", "sll.pkttype", "frame.protocols",
    "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "udp.srcport", "udp.dstport", "icmpv6.type",
)  # fmt: skip


def _int(text: str) -> int | None:
    return int(text) if text else None


class Capture:
    """``dumpcap -i any`` in ``ns`` into ``<workdir>/<name>.pcapng`` until :meth:`stop`."""

    def __init__(self, lab: Lab, name: str = "uplink", *, seconds: int = 600) -> None:
        self.lab = lab
        self.path: Path = lab.workdir / f"{name}.pcapng"
        self._log = (lab.workdir / f"{name}.dumpcap.txt").open("w")
        argv = ["dumpcap", "-q", "-i", "any", "-y", "LINUX_SLL2", "-a", f"duration:{seconds}"]
        argv += ["-w", str(self.path)]
        self.proc = lab.popen(lab.client_ns, argv, stderr=self._log)
        deadline = time.monotonic() + 10
        # dumpcap writes the file's header once it captures.
        while not (self.path.exists() and self.path.stat().st_size > 0):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise LabError(f"dumpcap did not start: {self._stderr()}")
            time.sleep(0.05)
        time.sleep(0.2)

    def _stderr(self) -> str:
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")

    def stop(self) -> None:
        """Stop dumpcap by PID (SIGTERM: it finishes the file)."""
        self.lab.stop_process(self.proc)
        self._log.close()

    def frames(self) -> list[Frame]:
        """Every frame of the finished capture."""
        argv = ["tshark", "-n", "-r", str(self.path), "-T", "fields", "-E", "separator=\t"]
        argv += ["-E", "occurrence=f"]
        for field in _FIELDS:
            argv += ["-e", field]
        res = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if res.returncode != 0:
            raise LabError(f"tshark -r {self.path}: {res.stderr.strip()}")
        marked = self._marked()
        frames = []
        for line in res.stdout.splitlines():
            f = line.split("\t")
            f += [""] * (len(_FIELDS) - len(f))
            number = int(f[0])
            frames.append(
                Frame(
                    number=number,
                    time=float(f[1]),
                    ifindex=int(f[2] or -1),
                    outgoing=f[3] == str(_PKTTYPE_OUTGOING),
                    protocols=f[4],
                    src=f[5] or f[7],
                    dst=f[6] or f[8],
                    sport=_int(f[9]),
                    dport=_int(f[10]),
                    icmpv6_type=_int(f[11]),
                    marked=number in marked,
                )
            )
        return frames

    def _marked(self) -> set[int]:
        argv = ["tshark", "-n", "-r", str(self.path), "-Y", f'frame contains "{MARKER.decode()}"']
        argv += ["-T", "fields", "-e", "frame.number"]
        res = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if res.returncode != 0:
            raise LabError(f"tshark -r {self.path}: {res.stderr.strip()}")
        return {int(x) for x in res.stdout.split()}


def interface_indexes(lab: Lab, names: Iterable[str]) -> dict[int, str]:
    """ifindex → name of the client namespace's interfaces among ``names``."""
    res = lab.run(lab.client_ns, ["ip", "-j", "link", "show"], check=True)
    wanted = set(names)
    return {x["ifindex"]: x["ifname"] for x in json.loads(res.stdout) if x["ifname"] in wanted}


def in_windows(t: float, windows: Sequence[tuple[float, float]]) -> bool:
    return any(start <= t <= end for start, end in windows)


def outside_the_tunnel(
    frames: Iterable[Frame],
    *,
    uplinks: Iterable[int],
    client_addrs: Iterable[str],
    gateway: str,
    ports: Iterable[int] = (500, 4500),
) -> list[Frame]:
    """Outbound frames on the ``uplinks`` (ifindexes) that are not IKE or ESP-in-UDP from our
    addresses to the gateway's ports, ARP, IPv6 neighbour discovery or DHCP; and any frame
    (either way) that carries :data:`MARKER` in the clear."""
    uplink_set, ours, allowed_ports = set(uplinks), set(client_addrs), set(ports)
    found = []
    for frame in frames:
        if frame.ifindex not in uplink_set:
            continue
        if frame.marked:
            found.append(frame)
            continue
        if not frame.outgoing:
            continue
        layers = frame.protocols.split(":")
        if "arp" in layers:
            continue
        if frame.icmpv6_type is not None and 133 <= frame.icmpv6_type <= 137:
            continue  # router/neighbour solicitations and advertisements, redirects
        if "udp" in layers and (frame.sport, frame.dport) in ((68, 67), (546, 547)):
            continue  # DHCP, DHCPv6
        if (
            "udp" in layers
            and frame.src in ours
            and frame.dst == gateway
            and frame.dport in allowed_ports
        ):
            continue
        found.append(frame)
    return found


SENDER = textwrap.dedent(
    """
    import json, signal, socket, sys, time
    (seconds, interval, server4, other4, lan4, uplink, v6, lan6) = sys.argv[1:9]
    seconds, interval = float(seconds), float(interval)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    bound = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bound.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, uplink.encode())
    for s in (s4, s6, bound):
        s.setblocking(False)
    counts = {}

    def nameserver():
        try:
            with open("/etc/resolv.conf") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 2 and parts[0] == "nameserver":
                        return parts[1]
        except OSError:
            pass
        return None

    def query(seq):
        name = b"".join(bytes([len(x)]) + x for x in (b"LEAKTEST-%d" % seq, b"example", b""))
        return seq.to_bytes(2, "big") + b"\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00" + (
            name + b"\\x00\\x01\\x00\\x01")

    def send(kind, sock, payload, addr):
        try:
            sock.sendto(payload, addr)
            result = "sent"
        except OSError as exc:
            result = exc.strerror or str(exc.errno)
        counts.setdefault(kind, {}).setdefault(result, 0)
        counts[kind][result] += 1

    print("sending", flush=True)
    start, seq = time.monotonic(), 0
    while not stop and time.monotonic() - start < seconds and seq < seconds / interval:
        seq += 1
        data = lambda kind: b"LEAKTEST %s %d" % (kind.encode(), seq)
        send("server4", s4, data("server4"), (server4, 7777))
        send("other4", s4, data("other4"), (other4, 7777))
        send("lan4", s4, data("lan4"), (lan4, 7777))
        send("bound4", bound, data("bound4"), (server4, 7778))
        send("v6", s6, data("v6"), (v6, 7777))
        send("lan6", s6, data("lan6"), (lan6, 7777))
        ns = nameserver()
        if ns is None:
            counts.setdefault("dns", {}).setdefault("no nameserver", 0)
            counts["dns"]["no nameserver"] += 1
        else:
            send("dns", s6 if ":" in ns else s4, query(seq & 0xFFFF), (ns, 53))
        time.sleep(max(0.0, start + seq * interval - time.monotonic()))
    print(json.dumps(counts), flush=True)
    """
)


class LeakyApp:
    """:data:`SENDER` in the client namespace: each of :data:`KINDS` every ``interval`` s."""

    def __init__(self, lab: Lab, *, seconds: float, interval: float = 0.1) -> None:
        self.lab = lab
        self.seconds = seconds
        argv = [sys.executable, "-c", SENDER, str(seconds), str(interval), lab.server_addr]
        argv += [OUTSIDE4, lab.nat_inside_addr, lab.client_if, OUTSIDE6, ROUTER6]
        self.proc = lab.popen(lab.client_ns, argv, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "sending":
            raise LabError("the sending application did not start")

    def stop(self) -> dict[str, Any]:
        """Stop it (SIGTERM, by PID) and return what its sends returned, per kind."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.lab.stop_process(self.proc)
            raise LabError("the sending application did not stop") from None
        counts: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return counts
