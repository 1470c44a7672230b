"""The userspace ESP engine: tunnel-mode encapsulation and decapsulation, sans-I/O.

Theory of operation
-------------------
The engine holds the SA database of the data plane (RFC 4301 §4.4.2): for each
installed child SA an inbound half, found by SPI, and an outbound half, found
by matching the inner packet against the SA's traffic selectors. It never
touches a socket, a clock or a thread: the runtime hands it inner IP packets
read from the TUN device and ESP packets read from UDP 4500 (the UDP payload,
after the non-ESP marker check of RFC 3948 §2.2, so starting with the SPI), and
writes what comes back. Time is a parameter (``now``, monotonic seconds).

Outbound (RFC 4303 §3.3), :meth:`EspEngine.encapsulate`:

1. the inner packet's IP version gives Next Header 4 (IPv4) or 41 (IPv6);
2. the SA is the most recently installed one whose ``local_ts`` holds the inner
   source and whose ``remote_ts`` holds the inner destination (so a rekeyed SA
   takes over as soon as it is installed: make-before-break). An SA installed
   with its outbound half *deferred* (we answered the peer's rekey, and the peer
   installs the SA only when our answer arrives) is used only when no other SA
   matches, until its first valid inbound packet proves the peer has it;
3. the sequence number is incremented; it starts at 1 and never wraps: at
   2^32-1 (2^64-1 with ESN) the packet is dropped and one
   :class:`~ikeclient.esp.events.SequenceExhausted` event asks for a rekey
   (§3.3.3);
4. padding 1, 2, 3, ... aligns the payload to the cipher block (at least 4
   bytes, §2.4), then one call to the SA's :class:`~ikeclient.esp.cipher.EspCipher`
   produces SPI | seq | IV | ciphertext | ICV.

Inbound (RFC 4303 §3.4), :meth:`EspEngine.decapsulate`, in the order of
strongSwan's ``libipsec/esp_packet.c``: length checks → SPI lookup → replay
check (read-only; with ESN the high half is inferred first, RFC 4303 Appendix
A2.2) → ICV verification and decryption → commit to the replay window → Pad
Length, padding bytes and Next Header checks (59 = dummy packet, §2.6, dropped)
→ inner packet sanity (IP version matches Next Header, header and total length
fit; TFC padding after the inner total length is stripped, §2.7) → inner source
within ``remote_ts`` and inner destination within ``local_ts`` (RFC 4301
§5.2 step 4) → the inner packet.

The per-packet path never raises on wire data. A packet that fails a step is
dropped: the call returns None and ``drops[reason]`` is incremented. Cipher
objects are built once per SA direction at :meth:`EspEngine.install_sa`.

Rekeying, make-before-break (RFC 7296 §2.8): install the new SA (its outbound
half takes over at once, or, deferred, at its first inbound packet), then
:meth:`EspEngine.remove_sa` the old one with ``linger_until``: its outbound half
goes at once, its inbound half stays until then for packets still in flight
(:meth:`EspEngine.purge` drops it). Lifetimes in bytes and packets (RFC 4301
§4.4.2.1) cost two comparisons per packet: at the soft limit one
:class:`~ikeclient.esp.events.SoftExpired` asks for a rekey, at the hard limit
the SA is removed and :class:`~ikeclient.esp.events.HardExpired` says so.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Sequence
from struct import Struct
from typing import Final

from ikeclient.crypto.encr import get_encr
from ikeclient.crypto.integ import get_integ
from ikeclient.crypto.random import RandomSource
from ikeclient.esp.cipher import EspCipher, make_cipher
from ikeclient.esp.events import EspEvent, HardExpired, SequenceExhausted, SoftExpired
from ikeclient.esp.replay import ReplayWindow
from ikeclient.esp.sa import EspSaConfig, SaLimits, SaStats
from ikeclient.esp.selectors import NO_PORT, SelectorSet, flow_ports

__all__ = [
    "DropReason",
    "EspEngine",
    "EspEvent",
    "HardExpired",
    "SaStats",
    "SequenceExhausted",
    "SoftExpired",
]

_HEADER: Final = Struct("!II")  # SPI, Sequence Number
_ADDRS4: Final = Struct("!II")  # IPv4 source, destination
_U16: Final = Struct("!H")
_ESP_HEADER: Final = 8
_TRAILER: Final = 2  # Pad Length, Next Header
_MAX_INNER: Final = 65535 - 8 - 1024  # leaves room for UDP and ESP overhead in one datagram
_SEQ_MAX_32: Final = (1 << 32) - 1
_SEQ_MAX_64: Final = (1 << 64) - 1
_NH_IPV4: Final = 4  # IP-in-IP (RFC 4303 §2.6 Next Header, IANA protocol numbers)
_NH_IPV6: Final = 41
_NH_NO_NEXT: Final = 59  # dummy packet (RFC 4303 §2.6)
_IPV4_HEADER: Final = 20
_IPV6_HEADER: Final = 40
_NO_LIMIT: Final = 1 << 64

# RFC 4303 §2.4: the default padding is the bytes 1, 2, 3, ...
_PADDING: Final = tuple(bytes(range(1, n + 1)) for n in range(256))
_MAX_ALIGN: Final = 16
_TRAILERS_V4: Final = tuple(_PADDING[n] + bytes((n, _NH_IPV4)) for n in range(_MAX_ALIGN))
_TRAILERS_V6: Final = tuple(_PADDING[n] + bytes((n, _NH_IPV6)) for n in range(_MAX_ALIGN))


class DropReason(enum.Enum):
    """Why a packet was dropped; the keys of :attr:`EspEngine.drops`."""

    UNKNOWN_SPI = "unknown_spi"
    """Inbound: no SA has this SPI (RFC 4303 §3.4.2)."""
    TOO_SHORT = "too_short"
    """Inbound: shorter than header + IV + minimal payload + ICV."""
    BAD_LENGTH = "bad_length"
    """Inbound: ciphertext not a multiple of the cipher block size (AES-CBC)."""
    REPLAY = "replay"
    """Inbound: duplicate, too old for the window, or sequence number 0 (RFC 4303 §3.4.3)."""
    ICV = "icv"
    """Inbound: the ICV did not verify (RFC 4303 §3.4.4); includes wrong ESN guesses."""
    PADDING = "padding"
    """Inbound: Pad Length too large or padding bytes not 1, 2, 3, ... (RFC 4303 §2.4)."""
    NEXT_HEADER = "next_header"
    """Inbound: Next Header is neither 4 (IPv4) nor 41 (IPv6) nor 59 (tunnel mode only)."""
    DUMMY = "dummy"
    """Inbound: a dummy packet, Next Header 59, discarded as RFC 4303 §2.6 requires (TFC)."""
    MALFORMED_INNER = "malformed_inner"
    """Either way: the inner packet is not a sane IPv4/IPv6 packet of the announced version."""
    SELECTOR = "selector"
    """Inbound: inner addresses outside the SA's traffic selectors (RFC 4301 §5.2)."""
    NO_SA = "no_sa"
    """Outbound: no installed SA's selectors match the inner packet."""
    SEQ_EXHAUSTED = "seq_exhausted"
    """Outbound: the SA's sequence numbers are used up (RFC 4303 §3.3.3); rekey needed."""


