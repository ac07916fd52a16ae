"""The telephony server's counters and their Prometheus text exposition.

Per-call figures come from two places: the caller line's `LineStats` (frames,
bad messages; summed live over the active lines) and the call's trace, which
`MeteredTrace` taps as events are recorded (barge-ins, dropped frames, restarts),
so /metrics moves during a call, not only when it ends.

Two histograms come from the AudioActor through the trace as well: the frame lag
(a caller frame's arrival at the line -> the actor has processed it; its
`frame_lag` events carry the window's bucket counts) and the barge-in reaction
(the speech-onset frame's arrival -> the `clear` handed to the line). In relay
mode (`callrt serve --relay`) the relay observes the frame lag itself.
"""

from __future__ import annotations

import bisect
import collections
import os
import resource
from collections.abc import Mapping, Sequence
from typing import Any

from actors.frame_lag import LAG_BUCKETS_MS
from actors.trace import Trace
from callrt.scenario.outcome import OUTCOME_EVENTS, reads_event
from callrt.telephony.media import LineStats

REACTION_BUCKETS_MS: tuple[float, ...] = (
    100, 150, 180, 190, 200, 210, 220, 230, 240, 260, 280, 300, 350, 400, 500, 750, 1000, 2000
)  # fmt: skip


class Histogram:
    """Cumulative-on-render bucket counts over fixed upper bounds (ms), plus sum and count."""

    def __init__(self, bounds_ms: Sequence[float]) -> None:
        self.bounds_ms = tuple(bounds_ms)
        self.counts = [0] * (len(self.bounds_ms) + 1)  # the last one is +Inf
        self.sum_ms = 0.0

    @property
    def count(self) -> int:
        return sum(self.counts)

    def observe(self, value_ms: float) -> None:
        self.counts[bisect.bisect_left(self.bounds_ms, value_ms)] += 1
        self.sum_ms += value_ms

    def add_counts(self, counts: Sequence[int], sum_ms: float) -> None:
        """Merge counts taken over the same bounds (an AudioActor's window)."""
        if len(counts) != len(self.counts):
            raise ValueError(f"{len(counts)} bucket counts for {len(self.counts)} buckets")
        for index, value in enumerate(counts):
            self.counts[index] += int(value)
        self.sum_ms += sum_ms

    def render(self, out: list[str], name: str, help_text: str) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} histogram")
        cumulative = 0
        for bound, value in zip((*self.bounds_ms, None), self.counts, strict=True):
            cumulative += value
            le = "+Inf" if bound is None else repr(bound / 1000.0)
            out.append(f'{name}_bucket{{le="{le}"}} {cumulative}')
        out.append(f"{name}_sum {self.sum_ms / 1000.0!r}")
        out.append(f"{name}_count {cumulative}")


class Metrics:
    """Process-wide counters (one set per server process)."""

    def __init__(self) -> None:
        self.frame_lag = Histogram(LAG_BUCKETS_MS)
        self.barge_in_reaction = Histogram(REACTION_BUCKETS_MS)
        self.calls_active = 0
        self.calls_total = 0
        self.calls_refused: collections.Counter[str] = collections.Counter()
        self.calls_ended: collections.Counter[str] = collections.Counter()
        self.calls_failed: collections.Counter[str] = collections.Counter()
        self.model_refusals: collections.Counter[str] = collections.Counter()
        self.callbacks_lost_total = 0
        self.frames_dropped_total = 0
        self.barge_ins_total = 0
        self.restarts_total = 0
        self._frames_done = 0
        self._bad_done: collections.Counter[str] = collections.Counter()
        self._live_lines: set[LineStats] = set()

    def line_opened(self, stats: LineStats) -> None:
        self._live_lines.add(stats)

    def line_closed(self, stats: LineStats) -> None:
        if stats in self._live_lines:
            self._live_lines.discard(stats)
            self._frames_done += stats.frames_in
            self._bad_done.update(stats.bad)

    @property
    def frames_total(self) -> int:
        return self._frames_done + sum(stats.frames_in for stats in self._live_lines)

    @property
    def bad_messages(self) -> collections.Counter[str]:
        total = collections.Counter(self._bad_done)
        for stats in self._live_lines:
            total.update(stats.bad)
        return total

    def render(self) -> str:
        """Prometheus text exposition format, version 0.0.4."""
        out: list[str] = []
        _metric(out, "callrt_calls_active", "gauge", "Media streams running a call now.", self.calls_active)
        _metric(out, "callrt_calls_total", "counter", "Calls started (accepted media streams).", self.calls_total)
        _metric(
            out,
            "callrt_calls_refused_total",
            "counter",
            "Media streams refused, by reason (capacity, token).",
            _labelled("reason", self.calls_refused, ("capacity", "token")),
        )
        _metric(
            out,
            "callrt_calls_ended_total",
            "counter",
            "Calls ended, by who ended them (caller, ai, supervisor, error).",
            _labelled("by", self.calls_ended, ()),
        )
        _metric(
            out,
            "callrt_calls_failed_total",
            "counter",
            "Calls the caller could not use, counted at their end, by reason (docs/scenario-format.md, Failed calls).",
            _labelled("reason", self.calls_failed, ()),
        )
        _metric(
            out,
            "callrt_model_refusals_total",
            "counter",
            "Session updates the model refused (each retried with the next configuration), by error code.",
            _labelled("code", self.model_refusals, ()),
        )
        _metric(
            out,
            "callrt_callbacks_lost_total",
            "counter",
            "Callback requests promised to a caller that could not be stored (logged as ERROR in full).",
            self.callbacks_lost_total,
        )
        _metric(out, "callrt_frames_total", "counter", "Inbound caller frames accepted.", self.frames_total)
        _metric(
            out,
            "callrt_frames_dropped_total",
            "counter",
            "Caller frames dropped by a full audio mailbox.",
            self.frames_dropped_total,
        )
        _metric(
            out,
            "callrt_bad_messages_total",
            "counter",
            "Inbound media-stream messages skipped as malformed, by reason.",
            _labelled("reason", self.bad_messages, ()),
        )
        _metric(out, "callrt_barge_ins_total", "counter", "Barge-ins (caller spoke over the AI).", self.barge_ins_total)
        _metric(out, "callrt_restarts_total", "counter", "Actor restarts by call supervisors.", self.restarts_total)
        self.frame_lag.render(
            out, "callrt_frame_lag_seconds", "Caller frame arrival at the server -> processed by the AudioActor."
        )
        self.barge_in_reaction.render(
            out, "callrt_barge_in_reaction_seconds", "Speech-onset frame arrival -> Twilio clear sent, per barge-in."
        )
        usage = resource.getrusage(resource.RUSAGE_SELF)
        _metric(
            out, "process_cpu_seconds_total", "counter", "User and system CPU time.", usage.ru_utime + usage.ru_stime
        )
        _metric(out, "process_resident_memory_bytes", "gauge", "Resident set size.", _rss_bytes())
        _metric(out, "callrt_process_info", "gauge", "This server process.", {f'{{pid="{os.getpid()}"}}': 1})
        return "\n".join(out) + "\n"


