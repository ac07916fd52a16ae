"""`callrt bench` end to end, briefly: a few live calls through a real `callrt serve` and `callrt sim-peer`,
then the same through the bare relay. Shape and sanity only: benchmarks are not timed tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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


def test_a_short_bench_reports_every_figure_and_drops_nothing() -> None:
    env = {**os.environ, "OPENAI_API_KEY": ""}
    command = [sys.executable, "-m", "callrt", "bench", "--calls", "3", "--seconds", "4", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
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
    assert report["machine_probe_us"] > 0
    # The callers talk over the greeting: barge-ins happen, and react no sooner than barge_in_min_ms allows.
    assert report["barge_ins"] >= 1 and report["caller_clears"] >= 1
    assert report["whole_run_barge_in_p50_ms"] is not None and report["whole_run_barge_in_p50_ms"] >= 150
