"""Fuzzing your own business configuration with callrt's testing API: generated calls (Hebrew or English
speech, coughs, pauses, barge-ins, crashed actors, a database that goes down) against *your* opening hours and
booking rules, through the real runtime in virtual time; every report is checked for the product's invariants
(no double booking, no claim the server did not back, every call ending, ...).

    pytest examples/test_fuzz_my_business.py

A failure shrinks to a short script and replays exactly (`st.random_module()` seeds trio's scheduler).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callrt.testing import assert_no_violations, run_scenario, scenarios

MY_BARBERSHOP: dict[str, Any] = {
    "name": "Barber Avi",
    "timezone": "Asia/Jerusalem",
    # Closed on Mondays, a long Thursday, a short Friday, closed on Saturday.
    "opening_hours": {
        "sun": [["10:00", "18:00"]],
        "tue": [["10:00", "14:00"], ["16:00", "20:00"]],
        "wed": [["10:00", "18:00"]],
        "thu": [["10:00", "22:00"]],
        "fri": [["09:00", "13:00"]],
    },
    "slot_size_min": 20,
    "min_notice_min": 120,
    "capacity": 2,  # two chairs
}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(language="en", business=MY_BARBERSHOP), _order=st.random_module())
def test_my_barbershop_keeps_every_promise(scenario: dict[str, Any], _order: object) -> None:
    assert_no_violations(run_scenario(scenario, dialect="ga"))
