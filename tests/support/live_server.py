"""`callrt serve` as a user runs it, in a subprocess on a free loopback port, over a database that
already has what a deployment needs: a business reached by a number, and a console user."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import httpx

from callrt.console.passwords import hash_password
from store import ISRAELI_HOURS, Store
from tests.support.processes import free_port

SALON_NUMBER = "+97231234567"
OWNER, OWNER_PASSWORD = "owner", "owner-password-1"
METRICS_TOKEN = "live-metrics-token"


@attrs.frozen
class LiveServer:
    base: str
    db_url: str
    business_id: int
    trace_dir: Path
    log: Path
    """The server's stderr: its log at the default level (complete once `running_server` has returned)."""


def prepare_database(db_url: str, **business: object) -> int:
    """The schema, one Hebrew salon reached by `SALON_NUMBER`, and the console user `OWNER` (all businesses)."""
    store = Store(db_url)
    try:
        store.init_schema()
        settings: dict[str, object] = {"name": "מספרת דנה", "opening_hours": ISRAELI_HOURS, "phones": [SALON_NUMBER]}
        settings.update(business)
        business_id = store.create_business(**settings)  # type: ignore[arg-type]
        store.create_console_user(OWNER, hash_password(OWNER_PASSWORD))
        return business_id
    finally:
        store.dispose()


@contextmanager
def running_server(folder: Path, db_url: str, business_id: int, *options: str) -> Iterator[LiveServer]:
    """`callrt serve` with `options` on a free port, once its /health answers."""
    port = free_port()
    env = {**os.environ, "CALLRT_TRACE_DIR": str(folder / "traces"), "CALLRT_METRICS_TOKEN": METRICS_TOKEN}
    for name in ("OPENAI_API_KEY", "TWILIO_AUTH_TOKEN", "CALLRT_SECRET_KEY", "CALLRT_REALTIME_URL"):
        env.pop(name, None)
    log = folder / "serve.log"
    with log.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "callrt",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--db",
                db_url,
                *options,
            ],
            env=env,
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, "callrt serve did not come up"
            time.sleep(0.2)  # a real process starting: real clock
        yield LiveServer(base=base, db_url=db_url, business_id=business_id, trace_dir=folder / "traces", log=log)
    finally:
        process.terminate()
        process.wait(timeout=15)


@contextmanager
def serving(folder: Path, *options: str, **business: object) -> Iterator[LiveServer]:
    """`running_server` with `options` over a new SQLite database in `folder`, prepared by `prepare_database`
    (`business`: the salon's settings that differ)."""
    db_url = f"sqlite:///{folder / 'live.db'}"
    with running_server(folder, db_url, prepare_database(db_url, **business), *options) as live:
        yield live


def run_call(server: LiveServer, scenario: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`callrt call` against `server`, to the salon's number, reading its trace as the console user."""
    command = ["call", "--server", server.base, "--scenario", str(scenario), "--json", "--db", server.db_url]
    command += ["--to", SALON_NUMBER, "--user", OWNER, *extra]
    env = {**os.environ, "CALLRT_CONSOLE_PASSWORD": OWNER_PASSWORD}
    return subprocess.run(
        [sys.executable, "-m", "callrt", *command], capture_output=True, text=True, timeout=120, check=False, env=env
    )


def call_report(server: LiveServer, scenario: Path) -> dict[str, Any]:
    """The report of `run_call`, which must have succeeded (exit status 0)."""
    result = run_call(server, scenario)
    assert result.returncode == 0, result.stdout + result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report
