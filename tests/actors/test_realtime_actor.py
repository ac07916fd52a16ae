"""RealtimeActor state transitions, driven through the real protocol JSON on a wire double, with a real
SQLite store, real mailboxes and trace. Virtual time throughout (autojump_clock)."""

from __future__ import annotations

import pytest
import trio
from trio.testing import MockClock

from actors.config import CallConfig
from actors.errors import InjectedFault
from actors.messages import (
    AiAudio,
    AiAudioDone,
    BargeIn,
    CallerAudio,
    HangUpAfterPlayout,
    InjectedCrash,
    NoiseIgnored,
    PlayoutFinished,
    PlayoutLost,
    PlayoutStopped,
    ServerNote,
    SilenceElapsed,
    StopPlayback,
    UserTranscript,
    UtteranceEnded,
    UtteranceStarted,
)
from actors.model_link import RECONNECT_ATTEMPTS
from actors.model_session import ModelUnavailable
from actors.prompt import RUNTIME_LINE_TEXT
from actors.response_ledger import GUARD_LINE
from actors.runtime_lines import line_words, packaged_line
from store import Store, VoiceLineAudio
from tests.support.realtime_harness import Harness, greet, make_store, through_silence_prompt
from tests.support.realtime_wire import validate_client_event

SPEECH = b"\x10" * 800  # 100 ms of caller audio


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, int]:
    return make_store(tmp_path_factory.mktemp("realtime"))


@pytest.fixture(params=["beta", "ga"])
async def h(request: pytest.FixtureRequest, store: tuple[Store, int]) -> Harness:
    return Harness(*store, dialect=request.param)


async def test_the_ai_speaks_first_once_the_session_is_configured(h: Harness, autojump_clock: MockClock) -> None:
    async with h.running(acknowledged=False):
        assert h.wire.types() == ["session.update"]  # nothing before the session is acknowledged
        session = h.wire.sent[0]["session"]
        assert "מספרת דנה" in session["instructions"] and "tools" not in session
        h.push(h.server.session_created(), h.server.session_updated())
        await h.idle()
        assert h.wire.types() == ["session.update", "response.create"]
        assert [e["reason"] for e in h.realtime_events("response_create")] == ["greeting"]
        assert h.actor.has_pending_ai_response


async def test_a_response_plays_and_is_stored(h: Harness, autojump_clock: MockClock) -> None:
    async with h.running():
        h.push(h.server.response_created("resp_1"), h.server.item_added("resp_1", "item_1"))
        await h.idle()
        assert h.actor.is_ai_speaking and h.actor.last_ai_turn_id == "item_1"
        h.push(h.server.audio_delta("resp_1", "item_1", b"\x7f" * 1600))
        await h.idle()
        assert [type(m) for m in h.audio_out] == [AiAudio]
        h.push(h.server.audio_done("resp_1", "item_1"))
        await h.idle()
        assert not h.actor.is_ai_speaking and isinstance(h.audio_out[-1], AiAudioDone)
        assert h.actor.has_pending_ai_response
        h.push(h.server.transcript_done("resp_1", "item_1", "שלום!"), h.server.response_done("resp_1"))
        await h.idle()
        assert not h.actor.has_pending_ai_response
        assert h.store.load_call_state(h.call_sid).turns == [("assistant", "שלום!")]
        assert h.realtime_events("ai_turn")[0]["text"] == "שלום!"


async def test_an_utterance_is_committed_answered_and_sent_to_nlp(h: Harness, autojump_clock: MockClock) -> None:
    async with h.running():
        await greet(h)
        h.send(
            CallerAudio(SPEECH),
            CallerAudio(SPEECH),
            UtteranceEnded(at_ms=3000, duration_ms=1500, rms=900, silence_ms=600),
        )
        await h.idle()
        assert h.wire.types()[-4:] == [
            "input_audio_buffer.append",
            "input_audio_buffer.append",
            "input_audio_buffer.commit",
            "response.create",
        ]
        h.push(h.server.committed("item_u1"), h.server.user_transcript("item_u1", "אני רוצה תור מחר בשש"))
        await h.idle()
        assert h.actor.last_user_turn_id == "item_u1"
        (transcript,) = h.nlp_out
        assert isinstance(transcript, UserTranscript) and transcript.turn_id == "item_u1"
        assert [t.role for t in transcript.history] == ["assistant", "user"]
        assert h.store.load_call_state(h.call_sid).turns[-1] == ("user", "אני רוצה תור מחר בשש")


