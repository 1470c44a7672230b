"""``ikeclient down`` and ``ikeclient status``: find running connections by their state files."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import typer

from ikeclient.errors import ConfigError
from ikeclient.net.journal import recover_stale
from ikeclient.runtime.state import StateFiles, running_connections

DOWN_TIMEOUT = 5.0


def _selected(state_dir: Path, profile: str | None) -> list[StateFiles]:
    running = running_connections(state_dir)
    if profile is None:
        return running
    name = Path(profile).stem if profile.endswith(".toml") else profile
    return [f for f in running if f.name == name]


def run_down(profile: str | None, state_dir: Path) -> int:
    """Stop one connection (or all): SIGTERM, wait for its cleanup, recover if it died."""
    targets = _selected(state_dir, profile)
    if not targets:
        restored = recover_stale(state_dir) if state_dir.is_dir() else []
        for name in restored:
            typer.echo(f"restored the host changes left by a run that died ({name})")
        if restored:
            return 0
        what = f"connection {profile!r} is" if profile else "no connection is"
        raise ConfigError(f"{what} not up (state directory {state_dir})")
    for files in targets:
        pid = files.running_pid()
        if pid is None:
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + DOWN_TIMEOUT
        while files.running_pid() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        if files.running_pid() is not None:
            raise ConfigError(
                f"{files.name}: pid {pid} did not stop within {DOWN_TIMEOUT:.0f} s; "
                f"it may still be cleaning up (kill -9 {pid} and run ikeclient down again "
                "to restore the host from the journal)"
            )
        typer.echo(f"{files.name}: down")
    for name in recover_stale(state_dir):
        typer.echo(f"restored the host changes left by a run that died ({name})")
    return 0


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _print_status(status: dict[str, Any]) -> None:
    ike = status.get("ike_sa") or {}
    typer.echo(f"{status['profile']}: {status['state']} (pid {status['pid']})")
    typer.echo(f"  gateway      {status['gateway']}  uptime {status['uptime']:.0f} s")
    if ike:
        nat = "behind NAT" if ike.get("behind_nat") else "no NAT"
        typer.echo(f"  IKE SA       {ike['spi_i']}_i {ike['spi_r']}_r  {ike['algorithms']}")
        typer.echo(f"               {ike['local']} -> {ike['remote']}  {nat}")
        typer.echo(f"  gateway id   {ike['remote_identity']}")
    for child in status.get("child_sas", []):
        typer.echo(
            f"  child SA     {child['name']}  in {child['spi_in']} out {child['spi_out']}  "
            f"{child['algorithms']}"
        )
        typer.echo(
            f"               {', '.join(child['local_ts'])} <=> {', '.join(child['remote_ts'])}"
        )
    typer.echo(f"  virtual IP   {', '.join(status.get('virtual_ips', [])) or 'none'}")
    typer.echo(f"  TUN          {status.get('tun')}  mtu {status.get('mtu')}")
    typer.echo(f"  routes       {', '.join(status.get('routes', [])) or 'none'}")
    dns = ", ".join(status.get("dns_servers", [])) or "none"
    typer.echo(f"  DNS          {dns} (via {status.get('dns_backend')})")
    if status.get("dns_domains"):
        typer.echo(f"  DNS domains  {', '.join(status['dns_domains'])}")
    t = status.get("traffic", {})
    typer.echo(
        f"  traffic      in {t.get('packets_in', 0)} packets / {_human(t.get('bytes_in', 0))}, "
        f"out {t.get('packets_out', 0)} packets / {_human(t.get('bytes_out', 0))}"
    )
    drops = {**status.get("drops", {}), **status.get("ike_drops", {})}
    typer.echo(
        "  dropped      " + (", ".join(f"{k} {v}" for k, v in sorted(drops.items())) or "none")
    )
    rekey = status.get("next_rekey") or {}
    parts = [f"{k} in {v:.0f} s" for k, v in rekey.items() if v is not None]
    typer.echo(f"  next rekey   {', '.join(parts) or 'not scheduled'}")
    staying = status.get("staying_connected") or {}
    if staying:
        typer.echo(
            f"  rekeys       child {staying.get('child_rekeys', 0)}, "
            f"IKE {staying.get('ike_rekeys', 0)}, reauth {staying.get('reauthentications', 0)}; "
            f"reconnects {staying.get('reconnects', 0)}, roams {staying.get('roams', 0)}"
        )


def run_status(profile: str | None, state_dir: Path, as_json: bool) -> int:
    targets = _selected(state_dir, profile)
    if not targets:
        what = f"connection {profile!r} is" if profile else "no connection is"
        if as_json:
            typer.echo("[]")
            return 0 if profile is None else 1
        typer.echo(f"{what} up")
        return 0 if profile is None else 1
    statuses = [f.read_status() or {"profile": f.name, "state": "starting"} for f in targets]
    if as_json:
        typer.echo(json.dumps(statuses if profile is None else statuses[0], indent=1))
        return 0
    for status in statuses:
        if "pid" in status:
            _print_status(status)
        else:
            typer.echo(f"{status['profile']}: starting")
    return 0
