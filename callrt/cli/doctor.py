"""`callrt doctor`: prove a configuration before the first real call, one verdict per check.

With OPENAI_API_KEY it opens a Realtime session with exactly the configuration calls use and checks
the echo, one spoken sentence, and the NLP model's JSON answer; it does the same for each distinct
choice of models the businesses in the database made for their own calls; with TWILIO_AUTH_TOKEN and
the public URL it checks the webhook answers, refuses an unsigned request and accepts a signed one.
Without credentials the same checks run against the simulated model (`callrt sim-peer`, started
in-process on loopback) and the rule extractor, and the output says so. Exit status 1 when any check
failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
from typing import Any

import attrs
import openai
import trio

from actors.appointment_nlp import RuleExtractor
from actors.config import CallConfig
from actors.prompt import build_instructions
from callrt.cli.options import add_db_option, add_public_url_option, describe
from callrt.doctor.business_check import ChosenModels, NoDatabase, chosen_models, models_verdict, named
from callrt.doctor.other_checks import check_nlp, check_webhook
from callrt.doctor.realtime_check import check_realtime
from callrt.doctor.verdict import Verdict
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
    "CALLRT_DB_URL",
    "CALLRT_DB_SCHEMA",
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
    add_db_option(parser, "$CALLRT_DB_URL, else sqlite:///callrt.db: the database `callrt serve` reads")
    parser.add_argument(
        "--realtime-url",
        metavar="URL",
        default=None,
        help="Realtime websocket to check instead of OpenAI's, or a running `callrt sim-peer` "
        "(default $CALLRT_REALTIME_URL; without it and without OPENAI_API_KEY a simulator is started here)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    database = {"db_url": args.db_url} if args.db_url else {}
    config = ServerConfig.from_env(public_url=args.public_url, realtime_url=args.realtime_url, **database)
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
    today, server_models = dt.date.today(), configured_models(config)
    verdicts = [models_verdict(server_models, today)]
    businesses, database = await _chosen_models(config)
    verdicts.append(database)
    instructions = build_instructions(None, config.language, dt.datetime.now(dt.UTC))
    async with trio.open_nursery() as nursery:
        key, url = await _realtime_endpoint(config, nursery)

        async def check_session(realtime_model: str, transcription_model: str, who: str | None) -> list[Verdict]:
            connector = OpenAIRealtimeConnector(key, realtime_model, config.dialect, url=url)
            call_config = CallConfig(transcription_model=transcription_model)
            checked = await check_realtime(connector, config.dialect, call_config, instructions, config.language)
            return [attrs.evolve(verdict, check=named(verdict.check, who)) for verdict in checked]

        server_realtime = server_models["Realtime"]
        verdicts += await check_session(server_realtime, config.transcription_model, None)
        for chosen in businesses:
            realtime = chosen.realtime_model or server_realtime
            transcription = chosen.transcription_model or config.transcription_model
            verdicts.append(models_verdict({"Realtime": realtime, "transcription": transcription}, today, chosen.who))
            verdicts += await check_session(realtime, transcription, chosen.who)
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


async def _chosen_models(config: ServerConfig) -> tuple[list[ChosenModels], Verdict]:
    """The businesses' own choices of models, and the `business_models` verdict on reading them."""
    try:
        chosen = await trio.to_thread.run_sync(chosen_models, config.db_url, config.db_schema)
    except NoDatabase as exc:
        return [], Verdict("business_models", True, f"skipped: {exc} (give --db)", warning=True)
    except Exception as exc:  # any failure to read the database is this check's verdict, not a crash
        return [], Verdict("business_models", False, f"cannot read the database: {type(exc).__name__}: {exc}"[:300])
    if not chosen:
        return [], Verdict("business_models", True, "every business uses the server's models")
    return chosen, Verdict("business_models", True, "; ".join(f"{c.who}: own models" for c in chosen))


async def _realtime_endpoint(config: ServerConfig, nursery: trio.Nursery) -> tuple[str, str]:
    """The API key and websocket URL of the Realtime service checked (a simulator started here without a key)."""
    if config.openai_api_key:
        return config.openai_api_key, config.realtime_url or OPENAI_REALTIME_URL
    url = config.realtime_url or ""
    if not url:
        port = await nursery.start(functools.partial(serve_sim_peer, "127.0.0.1", 0, config.dialect))
        url = f"ws://127.0.0.1:{port}{REALTIME_PATH}"
    return SIM_PEER_KEY, url
