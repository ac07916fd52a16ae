"""The peer's plain parts, without trio: the conversation's ordering and errors, and the audio plan."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callrt.sim.peer_conversation import Item, PeerConversation, item_doc
from callrt.sim.peer_dialect import PeerError
from callrt.sim.peer_response import CHUNK_MS, audio_plan, text_pieces
from callrt.sim.peer_voice import bytes_per_ms, speech_audio


def test_items_go_after_the_named_item_at_the_root_or_at_the_end() -> None:
    conversation = PeerConversation()
    assert conversation.append(Item("a", "user", [])) is None
    assert conversation.append(Item("b", "assistant", [])) == "a"
    assert conversation.insert(Item("r", "system", []), "root") is None
    assert conversation.insert(Item("x", "system", []), "a") == "a"
    assert [item.id for item in conversation.items] == ["r", "a", "x", "b"]


def test_unknown_and_duplicate_ids_get_the_services_errors() -> None:
    conversation = PeerConversation()
    conversation.append(Item("a", "user", []))
    with pytest.raises(PeerError, match="already exists"):
        conversation.insert(Item("a", "user", []), None)
    with pytest.raises(PeerError, match="Previous item with id 'zz' not found"):
        conversation.insert(Item("b", "user", []), "zz")
    with pytest.raises(PeerError, match="Item with id 'zz' not found"):
        conversation.find("zz")
    assert item_doc(conversation.find("a"), "in_progress")["status"] == "in_progress"


@given(st.text(alphabet="אבג abc", min_size=1, max_size=200), st.sampled_from(["g711_ulaw", "pcm16"]))
def test_the_audio_plan_is_the_whole_audio_with_each_piece_once_in_order(text: str, audio_format: str) -> None:
    plan = audio_plan(text, audio_format)
    assert b"".join(chunk for _, chunk in plan) == speech_audio(text, audio_format)
    assert all(len(chunk) <= CHUNK_MS * bytes_per_ms(audio_format) for _, chunk in plan)
    sent = [piece for pieces, _ in plan for piece in pieces]
    assert sent == text_pieces(text)[: len(sent)]
    assert plan[0][0][:1] == text_pieces(text)[:1]  # the transcript starts with the audio, not after it
