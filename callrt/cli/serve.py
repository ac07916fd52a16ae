"""`callrt serve`: the telephony server (Twilio webhook + media websocket + trace viewer).

With `--workers N` (N > 1) the parent prepares the database once, then starts N
processes that each bind the same port with SO_REUSEPORT (the kernel spreads new
connections across them); they share the stream-token secret, so a webhook answered
by one worker is honoured by whichever worker receives the media stream.

It fails closed: on an address other than loopback it refuses to start without
TWILIO_AUTH_TOKEN (anyone could then ask /twiml for stream tokens), unless started
with `--insecure`, which it warns about at every start.

It says what it does without `-v`: its own loggers (`SERVER_LOGGERS`) log at INFO, so a line at
start (address, public URL, businesses, model, webhook signing, workers) and one line per call
end (CallSid, business, duration, outcome in words, appointment id) are always there.
"""

from __future__ import annotations

import argparse
import datetime
import errno
import gc
import ipaddress
import logging
import multiprocessing
import signal
import socket
import time
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import attrs
import trio

from callrt.cli.errors import EXIT_FAILURE, CliError
from callrt.cli.options import (
    PUBLIC_URL_EXAMPLE,
    SERVER_ENVIRONMENT,
    add_db_option,
    add_public_url_option,
    describe,
    port,
    url_problem,
)
from callrt.logsafe import escape_for_log
from callrt.model.deprecations import shutdown_warnings
from callrt.server.app import DRAIN_GOODBYE_S, TelephonyServer, serve
from callrt.server.config import ServerConfig, business_models, configured_models

if TYPE_CHECKING:
    from store import BusinessSummary

logger = logging.getLogger("callrt.serve")
SERVER_LOGGERS = ("callrt.serve", "callrt.server")
"""Logged at INFO by `callrt serve` even without `-v` (which brings INFO of everything else: the runtime,
hypercorn): the server's start line and its line per call end."""
LISTED_BUSINESSES = 5
"""Businesses named in the start line; a larger deployment's line gives the rest as a count."""


GC_THRESHOLDS = (20_000, 20, 50)
"""Young-generation allocations before a collection, then passes before an older one (defaults 700, 10,
10): measured with `callrt bench` at 150 calls, 0.40 -> 0.34 s of CPU per call-minute, p99 frame lag
40 -> 17 ms (docs/performance.md)."""


def tune_collector() -> None:
    """Once the server is built: the garbage collector set up for many concurrent calls in one process."""
    # Everything imported and built so far lives as long as the process: keep it out of the cyclic
    # collector, whose full passes otherwise stall every call at once (174 ms at 50 calls, 20 ms frozen).
    gc.freeze()
    # Each frame allocates a few short-lived objects: at the default threshold (700) a young
    # collection ran every few frames; nearly all of them die young, so rarer passes cost little more.
    gc.set_threshold(*GC_THRESHOLDS)


def register(subparsers: Any) -> None:
    parser = describe(
        subparsers, "serve", "run the telephony server (Twilio webhook and media streams)", __doc__, SERVER_ENVIRONMENT
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=port, default=8080, help="port to bind, 0 for a free one (default 8080)")
    add_db_option(parser, "$CALLRT_DB_URL or sqlite:///callrt.db")
    parser.add_argument(
        "--business-id",
        type=int,
        default=None,
        help="send every call to this business, whatever number was called (default: route by the number)",
    )
    add_public_url_option(parser)
    parser.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="proxies whose X-Forwarded-Proto/Host are believed, comma-separated addresses or networks, "
        "* for any (default $CALLRT_FORWARDED_ALLOW_IPS or 127.0.0.1)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="serve a non-loopback address without TWILIO_AUTH_TOKEN (unsigned webhooks accepted)",
    )
    parser.add_argument("--max-calls", type=int, default=None, help="concurrent calls per worker (default 100)")
    parser.add_argument("--workers", type=int, default=1, help="server processes sharing the port (default 1)")
    parser.add_argument(
        "--realtime-url",
        metavar="URL",
        default=None,
        help="Realtime websocket to use instead of OpenAI's (default $CALLRT_REALTIME_URL); "
        "without OPENAI_API_KEY it is a simulated peer (callrt sim-peer)",
    )
    parser.add_argument(
        "--no-traces",
        dest="write_traces",
        action="store_false",
        default=None,
        help="write no per-call trace files (default: write them to $CALLRT_TRACE_DIR; $CALLRT_TRACES=off)",
    )
    parser.add_argument(
        "--relay", action="store_true", help="serve calls as a bare relay, no actors (the benchmark's baseline)"
    )
    parser.add_argument(
        "--drain-s",
        type=float,
        default=None,
        help="on SIGTERM, seconds running calls may go on before each hears a goodbye (default: the maximum "
        "call duration, 1800)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = ServerConfig.from_env(
        host=args.host,
        port=args.port,
        db_url=args.db_url,
        business_id=args.business_id,
        public_url=args.public_url,
        forwarded_allow_ips=args.forwarded_allow_ips,
        insecure=args.insecure or None,
        max_calls=args.max_calls,
        workers=args.workers,
        realtime_url=args.realtime_url,
        relay=args.relay or None,
        write_traces=args.write_traces,
        drain_s=args.drain_s,
    )
    if config.workers < 1 or config.max_calls < 1:
        raise CliError("--workers and --max-calls must be at least 1")
    if config.public_url and (problem := url_problem(config.public_url, PUBLIC_URL_EXAMPLE)):
        raise CliError(f"$CALLRT_PUBLIC_URL {problem}")
    refusal = unsigned_webhook_refusal(config)
    if refusal is not None:
        raise SystemExit(refusal)
    log_what_the_server_does()
    businesses = prepare_database(config)
    logger.info("%s", start_line(config, businesses))
    for line in shutdown_warnings(configured_models(config), datetime.date.today()):
        logger.warning("%s", line)
    if config.workers == 1:
        trio.run(serve_process, config, None)
        return 0
    return run_workers(config)


