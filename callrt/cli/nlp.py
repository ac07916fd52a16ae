"""`callrt nlp extract` runs the booking extractor; `callrt nlp eval` scores it on a labelled set.

extract: one TEXT argument -> one JSON action. Without TEXT, each stdin line is
`{"text": …, "now": …}` or `{"history": [{"role": "user"|"assistant"|"server", "text": …}, …], "now": …}`
(`now` and `tz` optional per line, defaulting to the options); each gets one output
line, in order. A malformed line gets `{"error": …}` at its position and the rest go on;
the exit status is then 1. The rule extractor runs offline; with OPENAI_API_KEY set,
gpt-4o-mini does, with the rules as its fallback.

eval: FILE.jsonl holds labelled cases, one a line, in the corpus's format (a line as above plus
`expect`, the action's fields other than `start`; optionally `id`, `category`, `split`). It
prints the accuracy overall, for multi-turn and single-turn cases, per language and per
category, then each miss. It scores the rules, or with --llm the gpt-4o-mini path (which
needs OPENAI_API_KEY).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import trio

from actors.appointment_nlp import Action, Extractor, RuleExtractor
from callrt.cli.options import describe, environment_epilog
from callrt.model.nlp_eval import (
    BadCase,
    CountedFallback,
    load_cases,
    parse_history,
    parse_now,
    parse_zone,
    report_lines,
    score,
)

DEFAULT_TZ = "Asia/Jerusalem"
SPLITS = ("dev", "test")


class BadInput(ValueError):
    """A line or option the extractor cannot read; reported as {"error": …}."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    nlp = describe(subparsers, "nlp", "the booking extractor", __doc__, ("OPENAI_API_KEY",))
    commands = nlp.add_subparsers(dest="nlp_command", required=True, metavar="ACTION")
    extract = commands.add_parser(
        "extract",
        help="extract the booking action from TEXT, or from JSON lines on stdin",
        description=__doc__,
        epilog=environment_epilog(("OPENAI_API_KEY",)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    extract.add_argument("--now", help="the current time, ISO 8601 (default: the wall clock)")
    extract.add_argument("--tz", default=DEFAULT_TZ, help=f"the business's time zone (default {DEFAULT_TZ})")
    extract.add_argument("text", nargs="?", metavar="TEXT", help="one caller utterance")
    extract.set_defaults(handler=run_extract)
    evaluate = commands.add_parser(
        "eval",
        help="score the extractor on labelled cases (JSON lines) and print each miss",
        description=__doc__,
        epilog=environment_epilog(("OPENAI_API_KEY",)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("files", nargs="+", type=Path, metavar="FILE.jsonl", help="labelled cases")
    evaluate.add_argument("--llm", action="store_true", help="score gpt-4o-mini (needs OPENAI_API_KEY)")
    evaluate.add_argument("--split", choices=SPLITS, help="score only the cases of this part")
    evaluate.add_argument("--now", help="the current time for cases without their own `now`, ISO 8601")
    evaluate.add_argument(
        "--tz", default=DEFAULT_TZ, help=f"the time zone of cases without `tz` (default {DEFAULT_TZ})"
    )
    evaluate.set_defaults(handler=run_eval)


def run_extract(args: argparse.Namespace) -> int:
    return trio.run(extract_command, args.text, args.now, args.tz, sys.stdin, sys.stdout)


def run_eval(args: argparse.Namespace) -> int:
    return trio.run(eval_command, args.files, args.llm, args.split, args.now, args.tz, sys.stdout, sys.stderr)


def make_extractor(fallback: RuleExtractor | None = None) -> Extractor:
    rules = fallback or RuleExtractor()
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
    try:
        tz = data.get("tz", default_tz)
        zone = parse_zone(tz)
        history = parse_history(data)
        now = _now(data.get("now", default_now), zone)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    return await extractor.extract(history, now, tz)


def _now(value: object, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.now(zone) if value is None else parse_now(value, zone)


async def eval_command(
    files: Sequence[Path], llm: bool, split: str | None, now: str | None, tz: str, stdout: TextIO, stderr: TextIO
) -> int:
    """Score and print; 0 when the cases were scored, 1 on an unreadable case, 2 for --llm without a key."""
    if llm and not os.environ.get("OPENAI_API_KEY"):
        stderr.write("callrt nlp eval --llm: OPENAI_API_KEY is not set\n")
        return 2
    try:
        default_now = parse_now(now, parse_zone(tz)) if now is not None else None
        cases = load_cases(files, default_now, tz)
    except (BadCase, ValueError, OSError) as exc:
        stderr.write(f"callrt nlp eval: {exc}\n")
        return 1
    cases = [case for case in cases if split is None or case.split == split]
    fallback = CountedFallback()
    extractor = make_extractor(fallback) if llm else RuleExtractor()
    outcomes = await score(extractor, cases)
    stdout.write(f"{'gpt-4o-mini' if llm else 'rules'} on {len(cases)} cases{f' ({split} part)' if split else ''}\n")
    for line in report_lines(outcomes):
        stdout.write(line + "\n")
    if llm:
        stdout.write(f"answers from the rule fallback (the model failed twice): {fallback.calls}\n")
    return 0
