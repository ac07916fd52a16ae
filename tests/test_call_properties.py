"""Property tests of whole calls: generated scripts and fault plans, orderings from
trio's scheduler seeded by Hypothesis, invariants checked on every call's trace."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callrt.testing import assert_no_violations, run_scenario, scenarios

CALL_SETTINGS = settings(
    max_examples=110,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@CALL_SETTINGS
@given(scenario=scenarios(language="he"), _order=st.random_module())
def test_hebrew_calls_keep_every_invariant(scenario: dict[str, Any], _order: object) -> None:
    assert_no_violations(run_scenario(scenario))


@CALL_SETTINGS
@given(scenario=scenarios(language="en"), _order=st.random_module())
def test_english_calls_keep_every_invariant_in_the_ga_dialect(scenario: dict[str, Any], _order: object) -> None:
    assert_no_violations(run_scenario(scenario, dialect="ga"))
