"""The main job, on a local lab: ikeclient connects to a real strongSwan gateway through a NAT.

``python -m tests.lab.demo`` (as root; ``scripts/demo.sh`` installs everything first):
builds the four-namespace lab, starts strongSwan as the gateway, runs ``ikeclient up`` in the
client namespace, shows what the gateway sees, disconnects, and tears the lab down.

While connected it pings the server behind the gateway through the tunnel, sends 20 MB over
TCP, and shows the byte counters on both sides; after the disconnect the client namespace's
addresses, routes and resolv.conf are compared with a snapshot taken before.
"""

from __future__ import annotations

import subprocess
import sys
import time

from ikeclient.net.routes import snapshot
from tests.lab import GatewayConfig, Lab
from tests.lab.ikeclient import IkeclientProcess, write_profile

TCP_BYTES = 20 * 1024 * 1024
SINK = (
    "import socket,sys;s=socket.create_server((sys.argv[1],5001));s.settimeout(30);"
    "c,_=s.accept();c.settimeout(30);n=0\n"
    "while (b:=c.recv(65536)): n+=len(b)\n"
    "print(n)"
)
SOURCE = (
    "import socket,sys;d=bytes(int(sys.argv[2]));"
    "s=socket.create_connection((sys.argv[1],5001),timeout=30);s.sendall(d);s.close()"
)


def _say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def main() -> int:
    with Lab() as lab:
        _say(
            f"lab {lab.prefix}: client {lab.client_addr} -> NAT {lab.nat_outside_addr} -> "
            f"gateway {lab.gateway_addr} -> server subnet {lab.server_subnet}"
        )
        reachable = lab.ping(lab.client_ns, lab.server_addr, count=1, wait=1, deadline=2)
        print(f"server {lab.server_addr} reachable from the client without VPN: {reachable}")
        gw = lab.start_gateway(GatewayConfig())
        print("strongSwan gateway started (IKEv2, PSK, virtual IP pool 198.18.200.0/24)")
        profile = write_profile(lab, "lab")
        _say(f"ikeclient up {profile.name}  (profile:)")
        print(profile.read_text().replace(str(lab.workdir) + "/", ""), end="")
        _say("output of ikeclient")
        before = snapshot(lab.client_ns)
        client = IkeclientProcess(lab, profile)
        try:
            client.wait_for_output("tunnel up", timeout=20)
            print(client.stdout, end="", flush=True)
            _say(f"ping {lab.server_addr} through the tunnel")
            res = lab.run(lab.client_ns, ["ping", "-n", "-c", "3", "-i", "0.2", lab.server_addr])
            print(res.stdout, end="")
            _say(f"TCP: {TCP_BYTES // 2**20} MB from the client to the server")
            sink = lab.popen(
                lab.server_ns,
                [sys.executable, "-c", SINK, lab.server_addr],
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(0.3)
            t0 = time.monotonic()
            lab.run(
                lab.client_ns,
                [sys.executable, "-c", SOURCE, lab.server_addr, str(TCP_BYTES)],
                timeout=60,
            )
            assert sink.stdout is not None
            got = int(sink.stdout.readline() or 0)
            took = time.monotonic() - t0
            print(
                f"server received {got} bytes in {took:.2f} s ({got * 8 / took / 1e6:.0f} Mbit/s)"
            )
            _say("the gateway's view (swanctl --list-sas)")
            print(gw.swanctl("--list-sas").stdout, end="")
        finally:
            code = client.stop()
        _say("after Ctrl-C (SIGTERM) the client deleted its SAs and restored the host:")
        print("\n".join(client.stdout.splitlines()[-4:]))
        gw.wait_for_no_sa(timeout=5)
        same = snapshot(lab.client_ns) == before
        print(f"gateway SAs left: {len(gw.list_sas())}; ikeclient exit code {code}")
        print(f"client addresses, routes and resolv.conf as before: {same}")
        reachable = lab.ping(lab.client_ns, lab.server_addr, count=1, wait=1, deadline=2)
        print(f"server reachable without the tunnel: {reachable}")
        if client.stderr.strip():
            print(client.stderr, file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
