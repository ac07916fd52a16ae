"""The options several commands share, spelled and checked the same way everywhere: `--db URL`,
`--public-url URL`, ports and URLs (an out-of-range port or a URL without its scheme is a usage error,
reported by the command's own parser), and the "environment variables" section of each command's help."""

from __future__ import annotations

import argparse
import urllib.parse
from collections.abc import Callable

DEFAULT_DB_URL = "sqlite:///callrt.db"

ENVIRONMENT: dict[str, str] = {
    "CALLRT_DB_URL": f"the database when --db is not given (default {DEFAULT_DB_URL})",
    "CALLRT_DB_SCHEMA": "the PostgreSQL schema of callrt's tables (default: the connection's own)",
    "CALLRT_PUBLIC_URL": "the base URL Twilio reaches the server at, when --public-url is not given",
    "CALLRT_FORWARDED_ALLOW_IPS": "proxies whose X-Forwarded-* headers are believed (default 127.0.0.1)",
    "TWILIO_AUTH_TOKEN": "Twilio's auth token: webhooks must be signed with it",
    "OPENAI_API_KEY": "the OpenAI key; without it calls talk to the simulated model",
    "CALLRT_OPENAI_MODEL": "the Realtime model (default: the dialect's)",
    "CALLRT_TRANSCRIPTION_MODEL": "the model transcribing the caller",
    "CALLRT_DIALECT": "the Realtime protocol dialect, beta or ga",
    "CALLRT_REALTIME_URL": "a Realtime websocket to use instead of OpenAI's",
    "CALLRT_STREAM_SECRET": "the key signing stream tokens (default: a random one per start)",
    "CALLRT_SECRET_KEY": "the console's session key (default: one kept in the database)",
    "CALLRT_METRICS_TOKEN": "the bearer token /metrics requires (unset: no /metrics)",
    "CALLRT_TRACE_DIR": "where per-call traces are written (default traces)",
    "CALLRT_TRACES": "off: write no per-call traces",
    "CALLRT_TRACE_RETENTION_DAYS": "delete traces older than this many days",
    "CALLRT_CONSOLE_USER": "the console user whose login reads the call's trace, when --user is not given",
    "CALLRT_CONSOLE_PASSWORD": "that user's password",
    "CALLRT_DEBUG": "1: an error shows its traceback (as --debug does)",
}
"""Every environment variable a command reads, with what it is for (docs/cli.md has the same list)."""

SERVER_ENVIRONMENT = (
    "CALLRT_DB_URL",
    "CALLRT_DB_SCHEMA",
    "CALLRT_PUBLIC_URL",
    "CALLRT_FORWARDED_ALLOW_IPS",
    "TWILIO_AUTH_TOKEN",
    "OPENAI_API_KEY",
    "CALLRT_OPENAI_MODEL",
    "CALLRT_TRANSCRIPTION_MODEL",
    "CALLRT_DIALECT",
    "CALLRT_REALTIME_URL",
    "CALLRT_STREAM_SECRET",
    "CALLRT_SECRET_KEY",
    "CALLRT_METRICS_TOKEN",
    "CALLRT_TRACE_DIR",
    "CALLRT_TRACES",
    "CALLRT_TRACE_RETENTION_DAYS",
)
"""What `callrt serve` reads (`ServerConfig.from_env` and the console)."""


def describe(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    description: str | None = None,
    environment: tuple[str, ...] = (),
) -> argparse.ArgumentParser:
    """A command's parser: `summary` in the list of commands, `description` (default: the summary) at the top
    of its help, and the environment variables it reads at the bottom."""
    return subparsers.add_parser(
        name,
        help=summary,
        description=description or summary,
        epilog=environment_epilog(environment),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def environment_epilog(names: tuple[str, ...]) -> str:
    names = (*names, "CALLRT_DEBUG")
    width = max(len(name) for name in names)
    return "environment variables:\n" + "\n".join(f"  {name:{width}}  {ENVIRONMENT[name]}" for name in names)


def add_db_option(parser: argparse.ArgumentParser, default_help: str, *, repeated: bool = False) -> None:
    """`--db URL`. `repeated`: the option of an action (`callrt db init --db URL`), which leaves the value the
    command's own `--db`, before the action, gave when it is not given again."""
    parser.add_argument(
        "--db",
        dest="db_url",
        metavar="URL",
        default=argparse.SUPPRESS if repeated else None,
        help=f"database URL (default {default_help}); postgres:// and postgresql:// mean PostgreSQL",
    )


def port(value: str) -> int:
    """A TCP port to listen on: 0 (any free port) to 65535."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is out of range: a port is 0 (any free one) to 65535")
    return number


def url_problem(value: str, example: str) -> str | None:
    """Why `value` is no URL with a host and the scheme of `example` (or its secure twin), or None."""
    scheme = urllib.parse.urlsplit(example).scheme
    schemes = (scheme.removesuffix("s"), scheme.removesuffix("s") + "s")
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in schemes or not parsed.netloc:
        wanted = " or ".join(f"{each}://" for each in schemes)
        return f"{value!r} is not a URL starting with {wanted} (e.g. {example})"
    return None


def _url_type(example: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        problem = url_problem(value, example)
        if problem is not None:
            raise argparse.ArgumentTypeError(problem)
        return value

    return check


PUBLIC_URL_EXAMPLE = "https://calls.example.com"
public_url = _url_type(PUBLIC_URL_EXAMPLE)
server_url = _url_type("http://127.0.0.1:8080")
websocket_url = _url_type("ws://127.0.0.1:8080/media")


def add_public_url_option(parser: argparse.ArgumentParser) -> None:
    """`--public-url URL`: where Twilio reaches the server (`callrt serve` answers there, `callrt doctor` checks it)."""
    parser.add_argument(
        "--public-url",
        type=public_url,
        metavar="URL",
        default=None,
        help="base URL Twilio reaches us at, https://… (default $CALLRT_PUBLIC_URL)",
    )
