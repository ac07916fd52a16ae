"""Your scenario files as pytest tests: one test per file in examples/scenarios/, each a whole call through the
real runtime in virtual time, checked for the product's invariants and for the file's own `expect` object.

    pytest examples/test_my_scenarios.py
"""

from __future__ import annotations

from pathlib import Path

import pytest

from callrt.scenario import RunOptions, load_scenario, run_scenarios
from callrt.scenario.expect import unmet_expectations

SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.json"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[path.stem for path in SCENARIOS])
def test_scenario(path: Path, tmp_path: Path) -> None:
    scenario = load_scenario(path)
    [report] = run_scenarios([scenario], RunOptions(trace_dir=tmp_path, dialect="ga"))
    assert report["violations"] == [], f"trace: {report['trace']}"
    assert unmet_expectations(report, scenario.raw.get("expect", {})) == []
