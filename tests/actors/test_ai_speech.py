"""AiSpeech without audio: what was forwarded and heard, where to truncate, which words were heard."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors.ai_speech import AiSpeech, heard_part
from actors.codec import ULAW_BYTES_PER_MS


def test_heard_part_cuts_back_to_a_whole_word() -> None:
    text = "one two three four"
    assert heard_part(text, 0, 1000) == ""
    assert heard_part(text, 1000, 1000) == text
    assert heard_part(text, 500, 1000) == "one two"  # cut at 9 falls inside "three"
    assert heard_part(text, 400, 1000) == "one two"  # cut at 7 falls on the space
    assert heard_part("", 500, 1000) == "" and heard_part(text, 500, 0) == ""


@given(st.lists(st.text(alphabet="abc אב", min_size=1, max_size=6), max_size=8), st.integers(0, 2000))
def test_heard_part_is_whole_words_from_the_start_and_never_more_than_heard(words: list[str], heard: int) -> None:
    text = " ".join(words)
    part = heard_part(text, heard, 1000)
    assert text.startswith(part) or text.strip().startswith(part)
    if heard < 1000:
        assert len(part) <= len(text) * heard // 1000
    if part and len(part) < len(text.strip()):
        assert text[text.index(part) + len(part)].isspace()


def test_a_barge_in_truncates_at_what_was_heard_never_beyond_what_was_forwarded() -> None:
    speech = AiSpeech()
    speech.forwarded("item_1", 300 * ULAW_BYTES_PER_MS)
    speech.forwarded("item_1", 200 * ULAW_BYTES_PER_MS)
    assert speech.sent_ms("item_1") == 500
    assert speech.barge_in_cut("item_1", 900) == 500
    assert speech.barge_in_cut("item_1", 120) == 120
    assert speech.barge_in_cut("item_never_sent", 100) is None
    assert speech.barge_in_cut("", 100) is None


def test_a_false_claim_is_truncated_once_on_the_audio_actors_answer() -> None:
    speech = AiSpeech()
    speech.forwarded("item_1", 800 * ULAW_BYTES_PER_MS)
    speech.playout_finished("item_1", 650)
    assert speech.playout_stopped("item_1", 100) is None  # no stop was asked for it
    speech.truncate_when_stopped("item_1")
    speech.truncate_when_stopped("item_unsent")
    assert speech.playout_stopped("item_1", 100) == 650  # the finished playout reported more
    assert speech.playout_stopped("item_1", 100) is None
    assert speech.playout_stopped("item_unsent", 0) is None


def test_a_lost_playout_is_what_was_neither_finished_nor_cut_and_only_a_claim_is_not_said_again() -> None:
    speech = AiSpeech()
    for item in ("heard", "barged", "claim", "lost", "untaken"):
        speech.forwarded(item, 400 * ULAW_BYTES_PER_MS)
    speech.playout_finished("heard", 400)
    speech.barge_in_cut("barged", 150)
    speech.truncate_when_stopped("claim")
    taken = frozenset({"heard", "barged", "claim", "lost"})  # "untaken": the new AudioActor plays it whole
    assert speech.playout_lost(taken) == (["claim"], True)
    assert speech.playout_stopped("claim", 200) is None  # the stop was answered by the loss
    assert speech.playout_lost(taken) == ([], False)  # the lost items now count as cut at 0 ms
    assert speech.playout_lost(frozenset({"untaken"})) == ([], True)
    speech.transcript_delta("resp_lost", "one two")
    assert speech.heard_of("resp_lost", "lost", "one two") == ""


def test_only_a_lost_false_claim_is_not_said_again() -> None:
    speech = AiSpeech()
    speech.forwarded("claim", 400 * ULAW_BYTES_PER_MS)
    speech.truncate_when_stopped("claim")
    assert speech.playout_lost(frozenset({"claim"})) == (["claim"], False)


def test_the_heard_words_of_an_interrupted_reply_come_from_its_streamed_transcript() -> None:
    speech = AiSpeech()
    assert speech.transcript_delta("resp_1", "one two ") == ("one two ", 0)
    assert speech.transcript_delta("resp_1", "three four") == ("one two three four", 8)
    speech.forwarded("item_1", 1000 * ULAW_BYTES_PER_MS)
    assert speech.heard_of("resp_1", "item_1", "ignored") == "one two three four"  # no cut: all of it
    speech.barge_in_cut("item_1", 500)
    assert speech.heard_of("resp_1", "item_1", "ignored") == "one two"
    assert speech.heard_of("resp_2", "item_1", "five six seven eight") == "five six"
