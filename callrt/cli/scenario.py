"""`callrt scenario run FILE... [--json] [--concurrent] [--db URL]`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from actors.defaults import DEFAULT_DIALECT, DIALECTS
from callrt.cli.options import add_db_option, describe
from callrt.scenario import RunOptions, ScenarioError, load_scenario, run_concurrent, run_scenarios


def register(subparsers: Any) -> None:
    scenario = describe(subparsers, "scenario", "run scenario files in virtual time", __doc__, ("CALLRT_TRACE_DIR",))
    commands = scenario.add_subparsers(dest="scenario_command", required=True, metavar="ACTION")
    run = describe(
        commands,
        "run",
        "run scenario files and report on each call",
        "Run each scenario FILE in virtual time (docs/scenario-format.md) and print one report line (--json: one "
        "object) per call; the traces go to $CALLRT_TRACE_DIR.",
        ("CALLRT_TRACE_DIR",),
    )
    run.add_argument("files", nargs="+", type=Path, metavar="FILE")
    run.add_argument("--json", action="store_true", help="one report object per scenario per line on stdout")
    run.add_argument("--concurrent", action="store_true", help="all files are simultaneous calls to one business")
    add_db_option(run, "a fresh temporary SQLite file")
    run.add_argument("--dialect", choices=DIALECTS, default=DEFAULT_DIALECT, help="Realtime protocol dialect")
    run.set_defaults(handler=run_command)


def summary_line(report: dict[str, Any]) -> str:
    verdict = "ok" if not report["violations"] else "VIOLATIONS: " + ", ".join(report["violations"])
    hangup = report.get("hangup") or {}
    return (
        f"{report['scenario']}: {verdict} | {report['duration_ms'] / 1000:.1f}s, ended by {hangup.get('by')}"
        f" ({hangup.get('reason')}), appointments={len(report['appointments'])},"
        f" silence_prompts={report['silence_prompts']}, barge_ins={len(report['barge_ins'])},"
        f" responses={report['responses_created']}, trace={report['trace']}"
    )


def run_command(args: argparse.Namespace) -> int:
    try:
        scenarios = [load_scenario(path) for path in args.files]
    except (OSError, ScenarioError) as exc:
        print(f"callrt scenario run: {exc}", file=sys.stderr)
        return 2
    options = RunOptions(db_url=args.db_url, dialect=args.dialect)
    reports = run_concurrent(scenarios, options) if args.concurrent else run_scenarios(scenarios, options)
    for report in reports:
        print(json.dumps(report, ensure_ascii=False) if args.json else summary_line(report))
    return 1 if any(report["violations"] for report in reports) else 0
