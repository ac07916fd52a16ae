"""The session-refusal fallback chain, without trio: what each refusal leads to, and when it ends."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors import realtime_protocol as rp
from actors.config import CallConfig
from actors.defaults import DEFAULT_TRANSCRIPTION_MODEL, REPLACEMENT_REALTIME_MODEL, REPLACEMENT_TRANSCRIPTION_MODEL
from actors.session_fallback import MAX_ATTEMPTS, SessionChoice, SessionFallback


def refused_after_send(fallback: SessionFallback, code: str | None, message: str, param: str | None) -> str | None:
    fallback.sent("rt_1")
    assert fallback.answers_update("rt_1") and not fallback.answers_update("rt_2")
    return fallback.refused(code, message, param).next_step


def test_a_refused_transcription_model_moves_to_the_default_then_the_replacement() -> None:
    fallback = SessionFallback("whisper-1")
    param = "session.audio.input.transcription.model"
    assert refused_after_send(fallback, "invalid_value", "Invalid value: 'whisper-1'", param) == "transcription_model"
    assert fallback.choice.transcription_model == DEFAULT_TRANSCRIPTION_MODEL
    assert refused_after_send(fallback, "invalid_value", "no", param) == "transcription_model"
    assert fallback.choice.transcription_model == REPLACEMENT_TRANSCRIPTION_MODEL
    assert refused_after_send(fallback, "invalid_value", "no", param) is None
    assert [r.refused for r in fallback.refusals] == [
        "transcription model 'whisper-1'",
        f"transcription model {DEFAULT_TRANSCRIPTION_MODEL!r}",
        f"transcription model {REPLACEMENT_TRANSCRIPTION_MODEL!r}",
    ]


def test_a_refused_model_is_replaced_once() -> None:
    fallback = SessionFallback(DEFAULT_TRANSCRIPTION_MODEL)
    assert refused_after_send(fallback, "model_not_found", "The model does not exist", "session.model") == (
        "realtime_model"
    )
    assert fallback.choice.realtime_model == REPLACEMENT_REALTIME_MODEL
    assert refused_after_send(fallback, "model_not_found", "The model does not exist", "session.model") is None


def test_an_unknown_optional_field_is_dropped_and_an_essential_one_ends_the_chain() -> None:
    fallback = SessionFallback(DEFAULT_TRANSCRIPTION_MODEL)
    step = refused_after_send(fallback, "unknown_parameter", "Unknown parameter", "session.audio.input.turn_detection")
    assert step == "drop_field"
    update = rp.session_update("ga", CallConfig(), "hi", "he")
    applied = fallback.choice.apply(update)
    assert "turn_detection" not in applied["session"]["audio"]["input"]
    assert "turn_detection" in update["session"]["audio"]["input"], "the configured update is left alone"
    assert refused_after_send(fallback, "unknown_parameter", "Unknown parameter", "session.audio.output.voice") is None


def test_an_error_naming_nothing_walks_the_chain_in_order() -> None:
    fallback = SessionFallback(DEFAULT_TRANSCRIPTION_MODEL)
    steps = [refused_after_send(fallback, "server_error", "try later", None) for _ in range(3)]
    assert steps == ["realtime_model", "transcription_model", None]


def test_a_choice_changes_only_what_it_names() -> None:
    update = rp.session_update("ga", CallConfig(), "hi", "he")
    assert SessionChoice(DEFAULT_TRANSCRIPTION_MODEL).apply(update) == update
    with_model = SessionChoice(DEFAULT_TRANSCRIPTION_MODEL, realtime_model="m").apply(update)
    assert with_model["session"]["model"] == "m"


@given(
    st.lists(
        st.tuples(
            st.sampled_from([None, "invalid_value", "unknown_parameter", "model_not_found", "server_error"]),
            st.sampled_from(["", "model", "transcription", "bad"]),
            st.sampled_from(
                [None, "session", "session.model", "session.audio.input.transcription.model", "session.tracing"]
            ),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_the_chain_always_ends(refusals: list[tuple[str | None, str, str | None]]) -> None:
    """Whatever the service says, the chain gives up within MAX_ATTEMPTS updates: a caller never waits on it."""
    fallback = SessionFallback("whisper-1")
    retries = 0
    for code, message, param in refusals:
        if refused_after_send(fallback, code, message, param) is None:
            break
        retries += 1
    assert retries < MAX_ATTEMPTS
