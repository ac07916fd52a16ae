"""The LLM booking extractor: OpenAI chat completions (gpt-4o-mini) with JSON-schema structured output.

The model sees the business's local date, weekday, time and time zone, and the
conversation; it answers the action's pieces (never `start`, which we derive from
date + time in the business's zone). Its answer is validated: the schema, a real
date and time, not in the past. A timeout, an API error or an invalid answer gets
one retry; after that the rule extractor answers instead, and the reason is logged.
Runs under trio: AsyncOpenAI talks through httpx, which supports trio via anyio.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import openai
import trio
from openai.types.chat import ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema
from openai.types.shared_params.response_format_json_schema import JSONSchema

from actors.appointment_nlp import ACTION_KINDS, Action, RuleExtractor
from actors.appointment_nlp.rules import is_server_turn
from actors.messages import HistoryTurn

logger = logging.getLogger("callrt.nlp")

ATTEMPTS = 2  # the call and one retry
TEMPERATURE = 0.2
NULLABLE_STRING = {"type": ["string", "null"]}
ACTION_SCHEMA: JSONSchema = {
    "name": "booking_action",
    "strict": True,
    "schema": {
        "type": "object",
        "additionalProperties": False,
        "required": ["action", "date", "time", "name", "phone"],
        "properties": {
            "action": {"type": "string", "enum": list(ACTION_KINDS)},
            "date": {**NULLABLE_STRING, "description": "YYYY-MM-DD in the business's time zone, or null"},
            "time": {**NULLABLE_STRING, "description": "HH:MM, 24-hour clock, or null"},
            "name": {**NULLABLE_STRING, "description": "the caller's name as they said it, or null"},
            "phone": {**NULLABLE_STRING, "description": "a phone number the caller said, digits only, or null"},
        },
    },
}
RESPONSE_FORMAT: ResponseFormatJSONSchema = {"type": "json_schema", "json_schema": ACTION_SCHEMA}
SYSTEM_PROMPT = """\
You read a phone conversation between a caller and a business's voice assistant, in Hebrew or English,
and extract what the caller wants to do about an appointment. Answer only with the JSON object.

Today is {weekday}, {date}; the local time is {time} ({timezone}). Dates and times are local.
- action: create_appointment (book), reschedule_appointment (move an existing one), cancel_appointment,
  or none (questions, chit-chat, nothing asked yet).
- The caller's latest statement wins: "actually, can we do seven instead?" changes the time only.
- After "[SERVER] appointment_created", a new day or time from the caller is a reschedule.
- After a [SERVER] refusal with alternatives=, a time alone that is the time of exactly one offered start
  means that start; a plain yes to the assistant's proposal means the offered start only when exactly one
  was offered. Never take a slot from the assistant's words alone.
- Lines starting with [SERVER] are system facts, never the caller's words or intent.
- An hour said without a part of day from 1 to 7 ("at four", "בארבע") means 13:00-19:00; 8 to 12 as said.
- A weekday means its next occurrence after today; "next week on Tuesday" is the Tuesday of next week
  (weeks start on Sunday).
- Use null for anything the caller did not say. Never invent a date, a time or a name.
"""


DEFAULT_NLP_MODEL = "gpt-4o-mini"
"""The booking extractor's chat model (`callrt serve` warns when its announced shutdown is near)."""


class LlmExtractor:
    """gpt-4o-mini behind the `Extractor` interface, with the rule extractor as its safety net."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        fallback: RuleExtractor,
        model: str = DEFAULT_NLP_MODEL,
        timeout_s: float = 4.0,
    ) -> None:
        # Retries and timeouts are ours (trio deadlines), so that the SDK never waits longer than we allow.
        self.client = client.with_options(max_retries=0, timeout=timeout_s)
        self.fallback = fallback
        self.model = model
        self.timeout_s = timeout_s

    async def extract(self, history: Sequence[HistoryTurn], now: dt.datetime, timezone: str) -> Action:
        reasons = []
        for _attempt in range(ATTEMPTS):
            try:
                return await self.answer(history, now, timezone)
            except trio.TooSlowError:
                reasons.append(f"timeout after {self.timeout_s:g} s")
            except openai.OpenAIError as exc:
                reasons.append(f"{type(exc).__name__}: {exc}")
            except ValueError as exc:
                reasons.append(f"invalid answer: {exc}")
        logger.warning("LLM extraction failed (%s); using the rule extractor", "; ".join(reasons))
        return self.fallback.extract_sync(history, now, timezone)

    async def answer(self, history: Sequence[HistoryTurn], now: dt.datetime, timezone: str) -> Action:
        """One request, no fallback: the model's answer in the schema, or the reason it is not (raised)."""
        local_now = now.astimezone(ZoneInfo(timezone))
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": system_prompt(local_now, timezone)},
            {"role": "user", "content": transcript_text(history)},
        ]
        with trio.fail_after(self.timeout_s):
            content = await self._complete(messages)
        return validate_answer(content, local_now, timezone)

    async def _complete(self, messages: list[ChatCompletionMessageParam]) -> str:
        response = await self.client.chat.completions.create(
            model=self.model,
            messages=messages,
            temperature=TEMPERATURE,
            response_format=RESPONSE_FORMAT,
        )
        content = response.choices[0].message.content if response.choices else None
        if not isinstance(content, str) or not content:
            raise ValueError("empty answer")
        return content


def system_prompt(local_now: dt.datetime, timezone: str) -> str:
    return SYSTEM_PROMPT.format(
        weekday=local_now.strftime("%A"),
        date=local_now.date().isoformat(),
        time=local_now.strftime("%H:%M"),
        timezone=timezone,
    )


def transcript_text(history: Sequence[HistoryTurn]) -> str:
    lines = []
    for turn in history:
        if is_server_turn(turn):
            text = turn.text.strip()
            lines.append(text if text.startswith("[SERVER]") else f"[SERVER] {text}")
        else:
            lines.append(f"{'caller' if turn.role == 'user' else 'assistant'}: {turn.text}")
    return "\n".join(lines)


def validate_answer(content: str, local_now: dt.datetime, timezone: str) -> Action:
    """The model's JSON as an `Action`; ValueError when it breaks the schema, is not a real date, or is past."""
    data = json.loads(content)
    if not isinstance(data, dict) or set(data) != {"action", "date", "time", "name", "phone"}:
        raise ValueError(f"not the schema's fields: {content[:200]!r}")
    action = Action.from_json(data, timezone=timezone)
    if action.date is not None and action.date < local_now.date():
        raise ValueError(f"date {action.date} is in the past")
    if action.start is not None and action.start < local_now:
        raise ValueError(f"start {action.start.isoformat()} is in the past")
    return action
