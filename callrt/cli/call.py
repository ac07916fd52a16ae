"""`callrt call --server URL --scenario FILE [--to NUMBER] [--user NAME] [--json]`: a simulated caller
against a live server.

The server's traces are private: `--user` (default $CALLRT_CONSOLE_USER) names a business-console
user, whose password is $CALLRT_CONSOLE_PASSWORD (or prompted for on a terminal); the call logs in
before it fetches its trace. `--to` is the number called, which picks the business.
"""

from __future__ import annotations

import argparse
import getpass
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
    call.add_argument("--to", default="", help="the number called (Twilio's To): it picks the business")
    call.add_argument(
        "--user",
        default=os.environ.get("CALLRT_CONSOLE_USER"),
        help="console user to read the call's trace as (default $CALLRT_CONSOLE_USER; "
        "password in $CALLRT_CONSOLE_PASSWORD)",
    )
    call.set_defaults(handler=call_command)


def _login(user: str | None) -> tuple[str, str] | None:
    if not user:
        return None
    password = os.environ.get("CALLRT_CONSOLE_PASSWORD")
    if password is None and sys.stdin.isatty():
        password = getpass.getpass(f"console password for {user}: ")
    return user, password or ""


def call_command(args: argparse.Namespace) -> int:
    try:
        scenario = load_scenario(args.scenario)
        login = _login(args.user)
        report = trio.run(
            lambda: live_call(
                args.server, scenario, auth_token=args.auth_token, db_url=args.db, to=args.to, login=login
            )
        )
    except (OSError, ScenarioError, LiveCallError) as exc:
        print(f"callrt call: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, ensure_ascii=False) if args.json else summary_line(report))
    return 1 if report["violations"] else 0
