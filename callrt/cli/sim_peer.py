"""`callrt sim-peer [--host H] [--port P] [--dialect beta|ga]`: the simulated Realtime model on its own.

Any Realtime API client can then work offline against `ws://H:P/v1/realtime?model=…`
(send any `Authorization: Bearer …`; for the beta dialect also `OpenAI-Beta: realtime=v1`).
The caller's lines come from the `X-Callrt-Sim-Script` header (see docs/simulator.md).
"""

from __future__ import annotations

import argparse
import functools

import trio

from actors.defaults import DEFAULT_DIALECT, DIALECTS
from callrt.sim.realtime_peer import REALTIME_PATH, serve_sim_peer


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    peer = subparsers.add_parser("sim-peer", help="run the simulated OpenAI Realtime peer on a websocket")
    peer.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    peer.add_argument("--port", type=int, default=8765, help="port, 0 for a free one (default: %(default)s)")
    peer.add_argument(
        "--dialect", choices=DIALECTS, default=DEFAULT_DIALECT, help="protocol spelling (default: %(default)s)"
    )
    peer.set_defaults(handler=run_sim_peer)


def run_sim_peer(args: argparse.Namespace) -> int:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(functools.partial(serve_sim_peer, args.host, args.port, args.dialect))
            print(
                f"simulated Realtime peer ({args.dialect}) at ws://{args.host}:{port}{REALTIME_PATH}?model=…",
                flush=True,
            )

    try:
        trio.run(main)
    except KeyboardInterrupt:
        return 0
    return 0