async def test_a_late_transcription_goes_before_the_answer_it_caused(h: Harness, autojump_clock: MockClock) -> None:
    async with h.running():
        await greet(h)
        h.send(CallerAudio(SPEECH), UtteranceEnded(at_ms=3000, duration_ms=1000, rms=900, silence_ms=600))
        await h.idle()
        h.push(h.server.committed("item_u1"), *h.server.response("resp_2", "item_2", "רגע, אני בודקת"))
        await h.idle()
        h.push(h.server.user_transcript("item_u1", "מחר בשש"))
        await h.idle()
        (transcript,) = h.nlp_out
        assert [(t.role, t.text) for t in transcript.history][-2:] == [
            ("assistant", "שלום, כאן העוזרת של מספרת דנה. איך אפשר לעזור?"),
            ("user", "מחר בשש"),
        ]
        assert [t.role for t in h.actor.turns] == ["assistant", "user", "assistant"]


async def test_the_guard_skips_and_then_answers_after_response_done(h: Harness, autojump_clock: MockClock) -> None:
    async with h.running():  # the greeting is pending
        h.send(CallerAudio(SPEECH), UtteranceEnded(at_ms=1000, duration_ms=900, rms=900, silence_ms=600))
        await h.idle()
        assert len(h.sent("response.create")) == 1
        assert GUARD_LINE in h.logs()
        assert GUARD_LINE == "[GUARD] Skipping AI response – previous response still pending."
        h.push(*h.server.response("resp_g", "item_g", "שלום"))
        await h.idle()
        assert len(h.sent("response.create")) == 2
        assert [e["reason"] for e in h.realtime_events("response_create")] == ["greeting", "user_turn"]


async def test_a_note_is_injected_at_once_and_answered_after_the_pending_response(
    h: Harness, autojump_clock: MockClock
) -> None:
    async with h.running():
        h.send(ServerNote("appointment_created", "appointment_created id=7 start=2026-11-25T18:00+02:00", 7))
        await h.idle()
        (item,) = h.sent("conversation.item.create")
        assert item["item"]["role"] == "system"
        assert item["item"]["content"] == [
            {"type": "input_text", "text": "[SERVER] appointment_created id=7 start=2026-11-25T18:00+02:00"}
        ]
        assert len(h.sent("response.create")) == 1 and h.realtime_events("guard_skip")
        h.push(*h.server.response("resp_g", "item_g", "שלום"))
        await h.idle()
        assert len(h.sent("response.create")) == 2
        assert ("server", "[SERVER] appointment_created id=7 start=2026-11-25T18:00+02:00") in h.store.load_call_state(
            h.call_sid
        ).turns


async def test_barge_in_cancels_truncates_and_drops_late_audio(h: Harness, autojump_clock: MockClock) -> None:
    async with h.running():
        s = h.server
        h.push(
            s.response_created("resp_g"),
            s.item_added("resp_g", "item_g"),
            s.audio_delta("resp_g", "item_g", b"\x7f" * 8000),
        )
        await h.idle()
        # The AudioActor measured 1800 ms heard, but only 1000 ms were ever sent: never truncate beyond that.
        h.send(BargeIn(item_id="item_g", audio_end_ms=1800, speech_at_ms=1500))
        await h.idle()
        assert not h.actor.is_ai_speaking
        assert h.sent("response.cancel") == [{"type": "response.cancel", "response_id": "resp_g", "event_id": "rt_3"}]
        (truncate,) = h.sent("conversation.item.truncate")
        assert (truncate["item_id"], truncate["audio_end_ms"], truncate["content_index"]) == ("item_g", 1000, 0)
        h.push(s.audio_delta("resp_g", "item_g", b"\x7f" * 800), s.response_done("resp_g", "cancelled"))
        await h.idle()
        assert h.audio_of(lambda m: True) == 8000  # the late delta never reached the caller
        assert not h.actor.has_pending_ai_response


async def test_barge_in_after_the_response_finished_only_truncates(h: Harness, autojump_clock: MockClock) -> None:
    async with h.running():
        await greet(h)  # audio streams faster than real time: done, but still playing
        h.send(BargeIn(item_id="item_g", audio_end_ms=150, speech_at_ms=300))
        await h.idle()
        assert h.sent("response.cancel") == []
        assert h.sent("conversation.item.truncate")[0]["audio_end_ms"] == 150
        h.push(h.server.error("response_cancel_not_active", "no active response"))
        await h.idle()
        assert not any("[MODEL]" in line for line in h.logs())  # expected and harmless


