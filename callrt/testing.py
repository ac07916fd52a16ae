"""The testing API: Hypothesis strategies for calls, and a runner that checks invariants.

Fuzz your own configuration (business hours, thresholds, dialect) against the
real runtime in virtual time::

    from hypothesis import given, settings, strategies as st
    from callrt.testing import scenarios, run_scenario, assert_no_violations

    @settings(max_examples=50, deadline=None)
    @given(scenario=scenarios(language="en"), _order=st.random_module())
    def test_my_line(scenario):
        assert_no_violations(run_scenario(scenario))

`st.random_module()` seeds trio's scheduler (trio registers its scheduling RNG
with Hypothesis), so the interleaving of actors is part of the example: a
failure shrinks to a small script and replays exactly. See docs/testing.md.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from actors.config import CallConfig
from actors.defaults import DEFAULT_DIALECT
from callrt.scenario import RunOptions, parse_scenario, run_concurrent, run_scenarios
from callrt.scenario.verdict import problems
from store import DEMO_BUSINESS

DEFAULT_NOW = "2026-11-24T10:00:00+02:00"
DEFAULT_BUSINESS: dict[str, Any] = DEMO_BUSINESS
CALLER_LINE = "+972501234567"
STRANGER_LINE = "+972529876543"
"""Another customer's line: every generated call's business already holds an appointment of theirs."""
STRANGER_APPOINTMENT: dict[str, Any] = {"start": "2026-11-26T12:00:00+02:00", "name": "Ronit", "phone": "0529876543"}
"""Imported in national form, the way a business writes numbers (and the way callers say them)."""

UTTERANCES: dict[str, list[str]] = {
    "he": [
        "אני רוצה פגישה מחר בשש בערב, קוראים לי דנה",
        "אפשר לקבוע תור ליום חמישי בעשר בבוקר? שמי יוסי",
        "אפשר בשבע במקום?",
        "קוראים לי מיכל",
        "מה שעות הפתיחה שלכם?",
        "אני רוצה לבטל את התור שלי",
        "אפשר לקבוע למחר בתשע בערב?",
        "תודה רבה, להתראות",
        "ביום שישי בשתיים בצהריים, על שם רונית",
        "אני רוצה לבטל את התור שלי, המספר שלי 052-9876543",
        "אני רוצה להזיז את התור שלי ליום חמישי בעשר בבוקר, המספר שלי 052-9876543",
    ],
    "en": [
        "I'd like an appointment tomorrow at six pm, my name is Dana",
        "Can I come in on Thursday at 10:30 am? This is Mike",
        "Actually, can we make it seven instead?",
        "My name is Sarah",
        "What are your opening hours?",
        "I want to cancel my appointment",
        "Can I book for tomorrow at nine pm?",
        "Thanks, bye",
        "Friday at two in the afternoon, for Ron",
        "I want to cancel my appointment, my number is 052-9876543",
        "Please move my appointment to Thursday at 10 am, my number is 052-9876543",
    ],
}


def say_steps(language: str = "he") -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda text, ms: {"say": text, "ms": ms},
        st.sampled_from(UTTERANCES[language]),
        st.integers(min_value=900, max_value=3200),
    )


def noise_steps() -> st.SearchStrategy[dict[str, Any]]:
    """Coughs, clicks, hums and breaths: shorter than `min_voice_ms`, at any level."""
    return st.builds(
        lambda kind, ms, rms: {"noise": kind, "ms": ms, "rms": rms},
        st.sampled_from(["cough", "click", "hum", "breath"]),
        st.integers(min_value=40, max_value=600),
        st.integers(min_value=100, max_value=4000),
    )


def pause_steps(max_ms: int = 20_000) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.builds(lambda ms: {"pause_ms": ms}, st.integers(min_value=0, max_value=1500)),
        st.builds(lambda ms: {"silence_ms": ms}, st.integers(min_value=0, max_value=max_ms)),
    )


def barge_in_steps(language: str = "he") -> st.SearchStrategy[list[dict[str, Any]]]:
    """Say something, then talk (or cough) over the AI's answer once it is audible."""
    return st.tuples(
        say_steps(language),
        st.integers(min_value=0, max_value=1500),
        st.one_of(say_steps(language), noise_steps()),
    ).map(lambda parts: [parts[0], {"wait": "ai_started", "timeout_ms": 8000}, {"pause_ms": parts[1]}, parts[2]])


