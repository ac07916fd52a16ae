"""Property tests of whole calls: generated scripts and fault plans, orderings from
trio's scheduler seeded by Hypothesis, invariants checked on every call's trace."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callrt.testing import (
    DEFAULT_BUSINESS,
    DEFAULT_NOW,
    STRANGER_APPOINTMENT,
    assert_no_violations,
    run_scenario,
    run_simultaneous,
    scenarios,
    stranger_calls,
)

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


@settings(CALL_SETTINGS, max_examples=30)
@given(calls=stranger_calls(language="he"), _order=st.random_module())
def test_a_second_caller_naming_anothers_number_touches_nothing_of_theirs(
    calls: list[dict[str, Any]], _order: object
) -> None:
    for report in run_simultaneous(calls):
        assert_no_violations(report)


def test_naming_a_strangers_number_hands_the_request_to_a_person() -> None:
    """The attack as a whole call: from a withheld line, 'cancel my appointment, my number is' the stranger's."""
    scenario = {
        "name": "cancel-a-strangers-appointment",
        "language": "en",
        "now": DEFAULT_NOW,
        "business": DEFAULT_BUSINESS,
        "appointments": [STRANGER_APPOINTMENT],
        "caller": {"phone": None, "name": None},
        "script": [
            {"wait": "ai_done"},
            {"say": "I want to cancel my appointment, my number is 052-9876543", "ms": 2500},
            {"wait": "ai_done"},
            {"hangup": True},
        ],
        "faults": [],
    }
    report = run_scenario(scenario)
    assert_no_violations(report)
    assert "booking_failed reason=unverified_caller" in report["server_notes"]
    assert not any(note.startswith("appointment_cancelled") for note in report["server_notes"])


def test_an_audio_actor_restart_before_the_greeting_plays_it_whole() -> None:
    """Found by the Hebrew property above: the AudioActor crashed at 0 ms, the greeting queued while it
    restarted, and the new instance dropped it as its predecessor's; the caller heard nothing for 15 s.
    The second crash, 120 ms before the greeting's end, cuts it: the new instance cleared the line, nothing
    says how much was heard, so the greeting is said again whole."""
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
    # The first restart took none of the greeting and plays it whole; the second cut it and has it said
    # again (3.6 s), and the caller hung up after it: no 15 s of silence, no silence prompt.
    assert [note.split()[0] for note in report["server_notes"]] == ["ai_unheard"]
    assert report["ai_turns"][-1]["heard_ms"] == 3600
    assert report["silence_prompts"] == 0 and report["duration_ms"] < 3480 + 3600 + 1000


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


def test_an_audio_actor_restart_inside_the_callers_words_still_answers_them() -> None:
    """Found by the English property above: the AudioActor crashed 1.8 s into the caller's request,
    before its segmenter had decided it was speech; the new instance segments afresh and never ended
    it, so the words were neither committed nor answered and the caller waited in silence."""
    scenario = {
        "name": "audio-crash-inside-the-callers-words",
        "language": "en",
        "now": DEFAULT_NOW,
        "business": DEFAULT_BUSINESS,
        "appointments": [STRANGER_APPOINTMENT],
        "caller": {"phone": "+972501234567", "name": None},
        "script": [
            {"wait": "ai_done"},
            {"say": "I'd like an appointment tomorrow at six pm, my name is Dana", "ms": 1393},
            {"wait": "ai_started", "timeout_ms": 8000},
            {"pause_ms": 86},
            {"noise": "breath", "ms": 385, "rms": 107},
            {"silence_ms": 2521},
            {"silence_ms": 40000},
        ],
        "faults": [{"at_ms": 6910, "kind": "crash", "actor": "audio"}, {"at_ms": 8276, "kind": "db_down", "ms": 8159}],
    }
    report = run_scenario(scenario, dialect="ga")
    assert_no_violations(report)
    assert [a["start"] for a in report["appointments"]] == ["2026-11-25T18:00:00+02:00"]
