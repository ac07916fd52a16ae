"""callrt: a supervised actor runtime for AI phone calls.

Each command lives in its own module of this package, which contributes a subparser
through `register(subparsers)`. A mistake is one line on stderr and an exit status
(callrt/cli/errors.py, docs/cli.md); `--debug` or CALLRT_DEBUG=1 shows its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence

from callrt._version import __version__
from callrt.cli.errors import error_line, exit_status, reported_error
from callrt.cli.options import environment_epilog
from store.errors import CallrtError

COMMANDS: dict[str, str] = {
    "demo": "callrt.cli.demo",
    "scenario": "callrt.cli.scenario",
    "call": "callrt.cli.call",
    "trace": "callrt.cli.trace",
    "serve": "callrt.cli.serve",
    "sim-peer": "callrt.cli.sim_peer",
    "nlp": "callrt.cli.nlp",
    "db": "callrt.cli.db",
    "business": "callrt.cli.business",
    "admin": "callrt.cli.admin",
    "bench": "callrt.cli.bench",
    "doctor": "callrt.cli.doctor",
}
"""Command name -> the module that registers it. Only the module of the command being run is
imported (some pull in heavy dependencies), except for `--help`, which lists them all."""


_DEBUG_HELP = "on an error, show its traceback (also CALLRT_DEBUG=1)"


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callrt",
        description=__doc__.splitlines()[0],
        epilog=environment_epilog(()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"callrt {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level on stderr")
    parser.add_argument("--debug", action="store_true", help=_DEBUG_HELP)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    named = [arg for arg in argv if arg in COMMANDS][:1]
    for command in named or COMMANDS:
        importlib.import_module(COMMANDS[command]).register(subparsers)
    for command_parser in _subparsers(parser):
        # The deepest parser the arguments reach is the one that reports their mistakes (its own usage).
        command_parser.set_defaults(command_parser=command_parser)
        command_parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=_DEBUG_HELP)
    return parser


def _subparsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every command's and action's parser under `parser`, each once."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                yield child
                yield from _subparsers(child)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args, unknown = build_parser(argv).parse_known_args(argv)
    command_parser: argparse.ArgumentParser = args.command_parser
    if unknown:
        command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        result: int = args.handler(args)
    except (CallrtError, ExceptionGroup) as exc:
        error = reported_error(exc)
        if error is None or args.debug or os.environ.get("CALLRT_DEBUG", "") not in ("", "0"):
            raise
        print(f"{command_parser.prog}: {error_line(error)}", file=sys.stderr)
        return exit_status(error)
    return result


if __name__ == "__main__":
    sys.exit(main())
