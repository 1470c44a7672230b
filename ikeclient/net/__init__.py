"""Host-side networking: TUN device, addresses, routes and DNS, each change undo-journaled.

Everything here changes the host only through :class:`UndoJournal`, so a disconnect, a
signal or the next start after a crash (:func:`recover_stale`) puts the host back.
This package never imports ``ikeclient.ike`` or ``ikeclient.esp``: it takes plain values.
"""

from __future__ import annotations

from ikeclient.net.dns import apply_dns, render_resolv_conf, resolved_available
from ikeclient.net.host import (
    AppliedNetwork,
    HostNetwork,
    NetworkPlan,
    PlannedRoute,
    check_privileges,
    plan_network,
)
from ikeclient.net.journal import DEFAULT_JOURNAL_DIR, UndoJournal, read_journal, recover_stale
from ikeclient.net.routes import PathInfo, route_get, snapshot
from ikeclient.net.tun import TunDevice

__all__ = [
    "DEFAULT_JOURNAL_DIR",
    "AppliedNetwork",
    "HostNetwork",
    "NetworkPlan",
    "PathInfo",
    "PlannedRoute",
    "TunDevice",
    "UndoJournal",
    "apply_dns",
    "check_privileges",
    "plan_network",
    "read_journal",
    "recover_stale",
    "render_resolv_conf",
    "resolved_available",
    "route_get",
    "snapshot",
]
