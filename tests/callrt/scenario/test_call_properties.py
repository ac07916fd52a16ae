"""Property tests of whole calls: generated scripts and fault plans, orderings from
trio's scheduler seeded by Hypothesis, invariants checked on every call's trace."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callrt.testing import DEFAULT_BUSINESS, DEFAULT_NOW, assert_no_violations, run_scenario, scenarios

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


def test_an_audio_actor_restart_before_the_greeting_plays_it_whole() -> None:
    """Found by the Hebrew property above: the AudioActor crashed at 0 ms, the greeting queued while it
    restarted, and the new instance dropped it as its predecessor's; the caller heard nothing for 15 s."""
    scenario = {
        "name": "audio-crash-before-the-greeting",
        "language": "he",
        "now": DEFAULT_NOW,
        "business": DEFAULT_BUSINESS,
        "appointments": [],
        "caller": {"phone": "+972501234567", "name": None},
        "script": [{"wait": "ai_done"}, {"hangup": True}],
        "faults": [{"at_ms": 0, "kind": "crash", "actor": "audio"}, {"at_ms": 3480, "kind": "crash", "actor": "audio"}],
    }
    report = run_scenario(scenario)
    assert_no_violations(report)
    # The greeting (3.6 s) played and the caller hung up after it: no 15 s of silence, no silence prompt.
    assert report["silence_prompts"] == 0 and report["duration_ms"] < 6000


def test_an_audio_actor_restart_while_the_greeting_streams_in_plays_it_whole() -> None:
    """Found by the Hebrew property above: the greeting's chunks queued while the AudioActor restarted,
    the new instance took the first and dropped the rest as a predecessor's; the caller, cut off after
    0.1 s, spoke into a second crash, and the call never answered."""
    scenario = {
        "name": "audio-crash-while-the-greeting-streams-in",
        "language": "he",
        "now": DEFAULT_NOW,
        "business": DEFAULT_BUSINESS,
        "appointments": [],
        "caller": {"phone": "+972501234567", "name": None},
        "script": [
            {"wait": "ai_done"},
            {"say": "אני רוצה פגישה מחר בשש בערב, קוראים לי דנה", "ms": 900},
            {"wait": "ai_started", "timeout_ms": 8000},
            {"pause_ms": 0},
            {"say": "אני רוצה פגישה מחר בשש בערב, קוראים לי דנה", "ms": 900},
            {"hangup": True},
        ],
        "faults": [{"at_ms": 0, "kind": "crash", "actor": "audio"}, {"at_ms": 681, "kind": "crash", "actor": "audio"}],
    }
    assert_no_violations(run_scenario(scenario))
