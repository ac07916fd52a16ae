"""The bench's child processes (`callrt sim-peer`, `callrt serve`, the asyncio relay): start, pin, measure, stop.

Output goes to files, never to pipes: a server logging at load must not block on a pipe
nobody reads. CPU and memory come from /proc (Linux), per process and summed over workers.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
_URL = re.compile(r"(?:https?|wss?)://[\w.\-\[\]:]+")


@attrs.define
class Child:
    name: str
    popen: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def pids(self) -> list[int]:
        """The processes doing the work: the process itself, or the leaves of its tree when it forked
        workers (the supervising parents above them only wait)."""
        leaves: list[int] = []
        pending = [self.pid]
        while pending:
            pid = pending.pop()
            children = _children(pid)
            pending.extend(children)
            if not children:
                leaves.append(pid)
        return leaves

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(STOP_TIMEOUT_S)


def start(
    name: str,
    args: Sequence[str],
    log_dir: Path,
    env: dict[str, str],
    cpus: set[int] | None,
    ready: str,
    *,
    module: str = "callrt",
) -> Child:
    """`python -m <module> <args>` (`callrt`'s CLI unless told), pinned to `cpus`; returns once it printed a
    line starting with `ready` and the URL it serves."""
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", module, *args], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=log_dir
        )
    if cpus:
        pin(popen.pid, cpus)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        for line in text.splitlines():
            match = _URL.search(line)
            if match and line.startswith(ready):
                child = Child(name, popen, match.group(0).rstrip("/"), log)
                if cpus:
                    for pid in child.pids():
                        pin(pid, cpus)
                return child
        if popen.poll() is not None:
            raise RuntimeError(f"{name} exited with {popen.returncode}:\n{text[-2000:]}")
        time.sleep(0.05)
    popen.kill()
    raise RuntimeError(f"{name} did not start within {START_TIMEOUT_S:.0f} s")


def pin(pid: int, cpus: set[int]) -> None:
    # A CPU that is not ours (a container): run unpinned rather than not at all.
    with contextlib.suppress(OSError):
        os.sched_setaffinity(pid, cpus)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU of these processes so far, all their threads."""
    return _cpu_seconds(f"/proc/{pid}/stat" for pid in pids)


def loop_cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU of these processes' main threads so far: the event loop's, without the worker
    threads' (a server's store calls run in those)."""
    return _cpu_seconds(f"/proc/{pid}/task/{pid}/stat" for pid in pids)


def _cpu_seconds(stat_paths: Iterable[str]) -> float:
    total = 0
    for path in stat_paths:
        try:
            fields = Path(path).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLOCK_TICKS


def runqueue_wait_seconds(pids: Sequence[int]) -> float:
    """Time the processes' main threads spent runnable but waiting for a CPU (/proc/<pid>/schedstat):
    how much other work on the same core delayed them, which lag figures alone cannot tell apart."""
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def rss_kib(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total
