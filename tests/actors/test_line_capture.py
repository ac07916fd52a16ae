"""LineCapture: the model's audio of a runtime line is taken only from a whole, completed response whose
words are the line's, within the length bound, and only while the business has none in this voice."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors.defaults import Language
from actors.line_capture import LineCapture
from actors.runtime_lines import VoiceLines, line_words, says_line
from store import VoiceLineAudio
from store.voice_lines import MAX_AUDIO_BYTES

NAME = "Dana's Salon"
GOODBYE = line_words("en", NAME)["goodbye"]


def capture(lines: VoiceLines, language: Language, name: str = NAME) -> LineCapture:
    return LineCapture(lines, line_words(language, name))


def said(taker: LineCapture, reason: str, text: str, audio: bytes, *, completed: bool = True) -> object:
    taker.response_created("resp_1", reason)
    for start in range(0, len(audio), 800):
        taker.audio("resp_1", audio[start : start + 800])
    taker.transcript("resp_1", text)
    return taker.done("resp_1", completed)


def test_a_completed_goodbye_in_the_lines_words_is_taken() -> None:
    assert said(capture(VoiceLines(), "en"), "silence_goodbye", GOODBYE, b"\x11" * 4000) == (
        "goodbye",
        b"\x11" * 4000,
    )
    handoff = line_words("he", NAME)["handoff"]
    assert said(capture(VoiceLines(), "he"), "booking_unavailable", handoff, b"\x12" * 800) == (
        "handoff",
        b"\x12" * 800,
    )


def test_the_opening_and_the_silence_question_are_taken_in_the_businesss_name() -> None:
    opening = line_words("en", NAME)["greeting"]
    assert NAME in opening
    assert said(capture(VoiceLines(), "en"), "greeting", opening, b"\x13" * 800) == ("greeting", b"\x13" * 800)
    assert said(capture(VoiceLines(), "en", "Other Salon"), "greeting", opening, b"\x13" * 800) is None, "a name"
    question = line_words("he", NAME)["still_there"]
    assert said(capture(VoiceLines(), "he"), "silence_prompt", question, b"\x14" * 800) == (
        "still_there",
        b"\x14" * 800,
    )


def test_the_opening_has_no_packaged_prompt() -> None:
    lines = VoiceLines()
    assert lines.audio("greeting", "en") is None, "the runtime never says a business name it has no audio of"
    assert lines.audio("still_there", "he") is not None
    lines.load([VoiceLineAudio("greeting", "en", "model", "shimmer", b"\x05")], "en")
    assert lines.audio("greeting", "en") == ("model", b"\x05")


def test_anything_else_is_not() -> None:
    audio = b"\x11" * 4000
    assert said(capture(VoiceLines(), "en"), "silence_goodbye", GOODBYE, audio, completed=False) is None, "cut"
    assert said(capture(VoiceLines(), "en"), "silence_goodbye", "Bye now!", audio) is None, "other words"
    assert said(capture(VoiceLines(), "en"), "user_turn", GOODBYE, audio) is None, "not asked for the line"
    assert said(capture(VoiceLines(), "he"), "silence_goodbye", GOODBYE, audio) is None, "another language"
    too_long = b"\x11" * (MAX_AUDIO_BYTES + 1)
    assert said(capture(VoiceLines(), "en"), "silence_goodbye", GOODBYE, too_long) is None
    assert said(capture(VoiceLines(), "en"), "silence_goodbye", GOODBYE, b"") is None, "no audio"
    known = VoiceLines()
    known.load([VoiceLineAudio("goodbye", "en", "model", "shimmer", b"\x01")], "en")
    assert said(capture(known, "en"), "silence_goodbye", GOODBYE, audio) is None, "the first one stays"
    dropped = capture(VoiceLines(), "en")
    dropped.response_created("resp_1", "silence_goodbye")
    dropped.audio("resp_1", audio)
    dropped.connection_dropped()
    dropped.transcript("resp_1", GOODBYE)
    assert dropped.done("resp_1", True) is None, "cut off by the connection"


def test_an_upload_does_not_stop_the_models_audio_being_kept() -> None:
    uploaded = VoiceLines()
    uploaded.load([VoiceLineAudio("goodbye", "en", "uploaded", "", b"\x01")], "en")
    assert said(capture(uploaded, "en"), "silence_goodbye", GOODBYE, b"\x02" * 8) == ("goodbye", b"\x02" * 8)
    assert uploaded.audio("goodbye", "en") == ("uploaded", b"\x01"), "the upload still wins"


SEPARATORS = st.sampled_from([".", ",", "!", "?", " ", "  ", "\u05be", "\n", ". "])


@given(st.data(), st.booleans())
def test_the_lines_words_match_whatever_the_punctuation_spacing_and_case(data: st.DataObject, upper: bool) -> None:
    words = GOODBYE.replace(".", "").split()
    separators = data.draw(st.lists(SEPARATORS, min_size=len(words) + 1, max_size=len(words) + 1))
    text = separators[0] + "".join(word + separator for word, separator in zip(words, separators[1:], strict=True))
    assert says_line(text.upper() if upper else text, GOODBYE)
    assert not says_line(text.replace(words[-1], ""), GOODBYE), "a word less is not the line"
