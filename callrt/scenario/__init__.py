"""Scenario files, the virtual-time runner, invariants and reports."""

from callrt.scenario.call_log import call_log_lines
from callrt.scenario.model import Fault, Scenario, ScenarioError, load_scenario, parse_scenario
from callrt.scenario.outcome import Outcome, call_failure, call_outcome
from callrt.scenario.runner import RunOptions, run_concurrent, run_scenarios

__all__ = [
    "Fault",
    "Outcome",
    "RunOptions",
    "Scenario",
    "ScenarioError",
    "call_failure",
    "call_log_lines",
    "call_outcome",
    "load_scenario",
    "parse_scenario",
    "run_concurrent",
    "run_scenarios",
]