def _labelled(label: str, counts: Mapping[str, int], always: tuple[str, ...]) -> dict[str, int]:
    values = {key: 0 for key in always}
    values.update(counts)
    return {f'{{{label}="{_escape(key)}"}}': value for key, value in sorted(values.items())}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: the peak is the best the platform tells
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _metric(out: list[str], name: str, kind: str, help_text: str, value: float | Mapping[str, int]) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} {kind}")
    if isinstance(value, Mapping):
        out.extend(f"{name}{labels} {count}" for labels, count in value.items())
    else:
        out.append(f"{name} {value}")


_METERED_EVENTS = (
    frozenset({"audio", "restart", "barge_in", "frame_lag", "io", "model_refused", "callback_lost"}) | OUTCOME_EVENTS
)
"""Counted from the AudioActor's own `barge_in` event, not the `send` of its `BargeIn`: a call without
a trace file then builds no event for any message sent between its actors. The outcome's events are
kept (`outcome_events`) however the trace is written."""


class MeteredTrace(Trace):
    """A call trace that also feeds the server's counters from the events it records, and keeps the few
    its outcome is read from (`outcome_events`, for `callrt.scenario.call_outcome` / `call_failure`):
    a live call's other events go to its file only."""

    counted_events = _METERED_EVENTS

    def __init__(
        self,
        call_sid: str,
        path: str | os.PathLike[str] | None,
        metrics: Metrics,
        meta: Mapping[str, Any] | None = None,
        *,
        keep_in_memory: bool | None = None,
        max_bytes: int | None = None,
        exclusive: bool = False,
    ) -> None:
        self.metrics = metrics
        self.outcome_events: list[dict[str, Any]] = []
        # A live call's events go to its file only: memory stays flat however long the call. Without a file
        # and without memory (`keep_in_memory=False`) the events only feed the counters.
        super().__init__(
            call_sid,
            path,
            keep_in_memory=path is None if keep_in_memory is None else keep_in_memory,
            meta=meta,
            max_bytes=max_bytes,
            exclusive=exclusive,
        )

    def write(self, event: dict[str, Any]) -> None:
        # Every event passes here (about a hundred a second in a talkative call); few are counted.
        if event["ev"] in self.counted_events:
            self._meter(event)
        super().write(event)

    def _meter(self, event: dict[str, Any]) -> None:
        if reads_event(event):
            self.outcome_events.append(event)
        ev = event["ev"]
        if ev == "audio":
            self.metrics.frames_dropped_total += int(event.get("dropped", 0))
        elif ev == "restart":
            self.metrics.restarts_total += 1
        elif ev == "barge_in":
            self.metrics.barge_ins_total += 1
        elif ev == "model_refused":
            self.metrics.model_refusals[str(event.get("code"))] += 1
        elif ev == "callback_lost":
            self.metrics.callbacks_lost_total += 1
        elif ev == "frame_lag" and "counts" in event:
            self.metrics.frame_lag.add_counts(event["counts"], float(event.get("sum_ms", 0.0)))
        elif ev == "io" and event.get("type") == "clear" and "reaction_ms" in event:
            self.metrics.barge_in_reaction.observe(float(event["reaction_ms"]))
