"""The silence timer without trio: measured from the last activity, ticking once per timeout, held on demand."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from actors.silence_timer import SilenceTimer


def test_it_runs_from_the_start_and_ticks_periodically() -> None:
    timer = SilenceTimer(timeout_ms=15_000.0, started_at=10.0)
    assert timer.deadline(held=False) == 25.0
    assert timer.tick(25.0) == 15_000.0
    assert timer.deadline(held=False) == 40.0
    assert timer.tick(40.0) == 30_000.0  # still measured from the start: nothing audible happened


def test_activity_restarts_it_and_holding_it_defers_the_tick() -> None:
    timer = SilenceTimer(timeout_ms=15_000.0, started_at=0.0)
    timer.restart(7.25)
    assert timer.deadline(held=True) == math.inf
    assert timer.deadline(held=False) == 22.25
    # Held past its deadline (the caller spoke on), then released: the silence counts from the activity.
    assert timer.tick(30.0) == 22_750.0


@given(
    timeout_ms=st.floats(100.0, 60_000.0),
    events=st.lists(st.tuples(st.booleans(), st.floats(0.0, 120.0)), max_size=30),
)
def test_every_tick_reports_the_silence_since_the_last_activity(
    timeout_ms: float, events: list[tuple[bool, float]]
) -> None:
    """Activities at any time, and ticks whenever the deadline passes: a tick always reports the silence since
    the latest activity, never less than one timeout (rounded), and the next one is due a timeout later."""
    timer = SilenceTimer(timeout_ms, started_at=0.0)
    now = last_activity = 0.0
    for is_activity, gap in events:
        if is_activity:
            now += gap
            timer.restart(now)
            last_activity = now
        else:
            now = max(now, timer.deadline(held=False))
            silence_ms = timer.tick(now)
            assert silence_ms == round((now - last_activity) * 1000.0, 1)
            assert silence_ms >= round(timeout_ms, 1) - 0.1
            assert timer.deadline(held=False) == now + timeout_ms / 1000.0