async def test_noise_clears_the_buffer_and_a_false_barge_in_resumes_the_ai(
    h: Harness, autojump_clock: MockClock
) -> None:
    async with h.running():
        await greet(h)
        h.send(CallerAudio(SPEECH), NoiseIgnored(at_ms=100, duration_ms=300, rms=900))
        await h.idle()
        assert h.wire.types()[-1] == "input_audio_buffer.clear"
        assert len(h.sent("response.create")) == 1
        h.send(NoiseIgnored(at_ms=200, duration_ms=300, rms=900, interrupted_ai=True))
        await h.idle()
        assert h.wire.types()[-3:] == ["input_audio_buffer.clear", "conversation.item.create", "response.create"]
        assert h.sent("conversation.item.create")[-1]["item"]["content"][0]["text"].startswith(
            "[SERVER] continue_after_noise"
        )
        h.send(UtteranceEnded(at_ms=900, duration_ms=900, rms=900, silence_ms=600))
        await h.idle()
        assert "input_audio_buffer.commit" not in h.wire.types()  # nothing left to commit after a clear


async def test_the_silence_ladder_prompts_once_then_says_goodbye_and_hangs_up(
    h: Harness, autojump_clock: MockClock
) -> None:
    async with h.running():
        await greet(h)
        h.send(SilenceElapsed(15_000))
        await h.idle()
        assert len(h.realtime_events("silence_prompt")) == 1
        assert h.sent("conversation.item.create")[-1]["item"]["content"][0]["text"].startswith(
            "[SERVER] silence_prompt"
        )
        h.send(SilenceElapsed(15_000))  # still pending: ignored
        await h.idle()
        assert len(h.realtime_events("silence_ignored")) == 1
        h.push(*h.server.response("resp_p", "item_p", "אתה עדיין על הקו?"))
        await h.idle()
        h.send(SilenceElapsed(15_000))
        await h.idle()
        assert h.sent("conversation.item.create")[-1]["item"]["content"][0]["text"].startswith(
            "[SERVER] silence_goodbye"
        )
        assert not any(isinstance(m, HangUpAfterPlayout) for m in h.audio_out)
        h.push(*h.server.response("resp_bye", "item_bye", "תודה, להתראות"))
        await h.idle()
        hangups = [m for m in h.audio_out if isinstance(m, HangUpAfterPlayout)]
        assert hangups == [HangUpAfterPlayout(reason="silence")]
        assert h.audio_out.index(hangups[0]) > max(i for i, m in enumerate(h.audio_out) if isinstance(m, AiAudio))
        h.send(SilenceElapsed(15_000))
        await h.idle()
        assert len(h.realtime_events("silence_prompt")) == 1 and len(h.sent("response.create")) == 3
        assert h.store.load_call_state(h.call_sid).silence_prompt_used


async def test_a_caller_who_speaks_during_the_goodbye_is_not_hung_up_on(h: Harness, autojump_clock: MockClock) -> None:
    async with h.running():
        await through_silence_prompt(h)
        h.send(SilenceElapsed(15_000))
        await h.idle()
        h.push(h.server.response_created("resp_bye"), h.server.item_added("resp_bye", "item_bye"))
        h.push(h.server.audio_delta("resp_bye", "item_bye", b"\x7f" * 800))
        await h.idle()
        h.send(BargeIn(item_id="item_bye", audio_end_ms=50, speech_at_ms=100))
        await h.idle()
        h.push(h.server.response_done("resp_bye", "cancelled"))
        await h.idle()
        assert not any(isinstance(m, HangUpAfterPlayout) for m in h.audio_out)


async def test_one_silence_prompt_per_call_across_a_restart(h: Harness, autojump_clock: MockClock) -> None:
    with pytest.raises(InjectedFault):
        async with h.running():
            await through_silence_prompt(h)
            h.send(InjectedCrash("test"))
            await h.idle()
    first_connection = h.wire
    h.new_actor()
    async with h.running():
        replayed = [e for e in h.wire.sent if e["type"] == "conversation.item.create"]
        assert [(e["item"]["role"], e["item"]["content"][0]["text"][:16]) for e in replayed] == [
            ("assistant", "שלום, כאן העוזרת"),
            ("system", "[SERVER] silence"),
            ("assistant", "אתה עדיין על הקו"),
        ]
        for event in h.wire.sent:
            validate_client_event(h.wire.dialect, event)
        assert "response.create" not in h.wire.types()  # no second greeting after a restart
        h.send(SilenceElapsed(15_000))
        await h.idle()
        assert h.wire is not first_connection
        assert len(h.realtime_events("silence_prompt")) == 1
        assert len(h.realtime_events("silence_goodbye")) == 1


