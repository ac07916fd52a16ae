"""callrt: a supervised actor runtime for AI phone calls.

Each command lives in its own module of this package, which contributes a subparser
through `register(subparsers)`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

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


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callrt", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level on stderr")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    named = [arg for arg in argv if arg in COMMANDS][:1]
    for command in named or COMMANDS:
        importlib.import_module(COMMANDS[command]).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
