"""Attacks on a live server over loopback, each refused or survived, with the state checked afterwards:
idle sockets against a real call, a forged Host, a log-forging callSid, a dribbled body, planted
symlinks, a replayed stream token, an oversized trace, old traces, and an open webhook on a public
address. Real sockets need the real clock: every wait is bounded."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import trio
from trio_websocket import ConnectionClosed, HandshakeError, open_websocket_url

from actors.trace import read_trace
from callrt.console.passwords import hash_password
from callrt.server.retention import prune_traces
from callrt.sim.live_call import console_login
from callrt.sim.peer_script import SimScript
from callrt.telephony.webhook import compute_signature, parse_stream_twiml
from store import Store
from tests.callrt.server import test_app
from tests.callrt.server.test_app import (
    METRICS_TOKEN,
    STEP_S,
    TOKEN,
    TwilioSide,
    closed_without_a_word,
    live,
    make_server,
    start_message,
    twiml_for,
)
from tests.support import store as store_support

store = test_app.store  # the fixtures, shared with the server's other tests
business_id = test_app.business_id
pg_url = store_support.pg_url

SCRIPT = SimScript(language="en", business_name="Test salon").to_json()


async def start_call(client: httpx.AsyncClient, base: str, call_sid: str) -> tuple[str, str]:
    """The webhook's stream URL and the `start` message Twilio would send for `call_sid`."""
    stream_url, params = await twiml_for(client, base, call_sid, sim_script=SCRIPT)
    return stream_url, start_message(call_sid, **params)


async def greeted(stream_url: str, start: str) -> bool:
    """Opens a stream with `start`: True once the AI's audio arrives, False when it is closed first."""
    async with open_websocket_url(stream_url) as ws:
        await ws.send_message(start)
        with trio.fail_after(STEP_S):
            try:
                while json.loads(await ws.get_message())["event"] != "media":
                    pass
            except Exception:  # closed without a word
                return False
        await ws.send_message(json.dumps({"event": "stop", "stop": {}}))
        return True


# -- 6: connections that never start ---------------------------------------------------------------


async def test_idle_sockets_never_keep_a_real_call_out(store: Store, business_id: int, tmp_path: Path) -> None:
    server = make_server(store, business_id, tmp_path, max_calls=1, max_pending=4, start_timeout_s=3.0)
    async with live(server) as base, httpx.AsyncClient(timeout=STEP_S) as client:
        media = base.replace("http://", "ws://") + "/media"
        port = int(base.rsplit(":", 1)[1])
        async with trio.open_nursery() as idle:
            # Websockets that never send `start`, and sockets that never finish their handshake.
            for _ in range(10):
                idle.start_soon(_hold_websocket, media)
            half_open = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(5)]
            for stream in half_open:
                await stream.send_all(b"GET /media HTTP/1.1\r\nHost: x\r\n")
            with trio.fail_after(STEP_S):
                while server.admission.evicted_total < 11:
                    await trio.sleep(0.01)
            health = (await client.get(base + "/health")).json()
            assert health["streams_pending"] == 4 and health["calls_active"] == 0
            stream_url, start = await start_call(client, base, "CAreal")
            assert await greeted(stream_url, start), "the real call was kept out by idle sockets"
            assert server.metrics.calls_total == 1 and server.metrics.calls_refused["capacity"] == 0
            idle.cancel_scope.cancel()
            for stream in half_open:
                await stream.aclose()
        with trio.fail_after(STEP_S):
            while server.admission.pending or server.metrics.calls_active:
                await trio.sleep(0.01)
        assert server.admission.calls == 0


