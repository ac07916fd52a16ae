"""`callrt call`'s verdict against a live `callrt serve` (two processes, real sockets, real clock): what a
live server cannot apply is said once, expectations that depend on it are not applicable (exit 3), and a
call the caller could not use is reported failed (exit 1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from store import Store
from tests.support.live_scenarios import live_scenario, write_scenario
from tests.support.live_server import OWNER, OWNER_PASSWORD, SALON_NUMBER, LiveServer, run_call, serving

HELLO_BYE = live_scenario("hello-bye", [{"wait": "ai_done"}, {"hangup": True}], language="en")
NOTE = "the scenarios' now, business, appointments are not applied"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with serving(tmp_path) as live:
        yield live


def reports(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def call(server: LiveServer, *scenarios: Path, as_json: bool = True) -> subprocess.CompletedProcess[str]:
    """`callrt call` with several scenarios at once (`run_call` places one)."""
    command = ["call", "--server", server.base, "--to", SALON_NUMBER, "--user", OWNER]
    command += ["--scenario", *map(str, scenarios)]
    env = {**os.environ, "CALLRT_CONSOLE_PASSWORD": OWNER_PASSWORD}
    return subprocess.run(
        [sys.executable, "-m", "callrt", *command, *(["--json"] if as_json else [])],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def test_expectations_on_the_servers_own_business_are_not_applicable(server: LiveServer, tmp_path: Path) -> None:
    plain = write_scenario(tmp_path, {**HELLO_BYE, "expect": {"violations": [], "hangup.by": "caller"}})
    expect = {"violations": [], "appointments": {"count": 1}}
    booking = write_scenario(tmp_path, {**HELLO_BYE, "name": "books", "expect": expect})
    result = call(server, plain, booking)
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stderr.count(NOTE) == 1
    ok, not_applicable = reports(result)
    assert ok["unmet"] == [] and ok["not_applicable"] == [] and ok["failed"] is None
    assert not_applicable["unmet"] == [] and not_applicable["not_applicable"] == ["appointments"]
    text = call(server, booking, as_json=False)
    assert text.returncode == 3
    assert text.stdout.startswith("books: not applicable (expects appointments of the server's own business) | ")
    alone = run_call(server, plain)
    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert NOTE in alone.stderr


def test_a_model_that_refuses_every_session_is_a_failed_call(server: LiveServer, tmp_path: Path) -> None:
    refused = {**HELLO_BYE, "faults": [{"at_ms": 0, "kind": "refuse_session", "field": "*"}]}
    result = run_call(server, write_scenario(tmp_path, refused))
    assert result.returncode == 1, result.stdout + result.stderr
    [report] = reports(result)
    assert report["failed"]["reason"] == "session_refused"
    assert report["outcome"]["kind"] == "failed"


def test_a_business_with_broken_settings_is_a_failed_call(server: LiveServer, tmp_path: Path) -> None:
    store = Store(server.db_url)
    try:
        with store.engine.begin() as conn:
            update = "UPDATE appointment_settings SET slot_size_min = 0 WHERE business_id = :id"
            conn.execute(sa.text(update), {"id": server.business_id})
    finally:
        store.dispose()
    result = run_call(server, write_scenario(tmp_path, HELLO_BYE))
    assert result.returncode == 1, result.stdout + result.stderr
    [report] = reports(result)
    assert report["failed"]["reason"] == "invalid_settings"
    assert "the business's settings are invalid" in report["failed"]["words"]
