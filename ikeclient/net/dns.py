"""DNS servers and domains from the gateway's CP reply (RFC 7296 §3.15.1, RFC 8598).

Two backends, chosen per connection:

* ``resolved`` — when systemd-resolved runs (``/run/systemd/resolve/`` exists and
  ``resolvectl`` answers): per-link servers on the TUN and routing domains
  (``~corp.example`` for RFC 8598 split DNS; in a full tunnel also ``~.`` and
  ``default-route yes``, so every query that no other link claims by a longer routing
  domain goes to the gateway's servers; a split tunnel sets ``default-route no``).
  Undo: ``resolvectl revert LINK``. Other links' settings are never touched.
* ``resolv.conf`` — otherwise: ``/etc/resolv.conf`` is rewritten with our
  nameservers and search domains first, the original lines after them; in a full
  tunnel the original ``nameserver`` lines are commented out, so only the tunnel's
  servers are asked. The journal keeps the original bytes; undo writes them back.
  The file is always written in place (never replaced by rename): it may be a bind
  mount (``ip netns exec``) and its inode identifies it for the undo.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from ikeclient.errors import DnsError
from ikeclient.net._command import Runner, check, run_command
from ikeclient.net.journal import UndoJournal
from ikeclient.net.undo import RESOLV_CONF, encode_bytes, write_in_place

RESOLVED_RUNTIME_DIR = Path("/run/systemd/resolve")

DnsBackend = Literal["auto", "resolved", "resolv.conf"]
AppliedBackend = Literal["resolved", "resolv.conf", "none"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def marker_line(name: str) -> str:
    """The first line of a resolv.conf we wrote (the undo recognises our file by it)."""
    return f"# ikeclient: DNS of connection {name}; the original returns on disconnect\n"


def resolved_available(runner: Runner | None = None) -> bool:
    """True when systemd-resolved runs here and ``resolvectl`` talks to it."""
    if not RESOLVED_RUNTIME_DIR.is_dir():
        return False
    try:
        result = (runner or run_command)(["resolvectl", "status", "--no-pager"])
    except Exception:
        return False
    return result.returncode == 0


def _clean_domains(domains: Sequence[str]) -> list[str]:
    cleaned: list[str] = []
    for domain in domains:
        name = domain.strip().strip(".").lower()
        if not name:
            continue
        if any(ch.isspace() or ch in "#;~" for ch in name):
            raise DnsError(f"refusing DNS domain {domain!r} from the gateway")
        if name not in cleaned:
            cleaned.append(name)
    return cleaned


def resolvectl_commands(
    link: str,
    servers: Sequence[IPAddress],
    domains: Sequence[str],
    *,
    full_tunnel: bool,
) -> list[list[str]]:
    """The resolvectl calls that give ``link`` our servers and routing domains."""
    commands: list[list[str]] = []
    if servers:
        commands.append(["resolvectl", "dns", link, *(str(s) for s in servers)])
    routing = [f"~{d}" for d in _clean_domains(domains)]
    if full_tunnel:
        routing.append("~.")
    if routing:
        commands.append(["resolvectl", "domain", link, *routing])
    if servers:
        # Split tunnel: only the routing domains go to the gateway's servers.
        commands.append(["resolvectl", "default-route", link, "yes" if full_tunnel else "no"])
    return commands


def render_resolv_conf(
    original: str,
    servers: Sequence[IPAddress],
    domains: Sequence[str],
    *,
    name: str,
    full_tunnel: bool = False,
) -> str:
    """Our resolv.conf: marker, our nameservers, our search domains first, then the original.

    In a full tunnel the original nameservers are commented out: every query goes to the
    tunnel's servers, none to the local network's (the journal keeps the original file).
    """
    ours = _clean_domains(domains)
    kept: list[str] = []
    old_search: list[str] = []
    for line in original.splitlines():
        words = line.split()
        if full_tunnel and words and words[0] == "nameserver":
            kept.append(f"# {line}  (not used while the full tunnel is up)")
        elif words and words[0] in ("search", "domain"):
            old_search = words[1:]  # the last search/domain line wins, as in glibc
            kept.append(f"# {line}  (merged into the search line above)")
        elif line.startswith(marker_line(name).rstrip("\n")):
            continue
        else:
            kept.append(line)
    lines = [marker_line(name).rstrip("\n")]
    lines += [f"nameserver {server}" for server in servers]
    search = ours + [d for d in old_search if d.strip(".").lower() not in ours]
    if search:
        lines.append("search " + " ".join(search))
    lines += kept
    return "\n".join(lines) + "\n"


def apply_resolv_conf(
    journal: UndoJournal,
    servers: Sequence[IPAddress],
    domains: Sequence[str],
    *,
    path: Path = RESOLV_CONF,
    full_tunnel: bool = False,
) -> None:
    """Rewrite ``path`` in place with our servers first (only ours in a full tunnel); the
    journal keeps the original."""
    try:
        original: bytes | None = path.read_bytes()
        st = path.stat()
        inode: list[int] | None = [st.st_dev, st.st_ino]
    except FileNotFoundError:
        original, inode = None, None
    except OSError as exc:
        raise DnsError(f"cannot read {path}: {exc.strerror}") from None
    text = (original or b"").decode("utf-8", "surrogateescape")
    new = render_resolv_conf(
        text, servers, domains, name=journal.name, full_tunnel=full_tunnel
    ).encode("utf-8", "surrogateescape")
    with journal.change(
        "file_restore",
        path=str(path),
        original=encode_bytes(original) if original is not None else None,
        written=encode_bytes(new),
        marker=marker_line(journal.name),
        inode=inode,
    ):
        try:
            write_in_place(path, new)
        except OSError as exc:
            raise DnsError(
                f"cannot write {path}: {exc.strerror}"
                + ("; run as root" if exc.errno in (1, 13) else "")
            ) from None
        if original is None:
            os.chmod(path, 0o644)


def apply_resolved(
    journal: UndoJournal,
    link: str,
    servers: Sequence[IPAddress],
    domains: Sequence[str],
    *,
    full_tunnel: bool,
    runner: Runner | None = None,
) -> None:
    """Per-link DNS through systemd-resolved; undo is ``resolvectl revert LINK``."""
    commands = resolvectl_commands(link, servers, domains, full_tunnel=full_tunnel)
    if not commands:
        return
    with journal.change("resolvectl_revert", link=link):
        for argv in commands:
            check(argv, DnsError, runner)


def apply_dns(
    journal: UndoJournal,
    link: str,
    servers: Sequence[IPAddress],
    domains: Sequence[str],
    *,
    full_tunnel: bool,
    backend: DnsBackend = "auto",
    resolv_conf: Path = RESOLV_CONF,
    runner: Runner | None = None,
) -> AppliedBackend:
    """Apply the gateway's DNS settings; returns the backend used (``none``: nothing to do)."""
    if not servers:
        return "none"  # domains without servers to ask would route queries nowhere
    if backend == "auto":
        backend = "resolved" if resolved_available(runner) else "resolv.conf"
    if backend == "resolved":
        apply_resolved(journal, link, servers, domains, full_tunnel=full_tunnel, runner=runner)
        return "resolved"
    apply_resolv_conf(journal, servers, domains, path=resolv_conf, full_tunnel=full_tunnel)
    return "resolv.conf"
