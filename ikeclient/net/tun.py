"""The TUN device the ESP engine reads plain IP packets from and writes them to.

A layer-3 TUN without packet information (``IFF_TUN | IFF_NO_PI``), created with
``IFF_TUN_EXCL`` so it never attaches to somebody else's device of the same
name. It is not persistent: the kernel deletes it when its last fd closes, so
even a SIGKILLed client leaves no link behind; the journal's ``link_delete``
covers the rest (and finds it already gone, which is fine).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import socket
from types import TracebackType

import pytun

from ikeclient.errors import PrivilegeError, TunError
from ikeclient.net.journal import UndoJournal
from ikeclient.net.undo import ifindex_of

logger = logging.getLogger(__name__)

TUN_DEVICE = "/dev/net/tun"
# linux/if_tun.h
IFF_VNET_HDR = 0x4000
TUNSETOFFLOAD = 0x400454D0  # _IOW('T', 208, unsigned int)
TUN_F_CSUM = 0x01
TUN_F_TSO4 = 0x02
TUN_F_TSO6 = 0x04
TCP_OFFLOADS = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6
VNET_HDR_LEN = 10  # struct virtio_net_hdr before every packet with IFF_VNET_HDR
READ_SIZE = 65535 + VNET_HDR_LEN
DEFAULT_NAME_PREFIX = "ikc"
DEFAULT_MTU = 1400
MAX_AUTO_NAMES = 64
_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,15}")

_PRIVILEGE_MESSAGE = (
    "creating a TUN device needs CAP_NET_ADMIN: run as root (sudo ikeclient up ...) "
    "or grant the capability"
)


def link_exists(name: str) -> bool:
    """True when a network interface called ``name`` exists in this network namespace."""
    try:
        socket.if_nametoindex(name)
    except OSError:
        return False
    return True


def free_tun_name(prefix: str = DEFAULT_NAME_PREFIX, start: int = 0) -> str:
    """The first ``<prefix><n>`` (n ≥ ``start``) not in use, e.g. ``ikc0``."""
    for number in range(start, start + MAX_AUTO_NAMES):
        name = f"{prefix}{number}"
        if not link_exists(name):
            return name
    raise TunError(f"no free TUN name {prefix}0..{prefix}{start + MAX_AUTO_NAMES - 1}")


def _os_error_of(exc: Exception) -> tuple[int, str]:
    """(errno, text) of an OSError or a ``pytun.Error(errno, text)``."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.errno, exc.strerror or str(exc)
    args: tuple[object, ...] = tuple(getattr(exc, "args", ()))
    if len(args) >= 2 and isinstance(args[0], int):
        return args[0], str(args[1])
    return 0, str(exc)


