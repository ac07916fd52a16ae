"""Server counters: fed by the real producers (supervision restarts, a full audio mailbox,
caller-line stats) through `MeteredTrace`, and rendered in Prometheus text format."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio

from actors.config import CallConfig
from actors.frame_lag import LAG_BUCKETS_MS
from actors.mailbox import Mailbox
from actors.messages import BargeIn, CallerFrame
from actors.supervision import ChildSpec, supervise
from actors.trace import read_trace
from callrt.scenario.outcome import call_failure
from callrt.server.metrics import MeteredTrace, Metrics
from callrt.telephony.media import LineStats


class CrashingActor:
    name = "nlp"

    async def run(self) -> None:
        raise RuntimeError("boom")


async def test_restarts_are_counted_as_the_supervisor_records_them(autojump_clock: trio.testing.MockClock) -> None:
    metrics = Metrics()
    trace = MeteredTrace("CA1", None, metrics)
    escalated: list[str] = []
    spec = ChildSpec("nlp", CrashingActor, max_restarts=2, within_s=60.0)
    await supervise(spec, trace, lambda spec, _failure: escalated.append(spec.name))
    assert escalated == ["nlp"]
    assert metrics.restarts_total == 2 == sum(1 for e in trace.events if e["ev"] == "restart")


def _live_trace(call_sid: str, tmp_path: Path, metrics: Metrics, traced: bool) -> MeteredTrace:
    """A live call's trace: its events on disk, or (`callrt serve --no-traces`) nowhere but the counters."""
    if traced:
        return MeteredTrace(call_sid, tmp_path / f"{call_sid}.jsonl", metrics)
    return MeteredTrace(call_sid, None, metrics, keep_in_memory=False)


@pytest.mark.parametrize("traced", [True, False], ids=["traced", "counters-only"])
async def test_dropped_frames_and_barge_ins_are_tapped_from_the_trace(tmp_path: Path, traced: bool) -> None:
    metrics = Metrics()
    trace = _live_trace("CA2", tmp_path, metrics, traced)
    frames: Mailbox[CallerFrame] = Mailbox("audio.frames", "audio", trace, capacity=CallConfig().audio_mailbox_capacity)
    outbox = frames.outbox("line")
    for i in range(300):
        outbox.send_nowait(CallerFrame(b"\xff" * 160, 20 * i))
    frames.close()  # flushes the audio summary window
    # The AudioActor records its decision and sends the message: the decision is what is counted, once.
    trace.record("barge_in", speech_at_ms=5000.0, clear_at_ms=5200.0, audio_end_ms=1800, item_id="item_1")
    realtime: Mailbox[BargeIn] = Mailbox("realtime", "realtime", trace)
    realtime.outbox("audio").send_nowait(BargeIn(item_id="item_1", audio_end_ms=1800, speech_at_ms=5000.0))
    trace.close()
    assert metrics.frames_dropped_total == 300 - CallConfig().audio_mailbox_capacity == frames.dropped_total
    assert metrics.barge_ins_total == 1
    # A live call keeps its events on disk only, or nowhere.
    assert trace.events == []
    assert any(e.ev == "audio" for e in read_trace(tmp_path / "CA2.jsonl")) if traced else not trace.detailed


def test_line_stats_count_live_and_after_the_call() -> None:
    metrics = Metrics()
    first, second = LineStats(), LineStats()
    metrics.line_opened(first)
    metrics.line_opened(second)
    first.frames_in, second.frames_in = 10, 5
    first.bad["bad_json"] += 2
    assert metrics.frames_total == 15 and metrics.bad_messages == {"bad_json": 2}
    metrics.line_closed(first)
    metrics.line_closed(first)  # counted once
    second.frames_in += 1
    second.bad["bad_base64"] += 1
    assert metrics.frames_total == 16 and metrics.bad_messages == {"bad_json": 2, "bad_base64": 1}


