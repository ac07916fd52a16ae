"""RealtimeActor recovery: restarts and reconnects never lose the caller's turn, the silence ladder always
ends a silent call, a slow store never stalls the call. Wire double, real SQLite store, virtual time."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import pytest
import trio
from trio.testing import MockClock

from actors.db import StoreGateway
from actors.errors import InjectedFault
from actors.messages import (
    BargeIn,
    CallerAudio,
    HangUpAfterPlayout,
    InjectedCrash,
    NoiseIgnored,
    ServerNote,
    SilenceElapsed,
    StopPlayback,
    UserTranscript,
    UtteranceEnded,
    UtteranceStarted,
)
from actors.realtime_actor import SILENCE_CLAIM_TIMEOUT_S
from store import Store
from tests.support.realtime_harness import GREETING, Harness, greet, make_store, through_silence_prompt

SPEECH = b"\x10" * 800
SAY = "אני רוצה תור מחר בשש"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, int]:
    return make_store(tmp_path_factory.mktemp("realtime_recovery"))


@pytest.fixture(params=["beta", "ga"])
async def h(request: pytest.FixtureRequest, store: tuple[Store, int]) -> Harness:
    return Harness(*store, dialect=request.param)


async def speak(h: Harness) -> None:
    h.send(CallerAudio(SPEECH), CallerAudio(SPEECH), UtteranceEnded(at_ms=1, duration_ms=900, rms=900, silence_ms=600))
    await h.idle()


async def crash(h: Harness) -> None:
    h.send(InjectedCrash("test"))
    await h.idle()


def notes(h: Harness) -> list[str]:
    return [e["kind"] for e in h.realtime_events("note_injected")]


def stored(h: Harness) -> list[tuple[str, str]]:
    return h.store.load_call_state(h.call_sid).turns


async def test_speech_lost_with_a_crashed_instance_is_asked_for_again(h: Harness, autojump_clock: MockClock) -> None:
    with pytest.raises(InjectedFault):
        async with h.running():
            await greet(h)
            await speak(h)
            h.push(h.server.committed("item_u1"), *h.server.response("resp_a", "item_a", "רגע, אני בודקת."))
            await h.idle()
            assert stored(h) == [("assistant", GREETING), ("user", ""), ("assistant", "רגע, אני בודקת.")]
            await crash(h)  # before the transcription: the words die with the model session
    for restart in range(2):
        with pytest.raises(InjectedFault):
            h.new_actor()
            async with h.running():
                # The placeholder is never replayed; the note is, and a response is asked for once ready.
                replayed = [
                    e["item"]["content"][0]["text"] for e in h.wire.sent if e["type"] == "conversation.item.create"
                ]
                assert replayed[:2] == [GREETING, "רגע, אני בודקת."] and replayed[2].startswith(
                    "[SERVER] caller_unheard"
                )
                if restart == 0:
                    assert h.wire.types()[-1] == "response.create"
                    assert h.realtime_events("response_create")[-1]["reason"] == "caller_unheard"
                else:  # the note is already there and unanswered: answered, never asked twice
                    assert h.realtime_events("response_create")[-1]["reason"] == "resume"
                await crash(h)
    assert notes(h).count("caller_unheard") == 1
    assert [role for role, _ in stored(h)] == ["assistant", "user", "assistant", "server"]


async def test_an_unanswered_caller_turn_is_answered_after_a_restart(h: Harness, autojump_clock: MockClock) -> None:
    with pytest.raises(InjectedFault):
        async with h.running():
            await greet(h)
            await speak(h)
            h.push(h.server.committed("item_u1"), h.server.response_created("resp_a"))
            h.push(h.server.user_transcript("item_u1", SAY))
            await h.idle()
            await crash(h)  # the answer never came
    h.new_actor()
    async with h.running():
        assert stored(h) == [("assistant", GREETING), ("user", SAY)]
        assert [e["reason"] for e in h.realtime_events("response_create")][-1] == "resume"
        assert "caller_unheard" not in notes(h)


async def test_a_reconnect_before_the_transcription_commits_the_audio_again(
    h: Harness, autojump_clock: MockClock
) -> None:
    async with h.running():
        await greet(h)
        await speak(h)
        h.push(h.server.committed("item_u1"), h.server.response_created("resp_a"))
        await h.idle()
        h.wire.server_close()
        await h.new_connection(1)
        await h.idle()
        # Replayed text, then the utterance's audio again and its commit; the response waits for the session.
        assert h.wire.types() == [
            "session.update",
            "conversation.item.create",
            "input_audio_buffer.append",
            "input_audio_buffer.commit",
        ]
        appended = h.wire.sent[2]["audio"]
        assert base64.b64decode(appended) == SPEECH * 2
        h.push(h.server.session_updated())
        await h.idle()
        assert h.wire.types()[-1] == "response.create"
        h.push(h.server.committed("item_u2"), h.server.user_transcript("item_u2", SAY))
        await h.idle()
        (transcript,) = h.nlp_out
        assert isinstance(transcript, UserTranscript) and transcript.turn_id == "item_u2" and transcript.text == SAY
        assert stored(h) == [("assistant", GREETING), ("user", SAY)]  # the placeholder, filled in place


async def test_a_failed_transcription_is_not_sent_again(h: Harness, autojump_clock: MockClock) -> None:
    async with h.running():
        await greet(h)
        await speak(h)
        h.push(h.server.committed("item_u1"), h.server.user_transcript_failed("item_u1"))
        await h.idle()
        h.wire.server_close()
        await h.new_connection(1)
        await h.idle()
        assert "input_audio_buffer.commit" not in h.wire.types()


async def goodbye_stage(h: Harness) -> None:
    await through_silence_prompt(h)
    h.send(SilenceElapsed(15_000))
    await h.idle()
    assert notes(h)[-1] == "silence_goodbye"


def hangups(h: Harness) -> int:
    return sum(isinstance(m, HangUpAfterPlayout) for m in h.audio_out)


async def test_a_cough_during_the_goodbye_does_not_cancel_the_hang_up(h: Harness, autojump_clock: MockClock) -> None:
    async with h.running():
        await goodbye_stage(h)
        h.push(h.server.response_created("resp_bye"), h.server.item_added("resp_bye", "item_bye"))
        await h.idle()
        h.send(UtteranceStarted(at_ms=1, rms=2500), NoiseIgnored(at_ms=1, duration_ms=100, rms=2500))
        await h.idle()
        h.push(*h.server.response("resp_bye", "item_bye", "תודה, להתראות")[2:])
        await h.idle()
        assert hangups(h) == 1 and not h.realtime_events("silence_goodbye_aborted")


async def test_every_later_silence_tick_hangs_up_again(h: Harness, autojump_clock: MockClock) -> None:
    async with h.running():
        await goodbye_stage(h)
        # The goodbye fails on the server's side, with no audio: the call still ends.
        h.push(h.server.response_created("resp_bye"), h.server.response_done("resp_bye", "failed"))
        await h.idle()
        assert hangups(h) == 1
        h.send(SilenceElapsed(15_000))  # e.g. the AudioActor restarted and lost the hang-up
        await h.idle()
        assert hangups(h) == 2 and h.realtime_events("hangup_requested")[-1]["repeat"]
        assert len(h.sent("response.create")) == 3  # greeting, prompt, goodbye: no second goodbye


async def test_a_goodbye_asked_for_while_reconnecting_still_hangs_up(h: Harness, autojump_clock: MockClock) -> None:
    async with h.running():
        await through_silence_prompt(h)
        h.connector.fail_next = 1
        h.wire.server_close()
        h.send(SilenceElapsed(15_000), ServerNote("need_time", "need_time"))  # the note's reason overwrites
        await h.new_connection(1)
        await h.idle()
        h.push(h.server.session_updated())
        await h.idle()
        assert h.realtime_events("response_create")[-1]["reason"] == "need_time"
        h.push(*h.server.response("resp_bye", "item_bye", "תודה, להתראות"))
        await h.idle()
        assert hangups(h) == 1


async def test_the_goodbye_stage_survives_a_restart(h: Harness, autojump_clock: MockClock) -> None:
    with pytest.raises(InjectedFault):
        async with h.running():
            await goodbye_stage(h)
            await crash(h)  # the goodbye was asked for, never said
    h.new_actor()
    async with h.running():
        assert h.realtime_events("state_loaded")[-1]["silence_stage"] == "goodbye"
        h.push(*h.server.response("resp_bye", "item_bye", "תודה, להתראות"))
        await h.idle()
        assert hangups(h) == 1


async def test_a_restart_while_the_database_is_down_carries_on_from_what_was_known(
    h: Harness, autojump_clock: MockClock
) -> None:
    """The new instance cannot read the store: it starts from its predecessor's conversation, so the caller is
    not greeted again, the model hears what was said, the answer owed is given, and for the same business;
    the caller's words its predecessor could not store are stored once the database is back."""
    with pytest.raises(InjectedFault):
        async with h.running():
            await greet(h)
            await speak(h)
            h.push(h.server.committed("item_u1"))
            await h.idle()  # the caller's placeholder is stored
            h.ctx.gateway.outage_until = trio.current_time() + 3600.0
            h.push(h.server.user_transcript("item_u1", SAY))
            await h.until(lambda: bool(h.realtime_events("store_retry")))  # their words are held
            h.send(InjectedCrash("test"))  # the answer never came, and the database is still down
            await trio.sleep_forever()
    assert stored(h) == [("assistant", GREETING), ("user", "")]
    h.new_actor()
    h.ctx.gateway.outage_until = trio.current_time() + 1.0  # down as the new instance starts, back a second later
    async with h.running():  # running once the held words are written
        replayed = [e["item"]["content"][0]["text"] for e in h.wire.sent if e["type"] == "conversation.item.create"]
        assert replayed == [GREETING, SAY]
        assert [e["reason"] for e in h.realtime_events("response_create")] == ["greeting", "user_turn", "resume"]
        assert "מספרת דנה" in h.sent("session.update")[-1]["session"]["instructions"]
        loaded = h.realtime_events("state_loaded")[-1]
        assert (loaded["source"], loaded["turns"]) == ("memory", 2)
        assert h.realtime_events("turn_writes_adopted")[-1]["writes"] == 1
        assert stored(h) == [("assistant", GREETING), ("user", SAY)]


