"""`callrt demo` in each language: every call passes, and each shows the rule it is there for, in
its printed log and in its trace."""

from __future__ import annotations

import contextlib
import io

import pytest

from actors.claims import detect_claim
from actors.trace import read_trace
from callrt import cli
from callrt.cli.demo import DEMO_CALLS, DEMO_LANGUAGES, demo_scenarios
from callrt.scenario.invariants import Event, ai_turns, heard_text


def _sections(stdout: str) -> dict[str, list[str]]:
    """The printed call logs by scenario name (`=== NAME: what it shows`, then its lines)."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in stdout.splitlines():
        if line.startswith("=== "):
            current = sections.setdefault(line.removeprefix("=== ").split(":", 1)[0], [])
        elif line.strip():
            current.append(line)
    return sections


def _realtime(events: list[Event], what: str) -> list[Event]:
    return [e for e in events if e.get("ev") == "realtime" and e.get("what") == what]


DemoRun = tuple[str, dict[str, list[str]], dict[str, list[Event]]]


@pytest.fixture(scope="module", params=DEMO_LANGUAGES)
def demo_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One `callrt demo --lang LANG` in a fresh folder (once per language for all the tests here): its
    language, printed logs and traces by call."""
    lang: str = request.param
    folder = tmp_path_factory.mktemp(f"demo-{lang}")
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.chdir(folder)
        assert cli.main(["demo", "--lang", lang]) == 0
    names = [scenario.name for scenario in demo_scenarios(lang)]
    traces = {name: [e.data for e in read_trace(folder / "traces" / f"{name}.jsonl")] for name in names}
    return lang, _sections(printed.getvalue()), traces


def test_each_language_runs_every_call_in_that_language(demo_run: DemoRun) -> None:
    lang, logs, traces = demo_run
    assert len(logs) == len(traces) == len(DEMO_CALLS)
    for name, events in traces.items():
        start = next(e for e in events if e.get("ev") == "call_start")
        assert start["language"] == lang, name
        assert name in logs


def test_the_silent_caller_coughs_and_is_asked_once(demo_run: DemoRun) -> None:
    lang, logs, traces = demo_run
    name = demo_scenarios(lang)[0].name
    log = logs[name]
    assert sum("[TURN] Ignoring short/noisy segment: duration=" in line for line in log) == 1
    assert sum("[SERVER] silence_prompt" in line for line in log) == 1
    assert len(_realtime(traces[name], "silence_prompt")) == 1
    assert _realtime(traces[name], "user_turn") == []  # the cough never reached the model as speech


def test_the_false_claim_is_cut_before_the_caller_hears_it(demo_run: DemoRun) -> None:
    lang, logs, traces = demo_run
    name = demo_scenarios(lang)[-1].name
    events = traces[name]
    [cut] = _realtime(events, "false_claim_cut")
    assert cut["claim"] == "booking" and detect_claim(str(cut["text"])) == "booking"
    # The line was cleared before any of the claimed item's audio was played (Twilio's marks say so),
    # and the model's copy of it was truncated to what the caller heard: nothing ...
    [stopped] = [e for e in events if e.get("ev") == "playout" and e.get("item_id") == cut["item_id"]]
    assert stopped["heard_ms"] == 0 and not stopped["finished"]
    [truncate] = [e for e in _realtime(events, "truncate") if e.get("item_id") == cut["item_id"]]
    assert truncate["why"] == "false_claim" and truncate["audio_end_ms"] == 0
    # ... the caller heard no claim in any turn, and the AI went on talking.
    turns = ai_turns(events)
    assert [detect_claim(heard_text(turn)) for turn in turns] == [None] * len(turns)
    assert len(turns) >= 3
    assert any("[GUARD] Cut an unbacked booking claim" in line for line in logs[name])
