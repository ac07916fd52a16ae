"""`callrt scenario run FILE... [--json] [--concurrent] [--db URL]`.

Exit status: 0 when every call passed, 1 when one failed, broke an invariant or left an expectation of its
file unmet (`callrt.scenario.verdict`), 2 when a file could not be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from actors.defaults import DEFAULT_DIALECT, DIALECTS
from callrt.scenario import RunOptions, ScenarioError, load_scenario, run_concurrent, run_scenarios
from callrt.scenario.verdict import exit_status, summary_line


def register(subparsers: Any) -> None:
    scenario = subparsers.add_parser("scenario", help="run scenario files in virtual time")
    commands = scenario.add_subparsers(dest="scenario_command", required=True, metavar="SUBCOMMAND")
    run = commands.add_parser("run", help="run scenario files and report on each call")
    run.add_argument("files", nargs="+", type=Path, metavar="FILE")
    run.add_argument("--json", action="store_true", help="one report object per scenario per line on stdout")
    run.add_argument("--concurrent", action="store_true", help="all files are simultaneous calls to one business")
    run.add_argument("--db", default=None, help="database URL (default: a fresh temporary SQLite file)")
    run.add_argument("--dialect", choices=DIALECTS, default=DEFAULT_DIALECT, help="Realtime protocol dialect")
    run.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    try:
        scenarios = [load_scenario(path) for path in args.files]
    except (OSError, ScenarioError) as exc:
        print(f"callrt scenario run: {exc}", file=sys.stderr)
        return 2
    options = RunOptions(db_url=args.db, dialect=args.dialect)
    reports = run_concurrent(scenarios, options) if args.concurrent else run_scenarios(scenarios, options)
    for report in reports:
        print(json.dumps(report, ensure_ascii=False) if args.json else summary_line(report))
    return exit_status(reports)
