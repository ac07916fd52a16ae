"""Pieces of `callrt bench`: reading histograms back from /metrics, the generator's websocket framing,
and the server option that points the Realtime connector at a simulated peer's websocket."""

from __future__ import annotations

import base64
import contextlib
import json
import math
import struct
import subprocess
import sys

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.defaults import DEFAULT_REALTIME_MODELS
from callrt.cli.bench import LOAD_LATE_LIMIT_MS, judge, max_calls_held, max_cpu_held
from callrt.loadtest import procs, prom
from callrt.loadtest.frame_clock import FrameClock
from callrt.loadtest.load import LoadCaller, caller_script
from callrt.loadtest.wsclient import RawWebSocket, frame
from callrt.model.realtime import OPENAI_REALTIME_URL, OpenAIRealtimeConnector
from callrt.net.transport import TransportClosed
from callrt.net.websocket import accept_websocket
from callrt.server.config import ServerConfig
from callrt.server.metrics import Histogram
from callrt.server.plan import plan_call
from callrt.sim.peer_script import SimScript
from callrt.sim.realtime_peer import InMemoryModelConnector
from callrt.telephony.media import StreamStart


def scrape(values_ms: list[float], bounds_ms: tuple[float, ...] = (1, 2, 5, 10, 20, 50)) -> dict[str, float]:
    histogram = Histogram(bounds_ms)
    for value in values_ms:
        histogram.observe(value)
    out: list[str] = []
    histogram.render(out, "x_seconds", "test")
    return prom.parse("\n".join(out))


