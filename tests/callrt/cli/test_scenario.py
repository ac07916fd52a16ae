"""`callrt scenario run`'s verdict: unmet expectations and failed calls are reported and fail the run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from callrt.cli import main
from callrt.testing import DEFAULT_BUSINESS, DEFAULT_NOW, assert_no_violations, run_scenario

GREETED_THEN_GONE: dict[str, Any] = {
    "name": "greeted-then-gone",
    "language": "en",
    "now": DEFAULT_NOW,
    "business": DEFAULT_BUSINESS,
    "caller": {"phone": "+972501234567", "name": None},
    "script": [{"wait": "ai_done"}, {"hangup": True}],
}
UNMET = {"appointments": {"count": 5}, "ai_turns": {"contains": "Bartholomew"}}
REFUSED = {**GREETED_THEN_GONE, "faults": [{"at_ms": 0, "kind": "refuse_session", "field": "*"}]}


def write(tmp_path: Path, scenario: dict[str, Any]) -> Path:
    path = tmp_path / f"{scenario['name']}.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    return path


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    status = main(["scenario", "run", *args])
    return status, capsys.readouterr().out


def test_unmet_expectations_are_printed_and_fail_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, {**GREETED_THEN_GONE, "expect": {"violations": [], **UNMET}})
    status, out = run(tmp_path, capsys, str(path))
    assert status == 1
    assert "greeted-then-gone: UNMET: appointments: expected count 5, got []; ai_turns: expected contains" in out
    status, out = run(tmp_path, capsys, "--json", str(path))
    assert status == 1
    report = json.loads(out)
    assert report["violations"] == [] and report["failed"] is None
    assert report["unmet"] == [
        "appointments: expected count 5, got []",
        f"ai_turns: expected contains 'Bartholomew', got {report['ai_turns']!r}",
    ]
    assert list(report)[:3] == ["scenario", "violations", "unmet"]


def test_met_expectations_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    expect = {"violations": [], "failed": None, "appointments": {"count": 0}, "outcome.kind": "hung_up"}
    status, out = run(tmp_path, capsys, str(write(tmp_path, {**GREETED_THEN_GONE, "expect": expect})))
    assert status == 0, out
    assert out.startswith("greeted-then-gone: ok | ") and "caller hung up before saying anything; nothing booked" in out


def test_a_model_that_refuses_every_session_fails_the_run_unless_the_file_expects_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    status, out = run(tmp_path, capsys, str(write(tmp_path, REFUSED)))
    assert status == 1
    assert "greeted-then-gone: FAILED (session_refused): failed: the model refused every session configuration" in out
    expected = {**REFUSED, "name": "refused-as-expected", "expect": {"failed.reason": "session_refused"}}
    status, out = run(tmp_path, capsys, "--json", str(write(tmp_path, expected)))
    assert status == 0, out
    report = json.loads(out)
    assert report["failed"]["reason"] == "session_refused" and report["failure_expected"] is True
    wrong = {**expected, "name": "refused-otherwise", "expect": {"failed.reason": "model_frozen"}}
    status, out = run(tmp_path, capsys, str(write(tmp_path, wrong)))
    assert status == 1
    assert "UNMET: failed.reason: expected 'model_frozen', got 'session_refused'" in out


def test_the_testing_api_enforces_unmet_expectations_and_failures(tmp_path: Path) -> None:
    report = run_scenario({**GREETED_THEN_GONE, "expect": UNMET})
    assert len(report["unmet"]) == 2
    with pytest.raises(AssertionError, match=r"greeted-then-gone: UNMET: appointments: expected count 5"):
        assert_no_violations(report)
    with pytest.raises(AssertionError, match=r"FAILED \(session_refused\)"):
        assert_no_violations(run_scenario(REFUSED))
    assert_no_violations(run_scenario({**REFUSED, "expect": {"failed.reason": "session_refused"}}))
    assert_no_violations(run_scenario(GREETED_THEN_GONE))
