"""`callrt sim-peer [--host H] [--port P] [--dialect beta|ga]`: the simulated Realtime model on its own.

Any Realtime API client can then work offline against `ws://H:P/v1/realtime?model=…`
(send any `Authorization: Bearer …`; for the beta dialect also `OpenAI-Beta: realtime=v1`).
The caller's lines come from the `X-Callrt-Sim-Script` header (see docs/simulator.md).
"""

from __future__ import annotations

import argparse
import functools
import json

import trio

from actors.defaults import DEFAULT_DIALECT, DIALECTS
from callrt.cli.options import describe, port
from callrt.sim.peer_script import ScriptError, SimScript
from callrt.sim.realtime_peer import REALTIME_PATH, serve_sim_peer


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    peer = describe(subparsers, "sim-peer", "run the simulated OpenAI Realtime peer on a websocket", __doc__)
    peer.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    peer.add_argument("--port", type=port, default=8765, help="port, 0 for a free one (default: %(default)s)")
    peer.add_argument(
        "--dialect", choices=DIALECTS, default=DEFAULT_DIALECT, help="protocol spelling (default: %(default)s)"
    )
    peer.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND[:FIELD]",
        help="a model fault for connections that bring no script, e.g. refuse_session:* or text_only_reply "
        "(repeatable; docs/simulator.md)",
    )
    peer.set_defaults(handler=run_sim_peer)


def peer_script(faults: list[str]) -> SimScript:
    """`--fault` values as the peer's own script: `kind` or `kind:field` (`refuse_session:*`), from the start."""
    raw = [dict(zip(("kind", "field"), spec.split(":", 1), strict=False)) for spec in faults]
    try:
        return SimScript.from_json(json.dumps({"f": raw}))
    except ScriptError as exc:
        raise SystemExit(f"callrt sim-peer: {exc}") from exc


def run_sim_peer(args: argparse.Namespace) -> int:
    script = peer_script(args.fault)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            serve = functools.partial(serve_sim_peer, args.host, args.port, args.dialect, default_script=script)
            port = await nursery.start(serve)
            print(
                f"simulated Realtime peer ({args.dialect}) at ws://{args.host}:{port}{REALTIME_PATH}?model=…",
                flush=True,
            )

    try:
        trio.run(main)
    except KeyboardInterrupt:
        return 0
    return 0
