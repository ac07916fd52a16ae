"""The sweep's plot: frame lag and server CPU against concurrent calls (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def plot_sweep(points: Sequence[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and CI
    import matplotlib.pyplot as plt

    calls = [p["calls"] for p in points]
    baseline = next((p["baseline"] for p in points if p.get("baseline")), "relay")
    fig, (lag_ax, cpu_ax) = plt.subplots(2, 1, figsize=(7.5, 7.0), sharex=True)
    lag_ax.plot(calls, [p["p99_frame_lag_ms"] for p in points], "o-", label="actors p99")
    lag_ax.plot(calls, [p["p50_frame_lag_ms"] for p in points], "o--", label="actors p50")
    if any(p.get("relay_p99_frame_lag_ms") is not None for p in points):
        lag_ax.plot(calls, [p.get("relay_p99_frame_lag_ms") for p in points], "s-", label=f"{baseline} p99")
    lag_ax.axhline(20.0, color="grey", linestyle=":", label="20 ms target")
    lag_ax.set_yscale("log")
    lag_ax.set_ylabel("frame lag (ms, log)")
    lag_ax.legend(loc="upper left", fontsize="small")
    lag_ax.set_title("callrt bench: one server process, live calls over loopback")
    for point in points:
        if point["dropped_frames"]:
            lag_ax.annotate(f"{point['dropped_frames']} dropped", (point["calls"], point["p99_frame_lag_ms"]),
                            fontsize="x-small", xytext=(4, -10), textcoords="offset points")  # fmt: skip
        if not point.get("load_ok", True):
            lag_ax.annotate("generator late", (point["calls"], point["p99_frame_lag_ms"]),
                            fontsize="x-small", xytext=(-4, 6), textcoords="offset points", ha="right")  # fmt: skip
    cpu_ax.plot(calls, [p["server_cpu_pct"] for p in points], "o-", label="actors: server CPU %")
    if any(p.get("relay_server_cpu_pct") is not None for p in points):
        cpu_ax.plot(calls, [p.get("relay_server_cpu_pct") for p in points], "s-", label=f"{baseline}: server CPU %")
    # Time the server was runnable but another process held its CPU: high values mean a disturbed measurement.
    cpu_ax.plot(
        calls, [p.get("server_cpu_wait_pct") for p in points], "x--", color="red", label="actors: waited for CPU %"
    )
    cpu_ax.axhline(100.0, color="grey", linestyle=":", label="one core")
    cpu_ax.set_ylabel("server CPU (% of a core)")
    cpu_ax.set_xlabel("concurrent calls")
    cpu_ax.legend(loc="upper left", fontsize="small")
    for ax in (lag_ax, cpu_ax):
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
