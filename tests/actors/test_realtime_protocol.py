"""The Realtime protocol module: client events valid per the SDK models (both dialects), the session per spec,
and the parser on recorded-shape event sequences, malformed and unknown events."""

from __future__ import annotations

import base64
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors import realtime_protocol as rp
from actors.codec import base64_decoded_size
from actors.config import CallConfig
from actors.defaults import DEFAULT_TRANSCRIPTION_MODEL
from tests.support.realtime_wire import Server, validate_client_event, validate_server_event

DIALECTS = ("beta", "ga")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_client_event_is_valid_for_the_sdk(dialect: rp.Dialect) -> None:
    config = CallConfig()
    events = [
        rp.session_update(dialect, config, "prompt", "he"),
        rp.session_update(dialect, CallConfig(server_vad=True), "prompt", None),
        rp.input_audio_append(b"\xff" * 160),
        rp.input_audio_commit(),
        rp.input_audio_clear(),
        rp.text_item(dialect, "server", "[SERVER] appointment_created id=7"),
        rp.text_item(dialect, "user", "שלום"),
        rp.text_item(dialect, "assistant", "hello"),
        rp.response_create(),
        rp.response_cancel("resp_1"),
        rp.response_cancel(),
        rp.item_truncate("item_1", 1200),
    ]
    for event in events:
        validate_client_event(dialect, event)


