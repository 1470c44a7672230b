"""A tiny in-memory network between an ``Ikev2Connection`` and a ``ResponderDouble``.

Time is a plain float passed by the test. Datagrams are moved one by one; rules
installed with ``drop_next`` / ``duplicate_next`` / ``hold_next`` act on the
next datagrams matching a predicate, so a test can lose, repeat, delay or
reorder exactly the packets it names. An optional NAT rewrites the
initiator's source address and port on the way to the gateway and back.
``initiator`` (the client's address) and ``nat_port_base`` (where the NAT maps
its ports) can change mid-test, as a roaming client or a NAT that forgot its
mappings would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ikeclient.config.proposals import parse_proposals
from ikeclient.crypto.random import DeterministicRandomSource
from ikeclient.ike.events import Endpoint, IkeEvent
from ikeclient.ike.identity import Identity
from ikeclient.ike.v2.connection import Ikev2Connection
from ikeclient.ike.v2.enums import ExchangeType
from ikeclient.ike.v2.message import IkeHeader, pull_header
from ikeclient.ike.v2.settings import NO_LIFETIMES, Ikev2Settings, RetransmitPolicy
from tests.ikev2_responder import GATEWAY, NON_ESP_MARKER, ResponderDouble

INITIATOR = "192.0.2.10"
PSK = b"correct horse battery staple"
LOCAL_ID = Identity.parse("alice@example.org")
REMOTE_ID = Identity.parse("@vpn.example.net")

GW_IKE = [
    "aes256gcm16-aes128gcm16-prfsha256-prfsha384-ecp256-modp2048-x25519-ecp384",
    "aes128-aes256-sha256-sha1-modp2048-ecp256-x25519",
    "chacha20poly1305-prfsha256-x25519-ecp256",
]
GW_ESP = ["aes256gcm16-aes128gcm16", "aes128-aes256-sha256-sha1", "chacha20poly1305"]


def settings(
    ike: str | list[str] = "aes256gcm16-prfsha256-ecp256",
    esp: str | list[str] = "aes256gcm16",
    **kw: object,
) -> Ikev2Settings:
    """Profile settings for the tests; keyword arguments override fields.

    Lifetimes, liveness checks and MOBIKE are off unless a test turns them on, so the
    basic exchanges run without timers of their own.
    """
    values: dict[str, object] = {
        "lifetimes": NO_LIFETIMES,
        "dpd_delay": 0.0,
        "mobike": False,
        "local_id": LOCAL_ID,
        "psk": PSK,
        "ike_proposals": parse_proposals([ike] if isinstance(ike, str) else ike, ike=True),
        "esp_proposals": parse_proposals([esp] if isinstance(esp, str) else esp, ike=False),
        "remote_id": REMOTE_ID,
        "retransmit": RetransmitPolicy(timeout=2.0, base=2.0, tries=3),
    }
    values.update(kw)
    return Ikev2Settings(**values)  # type: ignore[arg-type]


def gateway(**kw: object) -> ResponderDouble:
    """A responder with a broad allowed list; keyword arguments are its knobs."""
    values: dict[str, object] = {
        "psk": PSK,
        "ike_proposals": parse_proposals(GW_IKE, ike=True),
        "esp_proposals": parse_proposals(GW_ESP, ike=False),
    }
    values.update(kw)
    return ResponderDouble(**values)  # type: ignore[arg-type]


def connection(s: Ikev2Settings | None = None, *, seed: bytes = b"initiator") -> Ikev2Connection:
    return Ikev2Connection(
        s or settings(),
        local=Endpoint(INITIATOR, 500),
        remote=Endpoint(GATEWAY, 500),
        rng=DeterministicRandomSource(seed),
    )


@dataclass(frozen=True, slots=True)
class Datagram:
    data: bytes
    src: Endpoint
    dst: Endpoint

    @property
    def to_gateway(self) -> bool:
        return self.dst.host == GATEWAY

    @property
    def ike(self) -> bytes:
        """The IKE message, without the non-ESP marker."""
        return self.data[4:] if self.data[:4] == NON_ESP_MARKER else self.data

    @property
    def framed(self) -> bool:
        return self.data[:4] == NON_ESP_MARKER

    @property
    def header(self) -> IkeHeader:
        return pull_header(self.ike)

    @property
    def exchange(self) -> int:
        return self.header.exchange_type

    @property
    def is_response(self) -> bool:
        return self.header.is_response


Predicate = Callable[[Datagram], bool]


def is_request(exchange: int) -> Predicate:
    return lambda d: d.to_gateway and d.exchange == exchange and not d.is_response


def is_response(exchange: int) -> Predicate:
    return lambda d: not d.to_gateway and d.exchange == exchange and d.is_response


SA_INIT_REQUEST = is_request(ExchangeType.IKE_SA_INIT)
SA_INIT_RESPONSE = is_response(ExchangeType.IKE_SA_INIT)
AUTH_REQUEST = is_request(ExchangeType.IKE_AUTH)
AUTH_RESPONSE = is_response(ExchangeType.IKE_AUTH)
INFO_REQUEST = is_request(ExchangeType.INFORMATIONAL)
INFO_RESPONSE = is_response(ExchangeType.INFORMATIONAL)


class Network:
    """Moves datagrams between the initiator and the gateway double."""

    def __init__(
        self, conn: Ikev2Connection, gw: ResponderDouble, *, nat: str | None = None
    ) -> None:
        self.conn = conn
        self.gw = gw
        self.nat = nat  # the NAT's public address, or None for a direct path
        self.initiator = INITIATOR  # the client's own address (MOBIKE tests change it)
        self.nat_port_base = 30000
        self.log: list[Datagram] = []  # every datagram delivered, in order
        self.dropped: list[Datagram] = []
        self.held: list[Datagram] = []
        self.wire: list[Datagram] = []  # every datagram put on the wire, delivered or not
        self._rules: list[tuple[Predicate, str]] = []

    # -- rules --------------------------------------------------------------------------

    def drop_next(self, pred: Predicate, count: int = 1) -> None:
        self._rules += [(pred, "drop")] * count

    def duplicate_next(self, pred: Predicate) -> None:
        self._rules.append((pred, "dup"))

    def hold_next(self, pred: Predicate) -> None:
        self._rules.append((pred, "hold"))

    def _action(self, d: Datagram) -> str:
        for i, (pred, action) in enumerate(self._rules):
            if pred(d):
                del self._rules[i]
                return action
        return "pass"

    # -- moving --------------------------------------------------------------------------

    def _outside(self, src: Endpoint) -> Endpoint:
        return src if self.nat is None else Endpoint(self.nat, self.nat_port_base + src.port)

    def _inside(self, dst: Endpoint) -> Endpoint:
        if self.nat is None:
            return dst
        if dst.host != self.nat or not 0 < dst.port - self.nat_port_base < 65536:
            return Endpoint("0.0.0.0", 0)
        return Endpoint(self.initiator, dst.port - self.nat_port_base)

    def collect(self, now: float) -> list[Datagram]:
        """What the initiator wants to send now, as datagrams (source port = destination port)."""
        return [
            Datagram(data, Endpoint(self.initiator, dst.port), dst)
            for data, dst in self.conn.datagrams_to_send(now)
        ]

    def deliver(self, d: Datagram, now: float) -> list[Datagram]:
        """Deliver one datagram; return what the receiver sent in answer."""
        self.log.append(d)
        if d.dst.host == "0.0.0.0":
            self.dropped.append(d)  # the NAT has no mapping for it any more
            return []
        if d.to_gateway:
            src = self._outside(d.src)
            return [
                Datagram(data, Endpoint(GATEWAY, d.dst.port), self._inside(dst))
                for data, dst in self.gw.receive(d.data, src, d.dst.port)
            ]
        self.conn.receive_datagram(d.data, d.src, now)
        return self.collect(now)

    def pump(self, now: float, queue: list[Datagram] | None = None) -> None:
        """Move datagrams both ways until none is left (held ones stay held)."""
        pending = self.collect(now) + (queue or [])
        while pending:
            d = pending.pop(0)
            self.wire.append(d)
            action = self._action(d)
            if action == "drop":
                self.dropped.append(d)
                continue
            if action == "hold":
                self.held.append(d)
                continue
            pending += self.deliver(d, now)
            if action == "dup":
                pending += self.deliver(d, now)

    def release(self, now: float) -> None:
        """Deliver the held datagrams now (in the order they were held)."""
        held, self.held = self.held, []
        for d in held:
            self.wire.remove(d)  # counted again when it goes out
        self.pump(now, held)

    def from_gateway(self, data: bytes | list[bytes], now: float, *, port: int = 4500) -> None:
        """Inject datagrams the gateway originates (e.g. its own requests)."""
        dst = self._inside(self._outside(Endpoint(self.initiator, port)))
        items = [data] if isinstance(data, bytes) else data
        self.pump(now, [Datagram(d, Endpoint(GATEWAY, port), dst) for d in items])

    def run_timers(self, until: float) -> float:
        """Fire the initiator's timers up to ``until``; return the time reached."""
        now = 0.0
        while (deadline := self.conn.get_timer()) is not None and deadline <= until:
            now = deadline
            self.conn.handle_timer(now)
            self.pump(now)
        return now


def drain(conn: Ikev2Connection) -> list[IkeEvent]:
    events = []
    while (e := conn.next_event()) is not None:
        events.append(e)
    return events


def sent(net: Network, pred: Predicate) -> list[Datagram]:
    """Datagrams put on the wire that match ``pred``, in order."""
    return [d for d in net.wire if pred(d)]
