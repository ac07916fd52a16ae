"""The RealtimeActor against the simulated model peer (in memory, real JSON both ways), both dialects:
greeting, a caller turn to the NLP, a backed confirmation, and the peer's faults (false claim, disconnect,
duplicated events). Virtual time."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio
from trio.testing import MockClock

from actors.claims import detect_claim
from actors.messages import AiAudio, AiAudioDone, CallerAudio, ServerNote, UserTranscript, UtteranceEnded
from callrt.sim.peer_script import PeerFault, SimScript
from callrt.sim.realtime_peer import InMemoryModelConnector
from store import Store
from tests.support.realtime_harness import Harness, make_store

SAY = "אני רוצה תור מחר בשש, קוראים לי דנה"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, int]:
    return make_store(tmp_path_factory.mktemp("realtime_sim"))


async def until(h: Harness, condition: Callable[[], bool]) -> None:
    """Wait (at most a virtual minute) until `condition` holds over what the actor has sent so far."""

    def holds() -> bool:
        h.drain()
        return condition()

    with trio.fail_after(60):
        await h.until(holds)


def done_count(h: Harness) -> int:
    return sum(isinstance(m, AiAudioDone) for m in h.audio_out)


async def run_call(store: tuple[Store, int], dialect: str, faults: tuple[PeerFault, ...] = ()) -> Harness:
    h = Harness(*store, dialect=dialect)
    connector = InMemoryModelConnector(
        SimScript(language="he", business_name="מספרת דנה", says=(SAY,), faults=faults), dialect
    )
    h.connector = connector  # type: ignore[assignment]
    h.new_actor()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(h.actor.run)
        await until(h, lambda: done_count(h) >= 1)  # the greeting
        h.send(CallerAudio(b"\x10" * 8000), CallerAudio(b"\x10" * 8000))
        h.send(UtteranceEnded(at_ms=0, duration_ms=2000, rms=900, silence_ms=600))
        await until(h, lambda: bool(h.nlp_out) and done_count(h) >= 2 and not h.actor.has_pending_ai_response)
        h.send(ServerNote("appointment_created", "appointment_created id=7 start=2026-11-25T18:00+02:00", 7))
        # Turns are written by the actor's writer task, after the fact: wait for the store too.
        await until(
            h, lambda: done_count(h) >= 3 and not h.actor.has_pending_ai_response and not h.actor.writes_pending
        )
        nursery.cancel_scope.cancel()
    return h


@pytest.mark.parametrize("dialect", ["beta", "ga"])
async def test_a_call_with_the_simulated_peer(
    store: tuple[Store, int], dialect: str, autojump_clock: MockClock
) -> None:
    h = await run_call(store, dialect)
    (transcript,) = h.nlp_out
    assert isinstance(transcript, UserTranscript) and transcript.text == SAY
    assert sum(isinstance(m, AiAudio) for m in h.audio_out) > 3
    # The peer transcribes after it answered: in memory the caller's turn goes before that answer.
    assert [t.role for t in h.actor.turns] == ["assistant", "user", "assistant", "server", "assistant"]
    stored = h.store.load_call_state(h.call_sid).turns
    assert sorted(stored) == sorted((t.role, t.text) for t in h.actor.turns)
    assert h.actor.claims.false_claims_cut == 0
    assert [e["reason"] for e in h.realtime_events("response_create")] == [
        "greeting",
        "user_turn",
        "appointment_created",
    ]


@pytest.mark.parametrize("dialect", ["beta", "ga"])
async def test_the_peers_false_claim_is_cut(store: tuple[Store, int], dialect: str, autojump_clock: MockClock) -> None:
    h = await run_call(store, dialect, (PeerFault(kind="ai_false_claim", at_ms=0),))
    assert h.actor.claims.false_claims_cut == 1
    cut = h.realtime_events("false_claim_cut")[0]
    assert cut["claim"] == "booking"
    # The fault makes the very next reply (the greeting) lie; it is cut and corrected before the caller turn.
    reasons = [e["reason"] for e in h.realtime_events("response_create")]
    assert reasons == ["greeting", "false_claim_cut", "user_turn", "appointment_created"]
    turns = [(t.role, t.text) for t in h.actor.turns]
    backed_from = next(i for i, (role, text) in enumerate(turns) if "appointment_created" in text)
    assert all(detect_claim(text) is None for _, text in turns[:backed_from])
    assert detect_claim(turns[-1][1]) == "booking"  # the confirmation after the server's note stands


@pytest.mark.parametrize("dialect", ["beta", "ga"])
async def test_a_disconnect_and_duplicated_events_are_survived(
    store: tuple[Store, int], dialect: str, autojump_clock: MockClock
) -> None:
    # At 600 ms the caller's turn is committed and answered, but not transcribed yet.
    faults = (PeerFault(kind="duplicate_events", at_ms=0), PeerFault(kind="realtime_disconnect", at_ms=600))
    h = await run_call(store, dialect, faults)
    assert h.realtime_events("model_disconnected") and len(h.realtime_events("model_connected")) >= 2
    assert h.realtime_events("model_connected")[-1]["resend_utterances"] == 1
    assert any(e.get("duplicate") for e in h.trace.events if e["ev"] == "io")
    # The audio committed again in the new session is transcribed there: the caller's words reach the NLP.
    assert [m.text for m in h.nlp_out] == [SAY] and h.actor.claims.false_claims_cut == 0
