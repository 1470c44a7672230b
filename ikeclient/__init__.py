"""ikeclient: a userspace IPsec VPN client (IKEv2 initiator, userspace ESP)."""

__version__ = "0.1.0"
