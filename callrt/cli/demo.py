"""`callrt demo`: the product's acceptance calls, end to end, on the embedded defaults.

Runs the scenario files shipped in `callrt/scenario/data/` (a silent caller who
coughs once, a booking, an out-of-hours request, a barge-in, a false booking claim)
through the real runtime against the simulated caller and model peer, on a temporary
SQLite database, with the offline NLP, in virtual time; prints each call's log and a
summary table. `--lang en` runs the English versions (`NAME-en.json`).
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path
from typing import Any

from actors.trace import read_trace
from callrt.cli.options import add_db_option, describe
from callrt.scenario import RunOptions, call_log_lines, load_scenario, run_scenarios
from callrt.scenario.model import Scenario
from callrt.scenario.verdict import exit_status, problems

DEMO_CALLS = {
    "a-silent-caller": "a silent caller: one cough ignored as noise, one 'are you still on the line?', a goodbye",
    "b-booking": "a booking: created by the server, and only then confirmed",
    "c-outside-hours": "outside opening hours: no appointment, alternatives offered",
    "d-barge-in": "barge-in: the caller talks over the AI, the AI stops at once",
    "e-false-claim": "a false booking claim: the runtime cuts it before the caller hears it, the AI corrects itself",
}
"""Scenario file stem -> what the call shows. The Hebrew file is `STEM.json`, the English one `STEM-en.json`."""
DEMO_LANGUAGES = ("he", "en")


def register(subparsers: Any) -> None:
    demo = describe(subparsers, "demo", "run the built-in acceptance calls end to end", __doc__, ("CALLRT_TRACE_DIR",))
    add_db_option(demo, "a temporary SQLite file")
    demo.add_argument("--lang", choices=DEMO_LANGUAGES, default="he", help="the language the calls are in (default he)")
    demo.set_defaults(handler=demo_command)


def demo_scenarios(lang: str = "he") -> list[Scenario]:
    folder = resources.files("callrt.scenario") / "data"
    suffix = "" if lang == "he" else f"-{lang}"
    return [load_scenario(Path(str(folder / f"{stem}{suffix}.json"))) for stem in DEMO_CALLS]


def summary_table(reports: list[dict[str, Any]]) -> list[str]:
    header = (
        f"{'call':28} {'ok':4} {'secs':>6} {'ended by':14} {'appts':>5} {'noises':>6} {'silence':>7}"
        f" {'barge-ins':>9} {'claims cut':>10} {'notes':>5}"
    )
    rows = [header, "-" * len(header)]
    for report in reports:
        hangup = report.get("hangup") or {}
        rows.append(
            f"{report['scenario']:28} {'NO' if problems(report) else 'yes':4}"
            f" {report['duration_ms'] / 1000:6.1f} {str(hangup.get('by')) + '/' + str(hangup.get('reason')):14}"
            f" {len(report['appointments']):5d} {len(report['ignored_segments']):6d} {report['silence_prompts']:7d}"
            f" {len(report['barge_ins']):9d} {report['false_claims_cut']:10d} {len(report['server_notes']):5d}"
        )
    return rows


def demo_command(args: argparse.Namespace) -> int:
    scenarios = demo_scenarios(args.lang)
    reports = run_scenarios(scenarios, RunOptions(db_url=args.db_url))
    for scenario, report, what in zip(scenarios, reports, DEMO_CALLS.values(), strict=True):
        print(f"\n=== {scenario.name}: {what}")
        for line in call_log_lines([event.data for event in read_trace(report["trace"])]):
            print(line)
        for appointment in report["appointments"]:
            print(f"{'':20}appointment #{appointment['id']} at {appointment['start']} for {appointment['name']}")
        for problem in problems(report):
            print(f"{'':20}{problem}")
    print()
    for row in summary_table(reports):
        print(row)
    print(f"\ntraces: {', '.join(report['trace'] for report in reports)}  (open one: callrt trace view FILE)")
    return exit_status(reports)
