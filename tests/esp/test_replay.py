"""The anti-replay window (RFC 4303 §3.4.3, Appendix A), checked against a simple model."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikeclient.esp.replay import ReplayWindow

SIZES = [32, 64, 65, 100, 128, 1024, 4096]


def accept(window: ReplayWindow, seq: int) -> bool:
    """The engine's use: read-only check first, then commit (after the ICV verified)."""
    if not window.check(seq):
        return False
    assert window.commit(seq)
    return True


class Model:
    """A set of every number seen: what the window must agree with."""

    def __init__(self, size: int) -> None:
        self.size, self.seen, self.top = size, set[int](), 0

    def accept(self, seq: int) -> bool:
        if seq <= 0 or seq in self.seen or (seq <= self.top and self.top - seq >= self.size):
            return False
        self.seen.add(seq)
        self.top = max(self.top, seq)
        return True


@pytest.mark.parametrize("size", SIZES)
def test_in_order(size: int) -> None:
    w = ReplayWindow(size)
    assert all(accept(w, seq) for seq in range(1, 3 * size))
    assert w.top == 3 * size - 1
    assert not any(w.check(seq) for seq in range(1, 3 * size))


@pytest.mark.parametrize("size", SIZES)
def test_out_of_order_within_the_window(size: int) -> None:
    w = ReplayWindow(size)
    assert accept(w, 10 * size)
    lowest = 10 * size - size + 1
    for seq in range(10 * size - 1, lowest - 1, -1):
        assert accept(w, seq), seq
    assert not w.check(lowest - 1)  # just outside: too old
    assert not any(w.check(s) for s in range(lowest, 10 * size + 1))


@pytest.mark.parametrize("size", SIZES)
def test_too_old_and_edge(size: int) -> None:
    w = ReplayWindow(size)
    top = 5 * size + 17
    assert accept(w, top)
    assert w.check(top - size + 1)  # the oldest number still in the window
    assert not w.check(top - size)  # one older: outside
    assert not w.check(1)


def test_duplicates_and_zero() -> None:
    w = ReplayWindow(64)
    assert not w.check(0)
    assert not w.commit(0)
    assert accept(w, 7)
    assert not w.check(7)
    assert not w.commit(7)  # commit refuses what check would refuse
    assert accept(w, 3)
    assert not w.check(3)


def test_check_is_read_only() -> None:
    w = ReplayWindow(64)
    for _ in range(3):
        assert w.check(1000)
    assert w.top == 0  # a forged packet (ICV failure) never moves the window
    assert accept(w, 1000)
    assert w.check(999)


@pytest.mark.parametrize("size", SIZES)
def test_big_jumps_clear_stale_bits(size: int) -> None:
    w = ReplayWindow(size)
    for seq in range(1, size + 1):
        accept(w, seq)
    # A jump of many ring lengths: every number in the new window is fresh.
    jump = size * 1000 + 3
    assert accept(w, jump)
    for seq in range(jump - size + 1, jump):
        assert w.check(seq), seq
    # A jump of less than a window keeps the old bits that are still inside.
    w2 = ReplayWindow(size)
    for seq in range(1, size + 1):
        accept(w2, seq)
    assert accept(w2, size + size // 2)
    assert not w2.check(size)
    assert w2.check(size + 1)


@pytest.mark.parametrize("size", [32, 64, 100, 1024])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_agrees_with_the_model(size: int, data: st.DataObject) -> None:
    w, model = ReplayWindow(size), Model(size)
    base = data.draw(st.sampled_from([0, 1 << 20, (1 << 32) - 3 * size, (1 << 64) - 10 * size]))
    deltas = st.integers(min_value=-2 * size, max_value=3 * size)
    seq = base
    for delta in data.draw(st.lists(deltas, min_size=1, max_size=200)):
        seq = max(0, min(seq + delta, (1 << 64) - 1))
        assert accept(w, seq) == model.accept(seq), (seq, w.top)
        assert w.top == model.top


def test_sequence_space_end() -> None:
    w = ReplayWindow(64)
    top = (1 << 64) - 1
    assert accept(w, top)
    assert not w.check(1 << 64)
    assert not w.commit(1 << 64)
    assert w.check(top - 1)


def test_reset_is_a_received_top() -> None:
    w = ReplayWindow(128)
    w.reset(500)
    assert w.top == 500 and not w.check(500) and w.check(499) and w.check(501)
    w.reset(0)
    assert w.top == 0 and w.check(1)
    with pytest.raises(ValueError):
        w.reset(-1)
    with pytest.raises(ValueError):
        ReplayWindow(0)


# -- ESN: RFC 4303 Appendix A2.2 ------------------------------------------------------------


def esn_window(top: int, size: int = 1024) -> ReplayWindow:
    w = ReplayWindow(size)
    w.reset(top)
    return w


def test_esn_case_a_same_subspace() -> None:
    w = esn_window((5 << 32) | 5000)
    assert w.infer_esn(5001) == (5 << 32) | 5001  # ahead
    assert w.infer_esn(4000) == (5 << 32) | 4000  # inside the window
    assert w.infer_esn(5000 - 1023) == (5 << 32) | (5000 - 1023)  # window's bottom edge
    # Below the window bottom: the low half must have wrapped, next sub-space.
    assert w.infer_esn(100) == (6 << 32) | 100


def test_esn_case_b_window_spans_the_boundary() -> None:
    w = esn_window((5 << 32) | 10)  # Tl = 10 < W - 1
    assert w.infer_esn(11) == (5 << 32) | 11
    assert w.infer_esn(3) == (5 << 32) | 3
    # High low-halves belong to the previous sub-space, inside the window.
    low = (1 << 32) - 1000
    assert w.infer_esn(low) == (4 << 32) | low
    assert w.check(w.infer_esn(low))
    # A number far above the window in the low half stays in this sub-space.
    assert w.infer_esn(1 << 31) == (5 << 32) | (1 << 31)


def test_esn_crossing_2_32_in_order() -> None:
    w = esn_window((1 << 32) - 5)
    late = (1 << 32) - 3
    for full in range((1 << 32) - 4, (1 << 32) + 10):
        if full == late:
            continue  # delayed across the boundary
        seq = w.infer_esn(full & 0xFFFFFFFF)
        assert seq == full
        assert accept(w, seq)
    # The late packet from the previous sub-space is placed there, and accepted once.
    assert w.infer_esn(late & 0xFFFFFFFF) == late
    assert accept(w, late)
    assert not w.check(w.infer_esn(late & 0xFFFFFFFF))
    for full in range((1 << 32) + 10, (1 << 32) + 5000):
        assert accept(w, w.infer_esn(full & 0xFFFFFFFF))
    assert w.top == (1 << 32) + 4999


def test_esn_before_anything_received() -> None:
    w = ReplayWindow(1024)
    assert w.infer_esn(1) == 1
    assert w.infer_esn(0) == 0 and not w.check(0)
    assert w.infer_esn(0xFFFFFFFF) == -1  # would be in sub-space -1
    assert not w.check(-1)
