"""A million-input mutation fuzzer for everything a hostile gateway can reach (not a test).

Run from the repository root (on a shared machine, niced)::

    nice -n 10 .venv/bin/python bench/fuzz.py --target all --seed 1 [--inputs N] [--seconds S]

Targets, each fed ``--inputs`` generated and mutated inputs:

- ``ikev2-parser``: ``pull_message``, the SK body as a payload chain, ``check_message_rules``,
  and re-encoding (``tests.ike.test_fuzz.parse_everything``); seeds and mutator from
  ``tests.ike.mutation``. Permitted: InvalidSyntax, UnsupportedCriticalPayload.
- ``ikev2-conn``: ``Ikev2Connection.receive_datagram`` waiting for the IKE_SA_INIT
  response, waiting for the IKE_AUTH response, and established; inputs are random bytes,
  mutations of the in-repo responder's real datagrams (IKE SPIs kept right most of the
  time, so the input gets past the SPI lookup) and mutated plaintexts sealed with the
  gateway's real keys (so the inner parser, the rules and the handlers run). Nothing may
  escape (the connection converts errors to drops or IkeSaClosed).
- ``ikev1-parser``: ``pull_header``, ``pull_payload_chain``, ``check_message_rules`` and
  Mode Config ``parse_config``. Permitted: InvalidSyntax.
- ``ikev1-conn``: ``Ikev1Connection.receive_datagram`` waiting for Main Mode 2, 4, 6, the
  Mode Config reply, Quick Mode 2, and established (plus mutated Informationals with a
  valid HASH, sealed with the gateway's keys). Nothing may escape.
- ``esp``: ``EspEngine.decapsulate`` for four suites: random bytes, mutations of genuine
  packets of the installed SA (fresh sequence numbers, so the ICV is checked), and
  mutated inner packets and trailers sealed with the right keys (so padding, next header,
  inner IP and selector checks run). It must return None (a counted drop) or bytes.

A connection in a given state is built once per reset by re-driving it against the
responder (deterministic randomness: every rebuild is byte-identical). It is reused
until an input moved it (state, events or datagrams out), and rebuilt every
``RESET_EVERY`` inputs anyway; a connection that moved is then run through its timers
and closed, so an input that breaks it later is caught too.

Outcomes are counted per target: ``accepted`` or the stage that rejected the input
(drop counters of the connection or the engine, the parser's exception type). An
exception outside the permitted set is written with the input as hex to
``--failures`` and makes the exit status 1. Deterministic for a given ``--seed``
(with ``--seconds`` the number of inputs depends on the speed).
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ikeclient.crypto.random import DeterministicRandomSource  # noqa: E402
from ikeclient.crypto.transforms import EncrId, IntegId  # noqa: E402
from ikeclient.errors import InvalidSyntax, UnsupportedCriticalPayload  # noqa: E402
from ikeclient.esp import EspEngine, Selector  # noqa: E402
from ikeclient.ike.events import Endpoint  # noqa: E402
from ikeclient.ike.v1 import message as v1message  # noqa: E402
from ikeclient.ike.v1 import payloads as v1payloads  # noqa: E402
from ikeclient.ike.v1.connection import Ikev1Connection  # noqa: E402
from ikeclient.ike.v1.enums import ExchangeType as V1Exchange  # noqa: E402
from ikeclient.ike.v1.enums import HeaderFlag as V1Flag  # noqa: E402
from ikeclient.ike.v1.enums import PayloadType as V1Payload  # noqa: E402
from ikeclient.ike.v1.rules import check_message_rules as v1_check_rules  # noqa: E402
from ikeclient.ike.v1.state import Ikev1State  # noqa: E402
from ikeclient.ike.v1.transaction import parse_config  # noqa: E402
from ikeclient.ike.v2.connection import Ikev2Connection  # noqa: E402
from ikeclient.ike.v2.enums import ExchangeType, HeaderFlag  # noqa: E402
from ikeclient.ike.v2.message import pull_message  # noqa: E402
from ikeclient.ike.v2.payloads import push_payload_chain  # noqa: E402
from ikeclient.ike.v2.state import IkeSaState  # noqa: E402
from tests.esp.helpers import CLIENT_VIP, CLIENT_VIP6, SPI_CLIENT, engine_pair, ipv4, ipv6, udp  # noqa: E402  # noqa: E402
from tests.ike.mutation import ikev2_corpus, mutate  # noqa: E402
from tests.ike.test_connection_fuzz import build as build_v2  # noqa: E402
from tests.ike.test_connection_fuzz import genuine_auth_prefix  # noqa: E402
from tests.ike.test_fuzz import parse_chain, parse_everything  # noqa: E402
from tests.ike.test_v1_codec import EVERY_PAYLOAD as V1_EVERY_PAYLOAD  # noqa: E402
from tests.ike.test_v1_connection import LOCAL as V1_LOCAL  # noqa: E402
from tests.ike.test_v1_connection import PSK as V1_PSK  # noqa: E402
from tests.ike.test_v1_connection import settings as v1_settings  # noqa: E402
from tests.ikev1_responder import GATEWAY as V1_GATEWAY  # noqa: E402
from tests.ikev1_responder import Ikev1Responder  # noqa: E402
from tests.ikev2_responder import GATEWAY, NON_ESP_MARKER, seal_chain, unseal  # noqa: E402

RESET_EVERY = 2000
MAX_RECORDED = 20  # escapes written per target; the count goes on


class Escape(Exception):
    """An input broke a rule that is not an exception type (wrong return type, say)."""


@dataclass
class Result:
    target: str
    inputs: int = 0
    seconds: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    escaped: Counter[str] = field(default_factory=Counter)
    resets: int = 0


class Target:
    """One fuzz target: ``feed`` generates one input, feeds it, returns an outcome label."""

    name = ""
    permitted: tuple[type[BaseException], ...] = ()

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.last: bytes = b""
        self.resets = 0

    def feed(self) -> str:
        raise NotImplementedError


# -- IKEv2 parser ----------------------------------------------------------------------------


class Ikev2Parser(Target):
    name = "ikev2-parser"
    permitted = (InvalidSyntax, UnsupportedCriticalPayload)

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.corpus = ikev2_corpus() + _v2_captured()

    def feed(self) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.1:
            data = rng.randbytes(rng.randint(0, 300))
        elif r < 0.2:  # a plausible header, random payloads behind it
            body = rng.randbytes(rng.randint(0, 300))
            first = rng.choice((33, 34, 35, 37, 38, 39, 40, 41, 43, 44, 46, 47, 48, 53, 200))
            head = bytes(16) + bytes((first, 0x20, rng.choice((34, 35, 36, 37)), 0x20))
            data = head + bytes(4) + (28 + len(body)).to_bytes(4, "big") + body
        else:
            data = mutate(rng, rng.choice(self.corpus))
        self.last = data
        outcome = parse_everything(data)
        if len(data) > 28 and rng.random() < 0.25:
            parse_chain(data[28:], rng.randrange(256))
        return outcome


def _v2_captured() -> list[bytes]:
    """Every datagram of a real exchange with the responder double, without the marker."""
    out = []
    for state in (IkeSaState.SA_INIT_SENT, IkeSaState.AUTH_SENT, IkeSaState.ESTABLISHED):
        for d in build_v2(state).captured:
            out.append(d[4:] if d[:4] == NON_ESP_MARKER else d)
    return list(dict.fromkeys(out))


# -- IKEv2 connection ------------------------------------------------------------------------


def _drop_fields(drops: object, names: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(getattr(drops, n) for n in names)


V2_DROP_NAMES = (
    "malformed",
    "integrity",
    "unexpected",
    "not_ours",
    "keepalive",
    "fragments_held",
    "invalid_spi_hints",
)
V1_DROP_NAMES = ("malformed", "integrity", "unexpected", "not_ours", "keepalive")


def _settle(conn: Ikev2Connection | Ikev1Connection, now: float) -> None:
    """Run a connection that an input moved through its timers and close it (nothing may
    escape there either)."""
    while conn.next_event() is not None:
        pass
    conn.datagrams_to_send(now)
    for _ in range(8):
        timer = conn.get_timer()
        if timer is None:
            break
        now = max(now, timer)
        conn.handle_timer(now)
        conn.datagrams_to_send(now)
    conn.close(now + 1.0)
    conn.datagrams_to_send(now + 1.0)
    while conn.next_event() is not None:
        pass


class _ConnTarget(Target):
    """A connection per state, reused until an input moves it."""

    states: ClassVar[list[str]] = []
    drop_names: tuple[str, ...] = ()

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.conns: dict[str, Ikev2Connection | Ikev1Connection] = {}
        self.since_reset: Counter[str] = Counter()
        for s in self.states:
            self.conns[s] = self.build(s)

    def build(self, state: str) -> Ikev2Connection | Ikev1Connection:
        raise NotImplementedError

    def make_input(self, state: str) -> tuple[bytes, int, str]:
        raise NotImplementedError

    def feed(self) -> str:
        state = self.states[self.rng.randrange(len(self.states))]
        conn = self.conns[state]
        data, port, kind = self.make_input(state)
        self.last = data
        before_state = conn.state
        before = _drop_fields(conn.drops, self.drop_names)
        conn.receive_datagram(data, Endpoint(self.gateway_host, port), 3.0)
        after = _drop_fields(conn.drops, self.drop_names)
        moved = conn.state != before_state or conn._events or conn._out
        if moved:
            label = f"{kind}: moved to {conn.state.name}"
        else:
            diff = [n for n, a, b in zip(self.drop_names, before, after, strict=True) if a != b]
            label = f"{kind}: " + (f"dropped {diff[0]}" if diff else "absorbed")
        self.since_reset[state] += 1
        if moved or self.since_reset[state] >= RESET_EVERY:
            if moved:
                _settle(conn, 3.0)
            self.conns[state] = self.build(state)
            self.since_reset[state] = 0
            self.resets += 1
        return f"{state} {label}"

    gateway_host = GATEWAY


def _keep_spis(rng: random.Random, original: bytes, mutated: bytes, offset: int) -> bytes:
    """Mostly put the original IKE SPIs (cookies) back, so the input reaches deeper code."""
    if rng.random() < 0.8 and len(mutated) >= offset + 16:
        return mutated[:offset] + original[offset : offset + 16] + mutated[offset + 16 :]
    return mutated


@dataclass
class _V2State:
    captured: list[bytes]
    seal: Callable[[int, bytes], bytes] | None = None  # (first payload, plaintext) -> datagram
    plaintexts: list[tuple[int, bytes]] = field(default_factory=list)
    prefix: bytes = b""  # plaintext kept as is before the mutated part (a valid IDr, AUTH)


class Ikev2Conn(_ConnTarget):
    name = "ikev2-conn"
    states: ClassVar[list[str]] = ["SA_INIT_SENT", "AUTH_SENT", "ESTABLISHED"]
    drop_names = V2_DROP_NAMES

    def __init__(self, rng: random.Random) -> None:
        self.material: dict[str, _V2State] = {}
        super().__init__(rng)

    def build(self, state: str) -> Ikev2Connection:
        setup = build_v2(IkeSaState[state])
        if state not in self.material:
            self.material[state] = self._material(state, setup)
        return setup.conn

    def _material(self, state: str, setup: object) -> _V2State:
        captured = list(setup.captured)  # type: ignore[attr-defined]
        m = _V2State(captured)
        if state == "SA_INIT_SENT":
            return m
        gw = setup.net.gw  # type: ignore[attr-defined]
        sa = gw.sa
        # The plaintexts of every protected datagram seen, as mutation seeds.
        for d in captured:
            ike = d[4:] if d[:4] == NON_ESP_MARKER else d
            try:
                message = pull_message(ike)
                if message.header.spi_i == sa.spi_i:
                    m.plaintexts.append(push_payload_chain(unseal(ike, message, sa.outbound)))
            except Exception:
                continue
        if state == "AUTH_SENT":
            _, prefix = push_payload_chain(genuine_auth_prefix(setup))  # type: ignore[arg-type]
            m.prefix = prefix
            exchange, flags, mid = ExchangeType.IKE_AUTH, HeaderFlag.RESPONSE, 1
            auth_chain = [p for p in m.plaintexts if p[1].startswith(prefix)]
            m.plaintexts += auth_chain
        else:
            exchange, flags, mid = ExchangeType.INFORMATIONAL, 0, 0
        m.plaintexts.append(push_payload_chain([]))
        for chain in ikev2_corpus()[1:2]:
            msg = pull_message(chain)
            sk = msg.payloads[-1]
            m.plaintexts.append((sk.first_inner, sk.body))  # type: ignore[attr-defined]

        def seal(first: int, plain: bytes, exchange: int = exchange) -> bytes:
            ex = exchange
            if state == "ESTABLISHED" and self.rng.random() < 0.3:
                ex = ExchangeType.CREATE_CHILD_SA
            return NON_ESP_MARKER + seal_chain(
                spi_i=sa.spi_i,
                spi_r=sa.spi_r,
                exchange=ex,
                flags=flags,
                message_id=mid,
                first=first,
                inner=plain,
                cipher=sa.outbound,
                rng=gw.rng,
            )

        m.seal = seal
        return m

    def make_input(self, state: str) -> tuple[bytes, int, str]:
        rng = self.rng
        m = self.material[state]
        port = 4500 if rng.random() < 0.9 else 500
        r = rng.random()
        if r < 0.05:
            data = rng.randbytes(rng.randint(0, 300))
            return (NON_ESP_MARKER + data if rng.random() < 0.5 else data), port, "random"
        if r < 0.55 or m.seal is None:
            original = rng.choice(m.captured)
            offset = 4 if original[:4] == NON_ESP_MARKER else 0
            mutated = mutate(rng, original[offset:])
            data = original[:offset] + mutated
            return _keep_spis(rng, original, data, offset), port, "mutated"
        first, plain = rng.choice(m.plaintexts)
        if m.prefix and plain.startswith(m.prefix) and rng.random() < 0.5:
            # A valid IDr and AUTH, then mutated payloads: reaches SA, TS and CP handling.
            k = len(m.prefix)
            plain = plain[:k] + mutate(rng, plain[k:], length_at=None)
            kind = "sealed-after-auth"
        else:
            plain = mutate(rng, plain, length_at=None)
            if rng.random() < 0.2:
                first = rng.randrange(256)
            kind = "sealed"
        return m.seal(first, plain), 4500, kind


# -- IKEv1 -----------------------------------------------------------------------------------


def _v1_corpus() -> list[bytes]:
    """Valid ISAKMP messages with every payload kind, clear and with the E flag."""
    out = []
    ck = bytes(range(8))
    rules = {
        V1Exchange.IDENTITY_PROTECTION: [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 13],
        V1Exchange.QUICK: [5, 0, 7, 1, 2, 2, 8, 14],
        V1Exchange.INFORMATIONAL: [5, 8, 9],
        V1Exchange.TRANSACTION: [5, 11],
        V1Exchange.AGGRESSIVE: [0, 1, 7, 2, 5, 16],
    }
    for exchange, picks in rules.items():
        payloads = [V1_EVERY_PAYLOAD[i] for i in picks]
        first, body = v1payloads.push_payload_chain(payloads)
        for flags in (0, V1Flag.ENCRYPTION):
            out.append(
                v1message.push_header(ck, ck, first, exchange, flags, 7, 28 + len(body)) + body
            )
    return out


def _v1_parse(data: bytes) -> str:
    header = v1message.pull_header(data)
    payloads, _ = v1payloads.pull_payload_chain(
        data[v1message.HEADER_SIZE :], header.next_payload, allow_padding=header.encrypted
    )
    v1_check_rules(header.exchange_type, payloads)
    for p in payloads:
        if isinstance(p, v1payloads.AttributePayload):
            parse_config(p.attributes)
    return "accepted"


class Ikev1Parser(Target):
    name = "ikev1-parser"
    permitted = (InvalidSyntax,)

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.corpus = _v1_corpus() + _v1_captured()

    def feed(self) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.1:
            data = rng.randbytes(rng.randint(0, 300))
        elif r < 0.2:
            body = rng.randbytes(rng.randint(0, 300))
            first = rng.choice([*range(1, 21), 130, 131, 200])
            head = bytes(16) + bytes((first, 0x10, rng.choice((2, 4, 5, 6, 32)), 0))
            data = head + bytes(4) + (28 + len(body)).to_bytes(4, "big") + body
        else:
            data = mutate(rng, rng.choice(self.corpus))
        self.last = data
        try:
            return _v1_parse(data)
        except InvalidSyntax:
            # Raised, not returned: counted under the exception type by the runner.
            raise


V1_STATES = {  # state name -> how many gateway answers are delivered (the next one is held)
    "MM_SA_SENT": 0,
    "MM_KE_SENT": 1,
    "MM_AUTH_SENT": 2,
    "MODECFG": 3,
    "QUICK": 4,
    "ESTABLISHED": 99,
}


def _drive_v1(delivered: int) -> tuple[Ikev1Connection, Ikev1Responder, list[bytes]]:
    conn = Ikev1Connection(
        v1_settings(), local=V1_LOCAL, remote=V1_GATEWAY, rng=DeterministicRandomSource(b"client")
    )
    gw = Ikev1Responder(V1_PSK)
    conn.connect(0.0)
    seen: list[bytes] = []
    pending = conn.datagrams_to_send(0.0)
    held = False
    while pending and not held:
        data, _ = pending.pop(0)
        for reply in gw.receive(data):
            seen.append(reply)
            if len(seen) > delivered:
                held = True
                break
            port = 4500 if reply[:4] == bytes(4) else 500
            conn.receive_datagram(reply, Endpoint(V1_GATEWAY.host, port), 0.0)
        pending += conn.datagrams_to_send(0.0)
    while conn.next_event() is not None:
        pass
    return conn, gw, seen


def _v1_captured() -> list[bytes]:
    _, gw, seen = _drive_v1(99)
    return [*seen, gw.r_u_there(1), gw.start_rekey(), gw.delete_ike()]


class Ikev1Conn(_ConnTarget):
    name = "ikev1-conn"
    states: ClassVar[list[str]] = list(V1_STATES)
    drop_names = V1_DROP_NAMES
    gateway_host = V1_GATEWAY.host

    def __init__(self, rng: random.Random) -> None:
        self.material: dict[str, tuple[list[bytes], Ikev1Responder]] = {}
        self.chains = [v1payloads.push_payload_chain(p) for p in _v1_chains()]
        super().__init__(rng)

    def build(self, state: str) -> Ikev1Connection:
        conn, gw, seen = _drive_v1(V1_STATES[state])
        if conn.state != Ikev1State[state]:
            raise RuntimeError(f"IKEv1 driver reached {conn.state}, not {state}")
        if state not in self.material:
            if state == "ESTABLISHED":
                seen += [gw.r_u_there(1), gw.start_rekey(), gw.delete_ike()]
            self.material[state] = (seen, gw)
        return conn

    def make_input(self, state: str) -> tuple[bytes, int, str]:
        rng = self.rng
        seen, gw = self.material[state]
        r = rng.random()
        if r < 0.05:
            return rng.randbytes(rng.randint(0, 300)), 500, "random"
        if r < 0.75 or gw.keys is None:
            original = rng.choice(seen)
            data = _keep_spis(rng, original, mutate(rng, original), 0)
            return data, 500, "mutated"
        # An Informational with a valid HASH(1) over a mutated payload chain (RFC 2409 §5.7).
        first, body = rng.choice(self.chains)
        body = mutate(rng, body, length_at=None)
        mid = rng.randrange(1, 2**32)
        digest = gw.prf.compute(gw.keys.skeyid_a, mid.to_bytes(4, "big") + body)
        head = bytes((first, 0)) + (4 + len(digest)).to_bytes(2, "big") + digest
        data = gw._wrap(V1Exchange.INFORMATIONAL, mid, V1Payload.HASH, head + body, True)
        return data, 500, "sealed"


def _v1_chains() -> list[list[v1payloads.Payload]]:
    p = V1_EVERY_PAYLOAD
    return [[p[8]], [p[9]], [p[8], p[9]], [p[11]], [p[10], p[16]], []]


# -- ESP -------------------------------------------------------------------------------------

ESP_SUITES = {
    "gcm": (EncrId.AES_GCM_16, 128, None),
    "chacha": (EncrId.CHACHA20_POLY1305, None, None),
    "cbc": (EncrId.AES_CBC, 128, IntegId.HMAC_SHA1_96),
    "ctr": (EncrId.AES_CTR, 128, IntegId.HMAC_SHA2_256_128),
}
PEER = "192.0.2.1"


class Esp(Target):
    name = "esp"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.pairs: list[tuple[str, EspEngine, EspEngine]] = []
        for name, suite in ESP_SUITES.items():
            client, gateway = engine_pair(*suite, esn=True)
            self.pairs.append((name, client, gateway))
        # One more with port selectors, so the flow lookup runs on inner packets.
        local = (Selector.from_network(CLIENT_VIP, 17, 1000, 2000),)
        remote = (Selector.from_network("192.0.2.0/24", 17), Selector.from_network("::/0"))
        client, gateway = engine_pair(
            *ESP_SUITES["gcm"], esn=False, local_ts=local, remote_ts=remote
        )
        self.pairs.append(("gcm-ports", client, gateway))
        self.inner = [
            ipv4(PEER, CLIENT_VIP, udp(53, 1500, b"answer")),
            ipv4(PEER, CLIENT_VIP, b"\x08\x00" + bytes(30), protocol=1),
            ipv4(PEER, CLIENT_VIP, bytes(20), protocol=6),
            ipv6("2001:db8::1", CLIENT_VIP6, udp(53, 1500, b"answer")),
            ipv6("2001:db8::1", CLIENT_VIP6, bytes(24), next_header=6),
        ]
        # What each gateway engine will encapsulate (its selectors may refuse some).
        self.genuine = {
            name: [p for p in self.inner if gateway.encapsulate(p, 0.0) is not None]
            for name, _, gateway in self.pairs
        }

    def feed(self) -> str:
        rng = self.rng
        name, client, gateway = self.pairs[rng.randrange(len(self.pairs))]
        out = gateway._outbound[0]
        r = rng.random()
        if r < 0.05:
            data = rng.randbytes(rng.randint(0, 200))
            kind = "random"
        elif r < 0.1:
            body = rng.randbytes(rng.randint(0, 200))
            data = SPI_CLIENT.to_bytes(4, "big") + rng.randbytes(4) + body
            kind = "known-spi"
        elif r < 0.55:
            genuine = gateway.encapsulate(rng.choice(self.genuine[name]), 0.0)
            if genuine is None:
                raise Escape("the gateway engine would not encapsulate a valid packet")
            if rng.random() < 0.1:
                data, kind = genuine, "genuine"
            else:
                data = mutate(rng, genuine, length_at=None)
                if len(data) >= 8 and rng.random() < 0.8:
                    data = genuine[:8] + data[8:]  # SPI and a fresh sequence number
                kind = "mutated" if data != genuine else "genuine"  # edits may cancel out
        else:
            # A mutated inner packet and trailer, sealed with the SA's real keys.
            inner = mutate(rng, rng.choice(self.inner), length_at=None)
            align = out.cipher.align
            pad = -(len(inner) + 2) % align
            if rng.random() < 0.3:
                pad += align * rng.randrange(4)
            padding = bytes(range(1, pad + 1))
            trailer = bytearray(padding + bytes((pad, rng.choice((4, 41, 4, 41, 59, 17, 0)))))
            if rng.random() < 0.2 and pad:
                trailer[rng.randrange(pad)] ^= 1 << rng.randrange(8)
            if rng.random() < 0.1:
                trailer[-2] = rng.randrange(256)
            plain = inner + bytes(trailer)
            if len(plain) % out.cipher.block:
                plain += bytes(-len(plain) % out.cipher.block)
            out.seq += 1
            data = out.cipher.seal(out.seq, plain)
            kind = "sealed-inner"
        self.last = data
        before = dict(client.drops)
        result = client.decapsulate(data, 0.0)
        if result is None:
            diff = [reason.name for reason, n in client.drops.items() if n != before[reason]]
            if len(diff) != 1:
                raise Escape(f"decapsulate returned None with drop counters {diff}")
            return f"{kind}: dropped {diff[0]}"
        if not isinstance(result, bytes):
            raise Escape(f"decapsulate returned {type(result).__name__}")
        return f"{kind}: accepted"


TARGETS: dict[str, type[Target]] = {
    t.name: t for t in (Ikev2Parser, Ikev2Conn, Ikev1Parser, Ikev1Conn, Esp)
}


def run(cls: type[Target], inputs: int, seconds: float | None, seed: int, failures: Path) -> Result:
    rng = random.Random(f"{seed}/{cls.name}")
    result = Result(cls.name)
    start = time.perf_counter()
    target = cls(rng)
    setup = time.perf_counter() - start
    start = time.perf_counter()
    deadline = None if seconds is None else start + seconds
    recorded = 0
    for i in range(inputs):
        if deadline is not None and i % 256 == 0 and time.perf_counter() > deadline:
            break
        try:
            outcome = target.feed()
        except target.permitted as exc:
            outcome = type(exc).__name__
        except Exception as exc:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            key = f"{type(exc).__name__} at {Path(where.filename).name}:{where.lineno}"
            result.escaped[key] += 1
            outcome = "ESCAPED"
            if recorded < MAX_RECORDED:
                recorded += 1
                with failures.open("a") as f:
                    f.write(f"# {cls.name} seed {seed} input {i}: {key}: {exc}\n")
                    f.write("".join(traceback.format_exception(exc)))
                    f.write(target.last.hex() + "\n\n")
        result.outcomes[outcome] += 1
        result.inputs += 1
    result.seconds = time.perf_counter() - start
    result.resets = target.resets
    print(
        f"{cls.name}: {result.inputs} inputs in {result.seconds:.1f}s "
        f"(+{setup:.1f}s setup), {result.resets} rebuilds, escaped {sum(result.escaped.values())}",
        flush=True,
    )
    return result


def summary(results: list[Result]) -> str:
    lines = [
        f"{'target':<13} {'inputs':>9} {'seconds':>8} {'inputs/s':>9} {'rebuilds':>8} escaped",
    ]
    for r in results:
        rate = r.inputs / r.seconds if r.seconds else 0.0
        lines.append(
            f"{r.target:<13} {r.inputs:>9} {r.seconds:>8.1f} {rate:>9.0f} {r.resets:>8} "
            f"{sum(r.escaped.values())}"
        )
    for r in results:
        lines.append(f"\n{r.target} outcomes:")
        lines += [f"  {n:>9}  {label}" for label, n in sorted(r.outcomes.items())]
        lines += [f"  {n:>9}  ESCAPED {key}" for key, n in sorted(r.escaped.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--target", choices=["all", *TARGETS], default="all")
    parser.add_argument("--inputs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=None, help="time cap per target")
    parser.add_argument("--failures", type=Path, default=Path("fuzz-failures.txt"))
    args = parser.parse_args(argv)
    # Millions of rejected inputs would log millions of warnings; the counts say it all.
    logging.disable(logging.CRITICAL)
    names = list(TARGETS) if args.target == "all" else [args.target]
    print(f"seed {args.seed}, {args.inputs} inputs per target, targets {', '.join(names)}")
    results = [run(TARGETS[n], args.inputs, args.seconds, args.seed, args.failures) for n in names]
    print(summary(results))
    escaped = sum(sum(r.escaped.values()) for r in results)
    if escaped:
        print(f"{escaped} inputs escaped; see {args.failures}", file=sys.stderr)
    return 1 if escaped else 0


if __name__ == "__main__":
    sys.exit(main())