class _Counters:
    """Mutable per-SA traffic counters (snapshotted into :class:`SaStats`)."""

    __slots__ = (
        "bytes_in",
        "bytes_out",
        "last_in",
        "last_out",
        "limits",
        "packets_in",
        "packets_out",
        "soft_sent",
    )

    def __init__(self, limits: SaLimits | None) -> None:
        self.packets_in = 0
        self.bytes_in = 0
        self.packets_out = 0
        self.bytes_out = 0
        self.last_in: float | None = None
        self.last_out: float | None = None
        self.limits = limits
        self.soft_sent = False


def _thresholds(limits: SaLimits | None, soft_done: bool) -> tuple[int, int]:
    """(packets, bytes) at which the next limit check is due."""
    if limits is None:
        return _NO_LIMIT, _NO_LIMIT
    packets = (0 if soft_done else limits.soft_packets) or limits.hard_packets or _NO_LIMIT
    octets = (0 if soft_done else limits.soft_bytes) or limits.hard_bytes or _NO_LIMIT
    return packets, octets


class _Outbound:
    """The outbound half of an SA (RFC 4301 §4.4.2 SAD entry + its SPD-S cache selectors)."""

    __slots__ = (
        "active",
        "align",
        "cipher",
        "counters",
        "exhausted",
        "lim_bytes",
        "lim_packets",
        "local",
        "needs_flow",
        "remote",
        "seq",
        "seq_max",
        "simple4",
        "spi_in",
        "spi_out",
    )

    def __init__(
        self, config: EspSaConfig, cipher: EspCipher, counters: _Counters, active: bool
    ) -> None:
        self.active = active
        self.lim_packets, self.lim_bytes = _thresholds(config.limits, False)
        self.spi_in = config.spi_in
        self.spi_out = config.spi_out
        self.cipher = cipher
        self.align = cipher.align
        self.seq = 0  # the last sequence number used; the first packet carries 1
        self.seq_max = _SEQ_MAX_64 if config.esn else _SEQ_MAX_32
        self.exhausted = False
        self.local = SelectorSet(config.local_ts)
        self.remote = SelectorSet(config.remote_ts)
        self.needs_flow = self.local.needs_flow or self.remote.needs_flow
        self.simple4 = _simple_v4(config)
        self.counters = counters


