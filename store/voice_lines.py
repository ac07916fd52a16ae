"""The audio of the runtime's own lines, per business: what the runtime plays when the model cannot speak.

A business may upload its own recording of a line (source `uploaded`, any voice); otherwise the runtime
keeps what the model said the first time it spoke the line for the business in a voice (source `model`,
kept once: the first one stays). Audio is mu-law 8 kHz mono without a header, at most `MAX_AUDIO_MS`.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .errors import CallrtError, StoreError
from .models import Business, VoiceLine
from .records import VoiceLineAudio
from .settings import LANGUAGES

LINES = ("greeting", "still_there", "handoff", "goodbye")
"""The lines a business can have audio for (actors/runtime_lines.py says what each one says)."""
NAMED_LINES = ("greeting",)
"""Lines that say the business's name on the phone: the model's audio of them is forgotten when it changes."""
SOURCES = ("uploaded", "model")
ANY_VOICE = ""
"""The voice of an uploaded recording: it is the business's own, whatever voice the model speaks in."""
BYTES_PER_MS = 8
MAX_AUDIO_MS = 20_000
"""A runtime line is a sentence or two: longer audio is refused (an upload) or not kept (the model's)."""
MAX_AUDIO_BYTES = MAX_AUDIO_MS * BYTES_PER_MS
VOICE_LIMIT = 64


class InvalidVoiceLine(CallrtError, ValueError):
    """Line audio the store does not keep: the message says why."""


def check(line: str, language: str, audio: bytes, voice: str = ANY_VOICE) -> None:
    """Raises `InvalidVoiceLine` for an unknown line or language, empty or too long audio, a too long voice."""
    if line not in LINES:
        raise InvalidVoiceLine(f"unknown line {line!r} (one of {', '.join(LINES)})")
    if language not in LANGUAGES:
        raise InvalidVoiceLine(f"language must be {' or '.join(LANGUAGES)}, got {language!r}")
    if not audio:
        raise InvalidVoiceLine("the audio is empty")
    if len(audio) > MAX_AUDIO_BYTES:
        seconds = len(audio) / BYTES_PER_MS / 1000
        raise InvalidVoiceLine(f"the audio lasts {seconds:.1f} s; a line may last at most {MAX_AUDIO_MS // 1000} s")
    if len(voice) > VOICE_LIMIT:
        raise InvalidVoiceLine(f"a voice name has at most {VOICE_LIMIT} characters")


def lines_of(session: Session, business_id: int, voice: str) -> list[VoiceLineAudio]:
    """The business's line audio usable in `voice`: its uploads and what the model said in that voice."""
    rows = session.scalars(
        sa.select(VoiceLine).where(VoiceLine.business_id == business_id, VoiceLine.voice.in_((voice, ANY_VOICE)))
    )
    return [VoiceLineAudio(row.line, row.language, row.source, row.voice, row.audio) for row in rows]


def keep_model_line(
    session: Session, business_id: int, voice: str, line: str, language: str, audio: bytes, at: dt.datetime
) -> bool:
    """Keep what the model said, unless the business has the line in this voice already; whether it was kept."""
    check(line, language, audio, voice)
    _business(session, business_id)
    key = (business_id, line, language, "model", voice)
    if session.get(VoiceLine, key) is not None:
        return False
    session.add(_row(key, audio, at))
    session.flush()
    return True


def upload(session: Session, business_id: int, line: str, language: str, audio: bytes, at: dt.datetime) -> None:
    """The business's own recording of a line, replacing its previous one."""
    check(line, language, audio)
    _business(session, business_id)
    key = (business_id, line, language, "uploaded", ANY_VOICE)
    existing = session.get(VoiceLine, key)
    if existing is not None:
        session.delete(existing)
        session.flush()
    session.add(_row(key, audio, at))
    session.flush()


def remove(session: Session, business_id: int, line: str, language: str, source: str) -> int:
    """Forget a line's audio of this source (every voice); how many were removed."""
    if source not in SOURCES:
        raise InvalidVoiceLine(f"source must be {' or '.join(SOURCES)}, got {source!r}")
    result = session.execute(
        sa.delete(VoiceLine).where(
            VoiceLine.business_id == business_id,
            VoiceLine.line == line,
            VoiceLine.language == language,
            VoiceLine.source == source,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def forget_named_lines(session: Session, business_id: int) -> None:
    """The business's name on the phone changed: what the model said with the old name no longer stands for
    the line (a business's own upload stays: it is theirs to replace)."""
    session.execute(
        sa.delete(VoiceLine).where(
            VoiceLine.business_id == business_id, VoiceLine.line.in_(NAMED_LINES), VoiceLine.source == "model"
        )
    )


def _business(session: Session, business_id: int) -> None:
    if session.get(Business, business_id) is None:
        raise StoreError(f"no business with id {business_id}")


def _row(key: tuple[int, str, str, str, str], audio: bytes, at: dt.datetime) -> VoiceLine:
    business_id, line, language, source, voice = key
    return VoiceLine(
        business_id=business_id, line=line, language=language, source=source, voice=voice, audio=audio, created_at=at
    )