async def test_a_false_booking_claim_is_cut_before_the_caller_hears_it(h: Harness, autojump_clock: MockClock) -> None:
    async with h.running():
        await greet(h)
        s = h.server
        h.send(UtteranceEnded(at_ms=3000, duration_ms=1000, rms=900, silence_ms=600), CallerAudio(SPEECH))
        h.send(UtteranceEnded(at_ms=4000, duration_ms=1000, rms=900, silence_ms=600))
        await h.idle()
        h.push(s.response_created("resp_x"), s.item_added("resp_x", "item_x"))
        h.push(
            s.audio_delta("resp_x", "item_x", b"\x7f" * 2400), s.transcript_delta("resp_x", "item_x", "מעולה, קבעתי")
        )
        await h.idle()
        assert h.actor.claims.false_claims_cut == 0
        h.send(PlayoutFinished(item_id="item_x", heard_ms=120))
        await h.idle()
        h.push(s.transcript_delta("resp_x", "item_x", " לך תור למחר"))
        await h.idle()
        assert h.actor.claims.false_claims_cut == 1 and not h.actor.is_ai_speaking
        assert StopPlayback(reason="false_claim", item_id="item_x") in h.audio_out
        assert h.sent("response.cancel")[-1]["response_id"] == "resp_x"
        h.send(PlayoutStopped(item_id="item_x", heard_ms=0))  # the AudioActor's answer: nothing more was played
        await h.idle()
        assert h.sent("conversation.item.truncate")[-1]["audio_end_ms"] == 120
        note = h.sent("conversation.item.create")[-1]["item"]["content"][0]["text"]
        assert note.startswith("[SERVER] false_claim_cut") and "claim=booking" in note
        before = h.audio_of(lambda m: m.response_id == "resp_x")
        h.push(
            s.audio_delta("resp_x", "item_x", b"\x7f" * 800),
            s.transcript_done("resp_x", "item_x", "מעולה, קבעתי לך תור למחר"),
        )
        h.push(s.response_done("resp_x", "cancelled"))
        await h.idle()
        assert h.audio_of(lambda m: m.response_id == "resp_x") == before
        assert h.realtime_events("response_create")[-1]["reason"] == "false_claim_cut"
        assert all("קבעתי" not in text for _, text in h.store.load_call_state(h.call_sid).turns)
        assert h.realtime_events("false_claim_cut")[0]["claim"] == "booking"


async def test_a_false_claim_is_truncated_at_what_the_audio_actor_says_was_heard(
    h: Harness, autojump_clock: MockClock
) -> None:
    """Mid-playout, only the AudioActor knows how far the caller got: the truncate waits for its answer."""
    async with h.running():
        await greet(h)
        s = h.server
        h.send(UtteranceEnded(at_ms=3000, duration_ms=1000, rms=900, silence_ms=600), CallerAudio(SPEECH))
        await h.idle()
        h.push(s.response_created("resp_y"), s.item_added("resp_y", "item_y"))
        h.push(s.audio_delta("resp_y", "item_y", b"\x7f" * 8000), s.transcript_delta("resp_y", "item_y", "מעולה,"))
        await h.idle()
        h.push(s.transcript_delta("resp_y", "item_y", " קבעתי לך תור"))
        await h.idle()
        assert StopPlayback(reason="false_claim", item_id="item_y") in h.audio_out
        assert h.sent("conversation.item.truncate") == []  # not yet: how much was heard is unknown here
        h.send(PlayoutStopped(item_id="item_y", heard_ms=640))
        await h.idle()
        truncate = h.sent("conversation.item.truncate")
        assert [(t["item_id"], t["audio_end_ms"]) for t in truncate] == [("item_y", 640)]
        h.send(PlayoutStopped(item_id="item_y", heard_ms=900))  # a second answer changes nothing
        await h.idle()
        assert len(h.sent("conversation.item.truncate")) == 1


