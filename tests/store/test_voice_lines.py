"""The runtime's line audio on SQLite and PostgreSQL: the model's kept once per voice, uploads replace,
bounds refused, each business its own; and a business's own models, validated."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store import InvalidSettings, InvalidVoiceLine, Store, StoreError
from store.settings import validate
from store.voice_lines import MAX_AUDIO_BYTES
from tests.support.store import db_url, pg_url, salon, store

__all__ = ["db_url", "pg_url", "store"]  # fixtures used by this module


def by_source(store: Store, business: int, voice: str) -> dict[tuple[str, str, str], bytes]:
    return {(v.line, v.language, v.source): v.audio for v in store.voice_lines(business, voice)}


def test_the_models_audio_is_kept_once_per_voice(store: Store) -> None:
    business = salon(store)
    assert store.keep_model_line(business, "shimmer", "goodbye", "he", b"\x01" * 800)
    assert not store.keep_model_line(business, "shimmer", "goodbye", "he", b"\x02" * 800), "the first one stays"
    assert store.keep_model_line(business, "alloy", "goodbye", "he", b"\x03" * 800), "another voice is another line"
    assert store.keep_model_line(business, "shimmer", "goodbye", "en", b"\x04" * 800), "another language too"
    assert by_source(store, business, "shimmer") == {
        ("goodbye", "he", "model"): b"\x01" * 800,
        ("goodbye", "en", "model"): b"\x04" * 800,
    }
    assert by_source(store, business, "alloy") == {("goodbye", "he", "model"): b"\x03" * 800}


def test_an_upload_serves_every_voice_and_replaces_the_previous_one(store: Store) -> None:
    business, other = salon(store), salon(store, name="other")
    store.upload_voice_line(business, "handoff", "he", b"\x05" * 1600)
    store.upload_voice_line(business, "handoff", "he", b"\x06" * 1600)
    store.keep_model_line(business, "shimmer", "handoff", "he", b"\x07" * 1600)
    assert by_source(store, business, "shimmer") == {
        ("handoff", "he", "uploaded"): b"\x06" * 1600,
        ("handoff", "he", "model"): b"\x07" * 1600,
    }
    assert by_source(store, business, "alloy") == {("handoff", "he", "uploaded"): b"\x06" * 1600}
    assert store.voice_lines(other, "shimmer") == [], "each business its own"
    assert store.remove_voice_line(business, "handoff", "he", "uploaded") == 1
    assert by_source(store, business, "alloy") == {}


def test_bad_line_audio_is_refused_and_nothing_kept(store: Store) -> None:
    business = salon(store)
    with pytest.raises(InvalidVoiceLine, match="at most 20 s"):
        store.upload_voice_line(business, "handoff", "he", b"\x00" * (MAX_AUDIO_BYTES + 1))
    with pytest.raises(InvalidVoiceLine, match="unknown line"):
        store.keep_model_line(business, "shimmer", "farewell", "he", b"\x00" * 10)
    with pytest.raises(InvalidVoiceLine, match="empty"):
        store.upload_voice_line(business, "goodbye", "en", b"")
    with pytest.raises(InvalidVoiceLine, match="language"):
        store.upload_voice_line(business, "goodbye", "fr", b"\x00")
    with pytest.raises(StoreError, match="no business"):
        store.upload_voice_line(999_999, "goodbye", "en", b"\x00")
    assert store.voice_lines(business, "shimmer") == []
    store.upload_voice_line(business, "goodbye", "en", b"\x00" * MAX_AUDIO_BYTES)  # exactly the bound is fine


def test_a_new_name_on_the_phone_forgets_the_models_opening(store: Store) -> None:
    business = salon(store)
    store.keep_model_line(business, "shimmer", "greeting", "en", b"\x01" * 800)
    store.keep_model_line(business, "shimmer", "still_there", "en", b"\x02" * 800)
    store.upload_voice_line(business, "greeting", "en", b"\x03" * 800)
    store.update_business(business, timezone="Asia/Jerusalem")
    assert ("greeting", "en", "model") in by_source(store, business, "shimmer"), "the name did not change"
    store.update_business(business, greeting_name="Dana's")
    assert by_source(store, business, "shimmer") == {
        ("still_there", "en", "model"): b"\x02" * 800,
        ("greeting", "en", "uploaded"): b"\x03" * 800,
    }, "the model said the old name; the business's own recording is theirs to replace"
    store.keep_model_line(business, "shimmer", "greeting", "en", b"\x04" * 800)
    store.update_business(business, name="Dana's Salon and Spa")
    assert ("greeting", "en", "model") in by_source(store, business, "shimmer"), "its name on the phone is Dana's"


def test_a_business_chooses_its_models(store: Store) -> None:
    business = salon(store)
    assert (store.get_business(business).realtime_model, store.get_business(business).transcription_model) == (
        None,
        None,
    )
    store.update_business(business, realtime_model="gpt-realtime-2025-08-28", transcription_model="gpt-4o-transcribe")
    settings = store.get_business(business)
    assert (settings.realtime_model, settings.transcription_model) == ("gpt-realtime-2025-08-28", "gpt-4o-transcribe")
    assert store.stored_settings(business)["realtime_model"] == "gpt-realtime-2025-08-28"
    with pytest.raises(InvalidSettings, match="realtime_model"):
        store.update_business(business, realtime_model="gpt realtime; drop table")
    store.update_business(business, realtime_model="")
    assert store.get_business(business).realtime_model is None, "empty: the server's model again"


@given(st.text(max_size=150))
def test_a_model_name_is_short_plain_text_or_refused(name: str) -> None:
    try:
        cleaned = validate({"realtime_model": name})["realtime_model"]
    except InvalidSettings:
        return
    assert cleaned is None or (
        len(cleaned) <= 100 and cleaned.isascii() and " " not in cleaned and cleaned == name.strip()
    )