async def _hold_websocket(url: str) -> None:
    """An idle stream, held until the server drops it (mid-handshake, or after its `connected`)."""
    with contextlib.suppress(HandshakeError, ConnectionClosed, trio.BrokenResourceError):
        async with open_websocket_url(url) as ws:
            await ws.send_message(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
            await ws.get_message()


async def test_a_stream_that_never_starts_is_dropped_after_the_start_timeout(
    store: Store, business_id: int, tmp_path: Path
) -> None:
    server = make_server(store, business_id, tmp_path, start_timeout_s=0.3)
    async with live(server) as base, open_websocket_url(base.replace("http://", "ws://") + "/media") as ws:
        began = time.monotonic()
        assert await closed_without_a_word(ws) == 1008
        assert 0.25 < time.monotonic() - began < 2.0
        assert server.admission.pending == 0 and server.admission.calls == 0


# -- 4: the URL the signature is checked against -----------------------------------------------------


async def test_a_forged_host_does_not_choose_the_signed_url(store: Store, business_id: int, tmp_path: Path) -> None:
    params = {"CallSid": "CAhost", "From": "+972501234567"}
    forged = "https://evil.example/twiml"
    headers = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
    # Loopback is not a trusted proxy here: only the socket's own address counts.
    server = make_server(store, business_id, tmp_path, auth_token=TOKEN, forwarded_allow_ips="10.9.9.9")
    async with live(server) as base, httpx.AsyncClient(timeout=STEP_S) as client:
        signed_forged = {**headers, "X-Twilio-Signature": compute_signature(TOKEN, forged, params)}
        assert (await client.post(base + "/twiml", data=params, headers=signed_forged)).status_code == 403
        signed_socket = {**headers, "X-Twilio-Signature": compute_signature(TOKEN, base + "/twiml", params)}
        response = await client.post(base + "/twiml", data=params, headers=signed_socket)
        assert response.status_code == 200
        assert parse_stream_twiml(response.text)[0] == base.replace("http://", "ws://") + "/media"
    # From a trusted proxy, the right-most forwarded value is ours; what a client put before it is not.
    server = make_server(store, business_id, tmp_path, auth_token=TOKEN, forwarded_allow_ips="127.0.0.0/8")
    async with live(server) as base, httpx.AsyncClient(timeout=STEP_S) as client:
        proxied = {"X-Forwarded-Host": "evil.example, calls.example.com", "X-Forwarded-Proto": "http, https"}
        bad = {**proxied, "X-Twilio-Signature": compute_signature(TOKEN, forged, params)}
        assert (await client.post(base + "/twiml", data=params, headers=bad)).status_code == 403
        good = {**proxied, "X-Twilio-Signature": compute_signature(TOKEN, "https://calls.example.com/twiml", params)}
        response = await client.post(base + "/twiml", data=params, headers=good)
        assert response.status_code == 200
        assert parse_stream_twiml(response.text)[0] == "wss://calls.example.com/media"


# -- 7: what a peer sends is bounded and escaped -------------------------------------------------------


async def test_a_log_forging_call_sid_stays_one_escaped_line(
    store: Store, business_id: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    forged = "CA1\r\n2026-12-05 10:00:00 CRITICAL callrt:\u202e admin password changed"
    server = make_server(store, business_id, tmp_path)
    caplog.set_level(logging.INFO)
    async with live(server) as base, open_websocket_url(base.replace("http://", "ws://") + "/media") as ws:
        await ws.send_message(start_message(forged, token="1.forged"))
        assert await closed_without_a_word(ws) == 1008
    [refusal] = [r.getMessage() for r in caplog.records if "closing a media stream" in r.getMessage()]
    assert "\n" not in refusal and "\r" not in refusal and "\u202e" not in refusal
    assert "CA1\\u000d\\u000a2026-12-05" in refusal and "\\u202e" in refusal
    assert not any("\n" in r.getMessage() for r in caplog.records if r.name.startswith("callrt"))


async def test_a_dribbled_body_is_cut_off_with_408(store: Store, business_id: int, tmp_path: Path) -> None:
    server = make_server(store, business_id, tmp_path, body_timeout_s=1.0)
    async with live(server) as base:
        stream = await trio.open_tcp_stream("127.0.0.1", int(base.rsplit(":", 1)[1]))
        head = b"POST /twiml HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        await stream.send_all(head + b"Content-Length: 200\r\n\r\n")
        began = time.monotonic()
        answer = b""

        async def dribble() -> None:
            for byte in b"CallSid=CA1&From=%2B9725" * 10:
                await stream.send_all(bytes([byte]))
                await trio.sleep(0.2)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(dribble)
            with trio.fail_after(STEP_S):
                # The answer, then the end of the connection: its unread body makes it useless.
                while chunk := await stream.receive_some(4096):
                    answer += chunk
            closed_after = time.monotonic() - began
            nursery.cancel_scope.cancel()
        assert answer.startswith(b"HTTP/1.1 408") and answer.endswith(b"\r\n\r\nrequest body too slow\n")
        assert 0.9 < closed_after < 3.0
        await stream.aclose()
        # Prompt bodies still work, and so does the server.
        async with httpx.AsyncClient(timeout=STEP_S) as client:
            assert (await client.post(base + "/twiml", data={"CallSid": "CA2"})).status_code == 200


async def test_planted_symlinks_are_neither_served_nor_written_through(
    store: Store, business_id: int, tmp_path: Path
) -> None:
    victim = tmp_path / "precious.txt"
    victim.write_text("do not overwrite\n")
    traces = tmp_path / "traces"
    traces.mkdir()
    (traces / "CAplant.jsonl").symlink_to(victim)
    store.create_console_user("owner", hash_password("a long enough password"))
    server = make_server(store, business_id, tmp_path)
    async with live(server) as base, httpx.AsyncClient(base_url=base, timeout=STEP_S) as client:
        await console_login(client, "owner", "a long enough password")  # traces are for the console's users
        assert (await client.get(base + "/traces/CAplant.jsonl")).status_code == 404
        assert "CAplant" not in (await client.get(base + "/traces")).text
        stream_url, start = await start_call(client, base, "CAplant")
        assert not await greeted(stream_url, start)  # its trace would replace what the link points at
        assert server.metrics.calls_refused["duplicate"] == 1
    assert victim.read_text() == "do not overwrite\n"


# -- 5: one stream per CallSid ---------------------------------------------------------------------------


async def test_a_calls_stream_is_served_once_and_its_trace_never_replaced(
    store: Store, business_id: int, tmp_path: Path
) -> None:
    server = make_server(store, business_id, tmp_path)
    async with live(server) as base, httpx.AsyncClient(timeout=STEP_S) as client:
        stream_url, start = await start_call(client, base, "CAonce")
        assert await greeted(stream_url, start)
        with trio.fail_after(STEP_S):
            while server.metrics.calls_active:
                await trio.sleep(0.01)
        first_trace = (tmp_path / "traces" / "CAonce.jsonl").read_bytes()
        assert not await greeted(stream_url, start)  # the same token again
        _, again = await start_call(client, base, "CAonce")  # a fresh token for a call that has streamed
        assert not await greeted(stream_url, again)
        assert server.metrics.calls_refused["duplicate"] == 2 and server.metrics.calls_total == 1
    assert (tmp_path / "traces" / "CAonce.jsonl").read_bytes() == first_trace
    with store.engine.connect() as connection:  # one session, one accepted stream: the first call's
        assert connection.execute(sa.text("SELECT count(*) FROM call_sessions")).scalar_one() == 1
        assert connection.execute(sa.text("SELECT call_sid FROM stream_tokens")).scalars().all() == ["CAonce"]


def test_a_token_is_honoured_once_across_workers_sharing_postgresql(pg_url: str, tmp_path: Path) -> None:
    """`--workers 2` on one PostgreSQL: the same `start` replayed on fresh connections (the kernel spreads
    them over both workers) is served once."""
    setup = Store(pg_url)
    setup.init_schema()
    salon = setup.create_business(name="Workers salon", opening_hours={"sun": [["09:00", "19:00"]]})
    setup.dispose()
    command = [sys.executable, "-m", "callrt", "serve", "--port", "0", "--workers", "2", "--db", pg_url]
    command += ["--business-id", str(salon)]
    env = {**os.environ, "CALLRT_TRACE_DIR": str(tmp_path / "traces"), "TWILIO_AUTH_TOKEN": TOKEN}
    env["CALLRT_METRICS_TOKEN"] = METRICS_TOKEN
    env.pop("OPENAI_API_KEY", None)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as parent:
        try:
            assert parent.stdout is not None
            found = re.search(r"http://[\d.]+:\d+", parent.stdout.readline())
            assert found
            served, workers = trio.run(_replay_on_both_workers, found.group(0))
        finally:
            parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=30) == 0
    assert len(workers) == 2 and parent.pid not in workers
    assert served == 1
    check = Store(pg_url)
    try:
        with check.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT call_sid FROM stream_tokens")).scalars().all() == ["CAreplay"]
            sessions = sa.text("SELECT count(*) FROM call_sessions WHERE call_sid = 'CAreplay'")
            assert connection.execute(sessions).scalar_one() == 1
    finally:
        check.dispose()


async def _replay_on_both_workers(base: str) -> tuple[int, set[int]]:
    """How many of 8 replays were served, and the pids of the workers that answered."""
    headers = {"Connection": "close", "Authorization": f"Bearer {METRICS_TOKEN}"}
    async with httpx.AsyncClient(timeout=STEP_S) as client:
        workers: set[int] = set()
        with trio.fail_after(30):
            while len(workers) < 2:
                try:
                    scrape = (await client.get(base + "/metrics", headers=headers)).text
                    workers.add(int(re.search(r'callrt_process_info\{pid="(\d+)"\}', scrape).group(1)))  # type: ignore[union-attr]
                except httpx.TransportError:
                    await trio.sleep(0.05)  # a worker is still starting
        stream_url, start = await start_call(client, base, "CAreplay")
    served = 0
    for _ in range(8):
        served += await greeted(stream_url, start)
    return served, workers


# -- 7: trace size and retention -------------------------------------------------------------------


async def test_a_calls_trace_stops_at_its_cap_and_says_so(store: Store, business_id: int, tmp_path: Path) -> None:
    server = make_server(store, business_id, tmp_path, trace_max_bytes=16_384)
    async with live(server) as base, httpx.AsyncClient(timeout=STEP_S) as client:
        stream_url, start = await start_call(client, base, "CAcapped")
        async with open_websocket_url(stream_url) as ws, trio.open_nursery() as nursery:
            await ws.send_message(start)
            twilio = TwilioSide(ws)
            nursery.start_soon(twilio.run)
            await twilio.send_frames([b"\xff" * 160] * 100)
            await twilio.hang_up(server)
            nursery.cancel_scope.cancel()
    path = tmp_path / "traces" / "CAcapped.jsonl"
    assert path.stat().st_size <= 16_384
    events = read_trace(path)
    assert [e.ev for e in events[-2:]] == ["trace_truncated", "trace_end"]
    assert server.metrics.frames_total == 100  # the counters saw the whole call


async def test_old_traces_are_pruned_when_the_server_starts(store: Store, business_id: int, tmp_path: Path) -> None:
    traces = tmp_path / "traces"
    traces.mkdir()
    old, recent, other = traces / "CAold.jsonl", traces / "CArecent.jsonl", traces / "notes.txt"
    for path in (old, recent, other):
        path.write_text("{}\n")
    three_days_ago = time.time() - 3 * 86400
    for path in (old, other):
        os.utime(path, (three_days_ago, three_days_ago))
    server = make_server(store, business_id, tmp_path, trace_retention_days=2.0)
    async with live(server):
        with trio.fail_after(STEP_S):
            while old.exists():
                await trio.sleep(0.01)
    assert recent.exists() and other.exists()
    assert prune_traces(traces, 0.0, now=time.time() + 1) == 1 and not recent.exists()


# -- 3: no open webhook on a public address -------------------------------------------------------------


def test_serve_refuses_a_public_address_without_an_auth_token(tmp_path: Path) -> None:
    env = {**os.environ, "CALLRT_TRACE_DIR": str(tmp_path / "traces")}
    env.pop("TWILIO_AUTH_TOKEN", None)
    db_url = f"sqlite:///{tmp_path / 'open.db'}"
    seeded = Store(db_url)
    seeded.init_schema()
    seeded.create_business(name="Open salon", opening_hours={"sun": [["09:00", "19:00"]]})
    seeded.dispose()
    command = [sys.executable, "-m", "callrt", "serve", "--host", "0.0.0.0", "--port", "0", "--db", db_url]
    refused = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert refused.returncode != 0
    [line] = refused.stderr.strip().splitlines()
    assert "TWILIO_AUTH_TOKEN" in line and "--insecure" in line
    with subprocess.Popen(
        [*command, "--insecure"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as insecure:
        try:
            assert insecure.stdout is not None
            assert "listening on" in insecure.stdout.readline()
        finally:
            insecure.send_signal(signal.SIGTERM)
        _, errors = insecure.communicate(timeout=30)
    assert insecure.returncode == 0
    assert re.search(r"WARNING .*--insecure", errors), errors