async def test_a_greeting_the_restarted_audio_actor_dropped_is_said_again_whole(
    h: Harness, autojump_clock: MockClock
) -> None:
    async with h.running():
        s = h.server
        h.push(s.response_created("resp_g"), s.item_added("resp_g", "item_g"))
        h.push(s.audio_delta("resp_g", "item_g", b"\x7f" * 1600), s.transcript_delta("resp_g", "item_g", "שלום, כאן"))
        await h.idle()
        h.send(PlayoutLost(frozenset()))  # a restart before it took any of the greeting: it plays it whole
        await h.idle()
        assert h.sent("response.cancel") == [] and h.realtime_events("playout_lost")[-1]["repeat"] is False
        h.send(PlayoutLost(frozenset({"item_g"})))  # the AudioActor crashed and its successor cleared the line
        await h.idle()
        assert h.sent("response.cancel")[-1]["response_id"] == "resp_g"
        note = h.sent("conversation.item.create")[-1]["item"]["content"][0]["text"]
        assert note.startswith("[SERVER] ai_unheard")
        h.push(s.transcript_done("resp_g", "item_g", "שלום, כאן"), s.item_done("resp_g", "item_g"))
        h.push(s.response_done("resp_g", "cancelled"))
        await h.idle()
        assert [e["reason"] for e in h.realtime_events("response_create")] == ["greeting", "ai_unheard"]
        turns = h.store.load_call_state(h.call_sid).turns
        assert [role for role, _ in turns] == ["server"]  # the note; none of the cut greeting, which nobody heard
        assert h.sent("conversation.item.truncate") == []  # the model keeps its words, to say them again


async def test_a_caller_segment_the_dead_audio_actor_never_closed_is_committed_and_answered(
    h: Harness, autojump_clock: MockClock
) -> None:
    async with h.running():
        await greet(h)
        h.send(PlayoutFinished(item_id="item_g", heard_ms=400))
        h.send(UtteranceStarted(at_ms=500, rms=1200), CallerAudio(SPEECH))
        await h.idle()
        h.send(PlayoutLost(frozenset({"item_g"})))  # it crashed before deciding the segment was speech
        await h.idle()
        lost = h.realtime_events("playout_lost")[-1]
        assert lost["cut_utterance"] is True and lost["at_ms"] == 500 and lost["repeat"] is False
        assert h.sent("input_audio_buffer.commit") and h.realtime_events("response_create")[-1]["reason"] == "user_turn"
        h.send(PlayoutLost(frozenset({"item_g"})))  # a second restart: nothing left to commit
        await h.idle()
        assert h.realtime_events("playout_lost")[-1]["cut_utterance"] is False
        assert len(h.sent("input_audio_buffer.commit")) == 1


async def test_a_restart_after_everything_was_heard_changes_nothing(h: Harness, autojump_clock: MockClock) -> None:
    async with h.running():
        await greet(h)
        h.send(PlayoutFinished(item_id="item_g", heard_ms=400))
        h.send(PlayoutLost(frozenset({"item_g"})))
        await h.idle()
        assert h.realtime_events("playout_lost")[-1]["repeat"] is False
        assert h.sent("response.cancel") == [] and h.sent("conversation.item.create") == []
        assert [e["reason"] for e in h.realtime_events("response_create")] == ["greeting"]


async def test_a_false_claim_whose_stop_died_with_the_audio_actor_is_truncated_and_not_repeated(
    h: Harness, autojump_clock: MockClock
) -> None:
    async with h.running():
        await greet(h)
        h.send(PlayoutFinished(item_id="item_g", heard_ms=400))
        s = h.server
        h.send(UtteranceEnded(at_ms=3000, duration_ms=1000, rms=900, silence_ms=600), CallerAudio(SPEECH))
        await h.idle()
        h.push(s.response_created("resp_y"), s.item_added("resp_y", "item_y"))
        h.push(s.audio_delta("resp_y", "item_y", b"\x7f" * 8000), s.transcript_delta("resp_y", "item_y", "מעולה,"))
        h.push(s.transcript_delta("resp_y", "item_y", " קבעתי לך תור"))
        await h.idle()
        assert StopPlayback(reason="false_claim", item_id="item_y") in h.audio_out
        # Instead of the PlayoutStopped the crashed AudioActor never sent:
        h.send(PlayoutLost(frozenset({"item_g", "item_y"})))
        await h.idle()
        truncate = h.sent("conversation.item.truncate")
        assert [(t["item_id"], t["audio_end_ms"]) for t in truncate] == [("item_y", 0)]
        notes = [e["item"]["content"][0]["text"] for e in h.sent("conversation.item.create")]
        assert not any(note.startswith("[SERVER] ai_unheard") for note in notes)


