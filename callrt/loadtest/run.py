"""One bench point: a fresh server (callrt's actors, or a baseline relay) under N live calls for S seconds.

The server is `callrt serve` (`actors`), `callrt serve --relay` (`relay`, the bare relay on callrt's
own stack) or the conventional asyncio relay (`asgi-relay`, `callrt.loadtest.asgi_relay`); each
exposes the same /metrics, read the same way.

Topology (2 cores): the load generator (this process) and the simulated model peer share
CPU 0, the server has CPU 1 to itself, so the server's figures are not the generator's.
With several workers the server is left unpinned (the workers need both cores).
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any, Literal

import attrs
import httpx
import trio

from actors.config import CallConfig
from callrt.loadtest import procs, prom
from callrt.loadtest.load import LoadResult, run_load
from store import Store, ensure_demo_business

Mode = Literal["actors", "relay", "asgi-relay"]
Baseline = Literal["relay", "asgi-relay"]
BASELINES: tuple[Baseline, ...] = ("relay", "asgi-relay")
DRAIN_TIMEOUT_S = 15.0
METRICS_TOKEN = secrets.token_urlsafe(24)
"""The bearer token the bench's own server takes for /metrics."""
LAG_TARGET_MS = 20.0


@attrs.frozen
class Setup:
    workdir: Path
    peer_url: str
    seconds: float
    workers: int = 1
    ramp_s: float | None = None
    """None: 20 ms per call (50 new calls a second), at most a third of the run."""
    generator_cpus: set[int] | None = None
    server_cpus: set[int] | None = None
    traces: bool = False
    """Write every call's trace file (the server's default); the bench asks for none unless told to."""
    peer_pid: int | None = None
    """The simulated model peer's process, whose CPU is reported next to the generator's."""

    def ramp_for(self, calls: int) -> float:
        return self.ramp_s if self.ramp_s is not None else min(0.02 * calls, self.seconds / 3.0)


def server_env(secret: bytes, trace_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "CALLRT_STREAM_SECRET": secret.decode("ascii"),
            "CALLRT_METRICS_TOKEN": METRICS_TOKEN,
            "CALLRT_TRACE_DIR": str(trace_dir),
            "CALLRT_DIALECT": "ga",
            "OPENAI_API_KEY": "",  # never the real service from a benchmark
            "PYTHONHASHSEED": "0",
        }
    )
    env.pop("CALLRT_REALTIME_URL", None)
    return env


def bench_business(db_url: str) -> int:
    """The business every bench call is for (the demo salon, made once): the load sends no webhook."""
    store = Store(db_url)
    try:
        store.init_schema()
        return ensure_demo_business(store)
    finally:
        store.dispose()


