"""Traces of real scenario runs, shared by the viewer's tests (running them takes seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from callrt.scenario import RunOptions, load_scenario, run_scenarios
from tests.support.paths import SCENARIOS_DIR

SCENARIO_CALLS = {
    "booking": "booking-tomorrow-evening",
    "booking_en": "booking-en",
    "out_of_hours": "outside-hours-evening",
    "barge_in": "barge-in",
    "barge_in_en": "barge-in-en",
    "false_claim": "ai-false-claim",
    "restart": "crash-nlp",
}
"""What each test calls a trace -> the scenario file (tests/scenarios/NAME.json) that makes it."""


@pytest.fixture(scope="session")
def scenario_traces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("scenario-traces")
    scenarios = [load_scenario(SCENARIOS_DIR / f"{name}.json") for name in SCENARIO_CALLS.values()]
    reports = run_scenarios(scenarios, RunOptions(trace_dir=folder))
    by_scenario = {report["scenario"]: Path(report["trace"]) for report in reports}
    return {key: by_scenario[name] for key, name in SCENARIO_CALLS.items()}
