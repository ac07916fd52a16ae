"""The frame-lag meter without trio: windows of a second, the trace fields, the percentiles and the buckets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.frame_lag import LAG_BUCKETS_MS, LAG_WINDOW, FrameLagMeter, lag_histogram, percentile


def test_a_window_is_due_once_a_second_has_passed() -> None:
    meter = FrameLagMeter(started_at=100.0)
    assert not meter.has_frames
    due = [meter.note(100.0 + index * 0.02, 0.005, 1000) for index in range(100)]
    # Frames at 100.00 .. 100.98 fill the first window; the one at 101.00 closes it, the next is due at 102.00.
    assert due == [False] * 50 + [True] + [False] * 49
    assert meter.note(102.0, 0.005, 1000)
    assert meter.has_frames


def test_the_fields_of_a_detailed_window_in_trace_order() -> None:
    meter = FrameLagMeter(started_at=0.0)
    for lag_ms, proc_ns in [(1.0, 2000), (3.0, 4000), (40.0, 6000)]:
        meter.note(0.5, lag_ms / 1000.0, proc_ns)
    fields = meter.close_window(detailed=True)
    assert list(fields) == ["p50_ms", "p99_ms", "n", "proc_us", "counts", "sum_ms"]
    assert fields["p50_ms"] == 3.0 and fields["p99_ms"] == pytest.approx(39.26)
    assert (fields["n"], fields["proc_us"], fields["sum_ms"]) == (3, 4.0, 44.0)
    counts = [0] * (len(LAG_BUCKETS_MS) + 1)
    counts[LAG_BUCKETS_MS.index(1)] = counts[LAG_BUCKETS_MS.index(3)] = counts[LAG_BUCKETS_MS.index(50)] = 1
    assert fields["counts"] == counts
    assert not meter.has_frames  # a new window started


def test_a_window_nobody_reads_carries_no_percentiles_and_keeps_no_lags() -> None:
    meter = FrameLagMeter(started_at=0.0)
    meter.note(0.1, 0.030, 1000)
    fields = meter.close_window(detailed=False, final=True)
    assert list(fields) == ["n", "proc_us", "counts", "sum_ms", "final"]
    assert fields["final"] is True and meter.recent_lags == []


def test_the_percentiles_cover_the_last_lags_across_windows() -> None:
    meter = FrameLagMeter(started_at=0.0)
    for lag_ms in range(LAG_WINDOW):
        meter.note(0.0, lag_ms / 1000.0, 0)
    meter.close_window(detailed=True)
    for _ in range(10):
        meter.note(0.0, 1.0, 0)  # ten lags of a second push the ten smallest out
    fields = meter.close_window(detailed=True)
    assert len(meter.recent_lags) == LAG_WINDOW and min(meter.recent_lags) == pytest.approx(10.0)
    assert fields["n"] == 10 and fields["p99_ms"] == 1000.0


@given(
    lags=st.lists(st.floats(0.0, 5000.0), min_size=1, max_size=300),
    q=st.sampled_from([0.0, 0.5, 0.99, 1.0]),
)
def test_frame_lag_percentiles_are_numpys_linear_percentiles(lags: list[float], q: float) -> None:
    assert percentile(sorted(lags), q) == pytest.approx(float(np.percentile(lags, q * 100)), rel=1e-9, abs=1e-9)


@given(lags=st.lists(st.floats(0.0, 5000.0) | st.sampled_from(LAG_BUCKETS_MS), max_size=300))
def test_the_lag_histogram_counts_each_lag_in_its_prometheus_bucket(lags: list[float]) -> None:
    # A lag equal to a bound belongs to that bound's bucket (`le`): numpy's left-side search says which.
    expected = np.bincount(np.searchsorted(LAG_BUCKETS_MS, lags, side="left"), minlength=len(LAG_BUCKETS_MS) + 1)
    assert lag_histogram(sorted(lags)) == expected.tolist()