async def test_a_cancelled_appointment_backs_no_booking_claim(h: Harness, autojump_clock: MockClock) -> None:
    async with h.running():
        await greet(h)
        h.send(ServerNote("appointment_created", "appointment_created id=7 start=2026-11-25T18:00+02:00", 7))
        await h.idle()
        h.push(*h.server.response("resp_c", "item_c", "קבעתי לך תור למחר בשש."))
        await h.idle()
        h.send(ServerNote("appointment_cancelled", "appointment_cancelled id=7"))
        await h.idle()
        assert not h.actor.claims.booking_backed
        h.push(*h.server.response("resp_x", "item_x", "ביטלתי. קבעתי לך תור למחר בשבע."))
        await h.idle()
        assert [e["claim"] for e in h.realtime_events("false_claim_cut")] == ["booking"]
        assert any(isinstance(m, StopPlayback) for m in h.audio_out)
    await h.new_actor().load_durable_state()  # a restarted instance reads the same from the store
    assert not h.actor.claims.booking_backed


async def test_an_interrupted_answer_is_stored_as_heard(h: Harness, autojump_clock: MockClock) -> None:
    async with h.running():
        await greet(h)
        text = "יש לנו תורים פנויים מחר בבוקר ובערב, מה מתאים לך"
        h.push(h.server.response_created("resp_a"), h.server.item_added("resp_a", "item_a"))
        h.push(
            h.server.audio_delta("resp_a", "item_a", b"\x7f" * 8000),
            h.server.transcript_delta("resp_a", "item_a", text),
        )
        await h.idle()
        h.send(BargeIn(item_id="item_a", audio_end_ms=400, speech_at_ms=1))  # 400 of 1000 ms heard
        await h.idle()
        h.push(h.server.transcript_done("resp_a", "item_a", text), h.server.response_done("resp_a", "cancelled"))
        await h.idle()
        (turn,) = [e for e in h.realtime_events("ai_turn") if e["response_id"] == "resp_a"]
        assert turn["interrupted"] and turn["text"] == text and turn["heard"] == "יש לנו תורים פנויים"
        assert stored(h)[-1] == ("assistant", "יש לנו תורים פנויים")


