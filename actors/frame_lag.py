"""The frame-lag meter: how late each caller frame reached the AudioActor, in windows of a second.

It owns the lag samples and nothing else: the AudioActor passes in, per frame, the time it took the frame
(trio time, seconds), how long the frame had waited since the line received it, and the wall time its own
handling took; once a window has lasted `LAG_TRACE_EVERY_S` it reads the window's `frame_lag` fields here
and records them. Per frame that is one append and one addition: the window is sorted and bucketed once,
when it is read. The buckets (`LAG_BUCKETS_MS`) are shared with the /metrics histogram, which is fed from
these events.
"""

from __future__ import annotations

import bisect

LAG_WINDOW = 256
"""Lags behind the percentiles a detailed trace carries: the last ones before the window closed."""
LAG_TRACE_EVERY_S = 1.0
LAG_BUCKETS_MS: tuple[float, ...] = (
    0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 200, 500, 1000, 2000
)  # fmt: skip
"""Upper bounds of the frame-lag histogram each `frame_lag` event carries (`counts`, one more for +Inf)."""


class FrameLagMeter:
    """The current window of frame lags, and the recent ones a detailed trace takes its percentiles from."""

    def __init__(self, started_at: float) -> None:
        self.recent_lags: list[float] = []
        """The last `LAG_WINDOW` lags before the current window, for the percentiles (detailed traces only)."""
        self._window_lags: list[float] = []
        """This window's lags, in milliseconds: bucketed once when the window is read, not per frame."""
        self._window_proc_ns = 0
        self._next_window_at = started_at + LAG_TRACE_EVERY_S

    @property
    def has_frames(self) -> bool:
        """Frames were measured since the last window was read."""
        return bool(self._window_lags)

    def note(self, now: float, lag_s: float, proc_ns: int) -> bool:
        """Counts one frame; True when the window is due to be read (`close_window`)."""
        self._window_lags.append(lag_s * 1000.0)
        self._window_proc_ns += proc_ns
        if now < self._next_window_at:
            return False
        self._next_window_at = now + LAG_TRACE_EVERY_S
        return True

    def close_window(self, *, detailed: bool, final: bool = False) -> dict[str, object]:
        """The `frame_lag` event's fields for the window (at least one frame), which starts a new one.

        The percentiles are for whoever reads a detailed trace; the metrics take only the counts. Without a
        trace file or memory nobody reads them, and sorting 256 lags per call and second is not free."""
        window = self._window_lags
        percentiles: dict[str, float] = {}
        if detailed:
            self.recent_lags = (self.recent_lags + window)[-LAG_WINDOW:]
            recent = sorted(self.recent_lags)
            percentiles = {"p50_ms": round(percentile(recent, 0.50), 2), "p99_ms": round(percentile(recent, 0.99), 2)}
        fields: dict[str, object] = {
            **percentiles,
            "n": len(window),
            "proc_us": round(self._window_proc_ns / len(window) / 1000.0, 1),
            "counts": lag_histogram(sorted(window)),
            "sum_ms": round(sum(window), 3),
        }
        if final:
            fields["final"] = True
        self._window_lags = []
        self._window_proc_ns = 0
        return fields


def lag_histogram(ordered: list[float]) -> list[int]:
    """How many of the sorted lags fall in each `LAG_BUCKETS_MS` bucket (upper bound included, as
    Prometheus counts `le`), and beyond the last: a few bisections per window instead of one per frame."""
    at_or_below = [bisect.bisect_right(ordered, bound) for bound in LAG_BUCKETS_MS]
    return [high - low for low, high in zip([0, *at_or_below], [*at_or_below, len(ordered)], strict=True)]


def percentile(ordered: list[float], q: float) -> float:
    """The `q` quantile of sorted values, interpolated between neighbours as numpy's default does: for the
    frame-lag window, sorting 256 floats costs a fraction of `np.percentile`'s machinery."""
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
