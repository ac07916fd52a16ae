"""`callrt business …`, `callrt admin create-user` and `callrt serve` on an empty database, as a user
runs them: one-line errors, nothing saved on an error, passwords hashed and never printed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from callrt import cli
from callrt.console.passwords import verify
from store import Store


def callrt(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callrt", *argv], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_registered_in_the_cli() -> None:
    assert {"business", "admin"} <= set(cli.COMMANDS)


def test_serve_on_an_empty_database_says_how_to_create_a_business(db: str) -> None:
    result = callrt("serve", "--db", db, "--port", "0")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "callrt serve: no business in the database: create one with `callrt business create --name NAME`"
    ]


def test_create_set_show_list(db: str, tmp_path: Path) -> None:
    assert callrt("business", "--db", db, "create", "--name", "Salon", "--phone", "+97231234567").stdout == "1\n"
    hours = tmp_path / "hours.json"
    hours.write_text(json.dumps({"opening_hours": {"sun": [["10:00", "18:00"]]}, "special_days": {"2026-12-24": []}}))
    changed = callrt(
        "business", "--db", db, "set", "1", "--hours-file", str(hours), "--closed-date", "2026-12-25",
        "--special-date", "2026-12-31=09:00-13:00", "--slot-min", "20", "--language", "en",
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    shown = json.loads(callrt("business", "--db", db, "show", "1").stdout)
    assert shown["special_days"] == {"2026-12-24": [], "2026-12-25": [], "2026-12-31": ["09:00-13:00"]}
    assert (shown["slot_size_min"], shown["language"], shown["problem"]) == (20, "en", None)
    assert callrt("business", "--db", db, "list").stdout == "1\tSalon\ten\tAsia/Jerusalem\t+97231234567\n"


def test_a_bad_value_is_one_line_and_saves_nothing(db: str) -> None:
    callrt("business", "--db", db, "create", "--name", "Salon")
    refused = callrt("business", "--db", db, "set", "1", "--capacity", "0", "--closed-date", "2026-02-30")
    assert refused.returncode == 1
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "capacity" in refused.stderr and "special_days" in refused.stderr
    store = Store(db)
    try:
        assert store.get_business(1).capacity == 1 and store.get_business(1).special_days == {}
    finally:
        store.dispose()


def test_admin_create_user_hashes_the_password_from_stdin(db: str) -> None:
    callrt("business", "--db", db, "create", "--name", "Salon")
    created = callrt("admin", "--db", db, "create-user", "dana", "--business", "1", stdin="dana-secret-pw\n")
    assert created.returncode == 0, created.stderr
    assert "dana-secret-pw" not in created.stdout + created.stderr
    short = callrt("admin", "--db", db, "create-user", "noa", stdin="short\n")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    store = Store(db)
    try:
        user = store.console_user("dana")
        assert user is not None and user.business_id == 1
        assert user.password_hash.startswith("$argon2id$") and verify(user.password_hash, "dana-secret-pw")
        assert store.console_user("noa") is None
    finally:
        store.dispose()


def _wav(path: Path, *, encoding: int, bits: int, rate: int, channels: int, frames: bytes) -> Path:
    """A RIFF/WAVE file written byte by byte (the stdlib's `wave` writes PCM only)."""
    import struct

    fmt = struct.pack("<HHIIHH", encoding, channels, rate, rate * channels * bits // 8, channels * bits // 8, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(frames)) + frames
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def _stored_lines(db: str, business: int) -> dict[tuple[str, str, str], bytes]:
    store = Store(db)
    try:
        return {(v.line, v.language, v.source): v.audio for v in store.voice_lines(business, "shimmer")}
    finally:
        store.dispose()


def test_voice_line_upload_takes_wav_and_ulaw_and_refuses_anything_else_in_one_line(db: str, tmp_path: Path) -> None:
    import numpy as np

    from actors.codec import pcm16_to_ulaw

    callrt("business", "--db", db, "create", "--name", "Salon")
    tone = (np.sin(np.arange(8000) / 8000 * 2 * np.pi * 440) * 8000).astype("<i2")
    pcm = _wav(tmp_path / "handoff.wav", encoding=1, bits=16, rate=8000, channels=1, frames=tone.tobytes())
    uploaded = callrt(
        "business", "--db", db, "voice-line", "upload", "1", "--line", "handoff", "--language", "he", str(pcm)
    )
    assert uploaded.returncode == 0, uploaded.stderr
    assert uploaded.stdout == "business 1: handoff (he) recorded, 1.0 s\n"
    mulaw = bytes(range(256)) * 20
    ulaw_wav = _wav(tmp_path / "goodbye.wav", encoding=7, bits=8, rate=8000, channels=1, frames=mulaw)
    assert (
        callrt(
            "business", "--db", db, "voice-line", "upload", "1", "--line", "goodbye", "--language", "he", str(ulaw_wav)
        ).returncode
        == 0
    )
    raw = tmp_path / "goodbye.ulaw"
    raw.write_bytes(mulaw[:4000])
    assert (
        callrt(
            "business", "--db", db, "voice-line", "upload", "1", "--line", "goodbye", "--language", "en", str(raw)
        ).returncode
        == 0
    )
    assert _stored_lines(db, 1) == {
        ("handoff", "he", "uploaded"): pcm16_to_ulaw(tone),
        ("goodbye", "he", "uploaded"): mulaw,
        ("goodbye", "en", "uploaded"): mulaw[:4000],
    }

    stereo = _wav(tmp_path / "stereo.wav", encoding=1, bits=16, rate=44100, channels=2, frames=b"\x00" * 400)
    text = tmp_path / "notes.txt"
    text.write_text("not audio")
    too_long = tmp_path / "long.ulaw"
    too_long.write_bytes(b"\xff" * 8000 * 21)
    for bad, says in ((stereo, "44100 Hz, 2 channel(s)"), (text, "not a WAV file"), (too_long, "at most 20 s")):
        refused = callrt(
            "business", "--db", db, "voice-line", "upload", "1", "--line", "handoff", "--language", "he", str(bad)
        )
        assert refused.returncode == 1
        assert len(refused.stderr.strip().splitlines()) == 1 and says in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    assert _stored_lines(db, 1)[("handoff", "he", "uploaded")] == pcm16_to_ulaw(tone), "nothing replaced"

    removed = callrt("business", "--db", db, "voice-line", "remove", "1", "--line", "goodbye", "--language", "en")
    assert removed.returncode == 0 and ("goodbye", "en", "uploaded") not in _stored_lines(db, 1)


def test_set_a_business_model_validated(db: str) -> None:
    callrt("business", "--db", db, "create", "--name", "Salon")
    changed = callrt(
        "business",
        "--db",
        db,
        "set",
        "1",
        "--realtime-model",
        "gpt-realtime",
        "--transcription-model",
        "gpt-4o-transcribe",
    )
    assert changed.returncode == 0, changed.stderr
    shown = json.loads(callrt("business", "--db", db, "show", "1").stdout)
    assert (shown["realtime_model"], shown["transcription_model"]) == ("gpt-realtime", "gpt-4o-transcribe")
    refused = callrt("business", "--db", db, "set", "1", "--realtime-model", "gpt realtime")
    assert (
        refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1 and "realtime_model" in refused.stderr
    )
    assert callrt("business", "--db", db, "set", "1", "--realtime-model", "").returncode == 0
    assert json.loads(callrt("business", "--db", db, "show", "1").stdout)["realtime_model"] is None
