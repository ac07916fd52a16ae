"""The README's embedding example, run exactly as written (extracted from README.md), as its own process: on a
database with no business it says how to create one; with one, a call with its webhook's token runs and writes
its trace in `traces/`, a stream without one is hung up, and a callSid climbing out of the trace folder stays
in it."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from trio_websocket import HandshakeError, open_websocket_url

from actors import TraceEvent, read_trace
from callrt.net.transport import WebSocketTransport
from callrt.sim.caller import CallerReport, SimulatedCaller
from callrt.telephony.webhook import StreamTokens
from store import DEMO_BUSINESS, Store
from tests.support.processes import REPO, child_env, free_port, running, sim_peer

SECRET = secrets.token_hex(16)


def readme_example() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Embedding", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README.md's Embedding section has a python block"
    return str(match.group(1))


def test_the_readme_example_is_examples_trio_app() -> None:
    assert readme_example() == (REPO / "examples" / "trio_app.py").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    cwd = tmp_path_factory.mktemp("readme")
    (cwd / "app.py").write_text(readme_example(), encoding="utf-8")
    store = Store(f"sqlite:///{cwd / 'calls.db'}")
    store.init_schema()
    store.create_business(**DEMO_BUSINESS)
    store.dispose()
    port = free_port()
    with sim_peer(cwd) as realtime_url:
        env = child_env(
            PORT=str(port),
            CALLRT_DB_URL=f"sqlite:///{cwd / 'calls.db'}",
            CALLRT_STREAM_SECRET=SECRET,
            OPENAI_API_KEY="sk-test-never-sent-anywhere",
            CALLRT_REALTIME_URL=realtime_url,
        )
        # The example prints nothing once it listens: the first call's connection is the probe (see `call`).
        with running([sys.executable, "app.py"], None, cwd=cwd, env=env) as (process, _):
            yield f"ws://127.0.0.1:{port}", cwd
        assert process.returncode is not None


async def call(url: str, call_sid: str, token: str | None) -> CallerReport:
    parameters = {"token": token} if token else {}
    script: list[dict[str, Any]] = [{"wait": "ai_done", "timeout_ms": 5000}, {"hangup": True}]
    with trio.fail_after(60):
        while True:
            try:
                async with open_websocket_url(url) as ws:
                    caller = SimulatedCaller(WebSocketTransport(ws), script, parameters=parameters, call_sid=call_sid)
                    return await caller.run()
            except (OSError, HandshakeError):
                await trio.sleep(0.2)  # the example's process is still starting: it prints nothing when ready


def token_for(call_sid: str) -> str:
    return StreamTokens(SECRET.encode()).issue(call_sid)


def test_on_a_database_without_a_business_it_says_how_to_create_one(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(readme_example(), encoding="utf-8")
    env = child_env(CALLRT_DB_URL=f"sqlite:///{tmp_path / 'empty.db'}", CALLRT_STREAM_SECRET=SECRET)
    env["OPENAI_API_KEY"] = "sk-test-never-sent-anywhere"
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "no business in the database: create one with `callrt business create --name NAME`"
    ), "one line, not an IndexError"


async def test_a_call_with_its_token_runs(server: tuple[str, Path]) -> None:
    url, cwd = server
    report = await call(url, "CAreadme1", token_for("CAreadme1"))
    assert report.ended_by == "caller" and report.heard_bytes > 0, "the AI greeted the caller"
    events = await wait_for_closed_trace(cwd / "traces" / "CAreadme1.jsonl")
    assert next(e for e in events if e.ev == "call_start").get("business_id") == 1


async def test_a_stream_without_a_token_is_hung_up(server: tuple[str, Path]) -> None:
    url, cwd = server
    report = await call(url, "CAreadme2", None)
    assert report.ended_by == "server" and report.heard_bytes == 0
    assert not (cwd / "traces" / "CAreadme2.jsonl").exists()


async def test_a_call_sid_climbing_out_of_traces_stays_in_it(server: tuple[str, Path]) -> None:
    url, cwd = server
    call_sid = "CA/../../../escaped"
    await call(url, call_sid, token_for(call_sid))
    events = await wait_for_closed_trace(cwd / "traces" / ("CA" + "_" * 10 + "escaped.jsonl"))
    assert events[0].get("call_sid") == call_sid
    assert not list(cwd.parent.rglob("escaped.jsonl"))


async def wait_for_closed_trace(path: Path) -> list[TraceEvent]:
    """The trace once the example's process closed it (after the call: another process, the real clock)."""
    with trio.fail_after(15):
        while not (await trio.Path(path).exists() and (events := read_trace(path)) and events[-1].ev == "trace_end"):
            await trio.sleep(0.1)
    return events
