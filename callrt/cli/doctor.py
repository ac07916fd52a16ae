"""`callrt doctor`: prove a configuration before the first real call, one verdict per check.

With OPENAI_API_KEY it opens a Realtime session with exactly the configuration calls use and checks
the echo, one spoken sentence, and the NLP model's JSON answer; with TWILIO_AUTH_TOKEN and the public
URL it checks the webhook answers, refuses an unsigned request and accepts a signed one. Without
credentials the same checks run against the simulated model (`callrt sim-peer`, started in-process on
loopback) and the rule extractor, and the output says so. Exit status 1 when any check failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
from typing import Any

import openai
import trio

from actors.appointment_nlp import RuleExtractor
from actors.config import CallConfig
from actors.prompt import build_instructions
from callrt.cli.options import add_public_url_option, describe
from callrt.doctor.other_checks import check_nlp, check_webhook
from callrt.doctor.realtime_check import check_realtime
from callrt.doctor.verdict import Verdict
from callrt.model.deprecations import sdk_shutdowns, shutdown_warnings
from callrt.model.llm_extractor import LlmExtractor
from callrt.model.realtime import OPENAI_REALTIME_URL, OpenAIRealtimeConnector
from callrt.server.config import ServerConfig, configured_models
from callrt.server.plan import SIM_PEER_KEY
from callrt.sim.realtime_peer import REALTIME_PATH, serve_sim_peer

DOCTOR_ENVIRONMENT = (
    "OPENAI_API_KEY",
    "CALLRT_OPENAI_MODEL",
    "CALLRT_TRANSCRIPTION_MODEL",
    "CALLRT_DIALECT",
    "CALLRT_REALTIME_URL",
    "CALLRT_PUBLIC_URL",
    "TWILIO_AUTH_TOKEN",
)


def register(subparsers: Any) -> None:
    parser = describe(
        subparsers,
        "doctor",
        "check the model, NLP and webhook configuration before the first real call",
        __doc__,
        DOCTOR_ENVIRONMENT,
    )
    add_public_url_option(parser)
    parser.add_argument(
        "--realtime-url",
        metavar="URL",
        default=None,
        help="Realtime websocket to check instead of OpenAI's, or a running `callrt sim-peer` "
        "(default $CALLRT_REALTIME_URL; without it and without OPENAI_API_KEY a simulator is started here)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = ServerConfig.from_env(public_url=args.public_url, realtime_url=args.realtime_url)
    verdicts = trio.run(diagnose, config)
    simulated = not config.openai_api_key
    print(
        f"callrt doctor: {'SIMULATED model (no OPENAI_API_KEY)' if simulated else 'OpenAI'}, dialect {config.dialect}"
    )
    for verdict in verdicts:
        print(verdict.line())
    failed = [v.check for v in verdicts if not v.ok]
    print(f"FAILED: {', '.join(failed)}" if failed else "all checks passed")
    return 1 if failed else 0


async def diagnose(config: ServerConfig) -> list[Verdict]:
    verdicts = [models_verdict(config)]
    call_config = CallConfig(transcription_model=config.transcription_model)
    instructions = build_instructions(None, config.language, dt.datetime.now(dt.UTC))
    async with trio.open_nursery() as nursery:
        connector = await _connector(config, nursery)
        verdicts += await check_realtime(connector, config.dialect, call_config, instructions, config.language)
        nursery.cancel_scope.cancel()
    extractor = None
    if config.openai_api_key:
        extractor = LlmExtractor(openai.AsyncOpenAI(api_key=config.openai_api_key), fallback=RuleExtractor())
    verdicts.append(await check_nlp(extractor))
    if config.auth_token and config.public_url:
        verdicts += await check_webhook(config.public_url, config.auth_token)
    else:
        verdicts.append(Verdict("webhook", True, "skipped: needs TWILIO_AUTH_TOKEN and --public-url", warning=True))
    return verdicts


def models_verdict(config: ServerConfig) -> Verdict:
    models = configured_models(config)
    warnings = shutdown_warnings(models, dt.date.today())
    gone = [m for m in models.values() if (when := sdk_shutdowns().get(m)) is not None and when <= dt.date.today()]
    detail = "; ".join(warnings) if warnings else ", ".join(f"{role} {name}" for role, name in models.items())
    return Verdict("models_current", not gone, detail, warning=bool(warnings))


async def _connector(config: ServerConfig, nursery: trio.Nursery) -> OpenAIRealtimeConnector:
    if config.openai_api_key:
        url = config.realtime_url or OPENAI_REALTIME_URL
        return OpenAIRealtimeConnector(config.openai_api_key, config.openai_model, config.dialect, url=url)
    url = config.realtime_url or ""
    if not url:
        port = await nursery.start(functools.partial(serve_sim_peer, "127.0.0.1", 0, config.dialect))
        url = f"ws://127.0.0.1:{port}{REALTIME_PATH}"
    return OpenAIRealtimeConnector(SIM_PEER_KEY, config.openai_model, config.dialect, url=url)
