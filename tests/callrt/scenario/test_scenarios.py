"""Whole calls from tests/scenarios/*.json: each file states the report fields it expects."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from callrt.scenario import RunOptions, load_scenario, run_concurrent, run_scenarios
from callrt.scenario.expect import unmet_expectations
from tests.support.paths import SCENARIOS_DIR, SHIPPED_SCENARIOS_DIR

SCENARIOS = sorted(SCENARIOS_DIR.glob("*.json"))
SHIPPED = sorted(SHIPPED_SCENARIOS_DIR.glob("*.json"))


def test_there_are_enough_scenarios() -> None:
    assert len(SCENARIOS) >= 25


@pytest.mark.parametrize("path", SCENARIOS + SHIPPED, ids=lambda p: p.stem)
def test_scenario_meets_its_expectations(path: Path, tmp_path: Path) -> None:
    scenario = load_scenario(path)
    assert "violations" in scenario.expect, "every scenario states its expected violations"
    report = run_scenarios([scenario], RunOptions(trace_dir=tmp_path))[0]
    assert unmet_expectations(report, scenario.expect) == [], report["trace"]


def test_two_callers_for_the_same_slot_book_it_once(tmp_path: Path) -> None:
    """Simultaneous calls to one business on one database: the database decides, never both."""
    booking = load_scenario(next(p for p in SCENARIOS if p.stem == "booking-tomorrow-evening"))
    rival = load_scenario(next(p for p in SCENARIOS if p.stem == "booking-en"))
    reports = run_concurrent([booking, rival], RunOptions(trace_dir=tmp_path))
    booked = [a for report in reports for a in report["appointments"]]
    assert len(booked) == 1
    assert booked[0]["start"] == "2026-11-25T18:00:00+02:00"
    assert all(report["violations"] == [] for report in reports)
    loser = next(report for report in reports if not report["appointments"])
    assert any("taken" in note for note in loser["server_notes"])


def test_scenario_command_prints_json_reports_and_exit_status(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "callrt", "scenario", "run", "--json", *map(str, SHIPPED)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["scenario"] for r in reports] == [load_scenario(p).name for p in SHIPPED]
    assert all((tmp_path / r["trace"]).exists() for r in reports)
    fields = {
        "scenario", "violations", "duration_ms", "hangup", "appointments", "ai_turns", "user_turns",
        "ignored_segments", "silence_prompts", "barge_ins", "server_notes", "responses_created",
        "guard_skips", "false_claims_cut", "restarts", "trace",
    }  # fmt: skip
    assert all(fields <= set(r) for r in reports)


def test_scenario_command_rejects_a_malformed_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "bad", "now": "2026-11-24T10:00:00+02:00", "business": {}, "script": [{}]}))
    result = subprocess.run(
        [sys.executable, "-m", "callrt", "scenario", "run", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "script[0]" in result.stderr
