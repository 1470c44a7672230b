"""A small driver the netns tests run inside a namespace (``ip netns exec NS python -m ...``).

It reads one JSON command per line on stdin and answers one JSON line on stdout, so a test
can let it apply changes, look at the namespace from outside with ``ip -n NS -j``, and then
tell it to restore, exit, or simply SIGKILL it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ikeclient.errors import IkeClientError
from ikeclient.net import HostNetwork, TunDevice, recover_stale, snapshot


def main() -> None:
    host: HostNetwork | None = None
    tuns: list[TunDevice] = []
    for line in sys.stdin:
        request: dict[str, Any] = json.loads(line)
        cmd = request.pop("cmd")
        reply: dict[str, Any] = {"ok": True}
        try:
            if cmd == "open":
                host = HostNetwork.for_connection(
                    request["name"],
                    journal_dir=Path(request["dir"]),
                    dns_backend=request.get("dns_backend", "resolv.conf"),
                )
                reply["journal"] = str(host.journal.path)
            elif cmd == "tun":
                assert host is not None
                tun = host.open_tun(request.get("name"), request.get("mtu", 1400))
                tuns.append(tun)
                reply["name"] = tun.name
            elif cmd == "apply":
                assert host is not None
                applied = host.apply(**request)
                reply["dns_backend"] = applied.dns_backend
                reply["routes"] = [str(r.network) for r in applied.plan.routes]
                path = applied.gateway_path
                reply["gateway_path"] = None if path is None else [path.dev, str(path.gateway)]
            elif cmd == "repin":
                assert host is not None
                reply["pinned"] = host.repin_gateway(request["tun_name"], request["gateway_addr"])
            elif cmd == "restore":
                assert host is not None
                reply["failures"] = host.restore()
            elif cmd == "recover":
                reply["recovered"] = recover_stale(Path(request["dir"]))
            elif cmd == "snapshot":
                reply["snapshot"] = snapshot()
            elif cmd == "exit":
                print(json.dumps(reply), flush=True)
                return
            else:
                raise ValueError(f"unknown command {cmd!r}")
        except IkeClientError as exc:
            reply = {"ok": False, "error": type(exc).__name__, "message": str(exc)}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