async def test_a_booking_claim_backed_by_the_server_stands_but_sent_details_never_do(
    h: Harness, autojump_clock: MockClock
) -> None:
    async with h.running():
        await greet(h)
        h.send(ServerNote("appointment_created", "appointment_created id=7 start=2026-11-25T18:00+02:00", 7))
        await h.idle()
        h.push(*h.server.response("resp_ok", "item_ok", "מעולה, קבעתי לך תור למחר בשש"))
        await h.idle()
        assert h.actor.claims.false_claims_cut == 0
        h.send(UtteranceEnded(at_ms=1, duration_ms=900, rms=900, silence_ms=600), CallerAudio(SPEECH))
        h.send(UtteranceEnded(at_ms=2, duration_ms=900, rms=900, silence_ms=600))
        await h.idle()
        h.push(*h.server.response("resp_sms", "item_sms", "ושלחתי לך את הפרטים בוואטסאפ"))
        await h.idle()
        assert h.actor.claims.false_claims_cut == 1
        assert h.realtime_events("false_claim_cut")[0]["claim"] == "sent_details"


async def test_reconnect_replays_the_conversation_and_resumes_an_unfinished_response(
    h: Harness, autojump_clock: MockClock
) -> None:
    async with h.running():
        await greet(h)
        h.send(ServerNote("need_name", "need_name"))
        await h.idle()
        h.push(h.server.response_created("resp_n"), h.server.audio_delta("resp_n", "item_n", b"\x7f" * 800))
        await h.idle()
        assert h.actor.has_pending_ai_response and h.actor.is_ai_speaking
        h.connector.fail_next = 2
        started = trio.current_time()
        h.wire.server_close()
        await h.idle()
        await h.new_connection(1)
        await h.idle()
        assert h.connector.attempts == 4 and trio.current_time() - started >= 0.6  # backoff 0.2 + 0.4
        assert not h.actor.has_pending_ai_response and not h.actor.is_ai_speaking
        assert h.wire.types() == ["session.update", "conversation.item.create", "conversation.item.create"]
        h.push(h.server.session_updated())
        await h.idle()
        assert h.wire.types()[-1] == "response.create"  # the interrupted answer is asked for again
        assert h.realtime_events("response_create")[-1]["reason"] == "need_name"


async def test_an_utterance_during_the_outage_is_not_lost(h: Harness, autojump_clock: MockClock) -> None:
    async with h.running():
        await greet(h)
        h.connector.fail_next = 1
        h.wire.server_close()
        h.send(CallerAudio(SPEECH), UtteranceEnded(at_ms=1, duration_ms=900, rms=900, silence_ms=600))
        await h.new_connection(1)
        await h.idle()
        assert h.wire.types()[-2:] == ["input_audio_buffer.append", "input_audio_buffer.commit"]
        h.push(h.server.session_updated())
        await h.idle()
        assert h.wire.types()[-1] == "response.create"


async def test_the_actor_gives_up_after_the_reconnect_budget(h: Harness, autojump_clock: MockClock) -> None:
    with pytest.raises(ModelUnavailable):
        async with h.running():
            await greet(h)
            h.connector.fail_next = RECONNECT_ATTEMPTS
            h.wire.server_close()
            await trio.sleep(60)
    assert h.connector.attempts == 1 + RECONNECT_ATTEMPTS


async def test_an_old_session_is_rotated_at_a_quiet_moment(store: tuple[Store, int], autojump_clock: MockClock) -> None:
    h = Harness(*store, dialect="ga", config=CallConfig(model_max_session_s=60, first_audio_timeout_ms=120_000))
    async with h.running():
        h.push(h.server.response_created("resp_g"))
        await trio.sleep(61)
        await h.idle()
        assert len(h.connector.connections) == 1  # a response is pending: not now
        h.push(*h.server.response("resp_g", "item_g", "שלום")[1:])
        await h.idle()
        assert len(h.connector.connections) == 2
        assert [e["reason"] for e in h.realtime_events("model_disconnected")] == ["session_rotation"]
        assert h.wire.types() == ["session.update", "conversation.item.create"]


