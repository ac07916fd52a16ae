"""The examples that are not servers, run as a user runs them: the custom connector as a script, the fuzzing
and scenario-file tests with pytest (they are tests of their own, outside this suite's `testpaths`)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.processes import REPO, child_env


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *command], cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=600, check=False
    )


def test_the_custom_connector_logs_what_was_said_on_a_whole_call() -> None:
    result = run("examples/custom_connector.py")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("    ai: Hello"), "the greeting, as the model said it"
    assert "caller: I'd like an appointment tomorrow at six pm, my name is Dana" in lines
    assert lines[-1].startswith("    ai: "), "and the AI's answer to it"


def test_the_fuzzing_and_scenario_examples_pass_under_pytest() -> None:
    result = run(
        "-m", "pytest", "-q", "-p", "no:cacheprovider", "examples/test_fuzz_my_business.py",
        "examples/test_my_scenarios.py",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert "2 passed" in result.stdout
