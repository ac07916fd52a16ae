"""Benchmark: CPU per websocket send of `callrt.net.websocket`, as the AI's audio and the model's appends go out.

Run: .venv/bin/python benchmarks/bench_ws_send.py [--messages N] [--rounds R]

One `SansIOWebSocket` (server side) on one end of a socket pair sends Twilio-sized `media`
messages; a thread on the other CPU reads and discards them. Between two sends the task passes
a checkpoint, as a real sender does when it waits for its next message. The figure is the
sending thread's CPU time per send (`time.thread_time`), best of R rounds: the protocol's
framing, the socket write and any trip through trio's scheduler the write makes.
"""

from __future__ import annotations

import argparse
import os
import socket
import threading
import time

import trio
from websockets.protocol import State
from websockets.server import ServerProtocol

from callrt.net.websocket import SansIOWebSocket

MESSAGE = '{"event":"media","streamSid":"MZ00000000000000000000000000000000","media":{"payload":"' + "f" * 216 + '"}}'


def drain(sock: socket.socket, cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})  # this thread only
    while sock.recv(1 << 20):
        pass


async def measure(messages: int, rounds: int) -> float:
    cpus = sorted(os.sched_getaffinity(0))
    ours, theirs = socket.socketpair()
    reader_cpu = cpus[0] if len(cpus) > 1 else None
    threading.Thread(target=drain, args=(theirs, reader_cpu), daemon=True).start()
    if len(cpus) > 1:
        os.sched_setaffinity(0, {cpus[-1]})
    stream = trio.SocketStream(trio.socket.from_stdlib_socket(ours))
    ws = SansIOWebSocket(stream, ServerProtocol(state=State.OPEN), max_message_bytes=2**20)
    best = float("inf")
    for _ in range(rounds):
        started = time.thread_time()
        for _ in range(messages):
            await ws.send(MESSAGE)
            await trio.lowlevel.checkpoint()  # the sender's next wait (a mailbox receive, in a call)
        best = min(best, (time.thread_time() - started) / messages)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    per_send = trio.run(measure, args.messages, args.rounds)
    print(f"{per_send * 1e6:.1f} µs of CPU per send (best of {args.rounds} rounds of {args.messages})")


if __name__ == "__main__":
    main()
