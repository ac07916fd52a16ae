"""`callrt nlp extract`: run the booking extractor on one utterance, or on JSON lines from stdin.

One TEXT argument -> one JSON action. Without TEXT, each stdin line is
`{"text": …, "now": …}` or `{"history": [{"role": "user"|"assistant"|"server", "text": …}, …], "now": …}`
(`now` and `tz` optional per line, defaulting to the options); each gets one output
line, in order. A malformed line gets `{"error": …}` at its position and the rest go on;
the exit status is then 1. The rule extractor runs offline; with OPENAI_API_KEY set,
gpt-4o-mini does, with the rules as its fallback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import trio

from actors.appointment_nlp import Action, Extractor, RuleExtractor
from actors.messages import HistoryTurn

DEFAULT_TZ = "Asia/Jerusalem"
ROLES = ("user", "assistant", "server")


class BadInput(ValueError):
    """A line or option the extractor cannot read; reported as {"error": …}."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    nlp = subparsers.add_parser("nlp", help="the booking extractor")
    commands = nlp.add_subparsers(dest="nlp_command", required=True, metavar="SUBCOMMAND")
    extract = commands.add_parser(
        "extract",
        help="extract the booking action from TEXT, or from JSON lines on stdin",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    extract.add_argument("--now", help="the current time, ISO 8601 (default: the wall clock)")
    extract.add_argument("--tz", default=DEFAULT_TZ, help=f"the business's time zone (default {DEFAULT_TZ})")
    extract.add_argument("text", nargs="?", metavar="TEXT", help="one caller utterance")
    extract.set_defaults(handler=run_extract)


def run_extract(args: argparse.Namespace) -> int:
    return trio.run(extract_command, args.text, args.now, args.tz, sys.stdin, sys.stdout)


def make_extractor() -> Extractor:
    rules = RuleExtractor()
    if not os.environ.get("OPENAI_API_KEY"):
        return rules
    import openai

    from callrt.model.llm_extractor import LlmExtractor

    return LlmExtractor(openai.AsyncOpenAI(), rules)


async def extract_command(text: str | None, now: str | None, tz: str, stdin: TextIO, stdout: TextIO) -> int:
    extractor = make_extractor()
    if text is not None:
        lines: Iterable[str] = [json.dumps({"text": text})]
    else:
        lines = (line.rstrip("\n") for line in stdin)
    failed = False
    for line in lines:
        try:
            result: dict[str, Any] = (await extract_line(extractor, line, now, tz)).to_json()
        except BadInput as exc:
            result, failed = {"error": str(exc)}, True
        stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        stdout.flush()
    return 1 if failed else 0


async def extract_line(extractor: Extractor, line: str, default_now: str | None, default_tz: str) -> Action:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadInput(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadInput("each line must be a JSON object")
    tz = data.get("tz", default_tz)
    if not isinstance(tz, str):
        raise BadInput("tz must be a string")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInput(f"unknown time zone {tz!r}") from None
    return await extractor.extract(parse_history(data), parse_now(data.get("now", default_now), zone), tz)


def parse_now(value: object, zone: ZoneInfo) -> dt.datetime:
    if value is None:
        return dt.datetime.now(zone)
    if not isinstance(value, str):
        raise BadInput("now must be an ISO 8601 string")
    try:
        now = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(f"now is not ISO 8601: {value!r}") from None
    return now if now.tzinfo else now.replace(tzinfo=zone)


def parse_history(data: dict[str, Any]) -> Sequence[HistoryTurn]:
    if "text" in data:
        if not isinstance(data["text"], str):
            raise BadInput("text must be a string")
        return (HistoryTurn("user", data["text"]),)
    turns = data.get("history")
    if not isinstance(turns, list) or not turns:
        raise BadInput('a line needs "text" or a non-empty "history"')
    history = []
    for turn in turns:
        if not isinstance(turn, dict) or turn.get("role") not in ROLES or not isinstance(turn.get("text"), str):
            raise BadInput(f'each history turn needs "role" ({"|".join(ROLES)}) and "text": {turn!r}')
        history.append(HistoryTurn(turn["role"], turn["text"]))
    return tuple(history)
