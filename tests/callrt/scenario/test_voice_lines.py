"""The runtime's own lines in the business's voice, through whole simulated calls (virtual time) on SQLite
and PostgreSQL: the model's words kept the first time it says a line, played when a later call's model
refuses every session; a business's upload beats them; a database down at call start means the packaged
prompts; and a business's own models reach the simulated service's `session.update`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from actors.prompt import RUNTIME_LINE_TEXT
from actors.runtime_lines import line_words, packaged_line
from callrt.scenario.model import load_scenario, parse_scenario
from callrt.scenario.runner import RunOptions, ScenarioCall, create_business
from callrt.sim.peer_voice import speech_audio
from store import Store
from tests.support.paths import SCENARIOS_DIR
from tests.support.store import db_url, pg_url, store

__all__ = ["db_url", "pg_url", "store"]  # fixtures used by this module

VOICE = "shimmer"  # CallConfig's


def scenario_call(name: str, store: Store, business_id: int | None, tmp_path: Path, **changes: Any) -> ScenarioCall:
    raw = dict(load_scenario(SCENARIOS_DIR / f"{name}.json").raw)
    raw.update(changes)
    scenario = parse_scenario(raw)
    business_id = business_id if business_id is not None else create_business(store, scenario)
    index = len(list(tmp_path.iterdir()))  # call sids unique in the (shared) PostgreSQL schema
    folder = tmp_path / f"{name}-{business_id}-{index}"
    folder.mkdir()
    return ScenarioCall(scenario, store, business_id, RunOptions(trace_dir=folder), index=business_id * 100 + index)


def run(call: ScenarioCall) -> dict[str, Any]:
    report: dict[str, Any] = trio.run(call.run, clock=trio.testing.MockClock(autojump_threshold=0))
    assert report["violations"] == [], report["violations"]
    return report


def spoken(call: ScenarioCall) -> list[tuple[str, str]]:
    return [(e["line"], e["source"]) for e in call.trace.events if e["ev"] == "runtime_line"]


def stored(store: Store, business_id: int) -> dict[tuple[str, str, str], bytes]:
    return {(v.line, v.language, v.source): v.audio for v in store.voice_lines(business_id, VOICE)}


def test_the_models_goodbye_is_kept_and_heard_when_a_later_model_refuses_everything(
    store: Store, tmp_path: Path
) -> None:
    silent = scenario_call("silent-caller-en", store, None, tmp_path)
    run(silent)
    business = silent.business_id
    said = ("greeting", "still_there", "goodbye")
    words = line_words("en", silent.scenario.business["name"])
    assert stored(store, business) == {(line, "en", "model"): speech_audio(words[line], "audio/pcmu") for line in said}
    assert [e["line"] for e in silent.trace.events if e.get("what") == "line_kept"] == list(said)

    refused = scenario_call("session-refused-everywhere", store, business, tmp_path)
    report = run(refused)
    assert report["hangup"]["reason"] == "session_refused"
    assert spoken(refused) == [("handoff", "packaged"), ("goodbye", "model")]

    again = scenario_call("silent-caller-en", store, business, tmp_path)
    run(again)
    assert not [e for e in again.trace.events if e.get("what") in ("line_captured", "line_kept")], "kept once"

    recording = b"\x7f\x10" * 4000
    store.upload_voice_line(business, "goodbye", "en", recording)
    store.upload_voice_line(business, "handoff", "en", recording)
    uploaded = scenario_call("session-refused-everywhere", store, business, tmp_path)
    run(uploaded)
    assert spoken(uploaded) == [("handoff", "uploaded"), ("goodbye", "uploaded")]
    heard = [e for e in uploaded.trace.events if e["ev"] == "runtime_line"]
    assert [e["ms"] for e in heard] == [1000, 1000]


def test_the_handoff_said_when_booking_was_unavailable_is_kept(store: Store, tmp_path: Path) -> None:
    degraded = scenario_call("nlp-keeps-crashing-degrades", store, None, tmp_path)
    run(degraded)
    business = degraded.business_id
    kept = stored(store, business)
    assert kept[("handoff", "he", "model")] == speech_audio(RUNTIME_LINE_TEXT["handoff"]["he"], "audio/pcmu")
    assert ("goodbye", "he", "model") in kept, "the silent end of the call said the goodbye"
    refused = scenario_call("session-refused-everywhere", store, business, tmp_path, language="he")
    run(refused)
    assert spoken(refused) == [("handoff", "model"), ("goodbye", "model")]


def test_a_database_down_at_call_start_means_the_packaged_prompts(store: Store, tmp_path: Path) -> None:
    first = scenario_call("session-refused-everywhere", store, None, tmp_path)
    business = first.business_id
    store.upload_voice_line(business, "handoff", "en", b"\x7f" * 8000)
    store.upload_voice_line(business, "goodbye", "en", b"\x7f" * 8000)
    first.gateway.outage_until = 5.0  # virtual seconds: the whole start of the call, the handoff included
    report = trio.run(first.run, clock=trio.testing.MockClock(autojump_threshold=0))
    assert report["hangup"]["reason"] == "session_refused"
    assert spoken(first) == [("handoff", "packaged"), ("goodbye", "packaged")]
    heard = [e["ms"] for e in first.trace.events if e["ev"] == "runtime_line"]
    assert heard == [round(len(packaged_line("handoff", "en")) / 8), round(len(packaged_line("goodbye", "en")) / 8)]
    assert any("voice_lines failed" in str(e.get("msg")) for e in first.trace.events)


class _Spy:
    """A model connection that remembers every client event it sends (the simulated peer is the far end)."""

    def __init__(self, connection: Any, sent: list[dict[str, Any]]) -> None:
        self._connection, self._sent = connection, sent

    async def send(self, event: dict[str, Any]) -> None:
        self._sent.append(dict(event))
        await self._connection.send(event)

    async def receive(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._connection.receive()
        return result

    async def aclose(self) -> None:
        await self._connection.aclose()


class _SpiedConnector:
    def __init__(self, connector: Any, sent: list[dict[str, Any]]) -> None:
        self._connector, self._sent, self.dialect = connector, sent, connector.dialect

    async def connect(self) -> _Spy:
        return _Spy(await self._connector.connect(), self._sent)


class _SpiedCall(ScenarioCall):
    sent: list[dict[str, Any]]

    async def _run_call(self, line: Any, peer: Any, *, task_status: Any) -> None:
        await super()._run_call(line, _SpiedConnector(peer, self.sent), task_status=task_status)


@pytest.mark.parametrize("business_models", [True, False])
def test_a_business_model_reaches_the_session_update(store: Store, tmp_path: Path, business_models: bool) -> None:
    scenario = parse_scenario(dict(load_scenario(SCENARIOS_DIR / "silent-caller-en.json").raw))
    business = create_business(store, scenario)
    if business_models:
        store.update_business(
            business, realtime_model="gpt-realtime-2025-08-28", transcription_model="gpt-4o-transcribe"
        )
    call = _SpiedCall(scenario, store, business, RunOptions(trace_dir=tmp_path), index=900 + business)
    call.sent = []
    run(call)
    [update, *_] = [e["session"] for e in call.sent if e["type"] == "session.update"]
    transcription = update["audio"]["input"]["transcription"]["model"]
    if business_models:
        assert (update["model"], transcription) == ("gpt-realtime-2025-08-28", "gpt-4o-transcribe")
    else:
        assert "model" not in update and transcription == "gpt-realtime-whisper", "the server's models"


def test_a_late_or_frozen_model_has_the_runtime_speak_in_its_recorded_words(store: Store, tmp_path: Path) -> None:
    first = scenario_call("silent-caller-en", store, None, tmp_path)
    run(first)
    business = first.business_id
    opening = line_words("en", first.scenario.business["name"])["greeting"]

    late = scenario_call("silent-caller-en", store, business, tmp_path, faults=[freeze(at_ms=0, ms=3000)])
    report = run(late)
    [said] = [e for e in late.trace.events if e["ev"] == "runtime_line"]
    assert (said["line"], said["source"], said["t"]) == ("greeting", "model", pytest.approx(1500, abs=50))
    assert opening not in [turn["text"] for turn in report["ai_turns"]], "the model did not greet again"
    assert report["silence_prompts"] == 1 and report["hangup"]["reason"] == "silence"

    frozen = scenario_call("silent-caller-en", store, business, tmp_path, faults=[freeze(at_ms=10_000, ms=120_000)])
    report = run(frozen)
    assert spoken(frozen) == [("still_there", "model"), ("handoff", "packaged"), ("goodbye", "model")]
    assert report["hangup"]["reason"] == "model_frozen"


def freeze(*, at_ms: int, ms: int) -> dict[str, Any]:
    return {"kind": "realtime_freeze", "at_ms": at_ms, "ms": ms}
