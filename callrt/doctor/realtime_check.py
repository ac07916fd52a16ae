"""The Realtime checks: a session configured exactly as calls configure it, and one short spoken sentence.

`session_configured`: the service echoes our `session.update` (mu-law both ways, our transcription model
and voice, no tools). `spoken_sentence`: asked for one short sentence, audio and its transcript arrive.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import trio

from actors import realtime_protocol as rp
from actors.config import CallConfig
from actors.defaults import Dialect, Language
from actors.ports import ModelClosed, ModelConnection, ModelConnector
from callrt.doctor.verdict import Verdict

ANSWER_TIMEOUT_S = 15.0
SENTENCE = {"en": "Say exactly: Thank you for calling.", "he": "אמרי בדיוק: תודה שהתקשרת."}


async def check_realtime(
    connector: ModelConnector, dialect: Dialect, config: CallConfig, instructions: str, language: Language
) -> list[Verdict]:
    started = trio.current_time()
    try:
        conn = await connector.connect()
    except ModelClosed as exc:
        return [Verdict("realtime_connect", False, str(exc)[:300], _ms(started))]
    verdicts = [Verdict("realtime_connect", True, f"connected ({dialect})", _ms(started))]
    try:
        update = rp.session_update(dialect, config, instructions, language)
        started = trio.current_time()
        await conn.send({**update, "event_id": "doctor_session"})
        answer = await _until(conn, ("session.updated", "error"))
        verdicts.append(_session_verdict(dialect, config, answer, _ms(started)))
        if verdicts[-1].ok:
            verdicts.append(await _spoken_sentence(conn, dialect, language))
    except (ModelClosed, trio.TooSlowError) as exc:
        verdicts.append(Verdict("session_configured", False, f"no answer: {type(exc).__name__} {exc}"[:300]))
    finally:
        await conn.aclose()
    return verdicts


async def _until(conn: ModelConnection, types: tuple[str, ...]) -> dict[str, Any]:
    with trio.fail_after(ANSWER_TIMEOUT_S):
        while True:
            event = await conn.receive()
            if event.get("type") in types:
                return event


def _session_verdict(dialect: Dialect, config: CallConfig, answer: Mapping[str, Any], ms: float) -> Verdict:
    if answer.get("type") == "error":
        error = answer.get("error") or {}
        return Verdict(
            "session_configured",
            False,
            f"refused: {error.get('code')} {error.get('param')}: {str(error.get('message'))[:200]}",
            ms,
        )
    session = answer.get("session") or {}
    seen = _echo(dialect, session)
    wanted: dict[str, Any] = {
        "input format": "g711_ulaw" if dialect == "beta" else "audio/pcmu",
        "output format": "g711_ulaw" if dialect == "beta" else "audio/pcmu",
        "transcription model": config.transcription_model,
        "voice": config.voice,
        "tools": [],
    }
    wrong = [
        f"{name} {seen.get(name)!r} (wanted {value!r})" for name, value in wanted.items() if seen.get(name) != value
    ]
    if wrong:
        return Verdict("session_configured", False, "echo differs: " + "; ".join(wrong), ms)
    return Verdict(
        "session_configured",
        True,
        f"echoed: mu-law both ways, transcription {config.transcription_model}, voice {config.voice}, no tools",
        ms,
    )


def _echo(dialect: Dialect, session: Mapping[str, Any]) -> dict[str, Any]:
    if dialect == "beta":
        transcription = session.get("input_audio_transcription") or {}
        return {
            "input format": session.get("input_audio_format"),
            "output format": session.get("output_audio_format"),
            "transcription model": transcription.get("model"),
            "voice": session.get("voice"),
            "tools": session.get("tools") or [],
        }
    audio = session.get("audio") or {}
    audio_in, audio_out = audio.get("input") or {}, audio.get("output") or {}
    return {
        "input format": (audio_in.get("format") or {}).get("type"),
        "output format": (audio_out.get("format") or {}).get("type"),
        "transcription model": (audio_in.get("transcription") or {}).get("model"),
        "voice": audio_out.get("voice"),
        "tools": session.get("tools") or [],
    }


async def _spoken_sentence(conn: ModelConnection, dialect: Dialect, language: Language) -> Verdict:
    started = trio.current_time()
    await conn.send({**rp.text_item(dialect, "user", SENTENCE[language]), "event_id": "doctor_item"})
    await conn.send({**rp.response_create(), "event_id": "doctor_response"})
    audio_bytes, first_audio_ms, transcript = 0, None, ""
    with trio.move_on_after(ANSWER_TIMEOUT_S):
        while True:
            event = rp.parse_server_event(dialect, await conn.receive())
            if isinstance(event, rp.AudioDelta):
                audio_bytes += len(event.audio)
                first_audio_ms = first_audio_ms if first_audio_ms is not None else _ms(started)
            elif isinstance(event, rp.TranscriptDone):
                transcript = event.transcript
            elif isinstance(event, rp.Error):
                return Verdict("spoken_sentence", False, f"error {event.code}: {event.message[:200]}", _ms(started))
            elif isinstance(event, rp.ResponseDone):
                break
    if not audio_bytes or not transcript.strip():
        what = "no audio" if not audio_bytes else "no transcript"
        return Verdict("spoken_sentence", False, f"{what} within {ANSWER_TIMEOUT_S:g} s", _ms(started))
    seconds = audio_bytes / 8000
    return Verdict(
        "spoken_sentence", True, f"{seconds:.1f} s of audio, transcript {transcript.strip()[:80]!r}", first_audio_ms
    )


def _ms(since: float) -> float:
    return (trio.current_time() - since) * 1000.0
