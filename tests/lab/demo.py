"""The main job, on a local lab: ikeclient connects to a real strongSwan gateway through a NAT.

``python -m tests.lab.demo`` (as root; ``scripts/demo.sh`` installs everything first):
builds the four-namespace lab, starts strongSwan as the gateway, runs ``ikeclient up`` in the
client namespace, shows what the gateway sees, disconnects, and tears the lab down.

The ESP data plane (traffic through the tunnel) is not built yet: the demo stops once the IKE
SA and the child SA are up on both sides and says what was negotiated.
"""

from __future__ import annotations

import sys

from tests.lab import GatewayConfig, Lab
from tests.lab.ikeclient import IkeclientProcess, write_profile


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
        client = IkeclientProcess(lab, profile)
        try:
            client.wait_for_output("traffic:", timeout=20)
            print(client.stdout, end="", flush=True)
            _say("the gateway's view (swanctl --list-sas)")
            print(gw.swanctl("--list-sas").stdout, end="")
        finally:
            code = client.stop()
        _say("after Ctrl-C (SIGTERM) the client deleted its SAs:")
        print(client.stdout.splitlines()[-1] if client.stdout else "")
        gw.wait_for_no_sa(timeout=5)
        print(f"gateway SAs left: {len(gw.list_sas())}; ikeclient exit code {code}")
        if client.stderr.strip():
            print(client.stderr, file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