def test_quantiles_interpolate_within_the_bucket_like_prometheus() -> None:
    samples = scrape([0.5] * 50 + [3.0] * 49 + [30.0])
    assert samples['x_seconds_bucket{le="+Inf"}'] == samples["x_seconds_count"] == 100
    assert prom.quantile(samples, "x_seconds", 0.5) == pytest.approx(0.001)  # the 50th of 50 in (0, 1 ms]
    assert 0.002 < prom.quantile(samples, "x_seconds", 0.99) <= 0.005  # type: ignore[operator]
    assert prom.quantile(scrape([]), "x_seconds", 0.5) is None
    assert prom.quantile(scrape([99.0]), "x_seconds", 0.99) == pytest.approx(0.05)  # beyond the last bound


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=60.0), min_size=1, max_size=200), st.floats(0.01, 1.0))
def test_a_quantile_lies_in_the_bucket_of_the_true_quantile(values: list[float], q: float) -> None:
    bounds = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0)
    estimate = prom.quantile(scrape(values, bounds), "x_seconds", q)
    assert estimate is not None
    ordered = sorted(values)
    true = ordered[max(0, -(-int(q * len(values) * 1000) // 1000) - 1)]
    upper = next((b for b in bounds if true <= b), bounds[-1])
    lower = max([0.0, *(b for b in bounds if b < true)])
    assert lower / 1000 - 1e-12 <= estimate <= upper / 1000 + 1e-12


def test_merging_workers_adds_their_samples() -> None:
    merged = prom.merge([scrape([1.0, 3.0]), scrape([3.0])])
    assert merged["x_seconds_count"] == 3 and merged['x_seconds_bucket{le="0.005"}'] == 3


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_client_frames_are_final_masked_text_frames(size: int) -> None:
    data = frame(0x1, b"a" * size)
    assert data[0] == 0x81 and data[1] & 0x80
    length = data[1] & 0x7F
    header = 2
    if length == 126:
        (length,), header = struct.unpack_from("!H", data, 2), 4
    elif length == 127:
        (length,), header = struct.unpack_from("!Q", data, 2), 10
    assert length == size and data[header : header + 4] == b"\x00\x00\x00\x00" and len(data) == header + 4 + size


def test_bench_scripts_outlast_the_run_and_feed_the_peer_each_line() -> None:
    steps, sim = caller_script(3, 20.0)
    assert sum(1 for s in steps if "say" in s) == len(sim.says)
    assert sum(s.get("ms", 0) + s.get("pause_ms", 0) + s.get("silence_ms", 0) for s in steps) > 20_000
    assert any(s.get("noise") for s in steps) and steps[0] == {"wait": "ai_started", "timeout_ms": 6000}


def start(**params: str) -> StreamStart:
    return StreamStart(stream_sid="MZ1", call_sid="CA1", custom_parameters=params)


def test_a_realtime_url_without_a_key_is_a_simulated_peer_over_a_websocket() -> None:
    script = SimScript(language="en", business_name="B", says=("hello",))
    config = ServerConfig(realtime_url="ws://127.0.0.1:9/v1/realtime", dialect="ga")
    plan = plan_call(config, start(sim_script=script.to_json()))
    assert isinstance(plan.model, OpenAIRealtimeConnector) and plan.language == "en"
    assert plan.model.connect_url() == f"ws://127.0.0.1:9/v1/realtime?model={DEFAULT_REALTIME_MODELS['ga']}"
    headers = {name.lower(): value for name, value in plan.model.headers().items()}
    assert SimScript.from_json(headers["x-callrt-sim-script"]) == script
    assert headers["x-callrt-sim-call"] == "CA1" and headers["authorization"].startswith("Bearer ")


def test_with_a_key_the_url_is_an_openai_endpoint_and_no_script_leaks() -> None:
    config = ServerConfig(realtime_url="ws://proxy.internal/v1/realtime", openai_api_key="sk-x")
    plan = plan_call(config, start(sim_script=json.dumps({"l": "en", "s": ["secret"]})))
    assert isinstance(plan.model, OpenAIRealtimeConnector) and plan.model.url == "ws://proxy.internal/v1/realtime"
    assert all(not name.lower().startswith("x-callrt") for name in plan.model.headers())


def test_production_defaults_are_unchanged() -> None:
    assert isinstance(plan_call(ServerConfig(), start()).model, InMemoryModelConnector)
    keyed = plan_call(ServerConfig(openai_api_key="sk-x"), start()).model
    assert isinstance(keyed, OpenAIRealtimeConnector) and keyed.url == OPENAI_REALTIME_URL
    assert ServerConfig.from_env({"CALLRT_REALTIME_URL": "ws://h/v1/realtime"}).realtime_url == "ws://h/v1/realtime"
    assert ServerConfig.from_env({}).realtime_url is None and not ServerConfig.from_env({}).relay


@settings(max_examples=60, deadline=None)
@given(
    deadlines=st.lists(st.floats(min_value=0.0, max_value=0.5), min_size=1, max_size=40),
    abandoned=st.sets(st.integers(min_value=0, max_value=39)),
)
def test_the_frame_clock_wakes_every_sleeper_at_or_just_after_its_deadline(
    deadlines: list[float], abandoned: set[int]
) -> None:
    """Never early, at most one resolution late, in deadline order; a cancelled sleeper is skipped."""
    woke: dict[int, float] = {}

    async def main() -> None:
        clock = FrameClock(resolution_s=0.001)
        start = trio.current_time()

        async def sleeper(index: int, deadline: float) -> None:
            with trio.move_on_after(deadline / 2 if index in abandoned else math.inf):
                await clock.sleep_until(start + deadline)
                woke[index] = trio.current_time() - start

        async with trio.open_nursery() as ticking:
            ticking.start_soon(clock.run)
            async with trio.open_nursery() as nursery:
                for index, deadline in enumerate(deadlines):
                    nursery.start_soon(sleeper, index, deadline)
            ticking.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    expected = {i for i in range(len(deadlines)) if i not in abandoned}
    assert set(woke) == expected
    for index in woke:
        assert deadlines[index] - 1e-9 <= woke[index] <= deadlines[index] + 0.001 + 1e-9


async def test_the_load_caller_echoes_a_mark_within_a_frame_of_its_audio_having_played(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Marks go back with the first frame after their audio played (Twilio plays 20 ms packets), never
    before; a `clear` sends the pending marks back with the next frame."""
    echoes: dict[str, float] = {}
    sent: dict[str, float] = {}

    async def twilio_side(stream: trio.SocketStream) -> None:
        ws, _ = await accept_websocket(stream, max_message_bytes=1 << 16)
        audio = base64.b64encode(bytes(800)).decode()  # 100 ms of mu-law

        async def play() -> None:
            await trio.sleep(0.05)
            for name in ("first", "second"):
                await ws.send(json.dumps({"event": "media", "streamSid": "MZ", "media": {"payload": audio}}))
                await ws.send(json.dumps({"event": "mark", "streamSid": "MZ", "mark": {"name": name}}))
                sent[name] = trio.current_time()
            await trio.sleep(0.5)
            await ws.send(json.dumps({"event": "media", "streamSid": "MZ", "media": {"payload": audio}}))
            await ws.send(json.dumps({"event": "mark", "streamSid": "MZ", "mark": {"name": "cleared"}}))
            await ws.send(json.dumps({"event": "clear", "streamSid": "MZ"}))
            sent["cleared"] = trio.current_time()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(play)
            with contextlib.suppress(TransportClosed):
                while True:
                    message = json.loads(await ws.receive())
                    if message["event"] == "mark":
                        echoes[message["mark"]["name"]] = trio.current_time()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(trio.serve_tcp, twilio_side, 0)
        port = listeners[0].socket.getsockname()[1]
        clock = FrameClock()
        nursery.start_soon(clock.run)
        ws = await RawWebSocket.connect(f"ws://127.0.0.1:{port}/media")
        caller = LoadCaller(ws, [{"silence_ms": 2000}], call_sid="CA", stream_sid="MZ", parameters={}, clock=clock)
        await caller.run(1.5)
        await ws.aclose()
        nursery.cancel_scope.cancel()
    frame_s = 0.020 + clock.resolution_s
    assert sent["first"] + 0.1 <= echoes["first"] <= sent["first"] + 0.1 + frame_s
    assert sent["second"] + 0.2 - 1e-9 <= echoes["second"] <= sent["second"] + 0.2 + frame_s
    assert sent["cleared"] <= echoes["cleared"] <= sent["cleared"] + frame_s
    assert caller.playout.marks_echoed == 2 and caller.playout.marks_echoed_on_clear == 1


def test_the_loop_threads_cpu_leaves_out_what_worker_threads_used() -> None:
    """`server_threads_cpu_pct` is the server's CPU minus its main thread's: a process whose main thread
    waits while a worker thread burns 0.3 s of CPU shows that CPU in the process, not in its main thread."""
    burner = (
        "import threading, time, sys\n"
        "def burn():\n"
        "    while time.thread_time() < 0.3: pass\n"
        "t = threading.Thread(target=burn); t.start(); t.join()\n"
        "print('burnt', flush=True); sys.stdin.read()\n"
    )
    process = subprocess.Popen([sys.executable, "-c", burner], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline() == "burnt\n"
        # The worker thread has exited: its CPU stays counted in the process's stat, never in the main thread's.
        total, loop = procs.cpu_seconds([process.pid]), procs.loop_cpu_seconds([process.pid])
    finally:
        process.communicate("")
    assert total >= 0.3 - 0.02  # clock ticks: 10 ms each
    assert total - loop >= 0.3 - 0.02 and loop < total


def _point(
    calls: int, *, lag_ms: float, late_ms: float, relay_late_ms: float = 1.0, cpu_pct: float = 50.0
) -> dict[str, object]:
    point: dict[str, object] = {
        "calls": calls,
        "server_cpu_pct": cpu_pct,
        "p99_frame_lag_ms": lag_ms,
        "dropped_frames": 0,
        "failed": 0,
        "cpu_per_call_minute_s": 0.4,
        "relay_cpu_per_call_minute_s": 0.2,
        "generator_lateness_p99_ms": late_ms,
        "relay_run": {"generator_lateness_p99_ms": relay_late_ms},
    }
    judge(point)
    return point


def test_a_sweep_counts_only_points_whose_load_left_on_time() -> None:
    """A point where the generator's frames left late measured the load tools, not the server: it never
    raises the sweep's capacity, even with a low frame lag."""
    held = _point(100, lag_ms=5.0, late_ms=3.0)
    assert held["lag_ok"] and held["load_ok"] and held["cpu_vs_relay"] == 2.0
    late = _point(200, lag_ms=5.0, late_ms=LOAD_LATE_LIMIT_MS + 1)
    late_in_relay = _point(150, lag_ms=5.0, late_ms=3.0, relay_late_ms=LOAD_LATE_LIMIT_MS + 1)
    assert late["lag_ok"] and not late["load_ok"] and not late_in_relay["load_ok"]
    assert max_calls_held([held, late_in_relay, late]) == 100
    assert max_calls_held([_point(50, lag_ms=25.0, late_ms=1.0)]) == 0


def test_a_sweeps_verdict_is_the_most_server_cpu_at_which_the_target_held() -> None:
    """In % of a core, not calls: a point above the lag target or under a late load does not count, however busy."""
    points = [
        _point(50, lag_ms=3.0, late_ms=2.0, cpu_pct=41.5),
        _point(75, lag_ms=12.0, late_ms=2.0, cpu_pct=63.0),
        _point(100, lag_ms=25.0, late_ms=2.0, cpu_pct=88.0),
        _point(125, lag_ms=5.0, late_ms=LOAD_LATE_LIMIT_MS + 1, cpu_pct=97.0),
    ]
    assert max_cpu_held(points) == 63.0
    assert max_cpu_held(points[2:]) == 0.0
