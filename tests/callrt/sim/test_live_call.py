"""`callrt serve` and `callrt call` as a user runs them: two processes, real sockets, real clock."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

SCENARIO = {
    "name": "live-booking",
    "language": "he",
    "now": "2026-11-24T10:00:00+02:00",
    "business": {"name": "unused: the live server answers for its own business"},
    "caller": {"phone": "+972501234567"},
    # A weekday morning a few days ahead is bookable whatever day the test runs on.
    "script": [
        {"wait": "ai_done"},
        {"pause_ms": 300},
        {"say": "אני רוצה תור ביום שני בעשר בבוקר, קוראים לי דנה", "ms": 1800},
        {"wait": "ai_done"},
        {"pause_ms": 1500},
        {"hangup": True},
    ],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    port = free_port()
    db_url = f"sqlite:///{tmp_path / 'live.db'}"
    env = {**os.environ, "CALLRT_TRACE_DIR": str(tmp_path / "traces")}
    env.pop("OPENAI_API_KEY", None)
    env.pop("TWILIO_AUTH_TOKEN", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "callrt", "serve", "--host", "127.0.0.1", "--port", str(port), "--db", db_url],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
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
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, "callrt serve did not come up"
            time.sleep(0.2)
        yield base, db_url
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_a_live_call_books_over_real_sockets(server: tuple[str, str], tmp_path: Path) -> None:
    base, db_url = server
    scenario = tmp_path / "live.json"
    scenario.write_text(json.dumps(SCENARIO, ensure_ascii=False), encoding="utf-8")
    command = ["call", "--server", base, "--scenario", str(scenario), "--json", "--db", db_url]
    result = subprocess.run(
        [sys.executable, "-m", "callrt", *command],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["violations"] == []
    assert report["hangup"]["by"] == "caller"
    assert len(report["appointments"]) == 1
    assert report["appointments"][0]["name"] == "דנה"
    assert report["appointments"][0]["start"].split("T")[1].startswith("10:00")
    assert any(note.startswith("appointment_created") for note in report["server_notes"])
    assert report["trace"].startswith(base + "/traces/")
    assert httpx.get(report["trace"], timeout=5).status_code == 200  # the viewer page of this very call


def run_caller(base: str, db_url: str, scenario: dict[str, object], tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / f"{scenario['name']}.json"
    path.write_text(json.dumps(scenario, ensure_ascii=False), encoding="utf-8")
    command = ["call", "--server", base, "--scenario", str(path), "--json", "--db", db_url]
    result = subprocess.run(
        [sys.executable, "-m", "callrt", *command], capture_output=True, text=True, timeout=120, check=False
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_a_caller_who_names_anothers_number_cancels_nothing(server: tuple[str, str], tmp_path: Path) -> None:
    """The attack, live: one caller books from their line; a second caller, from another line, says
    "cancel my appointment, my number is" the first one's, written exactly as it is stored."""
    from store import Store

    base, db_url = server
    owner = {**SCENARIO, "name": "owner", "caller": {"phone": "+972521111111"}}
    booked = run_caller(base, db_url, owner, tmp_path)
    assert booked["violations"] == [] and len(booked["appointments"]) == 1
    attacker = {
        **SCENARIO,
        "name": "attacker",
        "caller": {"phone": "+972502222222"},
        "script": [
            {"wait": "ai_done"},
            {"pause_ms": 300},
            {"say": "אני רוצה לבטל את התור שלי, המספר שלי +972521111111", "ms": 2200},
            {"wait": "ai_done"},
            {"pause_ms": 1500},
            {"hangup": True},
        ],
    }
    report = run_caller(base, db_url, attacker, tmp_path)
    assert report["violations"] == []  # foreign_appointment_touched among the checks, on the database
    assert "booking_failed reason=unverified_caller" in report["server_notes"]
    assert not any(note.startswith("appointment_cancelled") for note in report["server_notes"])
    assert any("אעביר את הפרטים לנציג" in turn["text"] for turn in report["ai_turns"])  # the handoff line
    store = Store(db_url)
    try:
        [appointment] = [a for a in store.list_appointments(1, active_only=False) if a.phone == "+972521111111"]
        assert appointment.status == "booked" and appointment.cancel_call_sid is None
        assert appointment.start.isoformat() == booked["appointments"][0]["start"]
        [callback] = store.callback_requests(1)
        assert (callback.reason, callback.phone) == ("unverified_caller", "+972502222222")
        assert "+972521111111" in callback.request
    finally:
        store.dispose()
