"""TUN offloads against the real kernel, in a private network namespace.

A TUN opened with ``IFF_VNET_HDR`` and TSO: reads carry a virtio header (and a UDP
datagram's checksum left to us is completed right); coalesced TCP super-packets written
to it are parsed and checksum-verified by the kernel's TCP stack, which answers a
segment to a listening port with a RST only if the checksum verified.
"""

from __future__ import annotations

import textwrap

from tests.net.conftest import Netns

CODE = textwrap.dedent(
    """
    import os, select, socket, subprocess, struct
    from ikeclient.net import TunDevice
    from ikeclient.esp.offload import (
        ZERO_VNET_HDR, coalesce, from_tun, unpack_vnet_header, GSO_TCPV4, NEEDS_CSUM,
    )
    from scapy.layers.inet import IP, TCP, UDP

    LOCAL, PEER = "10.77.0.1", "10.77.0.2"

    def ip(*args):
        subprocess.run(["ip", *args], check=True)

    def read_packet(tun, timeout=2.0):
        while True:
            ready, _, _ = select.select([tun.fileno()], [], [], timeout)
            if not ready:
                return None
            data = tun.read()
            if data[10] >> 4 == 4:  # skip IPv6 router solicitations and the like
                return data

    def csum_errors():
        for line in open("/proc/net/snmp"):
            if line.startswith("Tcp:") and "InCsumErrors" not in line:
                return int(line.split()[-1])

    with TunDevice(None, "iktest0", 1400, offload=True, tso=True) as tun:
        print("vnet", tun.vnet_hdr, "tso", tun.tso)
        ip("addr", "add", LOCAL + "/24", "dev", "iktest0")
        # UDP out through the TUN: the kernel may leave the checksum to us (NEEDS_CSUM).
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.sendto(b"x" * 333, (PEER, 9999))
        data = read_packet(tun)
        header = unpack_vnet_header(data)
        (packet,) = from_tun(data)
        udp = IP(packet)
        again = IP(packet)
        del again[UDP].chksum
        print("udp", header.flags & NEEDS_CSUM, udp[UDP].chksum == IP(bytes(again))[UDP].chksum)

        listener = socket.socket()
        listener.bind((LOCAL, 5001))
        listener.listen()

        def segments(start, count, size=1000):
            out = []
            for i in range(count):
                seg = IP(src=PEER, dst=LOCAL, id=i, flags="DF") / TCP(
                    sport=40000, dport=5001, seq=start + i * size, ack=777, flags="A"
                ) / (bytes([i]) * size)
                out.append(bytes(seg))
            return out

        def rst_for(buffers):
            before = csum_errors()
            for buf in buffers:
                os.write(tun.fileno(), buf)
            while True:
                reply = read_packet(tun, 1.0)
                if reply is None:
                    return None, csum_errors() - before
                pkt = IP(reply[10:])
                if TCP in pkt and pkt[TCP].flags & 0x04:
                    return pkt[TCP].seq, csum_errors() - before

        for partial in (False, True):
            buffers = coalesce(segments(1000, 8), partial=partial)
            h = unpack_vnet_header(buffers[0])
            print("coalesced", len(buffers), h.gso_type == GSO_TCPV4, h.gso_size)
            print("rst", partial, rst_for(buffers))

        # a corrupt segment spoils the super-packet: the kernel drops it, no RST
        bad = segments(1000, 8)
        bad[5] = bad[5][:-1] + bytes([bad[5][-1] ^ 0x55])
        print("corrupt", rst_for(coalesce(bad)))
        # a plain packet with a zero virtio header still works
        print("plain", rst_for([ZERO_VNET_HDR + segments(5000, 1)[0]]))
    """
)


def test_tun_offloads_with_the_kernel(netns: Netns) -> None:
    result = netns.python(CODE)
    assert result.returncode == 0, result.stderr + result.stdout
    lines = result.stdout.splitlines()
    assert "vnet True tso True" in lines
    assert any(line.startswith("udp ") and line.endswith(" True") for line in lines), lines
    assert lines.count("coalesced 1 True 1000") == 2
    # RST seq = the segment's ACK number: the kernel parsed and verified the super-packet
    assert "rst False (777, 0)" in lines
    assert "rst True (777, 0)" in lines
    corrupt = next(line for line in lines if line.startswith("corrupt"))
    assert corrupt.startswith("corrupt (None, ") and not corrupt.endswith(", 0)"), corrupt
    assert "plain (777, 0)" in lines
