"""Fuzz the codec: only InvalidSyntax or UnsupportedCriticalPayload may escape.

The number of examples per test defaults to 400; set ``IKECLIENT_FUZZ_EXAMPLES``
for a long run, e.g. ``IKECLIENT_FUZZ_EXAMPLES=200000 .venv/bin/python -m pytest
tests/ike/test_fuzz.py -q``.  ``python -m tests.ike.fuzz_codec`` is a faster,
time-bounded mutation fuzzer without hypothesis.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ikeclient.errors import InvalidSyntax, UnsupportedCriticalPayload
from ikeclient.ike.v2.message import HEADER_SIZE, pull_message
from ikeclient.ike.v2.payloads import (
    SkfPayload,
    SkPayload,
    pull_payload_chain,
    push_payload_chain,
)
from ikeclient.ike.v2.rules import check_message_rules

from . import strategies as s

EXAMPLES = int(os.environ.get("IKECLIENT_FUZZ_EXAMPLES", "400"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PERMITTED = (InvalidSyntax, UnsupportedCriticalPayload)


def parse_everything(data: bytes) -> str:
    """What the connection does with a datagram, minus crypto; only PERMITTED may escape.

    Returns how far the input got: ``header/chain: <error>`` when ``pull_message``
    rejected it, ``inner: <error>`` when the SK body was not a payload chain,
    ``rules: InvalidSyntax`` when the message rules rejected it, or ``accepted``.
    """
    try:
        message = pull_message(data)
    except PERMITTED as exc:
        return f"header/chain: {type(exc).__name__}"
    # Whatever parses must re-encode to something that parses to the same payloads.
    first, body = push_payload_chain(message.payloads)
    assert first == message.header.next_payload
    assert pull_payload_chain(body, first) == message.payloads
    inner = None
    outcome = "accepted"
    last = message.payloads[-1] if message.payloads else None
    if isinstance(last, SkPayload | SkfPayload):
        # Pretend the body is the plaintext, to push hostile bytes through the inner parser.
        try:
            inner = pull_payload_chain(last.body, last.first_inner)
        except PERMITTED as exc:
            inner = None
            outcome = f"inner: {type(exc).__name__}"
    try:
        check_message_rules(
            message.header.exchange_type, message.header.is_response, message.payloads, inner
        )
    except InvalidSyntax:
        return "rules: InvalidSyntax"
    return outcome


def parse_chain(data: bytes, first_type: int) -> None:
    try:
        payloads = pull_payload_chain(data, first_type)
    except PERMITTED:
        return
    first, body = push_payload_chain(payloads)
    assert pull_payload_chain(body, first) == payloads


@FUZZ
@given(st.binary(max_size=600))
def test_arbitrary_bytes_into_pull_message(data: bytes) -> None:
    parse_everything(data)


@FUZZ
@given(st.binary(max_size=600), st.integers(0, 255))
def test_arbitrary_bytes_into_pull_payload_chain(data: bytes, first_type: int) -> None:
    parse_chain(data, first_type)


@FUZZ
@given(st.binary(max_size=600))
def test_arbitrary_payloads_behind_a_valid_header(data: bytes) -> None:
    """A plausible header so the bytes reach the payload parsers."""
    for first in (33, 41, 46, 53):
        header = bytes(8) * 2 + bytes([first, 0x20, 34, 0x20]) + bytes(4)
        parse_everything(header + (HEADER_SIZE + len(data)).to_bytes(4, "big") + data)


@st.composite
def mutated(draw: st.DrawFn, source: st.SearchStrategy[bytes]) -> bytes:
    """A valid encoding, then bit flips, truncation, extension, overwrites, splices."""
    data = bytearray(draw(source))
    for op in draw(st.lists(st.integers(0, 5), min_size=1, max_size=4)):
        n = len(data)
        if op == 0 and n:  # flip one bit
            i = draw(st.integers(0, n - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == 1:  # truncate
            del data[draw(st.integers(0, n)) :]
        elif op == 2:  # extend
            data += draw(st.binary(min_size=1, max_size=40))
        elif op == 3 and n:  # overwrite a byte with an interesting value
            data[draw(st.integers(0, n - 1))] = draw(
                st.sampled_from([0, 1, 3, 4, 0x7F, 0x80, 0xFF])
            )
        elif op == 4:  # insert bytes
            i = draw(st.integers(0, n))
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == 5 and n:  # delete a slice
            i = draw(st.integers(0, n - 1))
            del data[i : i + draw(st.integers(1, 8))]
    return bytes(data)


def _fix_length(data: bytes) -> bytes:
    if len(data) < HEADER_SIZE:
        return data
    return data[:24] + len(data).to_bytes(4, "big") + data[28:]


@FUZZ
@given(mutated(s.messages()), st.booleans())
def test_mutated_messages(data: bytes, fix_length: bool) -> None:
    parse_everything(_fix_length(data) if fix_length else data)


@st.composite
def encoded_chains(draw: st.DrawFn) -> bytes:
    first, data = push_payload_chain(draw(s.payload_chains()))
    return bytes([first]) + data


@FUZZ
@given(mutated(encoded_chains()))
def test_mutated_payload_chains(data: bytes) -> None:
    if data:
        parse_chain(data[1:], data[0])
