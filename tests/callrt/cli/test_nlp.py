"""`callrt nlp extract`: single text, JSON lines with text or history, malformed lines, the real console script."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from callrt.cli.nlp import eval_command, extract_command
from tests.support.fake_openai import serve_fake_openai

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


# -- callrt nlp eval --------------------------------------------------------------------------------

LABELLED = [
    {"id": "he-1", "category": "offer", "split": "test", "expect": {"action": "create_appointment",
     "date": "2026-11-25", "time": "17:00", "name": None, "phone": None},
     "history": [{"role": "user", "text": "אני רוצה תור למחר"}, {"role": "assistant", "text": "מה דעתך על 17:00?"},
                 {"role": "user", "text": "כן מתאים"}]},
    {"id": "en-1", "category": "spoken", "split": "dev", "text": "can i come tomorrow at quarter to five",
     "expect": {"action": "create_appointment", "date": "2026-11-25", "time": "16:45"}},
    {"id": "en-2", "category": "spoken", "text": "book me friday at noon", "now": "2026-11-24T10:00:00",
     "expect": {"action": "create_appointment", "date": "2026-11-27", "time": "13:00"}},  # a wrong label: a miss
]  # fmt: skip


def write_cases(path: Path, cases: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(case, ensure_ascii=False) for case in cases) + "\n", encoding="utf-8")
    return path


async def evaluate(files: list[Path], llm: bool = False, split: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = await eval_command(files, llm, split, NOW, "Asia/Jerusalem", out, err)
    return status, out.getvalue(), err.getvalue()


async def test_eval_prints_accuracy_per_category_and_each_miss(tmp_path: Path) -> None:
    status, out, err = await evaluate([write_cases(tmp_path / "set.jsonl", LABELLED)])
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[:2] == ["rules on 3 cases", "overall: 2/3 = 0.667"]
    assert "  multi-turn: 1/1 = 1.000" in lines and "  English: 1/2 = 0.500" in lines
    assert "  category offer: 1/1 = 1.000" in lines and "  category spoken: 1/2 = 0.500" in lines
    miss = lines.index("MISS en-2: u: book me friday at noon")
    assert lines[miss + 1] == "    time: got '12:00', expected '13:00'"
    status, out, _ = await evaluate([tmp_path / "set.jsonl"], split="test")
    assert out.splitlines()[:2] == ["rules on 1 cases (test part)", "overall: 1/1 = 1.000"]


async def test_eval_rejects_an_unreadable_case_with_its_line(tmp_path: Path) -> None:
    bad = write_cases(tmp_path / "bad.jsonl", [LABELLED[1], {"text": "hi", "expect": {"action": "book"}}])
    status, out, err = await evaluate([bad])
    assert status == 1 and out == ""
    assert err.startswith("callrt nlp eval: bad.jsonl:2: unknown action")
    no_expect = write_cases(tmp_path / "no_expect.jsonl", [{"text": "hi"}])
    assert "expect" in (await evaluate([no_expect]))[2]


async def test_eval_llm_without_a_key_is_a_one_line_error(tmp_path: Path) -> None:
    status, out, err = await evaluate([write_cases(tmp_path / "set.jsonl", LABELLED)], llm=True)
    assert (status, out) == (2, "")
    assert err == "callrt nlp eval --llm: OPENAI_API_KEY is not set\n"


async def test_eval_llm_scores_the_model_and_counts_fallbacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with serve_fake_openai() as (server, base_url):
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_BASE_URL", base_url)
        first = {"action": "create_appointment", "date": "2026-11-25", "time": "17:00", "name": None, "phone": None}
        # The second case's answers are invalid twice, so the rules answer it (rightly); the model misses the third.
        server.script = [json.dumps(first), "not json", "{}", json.dumps({**first, "date": "2026-11-27"})]
        status, out, err = await evaluate([write_cases(tmp_path / "set.jsonl", LABELLED)], llm=True)
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[:2] == ["gpt-4o-mini on 3 cases", "overall: 2/3 = 0.667"]
    assert "MISS en-2: u: book me friday at noon" in lines
    assert lines[-1] == "answers from the rule fallback (the model failed twice): 1"
    assert len(server.requests) == 4 and all(body["model"] == "gpt-4o-mini" for body in server.requests)


def test_eval_console_script(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "OPENAI_API_KEY"}
    path = write_cases(tmp_path / "set.jsonl", LABELLED)
    result = subprocess.run(
        [sys.executable, "-m", "callrt", "nlp", "eval", str(path), "--now", NOW],
        capture_output=True, text=True, env=env, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "overall: 2/3 = 0.667" in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "callrt", "nlp", "eval", str(path), "--llm"],
        capture_output=True, text=True, env=env, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and result.stderr.count("\n") == 1