def _simple_v4(config: EspSaConfig) -> tuple[int, int, int, int] | None:
    """(local start, local end, remote start, remote end) when each side is one IPv4 range
    for any protocol and port: the common road-warrior SA, matched inline per packet."""
    if len(config.local_ts) != 1 or len(config.remote_ts) != 1:
        return None
    local, remote = config.local_ts[0], config.remote_ts[0]
    if local.version != 4 or remote.version != 4 or local.needs_flow or remote.needs_flow:
        return None
    return local.start, local.end, remote.start, remote.end


class _Inbound:
    """The inbound half of an SA: cipher, replay window, selectors to check inner packets."""

    __slots__ = (
        "block",
        "cipher",
        "counters",
        "esn",
        "lim_bytes",
        "lim_packets",
        "local",
        "min_len",
        "needs_flow",
        "pending_out",
        "remote",
        "simple4",
        "spi_in",
        "spi_out",
        "trim",
        "window",
    )

    def __init__(self, config: EspSaConfig, cipher: EspCipher, counters: _Counters) -> None:
        self.spi_in = config.spi_in
        self.spi_out = config.spi_out
        self.pending_out: _Outbound | None = None  # its outbound half, until proven
        self.lim_packets, self.lim_bytes = _thresholds(config.limits, False)
        self.cipher = cipher
        self.esn = config.esn
        self.window = ReplayWindow(config.replay_window)
        self.block = cipher.block
        # Header + IV + ICV; the ciphertext is what remains and must hold at least
        # Pad Length and Next Header (one whole block for AES-CBC).
        self.trim = _ESP_HEADER + cipher.icv_size
        self.min_len = self.trim + cipher.iv_size + max(_TRAILER, cipher.block)
        self.local = SelectorSet(config.local_ts)
        self.remote = SelectorSet(config.remote_ts)
        self.needs_flow = self.local.needs_flow or self.remote.needs_flow
        self.simple4 = _simple_v4(config)
        self.counters = counters


