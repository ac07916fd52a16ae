"""`callrt call --server URL --scenario FILE [--json]`: a simulated caller against a live server."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import trio

from callrt.cli.scenario import summary_line
from callrt.scenario import ScenarioError, load_scenario
from callrt.sim.live_call import LiveCallError, live_call


def register(subparsers: Any) -> None:
    call = subparsers.add_parser("call", help="drive the simulated caller against a running `callrt serve`")
    call.add_argument("--server", required=True, help="the server's base URL, e.g. http://127.0.0.1:8080")
    call.add_argument("--scenario", required=True, type=Path, help="a scenario file (its script is played)")
    call.add_argument("--json", action="store_true", help="print the report as one JSON object")
    call.add_argument("--db", default=None, help="the server's database URL, to read the call's appointments")
    call.add_argument(
        "--auth-token",
        default=os.environ.get("TWILIO_AUTH_TOKEN"),
        help="sign the webhook like Twilio (default: TWILIO_AUTH_TOKEN)",
    )
    call.set_defaults(handler=call_command)


def call_command(args: argparse.Namespace) -> int:
    try:
        scenario = load_scenario(args.scenario)
        report = trio.run(lambda: live_call(args.server, scenario, auth_token=args.auth_token, db_url=args.db))
    except (OSError, ScenarioError, LiveCallError) as exc:
        print(f"callrt call: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, ensure_ascii=False) if args.json else summary_line(report))
    return 1 if report["violations"] else 0