def log_what_the_server_does() -> None:
    """`SERVER_LOGGERS` at INFO unless set lower already (`-v`, or a host's own logging set-up)."""
    for name in SERVER_LOGGERS:
        server_logger = logging.getLogger(name)
        if server_logger.getEffectiveLevel() > logging.INFO:
            server_logger.setLevel(logging.INFO)


def start_line(config: ServerConfig, businesses: Sequence[BusinessSummary]) -> str:
    """What the server is about to do, in one line. Business names are the console users' words: escaped."""
    named = ", ".join(f"{b.id} ({escape_for_log(b.name, 60)})" for b in businesses[:LISTED_BUSINESSES])
    more = f" and {len(businesses) - LISTED_BUSINESSES} more" if len(businesses) > LISTED_BUSINESSES else ""
    routing = "every call to" if config.business_id is not None else "routed by the number called to"
    routing += " businesses" if len(businesses) > 1 else " business"
    if config.openai_api_key:
        model = f"OpenAI {configured_models(config)['Realtime']}"
    else:
        model = "simulated (no OPENAI_API_KEY)"
    if config.realtime_url:
        model += f" at {config.realtime_url}"
    if config.auth_token:
        webhooks = "signed (TWILIO_AUTH_TOKEN)"
    else:
        webhooks = "NOT signed (no TWILIO_AUTH_TOKEN" + (", --insecure)" if config.insecure else ")")
    return (
        f"callrt serve on {config.host}:{config.port}: public URL {config.public_url or 'from each request'}; "
        f"calls {routing} {named}{more}; model {model}; webhooks {webhooks}; "
        f"{config.workers} worker(s){', bare relay' if config.relay else ''}"
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost, or "" (every address)


def unsigned_webhook_refusal(config: ServerConfig) -> str | None:
    """Why the server must not start (one line), or None. Warns when `--insecure` lets it start open."""
    if config.auth_token or is_loopback(config.host):
        return None
    if config.insecure:
        logger.warning(
            "--insecure: serving %s without TWILIO_AUTH_TOKEN; /twiml accepts unsigned requests from anyone",
            config.host,
        )
        return None
    return (
        f"callrt serve: refusing to serve {config.host} without TWILIO_AUTH_TOKEN "
        "(anyone could start calls); set it, or pass --insecure"
    )


def prepare_database(config: ServerConfig) -> list[BusinessSummary]:
    """Create the schema on SQLite (PostgreSQL is migrated with `callrt db init`: a server that finds it missing
    or older says so and does not start), check that there is a business to answer for, log every business
    whose saved settings are invalid (ERROR) or that no number reaches (WARNING), and make the console's
    session secret once, before any worker starts. Returns the businesses served."""
    from callrt.console.app import SECRET_NAME
    from store import Store

    store = Store(config.db_url, schema=config.db_schema)
    try:
        if store.engine.dialect.name == "sqlite":
            store.init_schema()
        else:
            store.check_schema()
        businesses = store.list_businesses()
        if not businesses:
            raise CliError(
                "no business in the database: create one with `callrt business create --name NAME`", status=EXIT_FAILURE
            )
        if config.business_id is not None and config.business_id not in {b.id for b in businesses}:
            raise CliError(
                f"--business-id {config.business_id}: no such business (see `callrt business list`)",
                status=EXIT_FAILURE,
            )
        today = datetime.date.today()
        for business in businesses:
            # Business names are the console users' words: escaped, as in the start line.
            named = f"business {business.id} ({escape_for_log(business.name, 60)})"
            problem = store.settings_problem(business.id)
            if problem:
                logger.error("%s has invalid settings: %s", named, problem)
            else:
                for line in shutdown_warnings(business_models(store.get_business(business.id)), today):
                    logger.warning("%s: %s (`callrt business set %d`)", named, line, business.id)
            if not business.phones and config.business_id is None:
                logger.warning(
                    "%s has no Twilio number: no call reaches it (`callrt business set %d --phone …`)",
                    named,
                    business.id,
                )
        store.shared_secret(SECRET_NAME)
        # No record left hanging: calls this deployment was running when it died never got their end.
        served = [config.business_id] if config.business_id is not None else [b.id for b in businesses]
        closed = store.close_open_sessions(served)
        if closed:
            logger.warning("closed %d call session(s) left open by a previous run as 'interrupted'", closed)
        return [b for b in businesses if b.id in served]
    finally:
        store.dispose()


async def serve_process(config: ServerConfig, bind: str | None) -> None:
    from store import Store

    store = Store(config.db_url, schema=config.db_schema)
    try:
        async with trio.open_nursery() as nursery:
            server = TelephonyServer(config, store, config.business_id)
            tune_collector()
            try:
                urls = await nursery.start(
                    partial(serve, server, bind=bind, shutdown_trigger=partial(_drained, server))
                )
            except OSError as exc:
                raise cannot_listen(config, exc) from exc
            if bind is None:  # a worker's URL is the parent's to print
                print(f"callrt serve: listening on {', '.join(urls)}", flush=True)
    finally:
        store.dispose()


def cannot_listen(config: ServerConfig, exc: OSError) -> CliError:
    why = (
        "the port is in use: stop whatever holds it, or choose another --port"
        if exc.errno == errno.EADDRINUSE
        else exc.strerror or str(exc)
    )
    return CliError(f"cannot listen on {config.host}:{config.port}: {why}", status=EXIT_FAILURE)


async def _drained(server: TelephonyServer) -> None:
    """Returns once SIGINT or SIGTERM came and the server drained: /health said "draining" at once, no new
    stream was accepted, running calls had `--drain-s`, then a goodbye. The listeners then close."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            logger.warning("received %s: draining", signal.Signals(signum).name)
            break
    await server.drain(server.config.drain_s)


def _reuseport_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker_main(config: ServerConfig, log_level: int) -> None:
    fmt = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"
    logging.basicConfig(level=log_level, format=fmt, force=True)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler: trio's receiver takes over
    # Each worker binds its own listening socket on the shared port: no fd passing needed.
    sock = _reuseport_socket(config.host, config.port)
    trio.run(partial(serve_process, config, f"fd://{sock.fileno()}"))


def run_workers(config: ServerConfig) -> int:
    if not hasattr(socket, "SO_REUSEPORT"):
        raise SystemExit("--workers > 1 needs SO_REUSEPORT (Linux, BSD, macOS)")
    # Holding a bound (not listening) SO_REUSEPORT socket pins the port, so `--port 0` picks one port for all.
    try:
        reservation = _reuseport_socket(config.host, config.port)
    except OSError as exc:
        raise cannot_listen(config, exc) from exc
    config = attrs.evolve(config, port=reservation.getsockname()[1])
    # fork: workers start with everything already imported (the parent has no threads and no trio loop yet).
    context = multiprocessing.get_context("fork")
    log_level = logging.getLogger().level
    workers = [
        context.Process(
            target=_worker_main, args=(attrs.evolve(config, worker=i + 1), log_level), name=f"callrt-worker-{i}"
        )
        for i in range(config.workers)
    ]
    signal.signal(signal.SIGTERM, _interrupt)
    for worker in workers:
        worker.start()
    print(f"callrt serve: {config.workers} workers on http://{config.host}:{config.port}", flush=True)
    try:
        for worker in workers:
            worker.join()
    except KeyboardInterrupt:
        stop_workers(workers, config.drain_s + DRAIN_GOODBYE_S + WORKER_STOP_TIMEOUT_S)
    finally:
        reservation.close()
    return 0 if all(worker.exitcode == 0 for worker in workers) else 1


WORKER_STOP_TIMEOUT_S = 10.0
"""How long workers get, beyond their drain, to close before they are killed."""


def stop_workers(workers: Sequence[multiprocessing.process.BaseProcess], timeout_s: float) -> None:
    """SIGTERM every worker (each shuts down gracefully), wait, then kill whichever is still running:
    the parent must not exit and leave a worker holding the port with nobody to stop it."""
    for worker in workers:
        worker.terminate()
    deadline = time.monotonic() + timeout_s
    for worker in workers:
        worker.join(timeout=max(0.0, deadline - time.monotonic()))
    for worker in workers:
        if worker.is_alive():
            logger.warning("%s did not stop within %g s: killing it", worker.name, timeout_s)
            worker.kill()
            worker.join()


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
