"""The ``ikeclient`` command (typer).

Every failure a person can cause or meet (a profile typo, a missing secret, a wrong PSK,
an unreachable gateway, no privileges) ends as one line on stderr and a documented exit
code (``ikeclient.exitcodes``), never a traceback.

This module imports only typer: each command imports what it needs when it runs, so
``ikeclient --help`` and shell completion stay fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_STATE_DIR = Path("/run/ikeclient")

app = typer.Typer(
    name="ikeclient",
    help=(
        "Userspace IPsec VPN client: IKEv2 with a userspace ESP data plane (TUN <-> UDP 4500).\n\n"
        "Quick start: ikeclient profile new office --gateway vpn.example.org "
        "--local-id me@example.org; ikeclient secret set office; ikeclient up office"
    ),
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
profile_app = typer.Typer(
    help="List, show, create, check and import connection profiles.", no_args_is_help=True
)
secret_app = typer.Typer(
    help="Store or delete a profile's secrets in the OS keyring.", no_args_is_help=True
)
app.add_typer(profile_app, name="profile")
app.add_typer(secret_app, name="secret")

StateDir = Annotated[
    Path, typer.Option("--state-dir", help="Where running connections keep their state files.")
]
Verbose = Annotated[int, typer.Option("--verbose", "-v", count=True, help="-v info, -vv debug.")]


def _run(action: Callable[[], int], verbose: int = 0) -> None:
    """Run a command body: errors become one line and their exit code."""
    from ikeclient.cli.common import fail, setup_logging  # noqa: PLC0415
    from ikeclient.errors import IkeClientError  # noqa: PLC0415
    from ikeclient.exitcodes import ExitCode  # noqa: PLC0415
    from ikeclient.requirements import unmet_requirement  # noqa: PLC0415

    # A library older than its floor fails late (certificate validation) or in the privileged
    # half: say so before the command starts.  Only commands pay for it, not --help.
    problem = unmet_requirement()
    if problem is not None:
        typer.echo(f"ikeclient: error: {problem}", err=True)
        raise typer.Exit(int(ExitCode.INTERNAL_ERROR))
    setup_logging(verbose)
    try:
        code = action()
    except IkeClientError as exc:
        raise fail(exc) from None
    except KeyboardInterrupt:
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    if code:
        raise typer.Exit(code)


@app.command("up")
def up(
    profile: Annotated[
        str, typer.Argument(help="Profile file, or name in ~/.config/ikeclient/profiles.")
    ],
    once: Annotated[
        bool, typer.Option("--once", help="Connect, show the tunnel, then disconnect.")
    ] = False,
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Go to the background once the tunnel is up.")
    ] = False,
    keylog: Annotated[
        Path | None,
        typer.Option(
            "--keylog",
            help="Write the session keys in Wireshark's formats to this file (decrypts captures).",
        ),
    ] = None,
    secret_stdin: Annotated[
        bool, typer.Option("--secret-stdin", hidden=True, help="Read the secret from stdin.")
    ] = False,
    verbose: Verbose = 0,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Connect to the gateway of PROFILE and keep the tunnel up until Ctrl-C.

    Brings up a TUN interface with the virtual IP, routes and DNS servers the gateway hands
    out, and puts everything back on disconnect (after a crash: at the next start). The
    tunnel needs CAP_NET_ADMIN: as a normal user at a terminal, up reads the secret from
    your keyring and asks sudo for the privileged part.

    Example: ikeclient up office    |    ikeclient up ./lab.toml --detach
    """
    from ikeclient.cli.up import UpRequest, run_up  # noqa: PLC0415

    request = UpRequest(profile, once, verbose, state_dir, detach, keylog, secret_stdin)
    _run(lambda: run_up(request), verbose)