class TunDevice:
    """A TUN device, up, with its MTU set; journaled (undo: delete the link).

    ``name=None`` picks the first free ``ikc<n>``. The fd is non-blocking: :meth:`read` raises
    ``BlockingIOError`` when no packet is waiting (wait on :meth:`fileno` with a selector).

    ``offload=True`` opens it with ``IFF_VNET_HDR``: every read and write then starts with a
    10-byte ``virtio_net_hdr`` (see ``ikeclient.esp.offload``), and writes may be coalesced
    TCP super-packets. ``tso=True`` also asks for checksum and TCP segmentation offload
    (``TUNSETOFFLOAD``): reads may then be TCP super-packets of up to 64 KB, with their
    checksums left to us. ``vnet_hdr`` and ``tso`` say what the kernel granted: a kernel
    that refuses the flag gives a plain TUN, one that refuses the offloads a virtio header
    without them.
    """

    def __init__(
        self,
        journal: UndoJournal | None,
        name: str | None = None,
        mtu: int = DEFAULT_MTU,
        *,
        device: str = TUN_DEVICE,
        offload: bool = False,
        tso: bool = False,
    ) -> None:
        if name is not None and not _NAME_RE.fullmatch(name):
            raise TunError(f"invalid TUN name {name!r}: 1-15 letters, digits, '_', '.', '-'")
        if not 68 <= mtu <= 65535:
            raise TunError(f"invalid MTU {mtu}: must be 68..65535")
        if not os.path.exists(device):
            raise TunError(
                f"{device} is missing: load the tun module (modprobe tun), or in a container "
                f"pass the device through (--device {TUN_DEVICE})"
            )
        self._journal = journal
        self._device = device
        self._tun: pytun.TunTapDevice | None = None
        self._fd: int | None = None
        self.vnet_hdr = offload
        self.tso = False
        self._tun = self._create(name)
        self.name: str = str(self._tun.name)
        try:
            self._tun.mtu = mtu
            self._tun.up()
        except Exception as exc:
            self.close()
            code, text = _os_error_of(exc)
            if code in (errno.EPERM, errno.EACCES):
                raise PrivilegeError(_PRIVILEGE_MESSAGE) from None
            raise TunError(f"cannot configure TUN {self.name} (MTU {mtu}): {text}") from None
        self.mtu = mtu
        self._fd = int(self._tun.fileno())
        os.set_blocking(self._fd, False)
        if self.vnet_hdr and tso:
            try:
                fcntl.ioctl(self._fd, TUNSETOFFLOAD, TCP_OFFLOADS)
            except OSError as exc:
                logger.info("TUN offloads are not available (%s): one packet per read", exc)
            else:
                self.tso = True
        self.ifindex = socket.if_nametoindex(self.name)

    def _create(self, name: str | None) -> pytun.TunTapDevice:
        explicit = name is not None
        start = 0
        for _attempt in range(MAX_AUTO_NAMES):
            candidate = name if name is not None else free_tun_name(start=start)
            seq = None
            if self._journal is not None:
                seq = self._journal.record("link_delete", name=candidate, kind="tun")
            flags = pytun.IFF_TUN | pytun.IFF_NO_PI | pytun.IFF_TUN_EXCL
            if self.vnet_hdr:
                flags |= IFF_VNET_HDR
            try:
                tun = pytun.TunTapDevice(name=candidate, flags=flags, dev=self._device)
            except Exception as exc:
                if seq is not None and self._journal is not None:
                    self._journal.cancel(seq)
                code, text = _os_error_of(exc)
                if code == errno.EINVAL and self.vnet_hdr:
                    logger.info("the kernel refused IFF_VNET_HDR: no TUN offloads")
                    self.vnet_hdr = False
                    continue
                if code in (errno.EPERM, errno.EACCES):
                    raise PrivilegeError(_PRIVILEGE_MESSAGE) from None
                if code == errno.ENOENT:
                    raise TunError(
                        f"{self._device} cannot be opened: load the tun module (modprobe tun)"
                    ) from None
                if code == errno.EBUSY and not explicit:
                    start = int(candidate.removeprefix(DEFAULT_NAME_PREFIX)) + 1
                    continue  # somebody took the name between our check and the ioctl
                if code == errno.EBUSY:
                    raise TunError(
                        f"TUN name {candidate} is already in use: pick another"
                    ) from None
                raise TunError(f"cannot create TUN {candidate}: {text}") from None
            if seq is not None and self._journal is not None:
                # Pin the undo to this very device (its ifindex): after a crash another
                # client may own a TUN of the same name.
                index = ifindex_of(candidate)
                if index is not None:
                    self._journal.record("link_delete", name=candidate, kind="tun", ifindex=index)
                    self._journal.cancel(seq)
            return tun
        raise TunError("no free TUN name after repeated races")

    # --- I/O ---------------------------------------------------------------------------------

    def fileno(self) -> int:
        if self._fd is None:
            raise TunError(f"TUN {self.name} is closed")
        return self._fd

    def read(self, size: int = READ_SIZE) -> bytes:
        """One IP packet, after its virtio header with ``vnet_hdr`` (non-blocking:
        ``BlockingIOError`` when none is waiting)."""
        return os.read(self.fileno(), size)

    def write(self, packet: bytes) -> int:
        """Hand one IP packet to the kernel, as if it arrived on this interface (after its
        virtio header with ``vnet_hdr``)."""
        return os.write(self.fileno(), packet)

    @property
    def closed(self) -> bool:
        return self._fd is None

    def close(self) -> None:
        """Close the fd; the kernel then deletes the (non-persistent) device. Idempotent."""
        tun, self._tun, self._fd = self._tun, None, None
        if tun is not None:
            with contextlib.suppress(Exception):  # already closed is fine
                tun.close()

    def __enter__(self) -> TunDevice:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TunDevice({self.name!r}, mtu={getattr(self, 'mtu', None)}, closed={self.closed})"
