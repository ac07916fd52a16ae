"""`callrt bench` end to end, briefly: a few live calls through a real `callrt serve` and `callrt sim-peer`,
then the same through a baseline (the bare relay; the FastAPI relay). Shape and sanity only: benchmarks are
not timed tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

FIELDS = (
    "calls",
    "p50_frame_lag_ms",
    "p99_frame_lag_ms",
    "barge_in_p50_ms",
    "barge_in_p99_ms",
    "whole_run_p99_frame_lag_ms",
    "whole_run_barge_in_p99_ms",
    "dropped_frames",
    "cpu_per_call_minute_s",
    "rss_per_call_kib",
    "relay_cpu_per_call_minute_s",
    "relay_p99_frame_lag_ms",
    "machine_probe_us",
    "generator_lateness_p99_ms",
    "load_ok",
)


def bench(*options: str) -> dict[str, Any]:
    env = {**os.environ, "OPENAI_API_KEY": ""}
    command = [sys.executable, "-m", "callrt", "bench", *options, "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_a_short_bench_reports_every_figure_and_drops_nothing() -> None:
    report = bench("--calls", "3", "--seconds", "4")
    assert report["baseline"] == "relay"
    for field in FIELDS:
        assert field in report, field
    assert report["calls"] == report["connected"] == 3 and report["failed"] == 0
    assert report["dropped_frames"] == 0 and report["relay_dropped_frames"] == 0
    assert report["bad_messages"] == 0 and report["calls_ended_error"] == 0
    # Every frame the callers sent reached an AudioActor and was measured (a few may be in flight at hang-up).
    assert report["frames_sent"] >= 3 * 4 * 50 * 0.9
    assert report["frames_sent"] - 10 <= report["frames_lagged"] <= report["frames_received"] <= report["frames_sent"]
    assert 0 <= report["p50_frame_lag_ms"] <= report["p99_frame_lag_ms"]
    # The steady window (every call up, after the ramp and a settling second) is part of the whole run.
    assert 0 < report["steady_frames_lagged"] < report["frames_lagged"]
    assert report["steady_barge_ins"] <= report["barge_ins"]
    assert report["relay_p99_frame_lag_ms"] >= 0
    assert report["cpu_per_call_minute_s"] > 0 and report["relay_cpu_per_call_minute_s"] > 0
    assert 0 <= report["server_threads_cpu_pct"] <= report["server_cpu_pct"]
    assert report["machine_probe_us"] > 0
    # The callers talk over the greeting: barge-ins happen, and react no sooner than barge_in_min_ms allows.
    assert report["barge_ins"] >= 1 and report["caller_clears"] >= 1
    assert report["whole_run_barge_in_p50_ms"] is not None and report["whole_run_barge_in_p50_ms"] >= 150


def test_the_fastapi_relay_holds_the_same_conversation_through_the_models_vad() -> None:
    """The conventional relay as the baseline: the simulated model's server VAD takes the turns, so the callers
    are greeted, barge in (the relay clears their playout) and are answered, with nothing lost on the way."""
    report = bench("--calls", "2", "--seconds", "4", "--baseline", "asgi-relay")
    relay = report["relay_run"]
    assert report["baseline"] == "asgi-relay" and relay["mode"] == "asgi-relay"
    assert relay["connected"] == 2 and relay["failed"] == 0 and relay["calls_ended_error"] == 0
    assert relay["bad_messages"] == 0 and relay["dropped_frames"] == 0
    # Every frame was appended to the model and measured (a few may be in flight at hang-up).
    assert relay["frames_sent"] >= 2 * 4 * 50 * 0.9
    assert relay["frames_sent"] - 10 <= relay["frames_lagged"] <= relay["frames_sent"]
    assert 0 <= relay["p50_frame_lag_ms"] <= relay["p99_frame_lag_ms"] == report["relay_p99_frame_lag_ms"]
    # The callers heard a greeting and talked over it: the model's speech_started made the relay send `clear`.
    assert relay["barge_ins"] >= 1 and relay["caller_clears"] >= 1 and relay["caller_wait_timeouts"] == 0
    assert report["relay_cpu_per_call_minute_s"] > 0 and report["relay_server_cpu_pct"] > 0
    assert report["cpu_vs_relay"] == round(report["cpu_per_call_minute_s"] / report["relay_cpu_per_call_minute_s"], 2)
