"""Benchmark: CPU per inbound websocket message of the server stack, hypercorn's and callrt's front door.

Run: .venv/bin/python benchmarks/bench_ws_stack.py [--calls N] [--seconds S] [--stack hypercorn|front-door]

The floor under every call's cost: a websocket endpoint that only receives Twilio-sized media
messages (no JSON parsing, no actors), fed by N connections sending one ~330-byte text message
every 20 ms, as `callrt bench` does. Two stacks: a Starlette websocket route on hypercorn's trio
worker, and `callrt.server.front_door` (the request line peeked, then `callrt.net.websocket`), which is what
`callrt serve` runs for /media. The server runs in a child process pinned to the last CPU, the
senders here on the first; the server's CPU time over the run (connections included), divided by
the messages it received, is the per-message cost.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import time

import trio

PORT = 18931
STACKS = ("hypercorn", "front-door")
MESSAGE = (
    '{"event":"media","sequenceNumber":"1","media":{"track":"inbound","chunk":"1","timestamp":"20",'
    '"payload":"' + "f" * 216 + '"},"streamSid":"MZ00000000000000000000000000000000"}'
)


def serve(stack: str, control: multiprocessing.Queue[str], results: multiprocessing.Queue[tuple[float, int]]) -> None:
    from hypercorn.config import Config
    from hypercorn.trio import serve as hypercorn_serve
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket

    from callrt.net.transport import TransportClosed
    from callrt.net.websocket import accept_websocket
    from callrt.server.front_door import open_listeners, serve_front_door

    received = 0

    async def endpoint(websocket: WebSocket) -> None:
        nonlocal received
        await websocket.accept()
        while (await websocket.receive())["type"] != "websocket.disconnect":
            received += 1

    async def media(stream: trio.SocketStream) -> None:
        nonlocal received
        ws, _ = await accept_websocket(stream, max_message_bytes=65536)
        try:
            while True:
                await ws.receive()
                received += 1
        except TransportClosed:
            pass

    async def main() -> None:
        config = Config()
        config.accesslog = None
        app = Starlette(routes=[WebSocketRoute("/media", endpoint)])
        async with trio.open_nursery() as nursery:
            if stack == "hypercorn":
                config.bind = [f"127.0.0.1:{PORT}"]
                await nursery.start(hypercorn_serve, app, config)
            else:
                listeners = await open_listeners(f"127.0.0.1:{PORT}", 100)
                await nursery.start(serve_front_door, app, media, config, listeners)
            results.put((0.0, 0))  # listening
            await trio.to_thread.run_sync(control.get)  # the load starts
            usage = resource.getrusage(resource.RUSAGE_SELF)
            start = usage.ru_utime + usage.ru_stime
            await trio.to_thread.run_sync(control.get)  # the load is over
            usage = resource.getrusage(resource.RUSAGE_SELF)
            results.put((usage.ru_utime + usage.ru_stime - start, received))
            nursery.cancel_scope.cancel()

    trio.run(main)


async def send_load(calls: int, seconds: float) -> None:
    from callrt.loadtest.wsclient import RawWebSocket

    async def one(index: int) -> None:
        ws = await RawWebSocket.connect(f"ws://127.0.0.1:{PORT}/media")
        t0 = trio.current_time() + index * 0.02 / calls
        for k in range(int(seconds * 50)):
            await trio.sleep_until(t0 + k * 0.02)
            await ws.send(MESSAGE)
        await ws.aclose()

    async with trio.open_nursery() as nursery:
        for index in range(calls):
            nursery.start_soon(one, index)


def measure(stack: str, calls: int, seconds: float) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    control: multiprocessing.Queue[str] = multiprocessing.Queue()
    results: multiprocessing.Queue[tuple[float, int]] = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(stack, control, results))
    server.start()
    if len(cpus) > 1 and server.pid is not None:
        os.sched_setaffinity(server.pid, {cpus[-1]})
        os.sched_setaffinity(0, {cpus[0]})
    results.get(timeout=30)
    control.put("start")
    started = time.monotonic()
    trio.run(send_load, calls, seconds)
    time.sleep(0.5)
    control.put("stop")
    cpu, received = results.get(timeout=30)
    server.join(10)
    wall = time.monotonic() - started
    per_message = cpu / max(received, 1)
    print(f"{stack}: {received} messages from {calls} connections in {wall:.1f} s, server CPU {cpu:.2f} s")
    print(f"  {per_message * 1e6:.0f} µs of server CPU per inbound message")
    print(f"  = {per_message * 50 * 60:.3f} s per call-minute at 50 frames/s, before any work on the frame")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--stack", choices=STACKS, action="append", help="default: both")
    args = parser.parse_args()
    for stack in args.stack or STACKS:
        measure(stack, args.calls, args.seconds)


if __name__ == "__main__":
    main()