async def test_bad_events_duplicates_and_store_outages_never_break_the_call(
    h: Harness, autojump_clock: MockClock
) -> None:
    async with h.running():
        s = h.server
        delta = s.audio_delta("resp_g", "item_g", b"\x7f" * 800)
        h.push({"type": "response.audio.delta", "delta": 5}, {"no": "type"}, {"type": "response.teleport"})
        h.push(s.response_created("resp_g"), delta, delta, s.response_created("resp_g"))
        await h.idle()
        assert h.audio_of(lambda m: True) == 800
        h.ctx.gateway.outage_until = trio.current_time() + 30
        h.push(s.transcript_done("resp_g", "item_g", "שלום"), s.response_done("resp_g"))
        # The turn's write waits for the database (retried, held); the call does not.
        await h.until(lambda: bool(h.realtime_events("store_retry")) and not h.actor.has_pending_ai_response)
        assert h.realtime_events("store_retry")[0]["op"] == "record_turn"
        h.send(SilenceElapsed(15_000))  # the store is down: the prompt cannot be claimed, so it is not asked
        await h.until(lambda: len(h.realtime_events("silence_prompt_unconfirmed")) == 1)
        assert not h.realtime_events("silence_prompt")
        h.send(SilenceElapsed(15_000))  # ... and the next tick says goodbye: the call still ends
        await h.until(lambda: len(h.realtime_events("silence_goodbye")) == 1)
        assert trio.current_time() < h.ctx.gateway.outage_until
        await h.idle()  # the database is back: the held turn is written
        assert ("assistant", "שלום") in h.store.load_call_state(h.call_sid).turns
        assert {e["op"] for e in h.realtime_events("store_error")} == {"mark_silence_prompt_used"}


async def test_a_refused_response_create_does_not_leave_the_call_stuck(h: Harness, autojump_clock: MockClock) -> None:
    async with h.running():
        create = h.sent("response.create")[0]
        h.push(h.server.error("invalid_value", "bad response", create["event_id"]))
        await h.idle()
        assert not h.actor.has_pending_ai_response
        assert any(line.startswith("[MODEL] error invalid_value") for line in h.logs())


async def test_the_actor_returns_when_its_mailbox_closes(h: Harness, autojump_clock: MockClock) -> None:
    async with h.running():
        h.ctx.mailboxes.realtime.close()
        with trio.fail_after(5):
            await h.until(lambda: h.wire.closed)


async def test_the_session_deadline_never_cuts_an_event_handler_halfway(
    store: tuple[Store, int], autojump_clock: MockClock
) -> None:
    """The rotation deadline passes while a false claim is being cut over a slow connection: every step
    of the cut still reaches the model (only the wait for the next event is exposed to the deadline)."""
    h = Harness(*store, dialect="ga", config=CallConfig(model_max_session_s=60))
    async with h.running():
        await greet(h)
        s = h.server
        h.send(UtteranceEnded(at_ms=3000, duration_ms=1000, rms=900, silence_ms=600), CallerAudio(SPEECH))
        await h.idle()
        conn = h.wire
        fast_send = conn.send

        async def slow_send(event: dict[str, object]) -> None:
            await trio.sleep(1.0)
            await fast_send(event)

        conn.send = slow_send  # type: ignore[method-assign]
        await trio.sleep_until(h.actor.conversation.session.link.connected_at + 59.5)
        h.push(s.response_created("resp_d"), s.item_added("resp_d", "item_d"))
        h.push(s.audio_delta("resp_d", "item_d", b"\x7f" * 2400), s.transcript_delta("resp_d", "item_d", "קבעתי לך"))
        h.push(s.transcript_delta("resp_d", "item_d", " תור למחר"))
        await h.idle()
        assert h.actor.claims.false_claims_cut == 1
        link = h.actor.conversation.session.link
        assert trio.current_time() > link.connected_at + 60  # the deadline passed during the cut
        cut = conn.types()[conn.types().index("response.cancel") :]
        assert cut == ["response.cancel", "conversation.item.create"]
        h.send(PlayoutStopped(item_id="item_d", heard_ms=0))  # the AudioActor's answer to the stop
        await h.idle()
        assert conn.types()[-1] == "conversation.item.truncate"
        h.push(s.response_done("resp_d", "cancelled"))
        await h.idle()
        assert conn.types()[-1] == "response.create"  # the correction, asked for on the same connection


# ---------------------------------------------------------------------- the runtime's lines while the model is late


def runtime_audio(h: Harness, line: str) -> bytes:
    item = f"runtime-{line}-"
    return b"".join(m.payload for m in h.audio_out if isinstance(m, AiAudio) and m.item_id.startswith(item))


def items_sent(h: Harness) -> list[str]:
    return [e["item"]["content"][0]["text"] for e in h.wire.sent if e["type"] == "conversation.item.create"]


