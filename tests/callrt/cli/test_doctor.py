"""`callrt doctor` against the simulated model (in-process, and a `callrt sim-peer` refusing every session)
and against a live webhook on loopback: every check passes, or the failing one is named."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import trio

from callrt.cli.doctor import diagnose
from callrt.server.app import TelephonyServer, serve
from callrt.server.config import ServerConfig
from store import Store
from tests.support.paths import REPO_ROOT

TOKEN = "doctor-twilio-token"


def offline_env() -> dict[str, str]:
    """No credentials and no callrt settings: what a fresh checkout sees."""
    kept = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "TWILIO_AUTH_TOKEN")}
    return {k: v for k, v in kept.items() if not k.startswith("CALLRT_")} | {"PYTHONPATH": str(REPO_ROOT)}


async def test_every_check_passes_against_the_simulator_and_a_signed_webhook(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'calls.db'}")
    store.init_schema()
    business_id = store.create_business(name="Test salon", opening_hours={"sun": [["09:00", "19:00"]]})
    server = TelephonyServer(ServerConfig(auth_token=TOKEN, trace_dir=tmp_path), store, business_id)
    async with trio.open_nursery() as nursery:
        [base] = await nursery.start(partial(serve, server, bind="127.0.0.1:0"))
        config = ServerConfig.from_env(offline_env(), auth_token=TOKEN, public_url=base)
        verdicts = await diagnose(config)
        nursery.cancel_scope.cancel()
    by_check = {v.check: v for v in verdicts}
    assert all(v.ok for v in verdicts), [v.line() for v in verdicts if not v.ok]
    assert {
        "realtime_connect",
        "session_configured",
        "spoken_sentence",
        "nlp_schema",
        "webhook_reachable",
        "webhook_refuses_unsigned",
        "webhook_accepts_signed",
    } <= set(by_check)
    assert "simulated" in by_check["nlp_schema"].detail
    assert by_check["spoken_sentence"].latency_ms is not None


async def test_a_wrong_token_fails_the_signed_check(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'calls.db'}")
    store.init_schema()
    business_id = store.create_business(name="Test salon", opening_hours={"sun": [["09:00", "19:00"]]})
    server = TelephonyServer(ServerConfig(auth_token=TOKEN, trace_dir=tmp_path), store, business_id)
    async with trio.open_nursery() as nursery:
        [base] = await nursery.start(partial(serve, server, bind="127.0.0.1:0"))
        verdicts = await diagnose(ServerConfig.from_env(offline_env(), auth_token="not-the-token", public_url=base))
        nursery.cancel_scope.cancel()
    failed = [v.check for v in verdicts if not v.ok]
    assert failed == ["webhook_accepts_signed"]


def test_the_cli_names_the_failed_check_against_a_refusing_simulator() -> None:
    env = offline_env()
    peer = subprocess.Popen(
        [sys.executable, "-m", "callrt", "sim-peer", "--port", "0", "--fault", "refuse_session:*"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert peer.stdout is not None
        url = peer.stdout.readline().split(" at ", 1)[1].split("?", 1)[0]
        done = subprocess.run(
            [sys.executable, "-m", "callrt", "doctor", "--realtime-url", url],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    finally:
        peer.terminate()
        peer.wait(timeout=10)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "SIMULATED" in done.stdout
    assert "FAIL  session_configured" in done.stdout and "refused: invalid_request_error" in done.stdout
    assert done.stdout.strip().endswith("FAILED: session_configured")

    ok = subprocess.run(
        [sys.executable, "-m", "callrt", "doctor"], capture_output=True, text=True, env=env, timeout=120
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "all checks passed" in ok.stdout
