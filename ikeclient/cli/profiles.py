"""``ikeclient profile list|show|new|validate|import``."""

from __future__ import annotations

import os
import re
from pathlib import Path

import typer

from ikeclient.config.profile import (
    Profile,
    load_profile,
    parse_profile,
    profile_path,
    profiles_dir,
    read_profile_file,
)
from ikeclient.errors import ConfigError, IkeClientError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

TEMPLATE = """\
# ikeclient profile {name} (schema: README.md, "Profiles")
gateway = "{gateway}"
local_id = "{local_id}"
{remote_id}
# The pre-shared key lives in the OS keyring: ikeclient secret set {name}
# (or set psk_file to a file only you can read).
ike_proposals = ["aes256gcm16-prfsha256-ecp256", "aes256-sha256-modp2048"]
esp_proposals = ["aes256gcm16", "aes256-sha256"]
remote_ts = [{remote_ts}]
"""


def _full_note(prof: Profile) -> str:
    """How a full-tunnel profile treats the gateway's split subnets and IPv6."""
    if not prof.full_tunnel:
        return ""
    split = "follows the gateway's split subnets" if prof.accept_split else "stays full"
    full4 = any(n.version == 4 and n.prefixlen == 0 for n in prof.remote_networks)
    ipv6 = ", IPv6 unreachable without an IPv6 address" if prof.block_ipv6 and full4 else ""
    return f" (full tunnel: {split}{ipv6})"


def describe(prof: Profile) -> list[str]:
    """A profile as the lines ``show`` and ``validate`` print."""
    where = f"file {prof.psk_file}" if prof.psk_file else f"the OS keyring ({prof.name}:psk)"
    auth = prof.auth
    lines = [
        f"  gateway      {prof.gateway} port {prof.port}",
        f"  local id     {prof.local_id}",
        f"  remote id    {prof.remote_id if prof.remote_id else '(any)'}",
        f"  auth         we: {auth.local}"
        + (f" ({auth.eap_method})" if auth.local == "eap" else "")
        + f", gateway: {auth.remote}",
        f"  IKE          {', '.join(str(p) for p in prof.ike_proposals)}",
        f"  ESP          {', '.join(str(p) for p in prof.esp_proposals)}",
        f"  traffic to   {', '.join(str(t) for t in prof.remote_ts)}{_full_note(prof)}",
        f"  DNS          {prof.dns}",
        "  leak guard   "
        + (
            ("on" + (", LAN allowed" if prof.allow_lan else "") + f" ({prof.leak_protection})")
            if prof.leak_protected
            else f"off ({prof.leak_protection})"
        ),
    ]
    staying = prof.staying
    under = (
        f"{staying.dead_peer_after:g} s after unanswered ESP "
        f"(check {staying.dead_peer_timeout:g} s)"
        if staying.dead_peer_after > 0 and prof.version == 2
        else ("off" if prof.version == 2 else "(IKEv2 only)")
    )
    lines += [
        f"  liveness     idle: every {prof.dpd_delay:g} s; under traffic: {under}",
        f"  reconnect    {'yes' if staying.reconnect else 'no'}; "
        f"when the gateway deletes the IKE SA: {staying.on_gateway_delete}",
    ]
    if auth.uses_psk:
        lines.append(f"  secret from  {where}")
    lines += [f"  {key:12} {path}" for key, path in auth.files()]
    return lines


def run_list() -> int:
    directory = profiles_dir()
    files = sorted(directory.glob("*.toml")) if directory.is_dir() else []
    if not files:
        typer.echo(f"no profiles in {directory} (create one: ikeclient profile new NAME ...)")
        return 0
    for path in files:
        try:
            prof = load_profile(path)
        except ConfigError as exc:
            typer.echo(f"{path.stem:20} INVALID: {exc}")
            continue
        typer.echo(f"{prof.name:20} {prof.gateway}:{prof.port}  ({path})")
    return 0


def run_show(profile: str) -> int:
    path = profile_path(profile)
    raw, owner = read_profile_file(path)
    prof = parse_profile(raw, owner, path)
    typer.echo(f"# {path}")
    typer.echo(raw.decode("utf-8"), nl=False)
    typer.echo("# as understood:")
    for line in describe(prof):
        typer.echo("#" + line)
    return 0


def run_validate(profile: str) -> int:
    path = profile_path(profile)
    prof = load_profile(path)
    typer.echo(f"{path}: ok")
    for line in describe(prof):
        typer.echo(line)
    return 0


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ConfigError(
            f"profile name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)"
        )


def run_new(name: str, gateway: str, local_id: str, remote_id: str | None, subnets: list[str],
            force: bool) -> int:  # fmt: skip
    _check_name(name)
    directory = profiles_dir()
    target = directory / f"{name}.toml"
    if target.exists() and not force:
        raise ConfigError(f"{target} exists already (use --force to replace it)")
    text = TEMPLATE.format(
        name=name,
        gateway=gateway,
        local_id=local_id,
        remote_id=f'remote_id = "{remote_id}"' if remote_id else '# remote_id = "vpn.example.org"',
        remote_ts=", ".join(f'"{s}"' for s in (subnets or ["0.0.0.0/0"])),
    )
    directory.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".toml.new")
    tmp.write_text(text)
    try:
        load_profile(tmp)  # never write a profile that does not load
    except IkeClientError:
        tmp.unlink()
        raise
    os.replace(tmp, target)
    typer.echo(f"created {target}; store its pre-shared key with: ikeclient secret set {name}")
    return 0


def run_import(source: Path, name: str | None, force: bool) -> int:
    raw, owner = read_profile_file(source)
    prof = parse_profile(raw, owner, source)  # validate first: errors name the file and key
    final = name or source.stem
    _check_name(final)
    directory = profiles_dir()
    target = directory / f"{final}.toml"
    if target.exists() and not force:
        raise ConfigError(f"{target} exists already (use --force to replace it)")
    directory.mkdir(parents=True, exist_ok=True)
    target.write_bytes(raw)  # what was validated, not a second read of the source
    note = ""
    if prof.psk_file is not None and not Path(str(prof.psk_file)).is_absolute():
        note = " (its psk_file is relative: check it still points to the key)"
    for warning in outside_secret_files(prof, source):
        typer.echo(f"ikeclient: warning: {warning}", err=True)
    typer.echo(f"imported {source} as {target}{note}")
    return 0


def outside_secret_files(prof: Profile, source: Path) -> list[str]:
    """Warnings for the secret files an imported profile names outside its own directory.

    A profile someone else handed over can name any file (``/root/...``, another user's
    key): whoever connects with it sends that file's contents to the profile's gateway, or
    signs with that key. Said before the first use, so the person can check.
    """
    auth = prof.auth
    named = {
        "psk_file": prof.psk_file,
        "xauth_password_file": prof.xauth_password_file,
        "eap_password_file": auth.eap_password_file,
        "key_passphrase_file": auth.key_passphrase_file,
        "private_key": auth.private_key,
        "pkcs12": auth.pkcs12,
    }
    home = Path(os.path.realpath(source)).parent
    warnings = []
    for key, path in named.items():
        if path is None:
            continue
        real = Path(os.path.realpath(path))
        if not real.is_relative_to(home):
            warnings.append(
                f"{source}: {key} = {path} lies outside the profile's directory ({home}); "
                "its contents are used to authenticate to the profile's gateway: check that "
                "you mean to use that file"
            )
    return warnings
