"""LlmExtractor against a real fake OpenAI HTTP server on loopback (Starlette on hypercorn's trio worker).

The SDK is not mocked: requests go through AsyncOpenAI and httpx over a socket. Real clock,
with 1-second timeouts (the fake server hangs instead of sleeping): 0.3 s was once exceeded by an
answered request while the whole suite ran, and the test then failed for the wrong reason.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import openai
import pytest
import trio

from actors.appointment_nlp import Action, RuleExtractor
from actors.messages import HistoryTurn
from callrt.model.llm_extractor import LlmExtractor
from tests.support.fake_openai import FakeOpenAI, serve_fake_openai

TZ = "Asia/Jerusalem"
NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo(TZ))  # a Tuesday
TIMEOUT_S = 1.0
HISTORY = (
    HistoryTurn("user", "אני רוצה לקבוע תור למחר בשש בערב, קוראים לי דנה"),
    HistoryTurn("server", "[SERVER] slot_unavailable start=2026-11-25T18:00+02:00"),
    HistoryTurn("assistant", "בשש תפוס, אפשר בשבע?"),
    HistoryTurn("user", "כן, בשבע"),
)
RULES_ANSWER = RuleExtractor().extract_sync(HISTORY, NOW, TZ)


def answer(**fields: Any) -> str:
    base = {"action": "create_appointment", "date": "2026-11-25", "time": "19:00", "name": "דנה", "phone": None}
    return json.dumps({**base, **fields}, ensure_ascii=False)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeOpenAI, openai.AsyncOpenAI]]:
    async with serve_fake_openai() as (server, base_url):
        client = openai.AsyncOpenAI(api_key="sk-test", base_url=base_url)
        yield server, client
        await client.close()


def extractor(client: openai.AsyncOpenAI) -> LlmExtractor:
    return LlmExtractor(client, RuleExtractor(), timeout_s=TIMEOUT_S)


async def test_happy_path_sends_schema_prompt_and_temperature(fake: tuple[FakeOpenAI, openai.AsyncOpenAI]) -> None:
    server, client = fake
    server.script = [answer(name="Dana from the LLM")]
    action = await extractor(client).extract(HISTORY, NOW, TZ)
    assert action == Action.build("create_appointment", dt.date(2026, 11, 25), dt.time(19, 0), TZ, "Dana from the LLM")
    assert action.to_json()["start"] == "2026-11-25T19:00:00+02:00"
    [body] = server.requests
    assert body["model"] == "gpt-4o-mini"
    assert body["temperature"] == 0.2
    assert body["response_format"]["type"] == "json_schema"
    schema = body["response_format"]["json_schema"]
    assert schema["strict"] is True and schema["schema"]["required"] == ["action", "date", "time", "name", "phone"]
    system, user = body["messages"]
    assert "Today is Tuesday, 2026-11-24; the local time is 10:00 (Asia/Jerusalem)" in system["content"]
    assert user["content"].splitlines() == [
        "caller: אני רוצה לקבוע תור למחר בשש בערב, קוראים לי דנה",
        "[SERVER] slot_unavailable start=2026-11-25T18:00+02:00",
        "assistant: בשש תפוס, אפשר בשבע?",
        "caller: כן, בשבע",
    ]


async def test_timeout_twice_falls_back_to_the_rules(
    fake: tuple[FakeOpenAI, openai.AsyncOpenAI], caplog: pytest.LogCaptureFixture
) -> None:
    server, client = fake
    server.script = ["HANG", "HANG"]
    started = trio.current_time()
    with caplog.at_level(logging.WARNING, logger="callrt.nlp"):
        action = await extractor(client).extract(HISTORY, NOW, TZ)
    assert action == RULES_ANSWER
    assert len(server.requests) == 2
    assert trio.current_time() - started < 2 * TIMEOUT_S + 0.5
    assert "timeout after 1 s; timeout after 1 s" in caplog.text


async def test_one_timeout_then_the_retry_answers(fake: tuple[FakeOpenAI, openai.AsyncOpenAI]) -> None:
    server, client = fake
    server.script = ["HANG", answer(time="19:30")]
    action = await extractor(client).extract(HISTORY, NOW, TZ)
    assert action.time == dt.time(19, 30)
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("this is not json {", "invalid answer: Expecting value"),
        (answer(date="2026-11-20"), "date 2026-11-20 is in the past"),
        (answer(date="2026-11-24", time="09:00"), "start 2026-11-24T09:00:00+02:00 is in the past"),
        (answer(date="2026-02-30"), "invalid date"),
        (answer(time="25:00"), "invalid time"),
        (answer(action="book_it"), "unknown action"),
        (json.dumps({"action": "none"}), "not the schema's fields"),
        (answer(start="2026-11-25T19:00:00+02:00"), "not the schema's fields"),
    ],
)
async def test_invalid_answers_fall_back_to_the_rules(
    fake: tuple[FakeOpenAI, openai.AsyncOpenAI], caplog: pytest.LogCaptureFixture, bad: str, reason: str
) -> None:
    server, client = fake
    server.script = [bad, bad]
    with caplog.at_level(logging.WARNING, logger="callrt.nlp"):
        action = await extractor(client).extract(HISTORY, NOW, TZ)
    assert action == RULES_ANSWER
    assert len(server.requests) == 2
    assert reason in caplog.text and "using the rule extractor" in caplog.text


async def test_invalid_then_valid_uses_the_retry(fake: tuple[FakeOpenAI, openai.AsyncOpenAI]) -> None:
    server, client = fake
    server.script = [answer(date="2025-01-01"), answer(action="none", date=None, time=None, name=None)]
    assert await extractor(client).extract(HISTORY, NOW, TZ) == Action("none")


async def test_server_errors_fall_back_to_the_rules(
    fake: tuple[FakeOpenAI, openai.AsyncOpenAI], caplog: pytest.LogCaptureFixture
) -> None:
    server, client = fake
    server.script = [500, 429]
    with caplog.at_level(logging.WARNING, logger="callrt.nlp"):
        action = await extractor(client).extract(HISTORY, NOW, TZ)
    assert action == RULES_ANSWER
    assert len(server.requests) == 2  # our one retry; the SDK's own retries are off
    assert "InternalServerError" in caplog.text and "RateLimitError" in caplog.text
