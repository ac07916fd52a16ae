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


async def test_each_businesss_own_models_are_checked_like_the_servers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'calls.db'}"
    store = Store(url)
    store.init_schema()
    hours = {"sun": [["09:00", "19:00"]]}
    store.create_business(name="Uses the server's models", opening_hours=hours)
    own, twin, gone = (store.create_business(name=name, opening_hours=hours) for name in ("Own", "Twin", "Gone"))
    chosen = {"realtime_model": "gpt-realtime-2025-08-28", "transcription_model": "gpt-4o-transcribe"}
    for business in (own, twin):
        store.update_business(business, **chosen)
    store.update_business(gone, transcription_model="gpt-4o-audio-preview")  # shut down on 2026-05-07
    store.dispose()
    verdicts = await diagnose(ServerConfig.from_env(offline_env(), db_url=url))
    by_check = {v.check: v for v in verdicts}
    assert by_check["business_models"].ok
    both = f"business {own}, {twin}"
    assert by_check[f"session_configured ({both})"].ok
    assert "transcription gpt-4o-transcribe" in by_check[f"session_configured ({both})"].detail
    assert by_check[f"spoken_sentence ({both})"].ok
    assert by_check[f"models_current ({both})"].ok
    assert not by_check[f"models_current (business {gone})"].ok
    assert "was shut down on 2026-05-07" in by_check[f"models_current (business {gone})"].detail
    assert by_check[f"session_configured (business {gone})"].ok, "the simulated service still takes it"
    assert [v.check for v in verdicts if not v.ok] == [f"models_current (business {gone})"]


async def test_a_database_that_cannot_be_read_fails_and_a_missing_file_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "never-made.db"
    verdicts = await diagnose(ServerConfig.from_env(offline_env(), db_url=f"sqlite:///{missing}"))
    [skipped] = [v for v in verdicts if v.check == "business_models"]
    assert skipped.ok and skipped.warning and "no SQLite database" in skipped.detail
    assert not missing.exists()
    unreachable = "postgresql+psycopg://postgres@127.0.0.1:5432/no_such_database_here"
    verdicts = await diagnose(ServerConfig.from_env(offline_env(), db_url=unreachable))
    assert [v.check for v in verdicts if not v.ok] == ["business_models"]
    assert "cannot read the database" in next(v.detail for v in verdicts if v.check == "business_models")
