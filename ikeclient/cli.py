"""The ``ikeclient`` command (typer).

Every failure a person can cause or meet (a profile typo, a missing secret,
a wrong PSK, an unreachable gateway) ends as one line on stderr and a
documented exit code (``ikeclient.exitcodes``), never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from ikeclient import __version__
from ikeclient.config.profile import Profile, load_profile
from ikeclient.errors import ConfigError, IkeClientError
from ikeclient.exitcodes import ExitCode, exit_code_for
from ikeclient.ike.events import (
    ChildSaDeleted,
    ChildSaEstablished,
    ConfigReceived,
    IkeEvent,
    IkeSaClosed,
    IkeSaEstablished,
)
from ikeclient.ike.v2.settings import Ikev2Settings
from ikeclient.net.host import check_privileges
from ikeclient.net.journal import DEFAULT_JOURNAL_DIR, recover_stale
from ikeclient.runtime.session import IkeSession
from ikeclient.runtime.tunnel import TunnelOptions
from ikeclient.secretstore import load_psk

app = typer.Typer(
    name="ikeclient",
    help="Userspace IPsec VPN client: IKEv2 with userspace ESP over UDP 4500.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)
profile_app = typer.Typer(help="Inspect and check connection profiles.", no_args_is_help=True)
app.add_typer(profile_app, name="profile")

logger = logging.getLogger("ikeclient")


def _config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ikeclient" / "profiles"


def resolve_profile(name_or_path: str) -> Profile:
    """Load a profile given as a file path, or by name from ``~/.config/ikeclient/profiles``."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return load_profile(path)
    candidate = _config_dir() / f"{name_or_path}.toml"
    if candidate.is_file():
        return load_profile(candidate)
    raise ConfigError(f"profile {name_or_path!r} not found (neither a file nor {candidate})")


def settings_for(profile: Profile, psk: bytes) -> Ikev2Settings:
    """The connection settings a profile describes."""
    return Ikev2Settings(
        local_id=profile.local_id,
        psk=psk,
        ike_proposals=profile.ike_proposals,
        esp_proposals=profile.esp_proposals,
        remote_id=profile.remote_id,
        send_remote_id=profile.send_remote_id,
        remote_ts=profile.remote_ts,
        request_virtual_ip=profile.request_virtual_ip,
        request_ipv6=profile.request_ipv6,
        force_encapsulation=profile.force_encapsulation,
        retry_other_ke_group=profile.retry_other_ke_group,
        retransmit=profile.retransmit,
        child_name=profile.name,
    )


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(name)s: %(message)s", stream=sys.stderr)


def _fail(error: BaseException) -> typer.Exit:
    code = exit_code_for(error)
    typer.echo(f"ikeclient: error: {error}", err=True)
    return typer.Exit(int(code))


class _Reporter:
    """Prints progress and a summary of what was negotiated."""

    def __init__(self, start: float) -> None:
        self._start = start
        self.child_ready = asyncio.Event()
        self.session: IkeSession | None = None

    def _ms(self) -> str:
        return f"{(time.monotonic() - self._start) * 1000:8.1f} ms"

    def __call__(self, event: IkeEvent) -> None:
        if isinstance(event, IkeSaEstablished):
            typer.echo(
                f"{self._ms()}  IKE SA established with {event.remote_identity} "
                f"({event.algorithms})"
            )
            nat = "yes" if event.local_behind_nat else "no"
            encap = f"UDP {event.remote.port}" if event.udp_encapsulation else "none"
            typer.echo(
                f"{'':11}  local {event.local.host}:{event.local.port}  "
                f"gateway {event.remote.host}:{event.remote.port}  behind NAT: {nat}  "
                f"encapsulation: {encap}"
            )
        elif isinstance(event, ConfigReceived):
            addrs = ", ".join(str(a) for a in event.addresses) or "none"
            dns = ", ".join(str(a) for a in event.dns_servers) or "none"
            typer.echo(f"{'':11}  virtual IP: {addrs}  DNS: {dns}")
            if event.subnets:
                typer.echo(f"{'':11}  subnets: {', '.join(str(s) for s in event.subnets)}")
            if event.dns_domains:
                typer.echo(f"{'':11}  DNS domains: {', '.join(event.dns_domains)}")
        elif isinstance(event, ChildSaEstablished):
            self.child_ready.set()
            typer.echo(
                f"{self._ms()}  child SA {event.name} established ({event.algorithms}), "
                f"SPIs in {event.spi_in:08x} out {event.spi_out:08x}"
            )
            local = ", ".join(str(t) for t in event.local_ts)
            remote = ", ".join(str(t) for t in event.remote_ts)
            typer.echo(f"{'':11}  traffic: {local} <=> {remote}")
            tunnel = self.session.tunnel if self.session is not None else None
            if tunnel is not None and tunnel.tun_name is not None:
                routes = ", ".join(str(r) for r in tunnel.routes) or "none"
                typer.echo(
                    f"{self._ms()}  tunnel up: {tunnel.tun_name} mtu {tunnel.mtu}, "
                    f"routes {routes}, DNS via {tunnel.dns_backend}"
                )
        elif isinstance(event, ChildSaDeleted):
            typer.echo(f"{self._ms()}  child SA {event.spi_in:08x} deleted: {event.reason}")
        elif isinstance(event, IkeSaClosed) and event.error is None:
            typer.echo(f"{self._ms()}  IKE SA closed: {event.reason}")


