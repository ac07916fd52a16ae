"""Benchmark: two versions of the server under the same load at the same time, to compare their CPU.

Run: .venv/bin/python benchmarks/bench_paired.py OLD NEW [--calls N] [--seconds S] [--rounds R]

OLD and NEW are source trees holding `actors/`, `callrt/` and `store/` (a `git worktree` of an
older commit and this checkout, for instance). Each round starts `callrt bench --calls N
--no-relay` twice at once, one with each tree first on `PYTHONPATH`, so both servers share CPU 1
and see the same host speed: on a shared virtual machine whose speed moves by a fifth from one
minute to the next, consecutive single runs cannot show a change of a few percent, paired runs
can (docs/performance.md, sixth round). Both generators share CPU 0, so keep N modest (60 each is
120 calls in all): the figures are those of two servers on one core, higher per call than a
single run's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

FIELDS = ("cpu_per_call_minute_s", "server_cpu_pct", "p99_frame_lag_ms", "barge_in_p99_ms", "dropped_frames")


def source_tree(path: str) -> Path:
    tree = Path(path).resolve()
    missing = [name for name in ("actors", "callrt", "store") if not (tree / name).is_dir()]
    if missing:
        raise SystemExit(f"{tree} holds no {', '.join(missing)}: give a checkout of callrt")
    return tree


def bench_command(calls: int, seconds: float) -> list[str]:
    # --max-cpu-wait 100: never rerun a point; the other server is meant to compete for the core.
    options = ["--calls", str(calls), "--seconds", str(seconds), "--no-relay", "--max-cpu-wait", "100", "--json"]
    return [sys.executable, "-m", "callrt", "bench", *options]


def run_round(trees: dict[str, Path], calls: int, seconds: float, workdir: Path) -> dict[str, dict[str, float]]:
    running = {}
    for label, tree in trees.items():
        env = os.environ | {"PYTHONPATH": str(tree)}
        # From an empty directory: the current one must not put another checkout first on the path.
        running[label] = subprocess.Popen(
            bench_command(calls, seconds), cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
    results = {}
    for label, process in running.items():
        out, _ = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"the {label} bench failed (exit {process.returncode})")
        results[label] = json.loads(out)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    trees = {"old": source_tree(args.old), "new": source_tree(args.new)}
    changes = []
    with tempfile.TemporaryDirectory() as workdir:
        for round_no in range(1, args.rounds + 1):
            results = run_round(trees, args.calls, args.seconds, Path(workdir))
            for label in trees:
                figures = ", ".join(f"{field} {results[label].get(field)}" for field in FIELDS)
                print(f"round {round_no} {label}: {figures}", flush=True)
            old, new = (results[label]["cpu_per_call_minute_s"] for label in ("old", "new"))
            changes.append((new - old) / old * 100.0)
            print(f"round {round_no}: CPU per call-minute {changes[-1]:+.1f} %", flush=True)
    print(f"mean change of CPU per call-minute over {len(changes)} rounds: {sum(changes) / len(changes):+.1f} %")


if __name__ == "__main__":
    main()