async def reconnecting(h: Harness) -> int:
    """Close the model's connection and let the actor fail to reconnect for a while (0.2 + 0.4 + 0.8 s)."""
    before = len(h.connector.connections)
    h.connector.fail_next = 3
    h.wire.server_close()
    await h.idle()
    assert len(h.connector.connections) == before, "still reconnecting"
    return before


async def test_the_silence_ladder_goes_on_in_the_runtimes_voice_while_the_model_reconnects(
    h: Harness, autojump_clock: MockClock
) -> None:
    async with h.running():
        await greet(h)
        before = await reconnecting(h)
        h.send(SilenceElapsed(15_000))
        await h.idle()
        assert runtime_audio(h, "still_there") == packaged_line("still_there", "he")
        assert [e["line"] for e in h.realtime_events("said_in_place")] == ["still_there"]
        await h.new_connection(before)
        await h.idle()
        assert items_sent(h)[-1] == RUNTIME_LINE_TEXT["still_there"]["he"], "the model learns it was asked"
        assert not any("silence_prompt" in text for text in items_sent(h)), "and is not asked to ask again"
        h.push(h.server.session_updated())
        await h.idle()
        assert "response.create" not in h.wire.types(), "nothing is owed"

        await reconnecting(h)
        h.send(SilenceElapsed(15_000))
        await h.idle()
        assert [e["line"] for e in h.realtime_events("said_in_place")] == ["still_there", "goodbye"]
        assert runtime_audio(h, "goodbye") == packaged_line("goodbye", "he")
        hangups = [i for i, m in enumerate(h.audio_out) if isinstance(m, HangUpAfterPlayout)]
        assert [h.audio_out[i] for i in hangups] == [HangUpAfterPlayout(reason="silence")]
        assert hangups[0] > max(i for i, m in enumerate(h.audio_out) if isinstance(m, AiAudio)), "after the goodbye"
        assert h.store.load_call_state(h.call_sid).silence_prompt_used


async def test_a_model_frozen_at_the_silence_question_has_the_runtime_ask_it(
    h: Harness, autojump_clock: MockClock
) -> None:
    async with h.running():
        await greet(h)
        before = len(h.connector.connections)
        h.send(SilenceElapsed(15_000))
        await h.until(lambda: bool(h.realtime_events("said_in_place")))
        await h.idle()
        assert [e["action"] for e in h.realtime_events("model_frozen")] == ["recycle"]
        assert runtime_audio(h, "still_there") == packaged_line("still_there", "he")
        await h.new_connection(before)
        await h.idle()
        assert items_sent(h)[-1] == RUNTIME_LINE_TEXT["still_there"]["he"]
        h.push(h.server.session_updated())
        await h.idle()
        assert "response.create" not in h.wire.types(), "the question is not asked twice"


OPENING_AUDIO = b"\x21" * 4000


async def test_a_model_late_for_the_opening_has_the_runtime_say_it_in_the_businesss_recorded_words(
    h: Harness, autojump_clock: MockClock
) -> None:
    h.ctx.voice_lines.load([VoiceLineAudio("greeting", "he", "model", "shimmer", OPENING_AUDIO)], "he")
    started = trio.current_time()
    async with h.running(acknowledged=False):
        await h.until(lambda: bool(h.realtime_events("said_in_place")))
        assert trio.current_time() - started == pytest.approx(h.config.opening_wait_ms / 1000.0, abs=0.01)
        await h.idle()
        assert runtime_audio(h, "greeting") == OPENING_AUDIO
        opening = line_words("he", "מספרת דנה")["greeting"]
        assert items_sent(h) == [opening], "the session being configured learns the AI said it"
        assert [turn.text for turn in h.actor.turns] == [opening]
        h.push(h.server.session_created(), h.server.session_updated())
        await h.idle()
        assert "response.create" not in h.wire.types(), "the model does not greet a second time"


async def test_without_the_businesss_audio_of_the_opening_the_model_says_it_when_ready(
    h: Harness, autojump_clock: MockClock
) -> None:
    async with h.running(acknowledged=False):
        await trio.sleep(2 * h.config.opening_wait_ms / 1000.0)
        await h.idle()
        assert not h.realtime_events("said_in_place") and not runtime_audio(h, "greeting")
        h.push(h.server.session_created(), h.server.session_updated())
        await h.idle()
        assert [e["reason"] for e in h.realtime_events("response_create")] == ["greeting"]
