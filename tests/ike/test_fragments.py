"""RFC 7383 reassembly limits and ordering (ikeclient.ike.v2.fragments)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikeclient.errors import InvalidSyntax
from ikeclient.ike.v2.fragments import FragmentReassembler


def test_in_order_and_out_of_order() -> None:
    r = FragmentReassembler()
    assert r.add(1, True, 2, 3, 0, b"BB") is None
    assert r.add(1, True, 3, 3, 0, b"C") is None
    assert r.add(1, True, 2, 3, 0, b"XX") is None  # duplicate: the first copy is kept
    assert r.add(1, True, 1, 3, 35, b"A") == (35, b"ABBC")
    assert r.pending == 0 and r.buffered_bytes == 0


def test_more_fragments_restart_fewer_are_ignored() -> None:
    r = FragmentReassembler()
    assert r.add(1, True, 1, 2, 35, b"a") is None
    assert r.add(1, True, 2, 3, 0, b"b") is None  # total grew: start again (§2.6.2)
    assert r.add(1, True, 2, 2, 0, b"x") is None  # total shrank: ignored
    assert r.add(1, True, 1, 3, 35, b"A") is None
    assert r.add(1, True, 3, 3, 0, b"C") == (35, b"AbC")


def test_limits() -> None:
    r = FragmentReassembler(max_fragments=4, max_message_size=10)
    with pytest.raises(InvalidSyntax, match="at most 4"):
        r.add(1, True, 1, 5, 35, b"a")
    assert r.add(1, True, 1, 3, 35, b"123456") is None
    with pytest.raises(InvalidSyntax, match="exceeds 10 bytes"):
        r.add(1, True, 2, 3, 0, b"12345")
    assert r.pending == 0
    with pytest.raises(InvalidSyntax):
        r.add(1, True, 0, 3, 35, b"a")


def test_only_the_newest_message_per_direction_is_held() -> None:
    r = FragmentReassembler()
    r.add(1, True, 1, 2, 35, b"old")
    r.add(2, True, 1, 2, 35, b"new")
    r.add(7, False, 1, 2, 35, b"request")
    assert r.pending == 2
    assert r.add(1, True, 2, 2, 0, b"!") is None  # message 1 was dropped for message 2
    assert r.pending == 2
    assert r.add(2, True, 2, 2, 0, b"!") == (35, b"new!")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.booleans(),
            st.integers(0, 70),
            st.integers(0, 70),
            st.binary(max_size=3000),
        ),
        max_size=60,
    )
)
def test_memory_stays_bounded_whatever_arrives(
    fragments: list[tuple[int, bool, int, int, bytes]],
) -> None:
    r = FragmentReassembler(max_fragments=64, max_message_size=8192)
    for msg_id, resp, number, total, data in fragments:
        with contextlib.suppress(InvalidSyntax):
            r.add(msg_id, resp, number, total, 35, data)
        assert r.pending <= 2
        assert r.buffered_bytes <= 2 * 8192


def test_an_incomplete_message_is_forgotten_after_max_age() -> None:
    r = FragmentReassembler(max_age=30.0)
    assert r.add(1, True, 1, 2, 35, b"a", now=0.0) is None
    r.expire(29.0)
    assert r.pending == 1
    r.expire(31.0)
    assert r.pending == 0 and r.buffered_bytes == 0
    # A late fragment starts over: the first one is not remembered.
    assert r.add(1, True, 2, 2, 0, b"b", now=31.0) is None
    assert r.add(1, True, 1, 2, 35, b"a", now=32.0) == (35, b"ab")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.booleans(),
            st.integers(1, 8),
            st.integers(1, 8),
            st.binary(max_size=600),
            st.floats(0, 5, allow_nan=False),
        ),
        max_size=80,
    )
)
def test_limits_hold_over_time(fragments: list[tuple[int, bool, int, int, bytes, float]]) -> None:
    """Count, size and age limits together: bounded memory, nothing older than max_age kept."""
    r = FragmentReassembler(max_fragments=8, max_message_size=2048, max_age=10.0)
    now = 0.0
    for msg_id, resp, number, total, data, step in fragments:
        now += step
        with contextlib.suppress(InvalidSyntax):
            r.add(msg_id, resp, number, total, 35, data, now=now)
        assert r.pending <= 2
        assert r.buffered_bytes <= 2 * 2048
    r.expire(now + 10.1)
    assert r.pending == 0
