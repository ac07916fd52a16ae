"""TurnBook without a store: placeholders, late transcriptions in place, re-sends, and what a restart owes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors.messages import HistoryTurn
from actors.realtime_protocol import TurnRole
from actors.turn_book import MAX_UNCOMMITTED_BYTES, CallerWords, TurnBook


class Writes:
    """The TurnSink: what the book queued for the store, in order."""

    def __init__(self) -> None:
        self.queued: list[tuple[str, int, str]] = []

    def append(self, key: int, role: TurnRole, text: str) -> None:
        self.queued.append(("append", key, f"{role}:{text}"))

    def fill(self, key: int, text: str) -> None:
        self.queued.append(("fill", key, text))


def make() -> tuple[TurnBook, Writes]:
    writes = Writes()
    return TurnBook(writes), writes


def test_an_utterance_is_stored_as_a_placeholder_and_filled_where_it_was_spoken() -> None:
    book, writes = make()
    book.add("assistant", "שלום")
    book.caller_audio(b"\x01" * 800)
    assert book.commit()
    book.add("assistant", "an answer before the transcript")
    book.committed("item_u1")
    assert book.last_user_turn_id == "item_u1"
    words = book.transcribed("item_u1", "  אני רוצה תור  ")
    assert words == CallerWords("אני רוצה תור", (HistoryTurn("assistant", "שלום"), HistoryTurn("user", "אני רוצה תור")))
    assert [(t.role, t.text) for t in book.turns] == [
        ("assistant", "שלום"),
        ("user", "אני רוצה תור"),
        ("assistant", "an answer before the transcript"),
    ]
    assert writes.queued == [
        ("append", 0, "assistant:שלום"),
        ("append", 1, "user:"),
        ("append", 2, "assistant:an answer before the transcript"),
        ("fill", 1, "אני רוצה תור"),
    ]


def test_nothing_to_commit_is_no_utterance() -> None:
    book, writes = make()
    assert not book.commit()
    book.caller_audio(b"\x01" * 80)
    book.discard_uncommitted()
    assert not book.commit()
    assert writes.queued == []


def test_a_repeated_or_empty_transcription() -> None:
    book, _ = make()
    book.caller_audio(b"\x01" * 80)
    book.commit()
    book.committed("item_u1")
    assert book.transcribed("item_u1", "   ") == CallerWords("", ())
    assert book.transcribed("item_u1", "again") is None
    assert book.turns == [HistoryTurn("user", "")]  # the placeholder stays empty


def test_a_commit_the_servers_vad_made_gets_a_placeholder_of_its_own() -> None:
    book, writes = make()
    book.committed("item_vad")
    assert writes.queued == [("append", 0, "user:")]
    book.committed("item_vad")  # acknowledged twice: still one placeholder
    assert len(book.turns) == 1
    assert book.to_resend() == []  # no audio of ours to re-send


def test_a_new_session_re_sends_untranscribed_speech_in_order_with_new_items() -> None:
    book, _ = make()
    for audio in (b"\x01" * 80, b"\x02" * 80, b"\x03" * 80):
        book.caller_audio(audio)
        book.commit()
    for item in ("item_a", "item_b", "item_c"):
        book.committed(item)
    book.transcribed("item_b", "the middle one")
    book.transcription_failed("item_c")
    resend = book.to_resend()
    assert [u.audio for u in resend] == [b"\x01" * 80]
    assert all(u.item_id is None for u in resend)
    book.committed("item_new")
    assert book.transcribed("item_new", "the first one") is not None
    assert [t.text for t in book.turns] == ["the first one", "the middle one", ""]


def test_uncommitted_audio_keeps_only_the_newest_30_seconds() -> None:
    book, _ = make()
    book.caller_audio(b"\x01" * MAX_UNCOMMITTED_BYTES)
    book.caller_audio(b"\x02" * 10)
    assert len(book.uncommitted) == MAX_UNCOMMITTED_BYTES
    assert book.uncommitted.endswith(b"\x02" * 10) and book.uncommitted[0] == 1


def restored(*turns: tuple[str, str]) -> TurnBook:
    book, _ = make()
    book.restore(turns)
    return book


def test_a_restart_owes_a_repeat_for_lost_speech_once_and_an_answer_to_an_unanswered_turn() -> None:
    assert restored(("assistant", "hi"), ("user", "")).owed_response() == "caller_unheard"
    unheard = "[SERVER] caller_unheard ask again"
    assert restored(("assistant", "hi"), ("user", ""), ("server", unheard)).owed_response() == "resume"
    assert restored(("assistant", "hi"), ("user", "a time please")).owed_response() == "resume"
    assert restored(("assistant", "hi"), ("user", "x"), ("assistant", "sure")).owed_response() is None
    assert restored().owed_response() is None


def test_a_restart_reads_the_greeting_and_an_unanswered_goodbye_from_the_turns() -> None:
    assert restored().take_greeting()
    assert not restored(("assistant", "hi")).take_greeting()
    assert not restored(("server", "[SERVER] outside_hours")).take_greeting()
    book = restored()
    assert book.take_greeting() and not book.take_greeting()
    goodbye = ("server", "[SERVER] silence_goodbye say goodbye")
    assert restored(("assistant", "hi"), goodbye, ("assistant", "bye")).goodbye_unanswered()
    assert not restored(goodbye, ("user", "I am here")).goodbye_unanswered()
    assert restored(("user", "?"), goodbye).note_kinds() == [None, "silence_goodbye"]
    assert restored(("robot", "ignored"), ("user", "kept")).turns == [HistoryTurn("user", "kept")]


@given(st.integers(min_value=1, max_value=6).flatmap(lambda n: st.permutations(range(n))))
def test_transcriptions_in_any_order_land_where_the_caller_spoke(order: list[int]) -> None:
    book, _ = make()
    for n in range(len(order)):
        book.caller_audio(bytes([n + 1]) * 8)
        book.commit()
        book.add("assistant", f"answer {n}")
    for n in range(len(order)):
        book.committed(f"item_{n}")
    for n in order:
        words = book.transcribed(f"item_{n}", f"words {n}")
        assert words is not None and words.history[-1] == HistoryTurn("user", f"words {n}")
        assert all(turn.text for turn in words.history)
    assert [t.text for t in book.turns] == [text for n in range(len(order)) for text in (f"words {n}", f"answer {n}")]