P = ParamSpec("P")
R = TypeVar("R")


class HeldWrites(StoreGateway):
    """An inline gateway whose calls to the named store methods wait until `release` is set."""

    def __init__(self, held: set[str]) -> None:
        super().__init__(inline=True)
        self.held = held
        self.release = trio.Event()

    async def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        if fn.__name__ in self.held:
            await self.release.wait()
        return await super().run(fn, *args, **kwargs)


async def test_a_slow_store_never_stalls_audio_and_an_unconfirmed_claim_never_prompts(
    store: tuple[Store, int], autojump_clock: MockClock
) -> None:
    # The writes are held on the event loop, not in worker threads: under the autojump clock virtual time
    # runs ahead while a thread works, so threaded store calls (the call's opening load included) would let
    # the model's watchdogs fire at the machine's pace and make this test flaky.
    gateway = HeldWrites({Store.record_turn.__name__, Store.mark_silence_prompt_used.__name__})
    h = Harness(store[0], store[1], gateway=gateway)
    async with h.running():
        try:
            h.push(*h.server.response("resp_g", "item_g", GREETING))  # its turn write is held
            await h.until(lambda: bool(h.realtime_events("ai_turn")))
            assert h.actor.writes_pending == 1
            before = trio.current_time()
            h.send(CallerAudio(SPEECH))
            await h.until(lambda: "input_audio_buffer.append" in h.wire.types())
            assert trio.current_time() - before < 0.1  # audio went on while the store was stuck
            # A silence tick while the greeting's response is still open is ignored (the AI is speaking).
            await h.until(lambda: bool(h.realtime_events("response_done")))
            h.send(SilenceElapsed(15_000))
            await h.until(lambda: bool(h.realtime_events("silence_prompt_unconfirmed")))
            assert trio.current_time() - before >= SILENCE_CLAIM_TIMEOUT_S
            assert not h.realtime_events("silence_prompt")
        finally:
            gateway.release.set()  # a failed assertion above then surfaces instead of the teardown waiting forever
    assert ("assistant", GREETING) in store[0].load_call_state(h.call_sid).turns  # flushed on the way out
