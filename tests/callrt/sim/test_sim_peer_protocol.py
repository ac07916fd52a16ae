"""The simulated Realtime peer speaks the real protocol: event order, errors, truncation, both dialects.

Every server event received here is validated against the official SDK's pydantic model of its type
(openai.types.beta.realtime for beta, openai.types.realtime for GA), unknown keys included.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import trio

from actors.claims import detect_claim
from actors.codec import ulaw_rms
from callrt.sim.peer_script import SimScript
from callrt.sim.realtime_peer import InMemoryModelConnector
from tests.support.sim_peer import PeerClient, session_config, ulaw_append, validate_server_event

DIALECTS = ("beta", "ga")
HE_SCRIPT = SimScript(language="he", business_name="מספרת דנה", says=("אני רוצה תור מחר בשש", "קוראים לי דנה"))
EN_SCRIPT = SimScript(language="en", business_name="Dana's Salon", says=("I'd like tomorrow at six",))

AUDIO_DELTA = {"beta": "response.audio.delta", "ga": "response.output_audio.delta"}
AUDIO_DONE = {"beta": "response.audio.done", "ga": "response.output_audio.done"}
TRANSCRIPT_DELTA = {"beta": "response.audio_transcript.delta", "ga": "response.output_audio_transcript.delta"}
TRANSCRIPT_DONE = {"beta": "response.audio_transcript.done", "ga": "response.output_audio_transcript.done"}


def response_events(client: PeerClient, response_id: str) -> list[dict[str, Any]]:
    """The events of one response, from response.created to response.done."""
    picked = []
    for event in client.events:
        rid = event.get("response_id") or (event.get("response") or {}).get("id")
        if rid == response_id:
            picked.append(event)
    return picked


def reply_text(client: PeerClient, response_id: str) -> str:
    return "".join(e["delta"] for e in response_events(client, response_id) if e["type"].endswith("transcript.delta"))


async def respond(client: PeerClient) -> dict[str, Any]:
    """response.create, then read up to its response.done; returns response.done."""
    await client.send({"type": "response.create"})
    return await client.until("response.done")


async def add_note(client: PeerClient, note: str) -> None:
    await client.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "system", "content": [{"type": "input_text", "text": note}]},
        }
    )
    await client.until("conversation.item.added" if client.dialect == "ga" else "conversation.item.created")


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_greeting_response_follows_the_documented_order(dialect: str, autojump_clock: trio.abc.Clock) -> None:
    client = await PeerClient.open(InMemoryModelConnector(HE_SCRIPT, dialect))
    start = trio.current_time()
    done = await respond(client)
    elapsed = trio.current_time() - start
    rid = done["response"]["id"]
    kinds = [e["type"] for e in client.events if e["type"] not in ("session.created", "session.updated")]
    item_added = ["conversation.item.added"] if dialect == "ga" else ["conversation.item.created"]
    head = ["response.created", "response.output_item.added", *item_added, "response.content_part.added"]
    tail = [AUDIO_DONE[dialect], TRANSCRIPT_DONE[dialect], "response.content_part.done", "response.output_item.done"]
    tail += ["conversation.item.done", "response.done"] if dialect == "ga" else ["response.done"]
    assert kinds[: len(head)] == head
    assert kinds[-len(tail) :] == tail
    middle = kinds[len(head) : -len(tail)]
    assert set(middle) == {AUDIO_DELTA[dialect], TRANSCRIPT_DELTA[dialect]}
    assert middle[0] == TRANSCRIPT_DELTA[dialect]  # the transcript runs a little ahead of the audio
    assert done["response"]["status"] == "completed"

    text = reply_text(client, rid)
    assert text == "שלום, הגעת למספרת דנה, אני העוזרת הדיגיטלית. איך אפשר לעזור?"
    assert text.count(".") + text.count("?") <= 2
    transcript_done = next(e for e in client.events if e["type"] == TRANSCRIPT_DONE[dialect])
    assert transcript_done["transcript"] == text
    audio = b"".join(base64.b64decode(e["delta"]) for e in client.events if e["type"] == AUDIO_DELTA[dialect])
    assert len(audio) == 8 * 60 * len(text)  # 60 ms a character of 8 kHz mu-law
    assert 1500 < ulaw_rms(audio) < 2500
    # 100 ms per delta, ten times faster than real time
    assert all(len(base64.b64decode(e["delta"])) <= 800 for e in client.events if e["type"] == AUDIO_DELTA[dialect])
    assert elapsed < len(audio) / 8000 / 5
    item = done["response"]["output"][0]
    assert item["role"] == "assistant" and item["status"] == "completed"
    assert item["content"][0]["transcript"] == text


async def test_english_greeting_names_the_business(autojump_clock: trio.abc.Clock) -> None:
    client = await PeerClient.open(InMemoryModelConnector(EN_SCRIPT, "ga"))
    done = await respond(client)
    assert reply_text(client, done["response"]["id"]) == (
        "Hello, you've reached Dana's Salon, this is the digital assistant. How can I help?"
    )


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_commit_transcribes_the_next_say_in_order(dialect: str, autojump_clock: trio.abc.Clock) -> None:
    client = await PeerClient.open(InMemoryModelConnector(HE_SCRIPT, dialect))
    transcripts = []
    for _ in range(3):
        await client.send(ulaw_append(1200))
        await client.send({"type": "input_audio_buffer.commit"})
        committed = await client.until("input_audio_buffer.committed")
        outcome = await client.until_any(
            "conversation.item.input_audio_transcription.completed",
            "conversation.item.input_audio_transcription.failed",
        )
        assert outcome["item_id"] == committed["item_id"]
        transcripts.append(outcome.get("transcript"))
    assert transcripts == ["אני רוצה תור מחר בשש", "קוראים לי דנה", None]
    committed_events = [e for e in client.events if e["type"] == "input_audio_buffer.committed"]
    assert committed_events[0]["previous_item_id"] is None
    assert committed_events[1]["previous_item_id"] == committed_events[0]["item_id"]
    user_items = [
        e["item"] for e in client.events if e["type"] in ("conversation.item.created", "conversation.item.added")
    ]
    assert [item["role"] for item in user_items] == ["user"] * 3
    assert user_items[0]["content"] == [{"type": "input_audio", "transcript": None}]


async def test_transcription_takes_a_realistic_moment(autojump_clock: trio.abc.Clock) -> None:
    client = await PeerClient.open(InMemoryModelConnector(HE_SCRIPT, "beta"))
    await client.send(ulaw_append(2000))
    await client.send({"type": "input_audio_buffer.commit"})
    await client.until("input_audio_buffer.committed")
    committed_at = trio.current_time()
    await client.until("conversation.item.input_audio_transcription.completed")
    assert 0.2 <= trio.current_time() - committed_at <= 1.5


async def test_no_transcription_when_the_session_does_not_ask_for_it(autojump_clock: trio.abc.Clock) -> None:
    client = await PeerClient.open(InMemoryModelConnector(HE_SCRIPT, "beta"), transcription=False)
    await client.send(ulaw_append(1000))
    await client.send({"type": "input_audio_buffer.commit"})
    await client.until("input_audio_buffer.committed")
    assert not any("transcription" in t for t in client.types() + [e["type"] for e in await client.drain(5)])


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_buffer_errors_and_clear(dialect: str, autojump_clock: trio.abc.Clock) -> None:
    client = await PeerClient.open(InMemoryModelConnector(HE_SCRIPT, dialect))
    await client.send({"type": "input_audio_buffer.commit", "event_id": "evt_1"})
    error = (await client.until("error"))["error"]
    assert error["code"] == "input_audio_buffer_commit_empty"
    assert error["type"] == "invalid_request_error" and error["event_id"] == "evt_1"
    await client.send(ulaw_append(60))  # below the service's 100 ms minimum
    await client.send({"type": "input_audio_buffer.commit"})
    error = (await client.until("error"))["error"]
    assert error["code"] == "input_audio_buffer_commit_empty" and "60.00ms" in error["message"]
    await client.send({"type": "input_audio_buffer.clear"})
    await client.until("input_audio_buffer.cleared")
    await client.send({"type": "input_audio_buffer.commit"})
    assert (await client.until("error"))["error"]["code"] == "input_audio_buffer_commit_empty"
    await client.send({"type": "input_audio_buffer.append", "audio": "not base64!"})
    assert (await client.until("error"))["error"]["param"] == "audio"


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_response_create_while_active_is_refused(dialect: str, autojump_clock: trio.abc.Clock) -> None:
    client = await PeerClient.open(InMemoryModelConnector(HE_SCRIPT, dialect))
    await client.send({"type": "response.create"})
    created = await client.until("response.created")
    await client.send({"type": "response.create", "event_id": "evt_again"})
    error = (await client.until("error"))["error"]
    assert error["code"] == "conversation_already_has_active_response"
    assert created["response"]["id"] in error["message"] and error["event_id"] == "evt_again"
    await client.until("response.done")
    assert [e["type"] for e in client.events].count("response.created") == 1
    await respond(client)  # once done, a new response is fine


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_cancel_mid_stream_ends_with_cancelled(dialect: str, autojump_clock: trio.abc.Clock) -> None:
    client = await PeerClient.open(InMemoryModelConnector(HE_SCRIPT, dialect))
    await client.send({"type": "response.create"})
    for _ in range(5):
        await client.until(AUDIO_DELTA[dialect])
    await client.send({"type": "response.cancel"})
    done = await client.until("response.done")
    rid = done["response"]["id"]
    assert done["response"]["status"] == "cancelled"
    assert done["response"]["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert done["response"]["output"][0]["status"] == "incomplete"
    events = response_events(client, rid)
    deltas = [e for e in events if e["type"] == AUDIO_DELTA[dialect]]
    assert 5 <= len(deltas) <= 7  # at most the delta in flight when the cancel arrived
    last_delta = max(i for i, e in enumerate(events) if e["type"] == AUDIO_DELTA[dialect])
    assert all("delta" not in e["type"] for e in events[last_delta + 1 :])
    said = next(e for e in events if e["type"] == TRANSCRIPT_DONE[dialect])["transcript"]
    greeting = "שלום, הגעת למספרת דנה, אני העוזרת הדיגיטלית. איך אפשר לעזור?"
    assert said and greeting.startswith(said) and said != greeting  # what was generated before the cut
    assert not [e for e in await client.drain(2) if "delta" in e["type"]]  # and nothing after response.done
    await client.send({"type": "response.cancel", "event_id": "evt_c"})
    error = (await client.until("error"))["error"]
    assert error["code"] == "response_cancel_not_active" and error["event_id"] == "evt_c"


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_truncate(dialect: str, autojump_clock: trio.abc.Clock) -> None:
    client = await PeerClient.open(InMemoryModelConnector(HE_SCRIPT, dialect))
    done = await respond(client)
    item_id = done["response"]["output"][0]["id"]
    audio_ms = 60 * len(reply_text(client, done["response"]["id"]))
    await client.send(
        {"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": 1500}
    )
    truncated = await client.until("conversation.item.truncated")
    assert truncated == truncated | {"item_id": item_id, "content_index": 0, "audio_end_ms": 1500}
    # Beyond the audio: the service's refusal, then the truncation clamped to the item's audio.
    await client.send(
        {"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": 99999}
    )
    error = (await client.until("error"))["error"]
    assert error["message"] == "Audio content of 1500ms is already shorter than 99999ms"
    assert (await client.until("conversation.item.truncated"))["audio_end_ms"] == 1500
    assert audio_ms > 1500
    # Only assistant audio can be truncated, and only items that exist.
    await client.send(ulaw_append(500))
    await client.send({"type": "input_audio_buffer.commit"})
    user_item = (await client.until("input_audio_buffer.committed"))["item_id"]
    await client.send(
        {"type": "conversation.item.truncate", "item_id": user_item, "content_index": 0, "audio_end_ms": 10}
    )
    assert "Only model output audio" in (await client.until("error"))["error"]["message"]
    await client.send(
        {"type": "conversation.item.truncate", "item_id": "item_nope", "content_index": 0, "audio_end_ms": 1}
    )
    assert (await client.until("error"))["error"]["param"] == "item_id"


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_invalid_client_events_get_the_service_error(dialect: str, autojump_clock: trio.abc.Clock) -> None:
    client = await PeerClient.open(InMemoryModelConnector(HE_SCRIPT, dialect))
    await client.connection.transport.send("{not json")
    assert (await client.until("error"))["error"]["type"] == "invalid_request_error"
    await client.connection.transport.send(json.dumps([1, 2]))
    assert (await client.until("error"))["error"]["code"] == "invalid_type"
    await client.send({"type": "response.explode", "event_id": "evt_x"})
    error = (await client.until("error"))["error"]
    assert error["code"] == "invalid_value" and error["param"] == "type" and error["event_id"] == "evt_x"
    await client.send({"no_type": True})
    assert (await client.until("error"))["error"]["code"] == "missing_required_parameter"
    await client.send({"type": "conversation.item.truncate", "item_id": "x", "content_index": 0})
    error = (await client.until("error"))["error"]
    assert error == error | {"code": "missing_required_parameter", "param": "audio_end_ms"}
    await client.send({"type": "response.cancel", "surprise": 1})
    error = (await client.until("error"))["error"]
    assert error == error | {"code": "unknown_parameter", "param": "surprise"}
    # ...and the session is still alive.
    assert (await respond(client))["response"]["status"] == "completed"


async def test_beta_session_update_rules(autojump_clock: trio.abc.Clock) -> None:
    client = await PeerClient.open(InMemoryModelConnector(HE_SCRIPT, "beta"), configure=False)
    created = client.events[0]["session"]
    assert created["turn_detection"]["type"] == "server_vad" and created["input_audio_format"] == "pcm16"
    await client.send({"type": "session.update", "session": {"temperature": 0.2}})
    error = (await client.until("error"))["error"]
    assert error["code"] == "decimal_below_min_value" and error["param"] == "session.temperature"
    assert "Expected a value >= 0.6, but got 0.2 instead" in error["message"]
    await client.send({"type": "session.update", "session": {"temperature": 1.5}})
    assert (await client.until("error"))["error"]["code"] == "decimal_above_max_value"
    await client.send({"type": "session.update", "session": {"voyce": "shimmer"}})
    error = (await client.until("error"))["error"]
    assert error == error | {"code": "unknown_parameter", "param": "session.voyce"}
    await client.send({"type": "session.update", "session": {"input_audio_format": "mp3"}})
    assert (await client.until("error"))["error"]["code"] == "invalid_value"
    await client.send({"type": "session.update", "session": session_config("beta")})
    session = (await client.until("session.updated"))["session"]
    assert session["temperature"] == 0.6 and session["turn_detection"] is None
    assert session["input_audio_transcription"] == {"model": "whisper-1"}
    await respond(client)
    await client.send({"type": "session.update", "session": {"voice": "alloy"}})
    assert (await client.until("error"))["error"]["code"] == "cannot_update_voice"


async def test_ga_session_update_rules(autojump_clock: trio.abc.Clock) -> None:
    client = await PeerClient.open(InMemoryModelConnector(HE_SCRIPT, "ga"), configure=False)
    assert client.events[0]["session"]["type"] == "realtime"
    await client.send({"type": "session.update", "session": {"instructions": "hi"}})
    error = (await client.until("error"))["error"]
    assert error == error | {"code": "missing_required_parameter", "param": "session.type"}
    await client.send({"type": "session.update", "session": {"type": "realtime", "temperature": 0.8}})
    error = (await client.until("error"))["error"]
    assert error == error | {"code": "unknown_parameter", "param": "session.temperature"}
    await client.send({"type": "session.update", "session": {"type": "realtime", "input_audio_format": "g711_ulaw"}})
    assert (await client.until("error"))["error"]["code"] == "unknown_parameter"  # a beta field in a GA session
    await client.send({"type": "session.update", "session": session_config("ga")})
    session = (await client.until("session.updated"))["session"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert session["audio"]["output"]["voice"] == "shimmer"
    # A partial update keeps the rest of the nested audio configuration.
    await client.send({"type": "session.update", "session": {"type": "realtime", "instructions": "be brief"}})
    session = (await client.until("session.updated"))["session"]
    assert session["instructions"] == "be brief" and session["audio"]["output"]["format"] == {"type": "audio/pcmu"}


async def test_actor_session_update_is_accepted(autojump_clock: trio.abc.Clock) -> None:
    """The RealtimeActor's own session.update (actors.realtime_protocol) passes the peer's checks."""
    from actors.config import CallConfig
    from actors.realtime_protocol import session_update

    for dialect in DIALECTS:
        client = await PeerClient.open(InMemoryModelConnector(HE_SCRIPT, dialect), configure=False)
        await client.send(session_update(dialect, CallConfig(), "instructions", "he"))  # type: ignore[arg-type]
        updated = await client.until_any("session.updated", "error")
        assert updated["type"] == "session.updated", updated


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_pcm16_output_when_the_client_forgets_the_format(dialect: str, autojump_clock: trio.abc.Clock) -> None:
    """Left at its default (24 kHz PCM16), the service streams PCM16 — six times more bytes than mu-law."""
    client = await PeerClient.open(InMemoryModelConnector(HE_SCRIPT, dialect), configure=False)
    done = await respond(client)
    audio = b"".join(base64.b64decode(e["delta"]) for e in client.events if e["type"] == AUDIO_DELTA[dialect])
    assert len(audio) == 48 * 60 * len(reply_text(client, done["response"]["id"]))


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_conversation_items_and_replay(dialect: str, autojump_clock: trio.abc.Clock) -> None:
    """Replayed text turns (as after a reconnect) are items; the next reply follows them, no second greeting."""
    client = await PeerClient.open(InMemoryModelConnector(HE_SCRIPT, dialect))
    assistant_type = "text" if dialect == "beta" else "output_text"
    for role, part in (
        ("assistant", {"type": assistant_type, "text": "שלום, הגעת למספרת דנה. איך אפשר לעזור?"}),
        ("user", {"type": "input_text", "text": "אני רוצה תור"}),
    ):
        await client.send(
            {"type": "conversation.item.create", "item": {"type": "message", "role": role, "content": [part]}}
        )
        added = await client.until("conversation.item.added" if dialect == "ga" else "conversation.item.created")
        assert added["item"]["content"] == [part] and added["item"]["role"] == role
    done = await respond(client)
    assert reply_text(client, done["response"]["id"]) == "רגע, אני בודקת."
    first = next(e for e in client.events if e["type"] in ("conversation.item.created", "conversation.item.added"))
    await client.send({"type": "conversation.item.retrieve", "item_id": first["item"]["id"]})
    assert (await client.until("conversation.item.retrieved"))["item"]["role"] == "assistant"
    await client.send({"type": "conversation.item.delete", "item_id": first["item"]["id"]})
    assert (await client.until("conversation.item.deleted"))["item_id"] == first["item"]["id"]
    await client.send(
        {
            "type": "conversation.item.create",
            "previous_item_id": "item_missing",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]},
        }
    )
    assert (await client.until("error"))["error"]["param"] == "previous_item_id"


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_replies_follow_the_server_notes(dialect: str, autojump_clock: trio.abc.Clock) -> None:
    client = await PeerClient.open(InMemoryModelConnector(HE_SCRIPT, dialect))
    said = []

    async def turn() -> str:
        done = await respond(client)
        said.append(reply_text(client, done["response"]["id"]))
        return said[-1]

    await turn()  # greeting
    await client.send(ulaw_append(2600))
    await client.send({"type": "input_audio_buffer.commit"})
    assert await turn() == "רגע, אני בודקת."
    await add_note(
        client,
        "[SERVER] outside_hours reason=closed_day requested=2026-11-28T10:00+02:00 "
        "alternatives=2026-11-29T09:00+02:00,2026-11-29T09:30+02:00,2026-11-29T10:00+02:00",
    )
    closed = await turn()
    assert closed.startswith("בזמן הזה אנחנו סגורים.")
    assert "ליום ראשון 29.11 בשעה 09:00" in closed and "או ליום ראשון 29.11 בשעה 10:00" in closed
    assert detect_claim(closed) is None
    await add_note(client, "[SERVER] need_name start=2026-11-29T09:30+02:00")
    assert await turn() == "על איזה שם לרשום את התור?"
    await add_note(client, "[SERVER] appointment_created id=7 start=2026-11-29T09:30+02:00")
    confirmed = await turn()
    assert "ליום ראשון 29.11 בשעה 09:30" in confirmed and detect_claim(confirmed) == "booking"
    await add_note(client, "[SERVER] silence_prompt")
    assert await turn() == "אתה עדיין על הקו?"
    await add_note(client, "[SERVER] silence_goodbye")
    goodbye = await turn()
    assert "תודה" in goodbye and detect_claim(goodbye) is None


async def test_every_event_of_a_full_exchange_validates(autojump_clock: trio.abc.Clock) -> None:
    """Belt and braces: all events of both dialects, re-validated from their JSON text form."""
    for dialect in DIALECTS:
        client = await PeerClient.open(InMemoryModelConnector(HE_SCRIPT, dialect))
        await respond(client)
        await client.send(ulaw_append(1000))
        await client.send({"type": "input_audio_buffer.commit"})
        await client.until("conversation.item.input_audio_transcription.completed")
        await add_note(client, "[SERVER] booking_unavailable")
        done = await respond(client)
        assert "אעביר את הפרטים לנציג והוא יחזור אליך בהמשך" in reply_text(client, done["response"]["id"])
        for event in client.events:
            validate_server_event(json.loads(json.dumps(event)), dialect)
        assert len({e["event_id"] for e in client.events}) == len(client.events)