def test_prometheus_rendering() -> None:
    metrics = Metrics()
    metrics.calls_total = 3
    metrics.calls_ended['odd"by\\'] += 1
    text = metrics.render()
    lines = text.splitlines()
    assert text.endswith("\n")
    assert "callrt_calls_total 3" in lines
    assert 'callrt_calls_ended_total{by="odd\\"by\\\\"} 1' in lines
    assert 'callrt_calls_refused_total{reason="capacity"} 0' in lines
    types = dict(line.split()[2:4] for line in lines if line.startswith("# TYPE"))
    assert len(types) == 17 and sum(kind == "histogram" for kind in types.values()) == 2
    assert {"callrt_calls_failed_total", "callrt_model_refusals_total", "callrt_callbacks_lost_total"} <= set(types)
    for line in lines:
        if not line.startswith("#"):
            name = line.split("{")[0].split(" ")[0]
            family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
            assert family in types and float(line.rsplit(" ", 1)[1]) >= 0


@pytest.mark.parametrize("traced", [True, False], ids=["traced", "counters-only"])
async def test_histograms_are_fed_by_the_audio_actors_trace_events(tmp_path: Path, traced: bool) -> None:
    metrics = Metrics()
    trace = _live_trace("CA1", tmp_path, metrics, traced)
    counts = [0] * (len(LAG_BUCKETS_MS) + 1)
    counts[LAG_BUCKETS_MS.index(1)] = 40  # 40 frames in (0.5, 1] ms
    counts[-1] = 1  # one beyond the last bound
    trace.record("frame_lag", p50_ms=0.8, p99_ms=2500.0, n=41, proc_us=10.0, counts=counts, sum_ms=2532.0)
    trace.record("io", peer="caller", dir="out", type="clear", item_id="i", reason="barge_in", reaction_ms=205.0)
    trace.record("io", peer="caller", dir="out", type="clear", item_id="i", reason="false_claim")
    lines = metrics.render().splitlines()
    assert 'callrt_frame_lag_seconds_bucket{le="0.0005"} 0' in lines
    assert 'callrt_frame_lag_seconds_bucket{le="0.001"} 40' in lines
    assert 'callrt_frame_lag_seconds_bucket{le="2.0"} 40' in lines
    assert 'callrt_frame_lag_seconds_bucket{le="+Inf"} 41' in lines
    assert "callrt_frame_lag_seconds_count 41" in lines
    assert 'callrt_barge_in_reaction_seconds_bucket{le="0.2"} 0' in lines
    assert 'callrt_barge_in_reaction_seconds_bucket{le="0.21"} 1' in lines
    assert "callrt_barge_in_reaction_seconds_count 1" in lines
    with pytest.raises(ValueError):
        metrics.frame_lag.add_counts([1, 2], 0.0)


async def test_refusals_and_lost_callbacks_are_counted_and_the_outcome_kept_from_a_counters_only_trace() -> None:
    """A failed call is counted once, at its end, by the server (tests/callrt/server/test_failed_calls.py):
    its metered trace keeps what `call_failure` reads even when it keeps nothing else."""
    metrics = Metrics()
    trace = MeteredTrace("CAm", None, metrics, keep_in_memory=False)
    trace.record("model_refused", code="invalid_value", param="session.model", refused="x", next="realtime_model")
    trace.record("call_failed", reason="session_refused")
    trace.record("realtime", what="response_create", reason="greeting")
    trace.record("call_end", by="ai", reason="session_refused", duration_ms=0.0)
    trace.record("callback_lost", reason="db_unavailable", why="queue full")
    lines = metrics.render().splitlines()
    assert 'callrt_model_refusals_total{code="invalid_value"} 1' in lines
    assert "callrt_callbacks_lost_total 1" in lines
    assert trace.events == []
    assert [e["ev"] for e in trace.outcome_events] == ["call_failed", "call_end"]
    failure = call_failure(trace.outcome_events)
    assert failure is not None and failure.reason == "session_refused"
