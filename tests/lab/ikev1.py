"""IKEv1 gateway configurations for the lab (strongSwan swanctl ``version = 1``).

``ikev1_gateway`` builds a :class:`GatewayConfig` for the three road-warrior setups the
IKEv1 interop tests use: Main Mode with a PSK, the same plus XAUTH as a second
authentication round (``remote-xauth { auth = xauth }``, plugin xauth-generic), and
Aggressive Mode with a group name as ID_KEY_ID. Mode Config hands out the lab pool with
Cisco Unity split networks and a default domain (plugin unity).
"""

from __future__ import annotations

from typing import Any

from tests.lab.strongswan import GatewayConfig
from tests.lab.topology import Lab

GROUP_NAME = "RA-GROUP"
GROUP_KEY_ID = GROUP_NAME.encode().hex()
XAUTH_USER = "alice"
XAUTH_PASSWORD = "alice-xauth-pass-42"
DEF_DOMAIN = "ikelab.test"


def ikev1_gateway(
    lab: Lab,
    *,
    xauth: bool = False,
    aggressive: bool = False,
    ike_proposals: tuple[str, ...] = ("aes256-sha256-modp2048", "aes128-sha1-modp2048"),
    esp_proposals: tuple[str, ...] = ("aes256-sha256", "aes128gcm16", "aes128-sha1"),
    **extra: Any,
) -> GatewayConfig:
    """A strongSwan IKEv1 responder for the lab's client (PSK; XAUTH and AM on request)."""
    connection: dict[str, Any] = dict(extra.pop("connection_extra", {}))
    charon: dict[str, Any] = dict(extra.pop("charon_extra", {}))
    secrets = ""
    client_id = "client@ike.lab"
    if xauth:
        connection["remote-xauth"] = {"auth": "xauth", "xauth_id": XAUTH_USER}
        secrets = (
            f"    xauth-{XAUTH_USER} {{\n        id = {XAUTH_USER}\n"
            f'        secret = "{XAUTH_PASSWORD}"\n    }}\n'
        )
    if aggressive:
        connection["aggressive"] = True
        client_id = f'"@#{GROUP_KEY_ID}"'  # quoted: '#' starts a comment in swanctl.conf
        charon["i_dont_care_about_security_and_use_aggressive_mode_psk"] = True
    return GatewayConfig(
        version=1,
        client_id=client_id,
        ike_proposals=ike_proposals,
        esp_proposals=esp_proposals,
        extra_plugins=("unity",),
        connection_extra=connection,
        charon_extra=charon,
        secrets_extra=secrets,
        pool_extra={"split_include": lab.server_subnet, "28674": DEF_DOMAIN},
        **extra,
    )