@app.command("connect", hidden=True)
def connect(
    profile: Annotated[str, typer.Argument()],
    once: Annotated[bool, typer.Option("--once")] = False,
    detach: Annotated[bool, typer.Option("--detach", "-d")] = False,
    keylog: Annotated[Path | None, typer.Option("--keylog")] = None,
    secret_stdin: Annotated[bool, typer.Option("--secret-stdin", hidden=True)] = False,
    verbose: Verbose = 0,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Alias of up."""
    up(profile, once, detach, keylog, secret_stdin, verbose, state_dir)


@app.command("down")
def down(
    profile: Annotated[str | None, typer.Argument(help="Profile name; all when left out.")] = None,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Disconnect PROFILE (or every connection): Delete at the gateway, restore the host.

    Example: ikeclient down office
    """
    from ikeclient.cli.control import run_down  # noqa: PLC0415

    _run(lambda: run_down(profile, state_dir))


@app.command("status")
def status(
    profile: Annotated[str | None, typer.Argument(help="Profile name; all when left out.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Show SAs, algorithms, virtual IP, routes, DNS, traffic, drops and uptime.

    Example: ikeclient status office --json
    """
    from ikeclient.cli.control import run_status  # noqa: PLC0415

    _run(lambda: run_status(profile, state_dir, as_json))


@app.command("doctor")
def doctor() -> None:
    """Check this host: TUN, privileges, iproute2, keyring, DNS manager, profiles, certificates.

    Example: ikeclient doctor
    """
    from ikeclient.cli.doctor import run_doctor  # noqa: PLC0415

    _run(run_doctor)


@app.command("version")
def version() -> None:
    """Print the version."""
    from ikeclient import __version__  # noqa: PLC0415

    typer.echo(__version__)


@profile_app.command("list")
def profile_list() -> None:
    """List the profiles in ~/.config/ikeclient/profiles.

    Example: ikeclient profile list
    """
    from ikeclient.cli.profiles import run_list  # noqa: PLC0415

    _run(run_list)


@profile_app.command("show")
def profile_show(profile: Annotated[str, typer.Argument(help="Profile file or name.")]) -> None:
    """Print a profile and how ikeclient reads it.

    Example: ikeclient profile show office
    """
    from ikeclient.cli.profiles import run_show  # noqa: PLC0415

    _run(lambda: run_show(profile))


@profile_app.command("validate")
def profile_validate(
    profile: Annotated[str, typer.Argument(help="Profile file or name.")],
) -> None:
    """Check a profile; errors name the file, the key and the reason.

    Example: ikeclient profile validate ./profiles/lab.toml
    """
    from ikeclient.cli.profiles import run_validate  # noqa: PLC0415

    _run(lambda: run_validate(profile))


@profile_app.command("new")
def profile_new(
    name: Annotated[str, typer.Argument(help="Name of the new profile.")],
    gateway: Annotated[str, typer.Option("--gateway", help="Gateway host name or address.")],
    local_id: Annotated[str, typer.Option("--local-id", help="Your identity, e.g. me@org.")],
    remote_id: Annotated[
        str | None, typer.Option("--remote-id", help="The gateway's identity.")
    ] = None,
    subnet: Annotated[
        list[str] | None,
        typer.Option("--subnet", help="A subnet behind the gateway (repeat); default: all."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing profile.")] = False,
) -> None:
    """Create a profile in ~/.config/ikeclient/profiles.

    Example: ikeclient profile new office --gateway vpn.example.org --local-id me@example.org
    """
    from ikeclient.cli.profiles import run_new  # noqa: PLC0415

    _run(lambda: run_new(name, gateway, local_id, remote_id, subnet or [], force))


@profile_app.command("import")
def profile_import(
    source: Annotated[Path, typer.Argument(help="A profile file to copy in (validated first).")],
    name: Annotated[str | None, typer.Option("--name", help="Name to give it.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing profile.")] = False,
) -> None:
    """Validate a profile file and copy it into ~/.config/ikeclient/profiles.

    Example: ikeclient profile import ./profiles/strongswan-roadwarrior.toml --name office
    """
    from ikeclient.cli.profiles import run_import  # noqa: PLC0415

    _run(lambda: run_import(source, name, force))


Kind = Annotated[
    str,
    typer.Option("--kind", help="psk, xauth, eap (EAP password) or key (private key passphrase)."),
]


@secret_app.command("set")
def secret_set(
    profile: Annotated[str, typer.Argument(help="Profile name.")], kind: Kind = "psk"
) -> None:
    """Store a secret: from a hidden prompt, or from stdin when it is not a terminal.

    Example: ikeclient secret set office    |    printf '%s\\n' "$PSK" | ikeclient secret set office
    |    ikeclient secret set office --kind eap
    """
    from ikeclient.cli.secrets import run_set  # noqa: PLC0415

    _run(lambda: run_set(profile, kind))


@secret_app.command("delete")
def secret_delete(
    profile: Annotated[str, typer.Argument(help="Profile name.")], kind: Kind = "psk"
) -> None:
    """Delete a stored secret.

    Example: ikeclient secret delete office
    """
    from ikeclient.cli.secrets import run_delete  # noqa: PLC0415

    _run(lambda: run_delete(profile, kind))


def main() -> None:
    """Run the typer application (the console script and `python -m` go through ikeclient.entry)."""
    app()