class EspEngine:
    """Tunnel-mode ESP (RFC 4303) for the child SAs of one VPN session, sans-I/O.

    ``drops`` maps every :class:`DropReason` to the number of packets dropped
    for it. ``rng`` seeds per-SA values that need randomness (the AES-CBC IV
    nonce prefix); per-packet work draws no randomness.
    """

    def __init__(self, rng: RandomSource) -> None:
        self._rng = rng
        self._inbound: dict[int, _Inbound] = {}
        self._outbound: list[_Outbound] = []  # active ones newest first, then deferred ones
        self._lingering: dict[int, float] = {}  # inbound halves kept after remove_sa, until
        self._events: deque[EspEvent] = deque()
        self.drops: dict[DropReason, int] = dict.fromkeys(DropReason, 0)

    # -- SA database ---------------------------------------------------------------------------

    def install_sa(self, config: EspSaConfig, *, outbound_active: bool = True) -> None:
        """Install both directions of a child SA; its cipher objects are built here, once.

        The new SA's outbound half takes precedence over older SAs with
        overlapping selectors (make-before-break rekeying: install the new SA,
        then :meth:`remove_sa` the old one after a grace period). With
        ``outbound_active=False`` the outbound half is deferred: used only when no
        other SA matches, until the SA's first valid inbound packet (the peer has
        installed it, RFC 7296 §2.8) or :meth:`activate_outbound`. Raises
        :class:`ValueError` when ``spi_in`` is already installed, and
        :class:`~ikeclient.errors.UnsupportedAlgorithm` or
        :class:`~ikeclient.errors.CryptoError` for a suite or key length the
        engine does not take.
        """
        if config.spi_in in self._inbound:
            raise ValueError(f"an SA with inbound SPI {config.spi_in:#010x} is already installed")
        cipher_in = make_cipher(
            config.spi_in,
            config.esn,
            config.encr_id,
            config.encr_key_bits,
            config.encr_key_in,
            config.integ_id,
            config.integ_key_in,
            decrypt=True,
            rng=self._rng,
        )
        cipher_out = make_cipher(
            config.spi_out,
            config.esn,
            config.encr_id,
            config.encr_key_bits,
            config.encr_key_out,
            config.integ_id,
            config.integ_key_out,
            decrypt=False,
            rng=self._rng,
        )
        counters = _Counters(config.limits)
        inbound = _Inbound(config, cipher_in, counters)
        outbound = _Outbound(config, cipher_out, counters, outbound_active)
        self._inbound[config.spi_in] = inbound
        if outbound_active:
            self._outbound.insert(0, outbound)
        else:
            inbound.pending_out = outbound
            self._outbound.append(outbound)

    def activate_outbound(self, spi_in: int) -> None:
        """Send on the SA ``spi_in`` from now on (its deferred outbound half goes first)."""
        inbound = self._inbound.get(spi_in)
        if inbound is not None and inbound.pending_out is not None:
            self._activate(inbound)

    def _activate(self, inbound: _Inbound) -> None:
        outbound = inbound.pending_out
        inbound.pending_out = None
        if outbound is None:
            return
        outbound.active = True
        self._outbound = [outbound] + [sa for sa in self._outbound if sa is not outbound]

    def remove_sa(self, spi_in: int, *, linger_until: float | None = None) -> None:
        """Remove the SA with inbound SPI ``spi_in`` (unknown SPIs: no-op).

        The outbound half goes at once. With ``linger_until`` the inbound half
        stays until then, for packets still in flight after a rekey
        (make-before-break); :meth:`purge` removes it.
        """
        self._outbound = [sa for sa in self._outbound if sa.spi_in != spi_in]
        inbound = self._inbound.get(spi_in)
        if inbound is not None:
            inbound.pending_out = None
        if linger_until is None:
            self._inbound.pop(spi_in, None)
            self._lingering.pop(spi_in, None)
        elif inbound is not None:
            self._lingering[spi_in] = linger_until

    def purge(self, now: float) -> None:
        """Drop the inbound halves whose grace period (``remove_sa(linger_until=)``) is over."""
        for spi_in, until in list(self._lingering.items()):
            if now >= until:
                del self._lingering[spi_in]
                self._inbound.pop(spi_in, None)

    def installed(self) -> list[int]:
        """The inbound SPIs of every SA the engine holds (lingering ones included)."""
        return list(self._inbound)

    def _limit_reached(self, counters: _Counters, spi_in: int, spi_out: int) -> None:
        """A soft or hard byte/packet limit was crossed in one direction (RFC 4301 §4.4.2.1)."""
        limits = counters.limits
        if limits is None:
            return
        hard = (
            (limits.hard_packets and counters.packets_in >= limits.hard_packets)
            or (limits.hard_packets and counters.packets_out >= limits.hard_packets)
            or (limits.hard_bytes and counters.bytes_in >= limits.hard_bytes)
            or (limits.hard_bytes and counters.bytes_out >= limits.hard_bytes)
        )
        if hard:
            reason = (
                "packets"
                if limits.hard_packets
                and max(counters.packets_in, counters.packets_out) >= limits.hard_packets
                else "bytes"
            )
            self.remove_sa(spi_in)
            self._events.append(HardExpired(spi_in, spi_out, reason))
            return
        if not counters.soft_sent:
            counters.soft_sent = True
            soft_packets = (
                limits.soft_packets
                and max(counters.packets_in, counters.packets_out) >= limits.soft_packets
            )
            self._events.append(
                SoftExpired(spi_in, spi_out, "packets" if soft_packets else "bytes")
            )
        packets, octets = _thresholds(limits, True)
        inbound = self._inbound.get(spi_in)
        if inbound is not None:
            inbound.lim_packets, inbound.lim_bytes = packets, octets
        for sa in self._outbound:
            if sa.spi_in == spi_in:
                sa.lim_packets, sa.lim_bytes = packets, octets

    def stats(self, spi_in: int) -> SaStats:
        """A snapshot of the traffic of the SA ``spi_in``; raises KeyError when not installed."""
        c = self._inbound[spi_in].counters
        return SaStats(c.packets_in, c.bytes_in, c.packets_out, c.bytes_out, c.last_in, c.last_out)

    @property
    def has_events(self) -> bool:
        """True when :meth:`next_event` has something (cheap: for the runtime's loop)."""
        return bool(self._events)

    def next_event(self) -> EspEvent | None:
        """The oldest event not yet taken, or None."""
        return self._events.popleft() if self._events else None

    @staticmethod
    def overhead(config: EspSaConfig) -> int:
        """Worst-case bytes ESP adds to an inner packet (RFC 4303 §2), for the TUN MTU.

        ESP header (8) + IV + maximum padding (alignment - 1) + Pad Length and
        Next Header (2) + ICV. Excludes the outer IP and UDP headers (RFC 3948).
        """
        encr = get_encr(config.encr_id)
        icv = encr.icv_size if encr.is_aead else get_integ(config.integ_id or 0).icv_size
        align = max(encr.block_size, 4)
        return _ESP_HEADER + encr.iv_size + (align - 1) + _TRAILER + icv

    def set_sequence_for_testing(
        self, spi_in: int, *, outbound: int | None = None, inbound_top: int | None = None
    ) -> None:
        """Test hook: move an SA's sequence numbers (never used by the runtime).

        ``outbound`` is the last sequence number considered sent (the next
        packet carries ``outbound + 1``); ``inbound_top`` resets the replay
        window as if that number had just been received. Lets tests cross the
        ESN 2^32 boundary and reach exhaustion without sending 2^32 packets.
        """
        if outbound is not None:
            for sa in self._outbound:
                if sa.spi_in == spi_in:
                    sa.seq = outbound
        if inbound_top is not None:
            self._inbound[spi_in].window.reset(inbound_top)

    # -- the per-packet path ---------------------------------------------------------------------

    def _drop(self, reason: DropReason) -> None:
        self.drops[reason] += 1

    def encapsulate(self, packet: bytes, now: float) -> bytes | None:
        """Encapsulate one inner IP packet; return the ESP packet (the UDP payload) or None.

        None means the packet was dropped and counted (NO_SA, SEQ_EXHAUSTED,
        MALFORMED_INNER). RFC 4303 §3.3.
        """
        n = len(packet)
        if n < _IPV4_HEADER or n > _MAX_INNER:
            self._drop(DropReason.MALFORMED_INNER)
            return None
        version = packet[0] >> 4
        if version == 4:
            src, dst = _ADDRS4.unpack_from(packet, 12)
            trailers = _TRAILERS_V4
        elif version == 6 and n >= _IPV6_HEADER:
            src = int.from_bytes(packet[8:24], "big")
            dst = int.from_bytes(packet[24:40], "big")
            trailers = _TRAILERS_V6
        else:
            self._drop(DropReason.MALFORMED_INNER)
            return None
        flow = None
        for sa in self._outbound:
            simple = sa.simple4
            if simple is not None:
                if version == 4 and simple[0] <= src <= simple[1] and simple[2] <= dst <= simple[3]:
                    break
                continue
            if sa.needs_flow:
                if flow is None:
                    flow = flow_ports(packet, version)
                protocol, sport, dport = flow
                if sa.local.match(version, src, protocol, sport) and sa.remote.match(
                    version, dst, protocol, dport
                ):
                    break
            elif sa.local.match(version, src, 0, NO_PORT) and sa.remote.match(
                version, dst, 0, NO_PORT
            ):
                break
        else:
            self._drop(DropReason.NO_SA)
            return None
        seq = sa.seq + 1
        if seq > sa.seq_max:
            if not sa.exhausted:
                sa.exhausted = True
                self._events.append(SequenceExhausted(sa.spi_in, sa.spi_out))
            self._drop(DropReason.SEQ_EXHAUSTED)
            return None
        sa.seq = seq
        out = sa.cipher.seal(seq, packet + trailers[-(n + _TRAILER) % sa.align])
        counters = sa.counters
        counters.packets_out += 1
        counters.bytes_out += n
        counters.last_out = now
        if counters.packets_out >= sa.lim_packets or counters.bytes_out >= sa.lim_bytes:
            self._limit_reached(counters, sa.spi_in, sa.spi_out)
        return out

    def encapsulate_batch(self, packets: Sequence[bytes], now: float) -> list[bytes]:
        """Encapsulate several inner packets; dropped ones are counted and left out."""
        encapsulate = self.encapsulate
        return [esp for packet in packets if (esp := encapsulate(packet, now)) is not None]

    def decapsulate(self, data: bytes, now: float) -> bytes | None:
        """Verify and decapsulate one ESP packet (the UDP payload); return the inner packet or None.

        None means the packet was dropped and counted by reason. RFC 4303 §3.4,
        in strongSwan's order (see the module docstring).
        """
        n = len(data)
        if n < _ESP_HEADER:
            self._drop(DropReason.TOO_SHORT)
            return None
        spi, low = _HEADER.unpack_from(data)
        sa = self._inbound.get(spi)
        if sa is None:
            self._drop(DropReason.UNKNOWN_SPI)
            return None
        if n < sa.min_len:
            self._drop(DropReason.TOO_SHORT)
            return None
        if (n - sa.trim) % sa.block:
            self._drop(DropReason.BAD_LENGTH)
            return None
        window = sa.window
        seq = window.infer_esn(low) if sa.esn else low
        if not window.check(seq):
            self._drop(DropReason.REPLAY)
            return None
        payload = sa.cipher.open(data, seq)
        if payload is None:
            self._drop(DropReason.ICV)
            return None
        window.commit(seq)

        m = len(payload)
        pad = payload[m - 2]
        nh = payload[m - 1]
        end = m - _TRAILER - pad
        if end < 0 or (pad and payload[end : m - _TRAILER] != _PADDING[pad]):
            self._drop(DropReason.PADDING)
            return None
        if nh == _NH_IPV4:
            version = 4
            if end < _IPV4_HEADER or payload[0] >> 4 != 4:
                self._drop(DropReason.MALFORMED_INNER)
                return None
            total = _U16.unpack_from(payload, 2)[0]
            if not (payload[0] & 0x0F) * 4 <= total <= end or payload[0] & 0x0F < 5:
                self._drop(DropReason.MALFORMED_INNER)
                return None
            src, dst = _ADDRS4.unpack_from(payload, 12)
        elif nh == _NH_IPV6:
            version = 6
            if end < _IPV6_HEADER or payload[0] >> 4 != 6:
                self._drop(DropReason.MALFORMED_INNER)
                return None
            total = _IPV6_HEADER + _U16.unpack_from(payload, 4)[0]
            if total > end:
                self._drop(DropReason.MALFORMED_INNER)
                return None
            src = int.from_bytes(payload[8:24], "big")
            dst = int.from_bytes(payload[24:40], "big")
        elif nh == _NH_NO_NEXT:
            self._drop(DropReason.DUMMY)
            return None
        else:
            self._drop(DropReason.NEXT_HEADER)
            return None
        inner = payload[:total]  # strips TFC padding (RFC 4303 §2.7)

        simple = sa.simple4
        if simple is not None:
            ok = version == 4 and simple[2] <= src <= simple[3] and simple[0] <= dst <= simple[1]
        elif sa.needs_flow:
            protocol, sport, dport = flow_ports(inner, version)
            ok = sa.remote.match(version, src, protocol, sport) and sa.local.match(
                version, dst, protocol, dport
            )
        else:
            ok = sa.remote.match(version, src, 0, NO_PORT) and sa.local.match(
                version, dst, 0, NO_PORT
            )
        if not ok:
            self._drop(DropReason.SELECTOR)
            return None
        counters = sa.counters
        counters.packets_in += 1
        counters.bytes_in += total
        counters.last_in = now
        if sa.pending_out is not None:
            self._activate(sa)  # the peer sends on it: it has the SA, so can we
        if counters.packets_in >= sa.lim_packets or counters.bytes_in >= sa.lim_bytes:
            self._limit_reached(counters, sa.spi_in, sa.spi_out)
        return inner
