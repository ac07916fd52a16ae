"""`callrt nlp extract`: single text, JSON lines with text or history, malformed lines, the real console script."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from callrt.cli.nlp import extract_command

NOW = "2026-11-24T10:00:00+02:00"


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


async def run(text: str | None, stdin: str = "", now: str | None = NOW, tz: str = "Asia/Jerusalem") -> tuple[int, list]:
    out = io.StringIO()
    status = await extract_command(text, now, tz, io.StringIO(stdin), out)
    return status, [json.loads(line) for line in out.getvalue().splitlines()]


async def test_single_text() -> None:
    status, [action] = await run("אני רוצה לקבוע תור למחר בשש בערב, קוראים לי דנה")
    assert status == 0
    assert action == {
        "action": "create_appointment",
        "start": "2026-11-25T18:00:00+02:00",
        "date": "2026-11-25",
        "time": "18:00",
        "name": "דנה",
        "phone": None,
    }


async def test_json_lines_in_order_with_errors_in_place() -> None:
    lines = [
        {"text": "can I come in on Tuesday at 10:30 am? this is Mike", "now": NOW},
        "not json",
        {
            "history": [
                {"role": "user", "text": "I want to book"},
                {"role": "assistant", "text": "What time?"},
                {"role": "user", "text": "six"},
            ],
            "now": NOW,
        },
        {"history": [{"role": "caller", "text": "hi"}]},
        {"text": "what are your hours?"},
        {"text": "tomorrow at 10", "now": "yesterday"},
        {"text": "tomorrow at 10", "tz": "Mars/Olympus"},
        {"text": "tomorrow at 10am", "now": "2026-11-24T05:00:00+02:00", "tz": "America/New_York"},
        [1, 2],
    ]
    stdin = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    status, out = await run(None, stdin)
    assert status == 1
    assert len(out) == len(lines)
    assert (out[0]["action"], out[0]["start"], out[0]["name"]) == (
        "create_appointment",
        "2026-12-01T10:30:00+02:00",
        "Mike",
    )
    assert out[1]["error"].startswith("not JSON")
    assert (out[2]["action"], out[2]["time"], out[2]["date"]) == ("create_appointment", "18:00", None)
    assert "role" in out[3]["error"]
    assert out[4]["action"] == "none"
    assert "ISO 8601" in out[5]["error"]
    assert "time zone" in out[6]["error"]
    assert out[7]["start"] == "2026-11-24T10:00:00-05:00"
    assert "JSON object" in out[8]["error"]


async def test_naive_now_is_read_in_the_business_zone() -> None:
    _, [action] = await run("tomorrow at 9am", now="2026-11-24T23:30:00")
    assert action["start"] == "2026-11-25T09:00:00+02:00"


def test_console_script_is_registered() -> None:
    env = {key: value for key, value in os.environ.items() if key != "OPENAI_API_KEY"}
    result = subprocess.run(
        [sys.executable, "-m", "callrt", "nlp", "extract", "--now", NOW, "--tz", "Asia/Jerusalem", "מחר בשבע ועשרים"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    action = json.loads(result.stdout)
    assert (action["action"], action["start"]) == ("create_appointment", "2026-11-25T19:20:00+02:00")
