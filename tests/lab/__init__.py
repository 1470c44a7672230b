"""Network-namespace lab with strongSwan for interop tests and benchmarks.

Usage (as root)::

    from tests.lab import Lab, GatewayConfig, ClientConfig

    with Lab() as lab:
        gw = lab.start_gateway(GatewayConfig(psk="secret"))
        ref = lab.start_reference_client(ClientConfig(psk="secret"))
        ref.initiate()
        assert lab.ping(lab.client_ns, lab.server_addr, count=3, wait=2)
        print(gw.list_sas())

Leftovers of a killed run: ``python -m tests.lab cleanup``.
"""

from tests.lab.strongswan import (
    ClientConfig,
    ConnectTiming,
    GatewayConfig,
    LabError,
    LogLine,
    SaInfo,
    StrongSwanClient,
    StrongSwanDaemon,
    StrongSwanGateway,
    have_strongswan,
    parse_connect_timings,
    parse_log_lines,
    parse_vici_pretty,
)
from tests.lab.topology import LAB_PREFIX, Lab, cleanup_stale, lab_namespaces

__all__ = [
    "LAB_PREFIX",
    "ClientConfig",
    "ConnectTiming",
    "GatewayConfig",
    "Lab",
    "LabError",
    "LogLine",
    "SaInfo",
    "StrongSwanClient",
    "StrongSwanDaemon",
    "StrongSwanGateway",
    "cleanup_stale",
    "have_strongswan",
    "lab_namespaces",
    "parse_connect_timings",
    "parse_log_lines",
    "parse_vici_pretty",
]
