"""The telephony server's counters and their Prometheus text exposition.

Per-call figures come from two places: the caller line's `LineStats` (frames,
bad messages; summed live over the active lines) and the call's trace, which
`MeteredTrace` taps as events are recorded (barge-ins, dropped frames, restarts),
so /metrics moves during a call, not only when it ends.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Mapping
from typing import Any

from actors.trace import Trace

from .twilio import LineStats


class Metrics:
    """Process-wide counters (one set per server process)."""

    def __init__(self) -> None:
        self.calls_active = 0
        self.calls_total = 0
        self.calls_refused: collections.Counter[str] = collections.Counter()
        self.calls_ended: collections.Counter[str] = collections.Counter()
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
        return "\n".join(out) + "\n"


def _labelled(label: str, counts: Mapping[str, int], always: tuple[str, ...]) -> dict[str, int]:
    values = {key: 0 for key in always}
    values.update(counts)
    return {f'{{{label}="{_escape(key)}"}}': value for key, value in sorted(values.items())}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _metric(out: list[str], name: str, kind: str, help_text: str, value: int | Mapping[str, int]) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} {kind}")
    if isinstance(value, Mapping):
        out.extend(f"{name}{labels} {count}" for labels, count in value.items())
    else:
        out.append(f"{name} {value}")


class MeteredTrace(Trace):
    """A call trace that also feeds the server's counters from the events it records."""

    def __init__(
        self,
        call_sid: str,
        path: str | os.PathLike[str] | None,
        metrics: Metrics,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        self.metrics = metrics
        # A live call's events go to its file only: memory stays flat however long the call.
        super().__init__(call_sid, path, keep_in_memory=path is None, meta=meta)

    def record(self, ev: str, **fields: Any) -> dict[str, Any]:
        if ev == "audio":
            self.metrics.frames_dropped_total += int(fields.get("dropped", 0))
        elif ev == "restart":
            self.metrics.restarts_total += 1
        elif ev == "send" and fields.get("type") == "BargeIn":
            self.metrics.barge_ins_total += 1
        return super().record(ev, **fields)