def test_beta_session_matches_the_spec(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        event = rp.session_update("beta", CallConfig(temperature=0.15, voice="shimmer"), "be brief", "he")
    session = event["session"]
    assert session["modalities"] == ["audio", "text"]
    assert session["voice"] == "shimmer"
    assert session["input_audio_format"] == session["output_audio_format"] == "g711_ulaw"
    assert session["input_audio_transcription"] == {"model": DEFAULT_TRANSCRIPTION_MODEL, "language": "he"}
    assert session["turn_detection"] is None
    assert session["temperature"] == rp.MIN_TEMPERATURE
    assert "tools" not in session and "tool_choice" not in session
    assert any("0.15" in record.getMessage() and "0.60" in record.getMessage() for record in caplog.records)


def test_ga_session_matches_the_spec() -> None:
    session = rp.session_update("ga", CallConfig(voice="coral"), "be brief", "en")["session"]
    assert session["type"] == "realtime"
    assert session["output_modalities"] == ["audio"]
    assert session["audio"]["input"] == {
        "format": {"type": "audio/pcmu"},
        "transcription": {"model": DEFAULT_TRANSCRIPTION_MODEL, "language": "en"},
        "turn_detection": None,
    }
    assert session["audio"]["output"] == {"format": {"type": "audio/pcmu"}, "voice": "coral"}
    assert not {"tools", "tool_choice", "temperature"} & set(session)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_server_vad_is_an_option(dialect: rp.Dialect) -> None:
    session = rp.session_update(dialect, CallConfig(server_vad=True), "x", None)["session"]
    detection = session["turn_detection"] if dialect == "beta" else session["audio"]["input"]["turn_detection"]
    assert detection == {"type": "server_vad"}


@given(st.floats(min_value=-5, max_value=5, allow_nan=False))
def test_temperature_is_always_within_the_api_range(requested: float) -> None:
    clamped = rp.clamp_temperature(requested)
    assert rp.MIN_TEMPERATURE <= clamped <= rp.MAX_TEMPERATURE
    if rp.MIN_TEMPERATURE <= requested <= rp.MAX_TEMPERATURE:
        assert clamped == requested


def test_notes_always_start_with_their_kind() -> None:
    assert rp.render_note("appointment_created", "appointment_created id=7") == "[SERVER] appointment_created id=7"
    assert rp.render_note("need_name", "ask the name") == "[SERVER] need_name ask the name"


def test_assistant_replay_uses_each_dialects_content_type() -> None:
    assert rp.text_item("beta", "assistant", "hi")["item"]["content"][0]["type"] == "text"
    assert rp.text_item("ga", "assistant", "hi")["item"]["content"][0]["type"] == "output_text"
    assert rp.text_item("ga", "server", "[SERVER] x")["item"]["role"] == "system"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_recorded_response_sequence_parses_in_order(dialect: rp.Dialect) -> None:
    server = Server(dialect)
    sequence = [
        server.session_created(),
        server.session_updated(),
        server.committed("item_u1"),
        *server.response("resp_1", "item_a1", "שלום, איך אפשר לעזור?", audio_ms=200, chunks=2),
        server.user_transcript("item_u1", "אני רוצה תור"),
        server.user_transcript_failed("item_u2"),
        server.error("response_cancel_not_active", "no active response", "rt_4"),
    ]
    for raw in sequence:
        validate_server_event(dialect, raw)
    parsed = [rp.parse_server_event(dialect, raw) for raw in sequence]
    assert parsed == [
        rp.SessionCreated("sess_1"),
        rp.SessionUpdated(),
        rp.InputCommitted("item_u1"),
        rp.ResponseCreated("resp_1"),
        rp.OutputItemAdded("resp_1", "item_a1"),
        rp.AudioDelta("resp_1", "item_a1", b"\x7f" * 800),
        rp.TranscriptDelta("resp_1", "item_a1", "שלום, איך"),
        rp.AudioDelta("resp_1", "item_a1", b"\x7f" * 800),
        rp.TranscriptDelta("resp_1", "item_a1", " אפשר לעזור?"),
        rp.AudioDone("resp_1", "item_a1"),
        rp.TranscriptDone("resp_1", "item_a1", "שלום, איך אפשר לעזור?"),
        rp.OutputItemDone("resp_1", "item_a1"),
        rp.ResponseDone("resp_1", "completed"),
        rp.UserTranscriptCompleted("item_u1", "אני רוצה תור"),
        rp.UserTranscriptFailed("item_u2", "no speech"),
        rp.Error("response_cancel_not_active", "no active response", "rt_4"),
    ]


def test_each_dialect_rejects_the_others_audio_events() -> None:
    beta, ga = Server("beta"), Server("ga")
    assert rp.parse_server_event("ga", beta.audio_delta("r", "i", b"x")) == rp.Unknown("response.audio.delta")
    assert rp.parse_server_event("beta", ga.audio_delta("r", "i", b"x")) == rp.Unknown("response.output_audio.delta")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_known_but_unused_events_are_ignored_quietly(dialect: rp.Dialect, caplog: pytest.LogCaptureFixture) -> None:
    server = Server(dialect)
    raw = server.ev(
        "response.content_part.added",
        response_id="r",
        item_id="i",
        output_index=0,
        content_index=0,
        part={"type": "audio", "transcript": ""},
    )
    with caplog.at_level(logging.WARNING):
        assert rp.parse_server_event(dialect, raw) == rp.Ignored("response.content_part.added")
    assert not caplog.records


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"type": 7},
        {"type": "response.audio.delta", "response_id": "r", "item_id": "i", "delta": "%%%not base64"},
        {"type": "response.audio.delta", "response_id": "r", "delta": "AAAA"},
        {"type": "response.created", "response": "nope"},
        {"type": "response.done", "response": {"status": "completed"}},
        {"type": "input_audio_buffer.committed"},
        {"type": "error", "error": None},
    ],
)
def test_malformed_events_are_logged_and_skipped(raw: dict[str, object], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert rp.parse_server_event("beta", raw) is None
    assert caplog.records


def test_unknown_event_types_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert rp.parse_server_event("ga", {"type": "response.hologram.delta"}) == rp.Unknown("response.hologram.delta")
    assert "response.hologram.delta" in caplog.text


@given(st.dictionaries(st.text(max_size=12), st.none() | st.integers() | st.text(max_size=12), max_size=6))
def test_the_parser_never_raises(raw: dict[str, object]) -> None:
    for dialect in DIALECTS:
        rp.parse_server_event(dialect, raw)


def test_trace_summaries_never_carry_audio() -> None:
    audio = b"\x01" * 4000
    out = rp.summarise_client_event(rp.input_audio_append(audio))
    assert out == {"type": "input_audio_buffer.append", "bytes": 4000}
    raw = Server("beta").audio_delta("r", "i", audio)
    summary = rp.summarise_server_event(raw, rp.parse_server_event("beta", raw))
    assert summary["bytes"] == 4000 and base64.b64encode(audio).decode() not in str(summary)


@given(st.binary(max_size=3000))
def test_the_size_of_an_append_is_counted_from_its_base64(payload: bytes) -> None:
    assert base64_decoded_size(base64.b64encode(payload).decode()) == len(payload)
