"""`callrt call --server URL --scenario FILE… [--to NUMBER] [--user NAME] [--json]`: simulated callers
against a live server.

Several scenario files are several calls at once, one report each (a line each, in the files' order).
The server's traces are private: `--user` (default $CALLRT_CONSOLE_USER) names a business-console
user, whose password is $CALLRT_CONSOLE_PASSWORD (or prompted for on a terminal); the call logs in
before it fetches its trace. `--to` is the number called, which picks the business.

`--media-url ws://… [--twiml-url URL]` drives any server speaking Twilio's Media Streams protocol: the
webhook is called when there is one, and without `--server` (callrt's trace routes) the report is the
caller's side, with the bookings read from `--db`.

A live server answers with its own business, clock and appointments: a scenario's `now`, `business` and
`appointments` are not applied (said once on stderr), and its expectations on what follows from them are
reported `not_applicable`. Exit status: 0 when every call passed, 1 when one failed, broke an invariant or
left an expectation unmet, 3 when none did but some expectation was not applicable, 2 when the calls could
not be made (`callrt.scenario.verdict`).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import trio

from callrt.scenario import Scenario, ScenarioError, load_scenario
from callrt.scenario.verdict import LIVE_UNAPPLIED, exit_status, summary_line
from callrt.sim.live_call import LiveCallError, Target, console_login, live_call
from store import StoreError

_UNAPPLIED_NOTE = (
    "callrt call: the server answers with its own business, clock and appointments: the scenarios' "
    + ", ".join(LIVE_UNAPPLIED)
    + " are not applied, and expectations that depend on them are not applicable"
)


def register(subparsers: Any) -> None:
    call = subparsers.add_parser("call", help="drive the simulated caller against a running server")
    call.add_argument("--server", default=None, help="a callrt server's base URL, e.g. http://127.0.0.1:8080")
    call.add_argument("--media-url", default=None, help="the media websocket, e.g. ws://host/media (any server)")
    call.add_argument("--twiml-url", default=None, help="the voice webhook (default: SERVER/twiml; none: no webhook)")
    call.add_argument(
        "--scenario", required=True, type=Path, nargs="+", help="scenario files: one concurrent call each"
    )
    call.add_argument(
        "--stagger-ms",
        type=float,
        default=0.0,
        help="with several scenarios: start the calls this far apart (a server admits so many new streams at once)",
    )
    call.add_argument("--json", action="store_true", help="print each report as one JSON object (a line each)")
    call.add_argument("--db", default=None, help="the server's database URL, to read the call's appointments")
    call.add_argument(
        "--db-schema",
        default=os.environ.get("CALLRT_DB_SCHEMA") or None,
        help="the PostgreSQL schema of callrt's tables there (default $CALLRT_DB_SCHEMA)",
    )
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
        target = Target(server=args.server, twiml_url=args.twiml_url, media_url=args.media_url)
        scenarios = [load_scenario(path) for path in args.scenario]
        print(_UNAPPLIED_NOTE, file=sys.stderr)
        reports = trio.run(concurrent_calls, target, scenarios, args, _login(args.user))
    except (OSError, ScenarioError, LiveCallError, StoreError) as exc:
        print(f"callrt call: {exc}", file=sys.stderr)
        return 2
    for report in reports:
        print(json.dumps(report, ensure_ascii=False) if args.json else summary_line(report))
    return exit_status(reports)


async def concurrent_calls(
    target: Target, scenarios: list[Scenario], args: argparse.Namespace, login: tuple[str, str] | None
) -> list[dict[str, Any]]:
    reports: list[dict[str, Any]] = [{} for _ in scenarios]
    cookies = None
    if login is not None and target.server and len(scenarios) > 1:
        # One console session for all the calls: a login is deliberately slow (password hashing).
        async with httpx.AsyncClient(base_url=target.server, timeout=30.0) as http:
            await console_login(http, *login)
            cookies = http.cookies

    async def one(index: int) -> None:
        await trio.sleep(index * args.stagger_ms / 1000.0)
        reports[index] = await live_call(
            target,
            scenarios[index],
            auth_token=args.auth_token,
            db_url=args.db,
            db_schema=args.db_schema,
            to=args.to,
            login=login,
            cookies=cookies,
        )

    try:
        async with trio.open_nursery() as nursery:
            for index in range(len(scenarios)):
                nursery.start_soon(one, index)
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from failed  # the first call that failed ends the run, as one call would
    return reports
