"""Benchmark: how late the host's asyncio loop runs while N calls run in callrt's trio guest on it.

Run: .venv/bin/python benchmarks/aio_loop_lag.py [--calls 50] [--hold-s 20] [--json]

This process is the host: uvicorn serving examples/fastapi_app.py, plus a task that sleeps 10 ms over and over
and records how late it woke (its oversleep: the loop's lag, which every asyncio endpoint of the host would
see). `callrt sim-peer` is the model, in its own process; one `callrt call` process places N calls 50 ms
apart (the server admits 32 new streams at a time), each booking its own slot and then holding the line
for `--hold-s` seconds. Reported: the lag over the run (p50, p99, max), how long trio's batches held
the loop (CPU ms: what the calls themselves cost the loop, see callrt.aio.guest.LoopHolds), the longest
garbage collection of each generation, the share of time the host waited for a CPU (other processes on the
machine), and the calls' results. `--default-gc` undoes the example's collector set-up (the one `callrt serve`
uses) for comparison. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from callrt.loadtest.procs import cpu_seconds, runqueue_wait_seconds

TICK_S = 0.010
NUMBER = "+97231234567"
"""The demo business's Twilio number: the webhook picks the business by the number called."""
USER, PASSWORD = "bench", "bench-password-1"
DEFAULT_GC_THRESHOLDS = (700, 10, 10)
DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday")
HOURS = ("9 am", "9:30 am", "10 am", "11 am", "1 pm", "2 pm", "3 pm", "4 pm", "5 pm", "6 pm")


def scenario(index: int, hold_s: float) -> dict[str, Any]:
    when = f"on {DAYS[index % len(DAYS)]} at {HOURS[index // len(DAYS) % len(HOURS)]}"
    return {
        "name": f"lag-{index}",
        "language": "en",
        "now": "2026-11-24T10:00:00+02:00",
        "business": {"name": "the server's own"},
        "caller": {"phone": f"+97250100{index:04d}"},
        "script": [
            {"wait": "ai_done"},
            {"say": f"I'd like an appointment {when}, my name is Dana", "ms": 2200},
            {"wait": "ai_done"},
            {"silence_ms": int(hold_s * 1000)},
            {"hangup": True},
        ],
    }


def start_sim_peer() -> tuple[subprocess.Popen[str], str]:
    peer = subprocess.Popen(
        [sys.executable, "-m", "callrt", "sim-peer", "--port", "0", "--dialect", "ga"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert peer.stdout is not None
    match = re.search(r"at (ws://\S+/v1/realtime)", peer.stdout.readline())
    assert match, "sim-peer did not say where it listens"
    return peer, match.group(1)


class GcPauses:
    """The longest collection of each generation, in ms (gc.callbacks: start and stop of every collection)."""

    def __init__(self) -> None:
        self.longest = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            took = (time.perf_counter() - self._started) * 1000.0
            self.longest[info["generation"]] = max(self.longest[info["generation"]], took)


async def sample_lag(lags: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        asked = loop.time()
        await asyncio.sleep(TICK_S)
        lags.append((loop.time() - asked - TICK_S) * 1000.0)


async def host(args: argparse.Namespace, folder: Path, realtime_url: str) -> dict[str, Any]:
    os.environ.update(
        CALLRT_DB_URL=f"sqlite:///{folder / 'calls.db'}",
        CALLRT_TRACE_DIR=str(folder / "traces"),
        CALLRT_REALTIME_URL=realtime_url,
    )
    import uvicorn

    import callrt.aio
    from callrt.console.passwords import hash_password
    from store import DEMO_BUSINESS, Store

    store = Store(os.environ["CALLRT_DB_URL"])
    store.init_schema()
    store.create_business(**DEMO_BUSINESS, phones=[NUMBER])
    store.create_console_user(USER, hash_password(PASSWORD))  # the traces are the console's users' to read
    store.dispose()
    from examples.fastapi_app import app

    pauses = GcPauses()
    gc.callbacks.append(pauses)
    listening = socket.create_server(("127.0.0.1", 0))  # bound before uvicorn starts: callers may connect at once
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    if args.default_gc:  # undo what the example's lifespan set up, for comparison
        gc.unfreeze()
        gc.set_threshold(*DEFAULT_GC_THRESHOLDS)
    files = []
    for index in range(args.calls):
        path = folder / f"call-{index}.json"
        path.write_text(json.dumps(scenario(index, args.hold_s)), encoding="utf-8")
        files.append(str(path))
    command = [sys.executable, "-m", "callrt", "call", "--server", f"http://127.0.0.1:{port}", "--to", NUMBER]
    command += ["--user", USER, "--stagger-ms", "50"]
    command += ["--json", "--scenario"]
    lags: list[float] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_lag(lags, stop))
    me = [os.getpid()]
    cpu_before, wait_before, started = cpu_seconds(me), runqueue_wait_seconds(me), time.monotonic()
    callers = await asyncio.create_subprocess_exec(
        *command,
        *files,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "CALLRT_CONSOLE_PASSWORD": PASSWORD},
        preexec_fn=lambda: os.nice(args.nice),
    )
    out, _ = await callers.communicate()
    wall = time.monotonic() - started
    cpu, waited = cpu_seconds(me) - cpu_before, runqueue_wait_seconds(me) - wait_before
    stop.set()
    await sampler
    holds = callrt.aio.current_guest().holds.summary()
    server.should_exit = True
    await serving
    reports = [json.loads(line) for line in out.decode().splitlines()]
    quantiles = statistics.quantiles(lags, n=100)
    return {
        "calls": args.calls,
        "calls_ok": sum(1 for report in reports if not report["violations"]),
        "violations": dict(collections.Counter(v for report in reports for v in report["violations"])),
        "booked": sum(len(report["appointments"]) for report in reports),
        "seconds": round(wall, 1),
        "lag_samples": len(lags),
        "lag_p50_ms": round(statistics.median(lags), 2),
        "lag_p99_ms": round(quantiles[98], 2),
        "lag_max_ms": round(max(lags), 2),
        "trio_batches": holds["batches"],
        "trio_batch_p99_cpu_ms": round(holds["p99_ms"], 3),
        "trio_batch_max_cpu_ms": round(holds["max_ms"], 3),
        "gc_longest_ms": [round(ms, 1) for ms in pauses.longest],
        "host_cpu_pct": round(100 * cpu / wall, 1),
        "host_cpu_wait_pct": round(100 * waited / wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--hold-s", type=float, default=20.0, help="how long each call stays on after booking")
    parser.add_argument(
        "--default-gc", action="store_true", help="Python's default collector, not the example's (as `callrt serve`)"
    )
    parser.add_argument(
        "--nice", type=int, default=0, help="the load generator's niceness (default 0: niced, it starves when busy)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    peer, realtime_url = start_sim_peer()
    try:
        with tempfile.TemporaryDirectory() as folder:
            result = asyncio.run(host(args, Path(folder), realtime_url))
    finally:
        peer.terminate()
        peer.wait()
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")


if __name__ == "__main__":
    main()