def scripts(language: str = "he", max_steps: int = 6) -> st.SearchStrategy[list[dict[str, Any]]]:
    """A caller's script: listen to the greeting, then a mix of speech, noise, silence and barge-ins."""
    single = st.one_of(
        say_steps(language).map(lambda s: [s, {"wait": "ai_done", "timeout_ms": 20000}]),
        noise_steps().map(lambda s: [s]),
        pause_steps().map(lambda s: [s]),
        barge_in_steps(language),
    )
    ending = st.sampled_from([[{"hangup": True}], [{"silence_ms": 40_000}]])
    return st.tuples(st.lists(single, max_size=max_steps), ending).map(
        lambda parts: [{"wait": "ai_done"}, *[step for group in parts[0] for step in group], *parts[1]]
    )


def fault_plans(max_faults: int = 2) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Actor crashes, database outages, model disconnects, late transcriptions, duplicated events, false claims."""
    at = st.integers(min_value=0, max_value=20_000)
    fault = st.one_of(
        st.builds(
            lambda t, actor: {"at_ms": t, "kind": "crash", "actor": actor},
            at,
            st.sampled_from(["audio", "realtime", "nlp", "booking"]),
        ),
        st.builds(lambda t, ms: {"at_ms": t, "kind": "db_down", "ms": ms}, at, st.integers(500, 15_000)),
        st.builds(lambda t: {"at_ms": t, "kind": "realtime_disconnect"}, at),
        st.builds(lambda t, ms: {"at_ms": t, "kind": "late_transcription", "ms": ms}, at, st.integers(100, 3000)),
        st.builds(lambda t: {"at_ms": t, "kind": "duplicate_events"}, at),
        st.builds(lambda t: {"at_ms": t, "kind": "ai_false_claim"}, at),
    )
    return st.lists(fault, max_size=max_faults)


def scenarios(
    *,
    language: str = "he",
    business: dict[str, Any] | None = None,
    now: str = DEFAULT_NOW,
    faults: bool = True,
) -> st.SearchStrategy[dict[str, Any]]:
    """Whole scenario documents (docs/scenario-format.md) for one business.

    The business already holds a stranger's appointment, and the caller's line is their own or
    withheld: some scripts name the stranger's number to cancel or move "my" appointment."""
    return st.builds(
        lambda script, plan, line, n: {
            "name": f"generated-{n}",
            "language": language,
            "now": now,
            "business": business or DEFAULT_BUSINESS,
            "appointments": [STRANGER_APPOINTMENT],
            "caller": {"phone": line, "name": None},
            "script": script,
            "faults": plan,
        },
        scripts(language),
        fault_plans() if faults else st.just([]),
        st.sampled_from([CALLER_LINE, None]),
        st.integers(min_value=0, max_value=10**6),
    )


def stranger_calls(language: str = "he") -> st.SearchStrategy[list[dict[str, Any]]]:
    """Two simultaneous calls to one business: the stranger on their own line, and a second caller, from
    another line or a withheld one, who names the stranger's number."""
    attack = st.sampled_from([text for text in UTTERANCES[language] if "9876543" in text])
    return st.tuples(
        scenarios(language=language, faults=False), scenarios(language=language, faults=False), attack
    ).map(
        lambda parts: [
            {**parts[0], "name": parts[0]["name"] + "-owner", "caller": {"phone": STRANGER_LINE, "name": None}},
            {
                **parts[1],
                "name": parts[1]["name"] + "-other",
                # The greeting, then the stranger's number at once, then whatever else the script says.
                "script": [parts[1]["script"][0], {"say": parts[2], "ms": 2500}, *parts[1]["script"][1:]],
            },
        ]
    )


def run_scenario(
    scenario: dict[str, Any],
    *,
    db_url: str | None = None,
    config: CallConfig | None = None,
    dialect: str = DEFAULT_DIALECT,
) -> dict[str, Any]:
    """Run one scenario document as a whole call in virtual time; returns its report, judged against the
    document's `expect` (`unmet`, `failure_expected`)."""
    options = RunOptions(db_url=db_url, config=config or CallConfig(), dialect=dialect)
    return run_scenarios([parse_scenario(scenario)], options)[0]


def run_simultaneous(scenarios_: list[dict[str, Any]], *, db_url: str | None = None) -> list[dict[str, Any]]:
    """Several scenario documents as simultaneous calls to the first one's business."""
    return run_concurrent([parse_scenario(s) for s in scenarios_], RunOptions(db_url=db_url))


def assert_no_violations(report: dict[str, Any]) -> None:
    """Fails when the call broke an invariant, left an expectation of its document (`expect`) unmet, or
    failed (`failed`) without the document expecting it; the message says which, and the trace's path."""
    found = problems(report)
    assert not found, f"{report['scenario']}: {' | '.join(found)} (trace: {report['trace']})"