def run_point(setup: Setup, mode: Mode, calls: int) -> dict[str, Any]:
    """Start the server, run the load, read its metrics, stop it; the point's figures as a dict."""
    secret = secrets.token_hex(24).encode("ascii")
    trace_dir = setup.workdir / f"traces-{mode}-{calls}"
    server = _start_server(setup, mode, calls, server_env(secret, trace_dir))
    try:
        time.sleep(0.5)  # let the workers finish importing before the baseline RSS
        pids = server.pids()
        rss_before = procs.rss_kib(pids)
        window: dict[str, float] = {}
        scrapes: dict[str, dict[str, float]] = {}

        async def on_steady(start: float | None) -> None:
            key = "start" if start is not None else "end"
            window[f"cpu_{key}"] = procs.cpu_seconds(pids)
            window[f"loop_{key}"] = procs.loop_cpu_seconds(pids)
            window[f"wait_{key}"] = procs.runqueue_wait_seconds(pids)
            window[f"genwait_{key}"] = procs.runqueue_wait_seconds([os.getpid()])
            window[f"peer_{key}"] = procs.cpu_seconds([setup.peer_pid]) if setup.peer_pid else 0.0
            window[f"wall_{key}"] = time.monotonic()
            if start is None:
                window["rss"] = procs.rss_kib(pids)
            scrapes[key] = await trio.to_thread.run_sync(_scrape_merged, server.url, setup.workers)

        media_url = server.url.replace("http://", "ws://") + "/media"
        ramp = setup.ramp_for(calls)
        load: LoadResult = trio.run(
            lambda: run_load(
                media_url,
                secret,
                calls,
                setup.seconds,
                ramp_s=ramp,
                on_steady=on_steady,
                # Every point shares the bench database, which lets each CallSid stream once: new ones per point.
                sid_prefix=f"CAbench-{mode}-{calls}-{secrets.token_hex(4)}-",
            )
        )
        samples = _drained_metrics(server.url, setup.workers)
    finally:
        server.stop()
    steady_s = window["wall_end"] - window["wall_start"]
    call_minutes = load.connected * steady_s / 60.0
    cpu = window["cpu_end"] - window["cpu_start"]
    trace_bytes = sum(path.stat().st_size for path in trace_dir.glob("*.jsonl")) if trace_dir.exists() else 0
    shutil.rmtree(trace_dir, ignore_errors=True)
    # Lag and reaction times over the steady window (all calls up), the same window as the CPU; the whole run,
    # ramp included (up to 50 call set-ups a second), is reported next to them.
    steady = prom.difference(scrapes["end"], scrapes["start"])
    lag_p50 = prom.quantile(steady, "callrt_frame_lag_seconds", 0.50)
    lag_p99 = prom.quantile(steady, "callrt_frame_lag_seconds", 0.99)
    barge_p50 = prom.quantile(steady, "callrt_barge_in_reaction_seconds", 0.50)
    barge_p99 = prom.quantile(steady, "callrt_barge_in_reaction_seconds", 0.99)
    return {
        "mode": mode,
        "calls": calls,
        "connected": load.connected,
        "failed": load.failed,
        "workers": setup.workers,
        "seconds": setup.seconds,
        "ramp_s": round(ramp, 2),
        "steady_s": round(steady_s, 2),
        "p50_frame_lag_ms": _ms(lag_p50),
        "p99_frame_lag_ms": _ms(lag_p99),
        "steady_frames_lagged": int(steady.get("callrt_frame_lag_seconds_count", 0)),
        "barge_in_p50_ms": _ms(barge_p50),
        "barge_in_p99_ms": _ms(barge_p99),
        "steady_barge_ins": int(steady.get("callrt_barge_in_reaction_seconds_count", 0)),
        "whole_run_p99_frame_lag_ms": _ms(prom.quantile(samples, "callrt_frame_lag_seconds", 0.99)),
        "whole_run_barge_in_p50_ms": _ms(prom.quantile(samples, "callrt_barge_in_reaction_seconds", 0.50)),
        "whole_run_barge_in_p99_ms": _ms(prom.quantile(samples, "callrt_barge_in_reaction_seconds", 0.99)),
        "frames_lagged": int(samples.get("callrt_frame_lag_seconds_count", 0)),
        "barge_ins": int(samples.get("callrt_barge_ins_total", 0)),
        "dropped_frames": int(samples.get("callrt_frames_dropped_total", 0)),
        "frames_received": int(samples.get("callrt_frames_total", 0)),
        "frames_sent": load.frames_sent,
        "bad_messages": int(sum(v for k, v in samples.items() if k.startswith("callrt_bad_messages_total"))),
        "calls_ended_error": int(samples.get('callrt_calls_ended_total{by="error"}', 0)),
        "cpu_per_call_minute_s": round(cpu / call_minutes, 4) if call_minutes > 0 else None,
        "server_cpu_pct": round(100.0 * cpu / steady_s, 1) if steady_s > 0 else None,
        # Two reads of /proc a moment apart: the main thread may tick (10 ms) in between, never below zero.
        "server_threads_cpu_pct": _pct(max(cpu - (window["loop_end"] - window["loop_start"]), 0.0), steady_s),
        "server_cpu_wait_pct": _pct(window["wait_end"] - window["wait_start"], steady_s),
        "generator_cpu_wait_pct": _pct(window["genwait_end"] - window["genwait_start"], steady_s),
        "rss_per_call_kib": round((window["rss"] - rss_before) / max(load.connected, 1), 1),
        "server_rss_mib": round(window["rss"] / 1024.0, 1),
        "traces": setup.traces,
        "trace_kib_per_call_minute": round(trace_bytes / 1024.0 / call_minutes, 1) if call_minutes > 0 else None,
        "generator_cpu_pct": round(100.0 * load.cpu_s / (ramp + setup.seconds), 1),
        "peer_cpu_pct": round(100.0 * (window["peer_end"] - window["peer_start"]) / steady_s, 1) if steady_s else None,
        "generator_lateness_p99_ms": load.lateness_p99_ms,
        "caller_clears": load.clears,
        "caller_wait_timeouts": load.wait_timeouts,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def _start_server(setup: Setup, mode: Mode, calls: int, env: dict[str, str]) -> procs.Child:
    if mode == "asgi-relay":
        # Imported here: FastAPI and uvicorn are the `asgi` extra, which only this baseline needs.
        from callrt.loadtest import asgi_relay

        args = ["--port", "0", "--realtime-url", setup.peer_url]
        return procs.start(
            f"asgi-relay-{calls}",
            args,
            setup.workdir,
            env,
            setup.server_cpus,
            asgi_relay.READY,
            module=asgi_relay.__name__,
        )
    db_url = f"sqlite:///{setup.workdir / 'bench.db'}"
    args = [
        "serve",
        "--port", "0",
        "--db", db_url,
        "--business-id", str(bench_business(db_url)),
        "--max-calls", str(calls + 10),
        "--workers", str(setup.workers),
        "--realtime-url", setup.peer_url,
    ]  # fmt: skip
    if mode == "relay":
        args.append("--relay")
    if not setup.traces:
        args.append("--no-traces")
    return procs.start(f"serve-{mode}-{calls}", args, setup.workdir, env, setup.server_cpus, "callrt serve:")


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole > 0 else None


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 2)


def _drained_metrics(base_url: str, workers: int) -> dict[str, float]:
    """Every worker's /metrics once its calls have all ended (their last frame-lag windows are in)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while True:
        merged = _scrape_merged(base_url, workers)
        if merged.get("callrt_calls_active", 0) == 0 or time.monotonic() > deadline:
            return merged
        time.sleep(0.25)


def _scrape_merged(base_url: str, workers: int) -> dict[str, float]:
    return prom.merge(_scrape_workers(base_url, workers).values())


def _scrape_workers(base_url: str, workers: int) -> dict[str, dict[str, float]]:
    """One scrape per worker: new connections land on any worker (SO_REUSEPORT), so ask until each answered."""
    seen: dict[str, dict[str, float]] = {}
    for _attempt in range(50 * workers):
        scrape = httpx.get(base_url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10.0)
        samples = prom.parse(scrape.text)
        pid = next((key for key in samples if key.startswith("callrt_process_info")), "?")
        seen[pid] = samples
        if len(seen) >= workers:
            break
    return seen


def barge_in_target_ms() -> float:
    return CallConfig().barge_in_min_ms + 20.0
