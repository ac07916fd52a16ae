"""Servers as users start them, in their own processes: `callrt sim-peer`, uvicorn with an app, a script;
each is ready once it printed the line saying where it listens (no polling), and stopped afterwards."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from tests.support.paths import REPO_ROOT as REPO

READY_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    """This checkout importable (`examples`, `tests`), no real keys: nothing leaves the machine."""
    env = {key: value for key, value in os.environ.items() if key not in ("OPENAI_API_KEY", "TWILIO_AUTH_TOKEN")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


@contextlib.contextmanager
def running(
    command: list[str], ready: str | None, *, cwd: Path, env: Mapping[str, str], stop: int = signal.SIGTERM
) -> Iterator[tuple[subprocess.Popen[str], re.Match[str] | None]]:
    """Start `command`; yields once a line of its output matches `ready` (stdout and stderr merged), with the
    match; at once when `ready` is None (a program that says nothing). The rest of its output is drained in
    the background (kept in `.output`) so it never blocks."""
    process = subprocess.Popen(
        command, cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    found: list[re.Match[str]] = []
    seen = threading.Event()

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if ready is not None and not found and (match := re.search(ready, line)):
                found.append(match)
                seen.set()
        seen.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        if ready is not None:
            seen.wait(READY_TIMEOUT_S)
            assert found, f"{command[2:4]} never printed {ready!r}:\n{''.join(lines)[-3000:]}"
        process.output = lines  # type: ignore[attr-defined]
        yield process, found[0] if found else None
    finally:
        if process.poll() is None:
            process.send_signal(stop)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader.join(timeout=5)


@contextlib.contextmanager
def sim_peer(cwd: Path) -> Iterator[str]:
    """`callrt sim-peer` (GA dialect, like the server's default) on a free port; yields its Realtime URL."""
    command = [sys.executable, "-m", "callrt", "sim-peer", "--port", "0", "--dialect", "ga"]
    with running(command, r"at (ws://\S+/v1/realtime)", cwd=cwd, env=child_env()) as (_process, match):
        assert match is not None
        yield match.group(1)


@contextlib.contextmanager
def uvicorn(app: str, cwd: Path, env: Mapping[str, str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`uvicorn <app>` on a free loopback port; yields its base URL and the process."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    with running(command, r"Uvicorn running on", cwd=cwd, env=env, stop=signal.SIGINT) as (process, _):
        yield f"http://127.0.0.1:{port}", process