def _summary(session: IkeSession) -> None:
    tunnel = session.tunnel
    if tunnel is None or not tunnel.ever_up:
        return
    pin, bin_, pout, bout = tunnel.traffic()
    typer.echo(
        f"{'':11}  traffic: in {pin} packets / {bin_} bytes, out {pout} packets / {bout} bytes"
    )
    drops = tunnel.drops()
    if drops:
        typer.echo(f"{'':11}  dropped: " + ", ".join(f"{k} {v}" for k, v in sorted(drops.items())))


async def _run_up(profile: Profile, psk: bytes, once: bool, state_dir: Path) -> IkeSaClosed:
    reporter = _Reporter(time.monotonic())
    options = TunnelOptions(
        name=profile.name,
        state_dir=state_dir,
        dns_backend=profile.dns,
        path_mtu=profile.path_mtu,
        keepalive_interval=profile.nat_keepalive,
        replay_window=profile.replay_window,
    )
    session = IkeSession(
        settings_for(profile, psk),
        profile.gateway,
        profile.port,
        on_event=reporter,
        tunnel=options,
    )
    reporter.session = session
    typer.echo(f"connecting to {profile.gateway} port {profile.port} (profile {profile.name})")
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await session.start()
        waits = {
            asyncio.ensure_future(session.wait_closed()),
            asyncio.ensure_future(stop.wait()),
        }
        if once:
            waits.add(asyncio.ensure_future(reporter.child_ready.wait()))
        _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if stop.is_set():
            await session.close("closed by user (signal)")
        elif reporter.child_ready.is_set() and session.result is None:
            typer.echo("connected; closing as --once asks")
            await session.close("closed by user (--once)")
        result = await session.wait_closed()
        _summary(session)
        return result
    finally:
        session.shutdown()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


@app.command("up")
def up(
    profile: Annotated[
        str, typer.Argument(help="Profile file, or name in ~/.config/ikeclient/profiles.")
    ],
    once: Annotated[
        bool, typer.Option("--once", help="Connect, report what was negotiated, then disconnect.")
    ] = False,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="-v info, -vv debug.")
    ] = 0,
    state_dir: Annotated[
        Path, typer.Option("--state-dir", help="Where the undo journal of host changes is kept.")
    ] = DEFAULT_JOURNAL_DIR,
) -> None:
    """Connect to the gateway of PROFILE and stay connected until Ctrl-C.

    Brings up a TUN interface with the virtual IP, the routes and the DNS servers the
    gateway hands out, and puts everything back on disconnect (after a crash: at the
    next start). Needs CAP_NET_ADMIN (root).

    Example: sudo ikeclient up ./profiles/lab.toml
    """
    _setup_logging(verbose)
    try:
        prof = resolve_profile(profile)
        psk = load_psk(prof)
        check_privileges()
        for name in recover_stale(state_dir):
            typer.echo(f"restored the host changes left by an earlier run that died ({name})")
        result = asyncio.run(_run_up(prof, psk, once, state_dir))
    except IkeClientError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    if result.error is not None:
        raise _fail(result.error)


@app.command("connect", hidden=True)
def connect(
    profile: Annotated[str, typer.Argument()],
    once: Annotated[bool, typer.Option("--once")] = False,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True)] = 0,
    state_dir: Annotated[Path, typer.Option("--state-dir")] = DEFAULT_JOURNAL_DIR,
) -> None:
    """Alias of ``up``."""
    up(profile, once, verbose, state_dir)


@profile_app.command("validate")
def profile_validate(
    profile: Annotated[str, typer.Argument(help="Profile file or name.")],
) -> None:
    """Check a profile and print what it asks for.

    Example: ikeclient profile validate ./profiles/lab.toml
    """
    try:
        prof = resolve_profile(profile)
    except IkeClientError as exc:
        raise _fail(exc) from None
    typer.echo(f"{prof.path}: ok")
    typer.echo(f"  gateway      {prof.gateway} port {prof.port}")
    typer.echo(f"  local id     {prof.local_id}")
    typer.echo(f"  remote id    {prof.remote_id if prof.remote_id else '(any)'}")
    typer.echo(f"  IKE          {', '.join(str(p) for p in prof.ike_proposals)}")
    typer.echo(f"  ESP          {', '.join(str(p) for p in prof.esp_proposals)}")
    typer.echo(f"  traffic to   {', '.join(str(t) for t in prof.remote_ts)}")
    where = f"file {prof.psk_file}" if prof.psk_file else "the OS keyring"
    typer.echo(f"  secret from  {where}")


@app.command("version")
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    """Entry point of the console script."""
    app()
